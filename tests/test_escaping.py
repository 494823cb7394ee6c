"""Card text is escaped wherever it is rendered: a hostile card cannot fake a line, a heading, a
row or a workflow command in the Markdown audit, the step summary, `::error` annotations or text
output."""

from __future__ import annotations

from helpers import CARD
from registry_helpers import GOOD, make_project, train

from gitreg.check import report as render
from gitreg.check.change import Finding
from gitreg.check.engine import Report
from gitreg.ops import audit

HOSTILE = (
    "Churn.\n\n## Approved by the CEO\n| 1.0.0 | promoted | forged |\n<script>x()</script> [ok](http://evil)"
)


def test_a_hostile_card_cannot_fake_lines_of_the_markdown_audit(tmp_path):
    reg = make_project(tmp_path / "work")
    card = CARD.replace(
        "overview: Churn classifier for monthly B2C accounts.", "overview: " + repr(HOSTILE).replace("'", '"')
    )
    train(reg, "churn", GOOD, card=card)
    text = audit.to_markdown(audit.audit(reg, "churn"))
    lines = text.splitlines()
    assert not any(line.startswith("## Approved") for line in lines)
    assert not any(line.startswith("| 1.0.0 | promoted | forged") for line in lines)
    assert "<script>" not in text and "[ok](" not in text
    assert "\\#\\# Approved by the CEO" in text  # shown, inert


def test_findings_cannot_fake_report_lines_or_workflow_commands():
    finding = Finding(
        "gate", "models/x/stages.yaml", "bad\n::error title=ok::all good\n  fix: nothing", "fix it"
    )
    report = Report("a" * 40, "b" * 40, [finding], ["gate"])
    annotations = render.github(report).splitlines()
    assert len(annotations) == 1 and annotations[0].startswith("::error ")
    summary = render.summary(report)
    rows = [line for line in summary.splitlines() if line.startswith("|")]
    assert "<br>" in summary and len(rows) == 3  # header, separator and the one finding
    text = render.text(report).splitlines()
    assert [line for line in text if line.startswith("  fix:")] == ["  fix: fix it"]
    control = Finding("gate", "f", "red \x1b[31m text", "fix")
    assert "\x1b" not in render.text(Report(None, "c" * 40, [control], ["gate"]))
