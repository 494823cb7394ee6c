"""`gitreg audit`: the whole trail of a model, and a non-zero exit when something does not verify."""

from __future__ import annotations

import json

from helpers import git, gitreg
from registry_helpers import GOOD, WEAK, make_project, train


def test_audit_markdown_and_json(tmp_path):
    reg = make_project(tmp_path / "p")
    first = train(reg, "churn", GOOD)
    train(reg, "churn", WEAK)
    reg.merge(reg.promote("churn@1.0.0", "staging").branch)
    root = reg.store.workdir
    proc = gitreg(root, "audit", "churn")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert text.startswith("# Audit trail: churn")
    assert "every tag and card verifies" in text
    assert "| staging | 1.0.0 |" in text
    assert f"Source commit: `{first.source_commit}`" in text
    assert text.index("### churn@v1.1.0") < text.index("### churn@v1.0.0")  # newest first
    assert "| registered | 1.0.0 |" in text and "| promoted | 1.0.0 | - -> staging |" in text
    report = json.loads(gitreg(root, "audit", "churn", "--json").stdout)
    assert report["ok"] and report["registry_commit"] == reg.require_head()
    v1 = report["versions"][0]
    assert v1["card_sha256"] == first.digest and v1["metrics"]["accuracy"] == GOOD["accuracy"]
    assert [e["kind"] for e in report["trail"]] == ["registered", "registered", "promoted"]
    out = tmp_path / "audit.md"
    assert gitreg(root, "audit", "churn", "-o", str(out)).returncode == 0
    assert out.read_text() == text


def test_audit_fails_when_a_version_does_not_verify(tmp_path):
    reg = make_project(tmp_path / "p")
    train(reg, "churn", GOOD)
    root = reg.store.workdir
    git(root, "tag", "-d", "churn@v1.0.0")
    proc = gitreg(root, "audit", "churn")
    assert proc.returncode == 1
    assert "**1 do not verify**: 1.0.0" in proc.stdout and "Verifies: NO" in proc.stdout
    assert gitreg(root, "audit", "nope").returncode == 1
    page = gitreg(root, "audit", "churn", "--format", "html")
    assert page.returncode == 1 and '<span class="bad">NO</span>' in page.stdout
    assert gitreg(root, "audit", "churn", "--format", "pdf").returncode == 2
