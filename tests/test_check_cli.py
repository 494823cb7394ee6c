"""`gitreg check` as CI and hooks call it: formats, exit codes, the GitHub step summary
(acceptance 4), and the cost of a one-model change (acceptance 5)."""

from __future__ import annotations

import json

import pytest
from helpers import git, gitreg
from registry_helpers import GOOD, POLICY, WEAK, advance, commit, make_project, set_stages, train

from gitreg.check import engine as check
from gitreg.store import layout


@pytest.fixture
def failing(tmp_path):
    """A registry and a change breaking several rules: (root, base, head)."""
    reg = make_project(tmp_path / "p")
    train(reg, "churn", GOOD)
    train(reg, "churn", WEAK)
    base = reg.require_head()
    card = reg.view().card("churn", "1.0.0")
    card["overview"] = "edited, with a comma: and a colon"
    head = commit(
        reg,
        {
            layout.card_path("churn", "1.0.0"): card,
            layout.stages_path("churn"): {"production": ["1.1.0"]},
            "registry.yaml": POLICY.replace("min: 0.9", "min: 0.5"),
        },
    )
    return reg.store.workdir, base, head


def test_text_format_exit_1_with_file_rule_and_fix(failing):
    root, base, head = failing
    proc = gitreg(root, "check", "--base", base, "--head", head, "--format", "text")
    assert proc.returncode == 1, proc.stderr
    assert "models/churn/versions/1.0.0.yaml: [immutable]" in proc.stdout
    assert "models/churn/stages.yaml: [transition]" in proc.stdout
    assert "registry.yaml: [policy-alone]" in proc.stdout
    assert "fix: " in proc.stdout


def test_json_format_every_finding_has_file_rule_message_and_fix(failing):
    root, base, head = failing
    proc = gitreg(root, "check", "--base", base, "--head", head, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] is False and out["base"] == base and out["head"] == head
    rules = {f["rule"] for f in out["findings"]}
    assert {"immutable", "transition", "gate", "policy-alone"} <= rules
    for f in out["findings"]:
        assert f["file"] and f["rule"] and f["message"] and f["fix"]


def test_github_format_writes_annotations_and_the_step_summary(failing, tmp_path):
    root, base, head = failing
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    proc = gitreg(
        root,
        "check",
        "--base",
        base,
        "--head",
        head,
        "--format",
        "github",
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    found = json.loads(gitreg(root, "check", "--base", base, "--head", head, "--format", "json").stdout)[
        "findings"
    ]
    assert len(lines) == len(found)
    for line, f in zip(lines, found, strict=True):
        assert line.startswith(f"::error file={f['file']},title={f['rule']}::")
        assert "\n" not in line and "%0A" in line  # multi-line messages are escaped
    text = summary.read_text()
    assert text.startswith("# earlier step\n")  # appended, not overwritten
    assert "## gitreg check" in text and "| Rule | File | Finding | Fix |" in text
    for f in found:
        assert f"| {f['rule']} | `{f['file']}` |" in text


def test_github_format_on_a_passing_change(failing, tmp_path):
    root, base, _ = failing
    summary = tmp_path / "summary.md"
    proc = gitreg(
        root, "check", "--head", base, "--format", "github", env={"GITHUB_STEP_SUMMARY": str(summary)}
    )
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.startswith("::notice") and "Passed" in summary.read_text()


def test_default_check_judges_the_registry_head_against_its_first_parent(failing):
    root, base, _ = failing
    proc = gitreg(root, "check")
    assert proc.returncode == 0 and "passed" in proc.stdout
    parent = git(root, "rev-parse", "gitreg^")
    assert f"check {parent[:10]}..{base[:10]}" in proc.stdout


@pytest.mark.parametrize(
    "args, says",
    [
        (["--base", "no-such-ref"], "does not resolve"),
        (["--format", "xml"], "not one of"),
    ],
)
def test_usage_errors_exit_2(failing, args, says):
    root, _, _ = failing
    proc = gitreg(root, "check", *args)
    assert proc.returncode == 2 and says in proc.stderr


# --- acceptance 5: the cost follows the change, not the registry ------------------------------


def _grow(reg, models: int) -> None:
    """Add MODELS copies of churn's subtree (other names) in one commit: a big registry, fast."""
    head = reg.require_head()
    tree = reg.store.commit_tree(head)
    churn = reg.store.entry(tree, "models/churn")
    repo = reg.store.repo
    builder = repo.TreeBuilder(repo[tree]["models"])
    for i in range(models):
        builder.insert(f"m{i:04d}", churn.id, churn.filemode)
    root = repo.TreeBuilder(repo[tree])
    root.insert("models", builder.write(), repo[tree]["models"].filemode)
    advance(reg, reg.store.write_commit(str(root.write()), [head], "grow", reg.store.ident()))


def _reads_of_a_promotion(tmp_path, models: int) -> list[str]:
    reg = make_project(tmp_path / f"r{models}")
    train(reg, "churn", GOOD)
    _grow(reg, models)
    head = set_stages(reg, "churn", {"staging": ["1.0.0"]})
    reg.store.read_log = []
    report = check.run(reg.store, reg.require_head(), head)
    assert report.ok, report.findings
    return reg.store.read_log


def test_a_one_model_check_reads_only_that_model(tmp_path):
    small = _reads_of_a_promotion(tmp_path, 3)
    large = _reads_of_a_promotion(tmp_path, 600)
    assert small == large  # the same blobs, whatever the registry's size
    assert large, "the check reads the files it judges"
    others = [p for p in large if p.startswith("models/") and not p.startswith("models/churn/")]
    assert others == []
    assert set(large) <= {"registry.yaml", "models/churn/stages.yaml", "models/churn/versions/1.0.0.yaml"} | {
        p for p in large if p.startswith("signers/")
    }
