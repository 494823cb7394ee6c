"""Evidence that cannot lie, on the real DVC project: each way a careless or dishonest teammate
could make a card say what was not trained is refused at `register` (refs, index and work tree
unchanged) and found by the check in a hand-made proposal; the honest path still passes.

Metric aliasing, a stale lock (metrics edited by hand, a command or params changed after the
run), a tampered DVC cache, the same bytes as a new version, a dirty work tree, an environment a
stage requires to be pinned.
"""

from __future__ import annotations

import copy
import json
import stat
from pathlib import Path

import yaml
from helpers import CARD, git, gitreg, snapshot
from registry_helpers import advance, forge, judge, make_project, set_stages, train

from gitreg.check.rules.gates import metric_value
from gitreg.demo.run import train as dvc_train
from gitreg.lineage import pipeline
from gitreg.model.policy import Gate
from gitreg.registry import Registry


def refused(project: Path, *args: str) -> str:
    """Run `gitreg register churn ARGS`, which must be refused and change nothing; its stderr."""
    before = snapshot(project)
    proc = gitreg(project, "register", "churn", *args)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(project) == before
    return proc.stderr


def findings(reg: Registry, head: str, rule: str) -> list[str]:
    return [f.message for f in judge(reg, head).findings if f.rule == rule]


def commit_edit(project: Path, path: str, edit, message: str) -> str:
    file = project / path
    file.write_text(edit(file.read_text()))
    git(project, "commit", "-qam", message)
    return git(project, "rev-parse", "HEAD")


# --- one identity per metric ---------------------------------------------------------------------


def test_a_label_naming_another_metric_is_refused_with_both_keys(registry_repo, tmp_path):
    p = registry_repo
    card = tmp_path / "alias.yaml"
    # The case: a count (here roc_auc's value) labelled as the gated metric.
    card.write_text(
        CARD + "evaluation:\n  - metrics: [{type: accuracy, source: {file: metrics.json, key: roc_auc}}]\n"
    )
    err = refused(p, "--card", str(card))
    assert "type 'accuracy' names the key 'accuracy' of metrics.json" in err
    assert "its value is key 'roc_auc' of metrics.json" in err

    # A label that names no key is only a label: the metric is its key, for gates and diffs alike.
    label = "{type: ROC AUC, name: auc, source: {file: metrics.json, key: roc_auc}}"
    card.write_text(CARD + f"evaluation:\n  - metrics: [{label}]\n")
    proc = gitreg(p, "register", "churn", "--card", str(card), "--json")
    assert proc.returncode == 0, proc.stderr
    registered = json.loads(proc.stdout)["card"]
    assert metric_value(registered, Gate("roc_auc", min=0.5))[0]
    assert not metric_value(registered, Gate("auc", min=0.5))[0]  # `name: auc` is a label
    reg = Registry.open(p)
    assert [m["key"] for m in reg.lineage("churn@1.0.0").metrics] == ["roc_auc"]

    # A hand-made card doing the same is found by the check, both keys named.
    forged = copy.deepcopy(registered)
    values = json.loads((p / "metrics.json").read_text())
    forged["evaluation"] = [
        {
            "metrics": [
                {
                    "type": "accuracy",
                    "value": values["roc_auc"],
                    "source": {"file": "metrics.json", "key": "roc_auc"},
                }
            ]
        }
    ]
    found = findings(reg, forge(reg, forged, "1.0.1"), "lineage.labels")
    assert len(found) == 1
    assert "type 'accuracy' names the key 'accuracy' of metrics.json" in found[0] and "'roc_auc'" in found[0]
    assert not metric_value(forged, Gate("accuracy", min=0.5))[0]  # a gate on accuracy finds no accuracy


# --- the lock is the truth, and fresh ------------------------------------------------------------


def test_metrics_edited_by_hand_are_a_stale_lock_until_repro_and_commit(registry_repo, card_file):
    p = registry_repo
    stale = commit_edit(
        p, "metrics.json", lambda t: json.dumps({**json.loads(t), "roc_auc": 0.991}), "better numbers"
    )
    err = refused(p, "--card", str(card_file), "--rev", "main")
    assert "dvc.lock is stale for stage evaluate: run `dvc repro` and commit" in err
    assert "metrics.json at the commit has md5" in err

    # The honest path: repro restores what the pipeline computes, commit, register.
    dvc_train(p, "repro")
    proc = gitreg(p, "register", "churn", "--card", str(card_file))
    assert proc.returncode == 0, proc.stderr
    reg = Registry.open(p)
    honest = reg.view().card("churn", "1.0.0")
    assert pipeline.flatten(json.loads((p / "metrics.json").read_text()))["roc_auc"] != 0.991

    # A card forged from the stale commit (numbers and lock digest as it has them) is found.
    forged = copy.deepcopy(honest)
    forged["provenance"]["source"] = {"commit": stale, "tree": git(p, "rev-parse", f"{stale}^{{tree}}")}
    for m in forged["evaluation"][0]["metrics"]:
        m["value"] = 0.991 if m["type"] == "roc_auc" else m["value"]
    found = findings(reg, forge(reg, forged, "1.0.1", source=stale), "lineage.fresh")
    assert found and all("dvc.lock is stale for stage evaluate" in f for f in found)


def test_a_command_or_params_changed_after_the_run_are_refused(registry_repo, card_file):
    p = registry_repo
    drift = commit_edit(
        p,
        "dvc.yaml",
        lambda t: t.replace("cmd: python src/train.py", "cmd: python src/train.py --fast"),
        "faster training",
    )
    err = refused(p, "--card", str(card_file))
    assert "dvc.lock is stale for stage train" in err
    assert "dvc.yaml runs 'python src/train.py --fast', dvc.lock recorded 'python src/train.py'" in err

    # reproduce would run the new command for the old lock: refused before anything runs.
    git(p, "checkout", "-q", "HEAD~1", "--", "dvc.yaml")
    git(p, "commit", "-qm", "back")
    reg = Registry.open(p)
    reg.register("churn", card_file)
    card = copy.deepcopy(reg.view().card("churn", "1.0.0"))
    card["provenance"]["source"] = {"commit": drift, "tree": git(p, "rev-parse", f"{drift}^{{tree}}")}
    advance(reg, forge(reg, card, "1.0.1", source=drift))
    before = snapshot(p)
    proc = gitreg(p, "reproduce", "churn@1.0.1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "dvc.lock is stale for stage train" in proc.stderr
    assert "temporary worktree" not in proc.stdout
    assert {k: v for k, v in snapshot(p).items() if k != "refs"} == {
        k: v for k, v in before.items() if k != "refs"
    }

    commit_edit(p, "params.yaml", lambda t: t.replace("epochs: 100", "epochs: 5"), "fewer epochs")
    err = refused(p, "--card", str(card_file), "--allow-same-artifact")
    assert "dvc.lock is stale for stage train: run `dvc repro` and commit" in err
    assert "params params.yaml train.epochs: params.yaml has 5, dvc.lock 100" in err


def test_metrics_read_from_the_dvc_cache_are_hashed_first(registry_repo, card_file):
    p = registry_repo
    git(p, "rm", "-q", "--cached", "metrics.json")
    git(p, "commit", "-qm", "metrics.json lives in the DVC cache only")
    lock = yaml.safe_load((p / "dvc.lock").read_text())
    out = next(o for o in lock["stages"]["evaluate"]["outs"] if o["path"] == "metrics.json")
    cached = pipeline.cache_file(p / ".dvc" / "cache", out["md5"])
    honest = cached.read_text()
    cached.chmod(stat.S_IWUSR | stat.S_IRUSR)
    cached.write_text(json.dumps({**json.loads(honest), "accuracy": 0.999}))
    err = refused(p, "--card", str(card_file))
    assert f"metrics file metrics.json in the DVC cache ({cached}) hashes to md5" in err
    assert f"records {out['md5']}" in err

    cached.write_text(honest)
    reg = Registry.open(p)
    reg.register("churn", card_file)
    head = reg.require_head()
    cached.write_text(json.dumps({**json.loads(honest), "accuracy": 0.999}))
    card = copy.deepcopy(reg.view().card("churn", "1.0.0"))
    for m in card["evaluation"][0]["metrics"]:
        m["value"] = 0.999 if m["type"] == "accuracy" else m["value"]
    found = findings(reg, forge(reg, card, "1.0.1"), "lineage.metrics")
    assert found and all("hashes to md5" in f for f in found)
    assert reg.require_head() == head


# --- the same bytes, a dirty work tree -----------------------------------------------------------


def test_the_same_artifact_again_is_refused_naming_the_version(registry_repo, card_file):
    p = registry_repo
    assert gitreg(p, "register", "churn", "--card", str(card_file)).returncode == 0
    md5 = Registry.open(p).view().card("churn", "1.0.0")["provenance"]["artifact"]["md5"]
    err = refused(p, "--card", str(card_file))
    assert f"churn@1.0.0 has this artifact already (models/churn.json, {md5})" in err
    assert "--allow-same-artifact" in err

    proc = gitreg(p, "register", "churn", "--card", str(card_file), "--allow-same-artifact", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["card"]["provenance"]["same_artifact_as"] == ["1.0.0"]

    reg = Registry.open(p)
    card = copy.deepcopy(reg.view().card("churn", "1.0.0"))  # copied by hand, undeclared
    found = findings(reg, forge(reg, card, "1.2.0"), "same-artifact")
    assert len(found) == 1 and "is the artifact of churn@1.1.0" in found[0]
    card["provenance"]["same_artifact_as"] = ["1.1.0"]
    assert findings(reg, forge(reg, card, "1.3.0"), "same-artifact") == []
    card["provenance"]["same_artifact_as"] = ["1.1.0", "0.9.0"]  # a version it does not share bytes with
    found = findings(reg, forge(reg, card, "1.4.0"), "same-artifact")
    assert found == [f"churn@1.4.0: same_artifact_as names churn@0.9.0, whose artifact is not {md5}."]


def test_uncommitted_pipeline_files_are_named_or_refused(registry_repo, card_file):
    p = registry_repo
    (p / "README.md").write_text("a file of the project, not of its pipeline\n")
    git(p, "add", "README.md")
    git(p, "commit", "-qm", "readme")
    (p / "metrics.json").write_text('{"accuracy": 0.999}\n')
    (p / "dvc.lock").write_text((p / "dvc.lock").read_text() + "# edited\n")
    (p / "README.md").write_text("not a pipeline file\n")
    err = refused(p, "--card", str(card_file), "--strict")
    assert "uncommitted changes to pipeline files" in err
    assert "dvc.lock (modified)" in err and "metrics.json (modified)" in err and "README" not in err

    proc = gitreg(p, "register", "churn", "--card", str(card_file))
    assert proc.returncode == 0, proc.stderr
    warning = proc.stderr.strip()
    assert warning.startswith("warning: uncommitted changes ignored (the card describes commit")
    assert "dvc.lock (modified), metrics.json (modified)" in warning and "README" not in warning
    card = Registry.open(p).view().card("churn", "1.0.0")
    assert 0.999 not in [m["value"] for m in card["evaluation"][0]["metrics"]]

    git(p, "commit", "-qm", "readme", "--", "README.md")
    elsewhere = gitreg(
        p, "register", "churn", "--card", str(card_file), "--rev", "HEAD~1", "--allow-same-artifact"
    )
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert "warning" not in elsewhere.stderr  # the work tree is not at HEAD~1: it says nothing of it


def test_the_policy_can_require_a_clean_work_tree(dvc_project, card_file, tmp_path):
    policy = tmp_path / "strict.yaml"
    policy.write_text("version: 1\nstages: {staging: {}}\nlineage: {dvc: required, strict: true}\n")
    assert gitreg(dvc_project, "init", "--policy", str(policy)).returncode == 0
    (dvc_project / "params.yaml").write_text((dvc_project / "params.yaml").read_text() + "# tuning\n")
    err = refused(dvc_project, "--card", str(card_file))
    assert "params.yaml (modified)" in err


# --- the environment -------------------------------------------------------------------------------

ENV_POLICY = """\
version: 1
stages:
  staging:
    require: [environment]
lineage:
  dvc: optional
"""
DIGEST = "sha256:" + "ab" * 32


def test_environment_pins_are_recorded_and_a_stage_can_require_them(tmp_path):
    reg = make_project(tmp_path / "p", ENV_POLICY)
    bare = train(reg, "churn", {"accuracy": 0.9})
    env = bare.card["provenance"]["environment"]
    assert "pins" not in env and env["registered_with_python"]
    found = findings(reg, set_stages(reg, "churn", {"staging": ["1.0.0"]}), "require")
    assert len(found) == 1 and "requires a pinned environment" in found[0]

    root = reg.store.workdir
    (root / "requirements-train.txt").write_text("numpy==2.1.0\n")
    (root / "Dockerfile").write_text(f"FROM python:3.11@{DIGEST} AS build\nFROM scratch\n")
    (root / "Dockerfile.dev").write_text("FROM python:3.11\n")  # a tag alone pins nothing
    (root / ".python-version").write_text("3.11.7\n")
    pinned = train(reg, "churn", {"accuracy": 0.91})
    env = pinned.card["provenance"]["environment"]
    assert env["python"] == "3.11.7" and "registered_with_python" not in env
    kinds = {p["path"]: p for p in env["pins"]}
    assert set(kinds) == {"requirements-train.txt", "Dockerfile"}
    assert kinds["Dockerfile"]["base_images"] == [f"python:3.11@{DIGEST}", "scratch"]
    assert env["lock_file"]["path"] == "requirements-train.txt"
    assert findings(reg, set_stages(reg, "churn", {"staging": ["1.1.0"]}), "require") == []
