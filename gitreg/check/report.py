"""Render a check's report once, after every finding is collected: text, JSON, GitHub annotations
and a Markdown step summary. Returns strings; the CLI decides where they go.
"""

from __future__ import annotations

import json

from gitreg.check.change import Finding
from gitreg.check.engine import Report


def _short(commit: str | None) -> str:
    return commit[:10] if commit else "(nothing)"


def text(report: Report) -> str:
    head = f"check {_short(report.base)}..{_short(report.head)}"
    if report.ok:
        return f"{head}: passed ({len(report.rules)} rules)"
    lines = [f"{head}: {len(report.findings)} finding(s)", ""]
    for f in report.findings:
        first, *rest = f.message.splitlines() or [""]
        lines.append(f"{f.file}: [{f.rule}] {first}")
        lines += [f"  {line}" for line in rest]
        lines.append(f"  fix: {f.fix}")
    return "\n".join(lines)


def as_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2)


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def annotation(f: Finding) -> str:
    """One GitHub workflow command: ::error file=F,title=RULE::MESSAGE (fix appended)."""
    body = f"{f.message}\nfix: {f.fix}"
    return f"::error file={_escape_property(f.file)},title={_escape_property(f.rule)}::{_escape_data(body)}"


def github(report: Report) -> str:
    if report.ok:
        return f"::notice title=gitreg check::passed ({len(report.rules)} rules)"
    return "\n".join(annotation(f) for f in report.findings)


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", "<br>")


def summary(report: Report) -> str:
    """A Markdown summary for $GITHUB_STEP_SUMMARY."""
    title = f"## gitreg check {_short(report.base)}..{_short(report.head)}"
    if report.ok:
        return f"{title}\n\nPassed: {len(report.rules)} rules, no findings.\n"
    rows = ["| Rule | File | Finding | Fix |", "| --- | --- | --- | --- |"]
    rows += [
        f"| {_cell(f.rule)} | `{_cell(f.file)}` | {_cell(f.message)} | {_cell(f.fix)} |"
        for f in report.findings
    ]
    return f"{title}\n\n**Failed: {len(report.findings)} finding(s).**\n\n" + "\n".join(rows) + "\n"
