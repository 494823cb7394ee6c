"""`gitreg demo`: the README's first command, a real project end to end."""

from __future__ import annotations

import json

from helpers import git, gitreg


def test_demo_builds_trains_and_registers_two_versions(tmp_path):
    proc = gitreg(tmp_path, "demo", "demo", timeout=600)
    assert proc.returncode == 0, proc.stderr
    project = tmp_path / "demo" / "project"
    assert "churn@v1.0.0" in proc.stdout and "churn@v1.1.0" in proc.stdout
    models = json.loads(gitreg(project, "list", "--json").stdout)
    assert [(m["name"], m["versions"]) for m in models] == [("churn", 2)]
    tags = git(project, "tag", "--list", "churn@v*").split()
    assert tags == ["churn@v1.0.0", "churn@v1.1.0"]
    # Two real trainings: different commits, different model bytes, better v2.
    cards = [
        json.loads(gitreg(project, "show", f"churn@{v}", "--json").stdout)["card"] for v in ("1.0.0", "1.1.0")
    ]
    assert cards[0]["provenance"]["source"]["commit"] != cards[1]["provenance"]["source"]["commit"]
    assert cards[0]["provenance"]["artifact"]["md5"] != cards[1]["provenance"]["artifact"]["md5"]
    acc = [{m["type"]: m["value"] for m in c["evaluation"][0]["metrics"]}["accuracy"] for c in cards]
    assert acc[1] > acc[0]
    # The DVC remote holds the model bytes of the last version.
    md5 = cards[1]["provenance"]["artifact"]["md5"]
    assert (tmp_path / "demo" / "dvc-remote" / "files" / "md5" / md5[:2] / md5[2:]).is_file()
    # Promotions through proposals and the check; the weaker v1 is refused for production.
    assert gitreg(project, "which", "churn", "production").stdout.strip() == "1.1.0"
    assert gitreg(project, "which", "churn", "staging").stdout.strip() == "1.0.0"
    assert "the check refuses it" in proc.stdout and "[gate]" in proc.stdout
    assert "accuracy >= 0.9" in proc.stdout
    assert gitreg(project, "check").returncode == 0
    assert git(project, "status", "--porcelain") == ""
    # It ends by reproducing the production version, without leaving its worktree behind.
    lines = proc.stdout.splitlines()
    started = next(i for i, x in enumerate(lines) if x.startswith("Reproducing churn@production"))
    assert any(x.startswith("PASS: churn@1.1.0 rebuilt at") for x in lines[started:])
    assert len(git(project, "worktree", "list").splitlines()) == 1


def test_demo_refuses_a_non_empty_directory(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    proc = gitreg(tmp_path, "demo", "taken")
    assert proc.returncode == 2 and "not empty" in proc.stderr
