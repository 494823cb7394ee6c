"""Lineage: the check's lineage rules on a real DVC project, `lineage --json` field by field
against the fixture's dvc.lock, params and metrics, and DVC never imported by plain reads."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import git, gitreg
from registry_helpers import advance, commit, forge

from gitreg.check import engine as check
from gitreg.check.change import CheckOptions
from gitreg.lineage import pipeline
from gitreg.registry import Registry
from gitreg.store import layout


@pytest.fixture
def registered(registry_repo, card_file):
    """churn 1.0.0 registered from the trained DVC project: (registry, base, head)."""
    reg = Registry.open(registry_repo)
    base = reg.require_head()
    reg.register("churn", card_file)
    return reg, base, reg.require_head()


def lineage_findings(reg: Registry, base: str, head: str, **options) -> list:
    report = check.run(reg.store, base, head, options=CheckOptions(**options))
    return [f for f in report.findings if f.rule.startswith("lineage")]


def honest(reg: Registry, version: str = "1.0.0") -> dict:
    return copy.deepcopy(reg.view().card("churn", version))


def metric(card: dict, key: str) -> dict:
    return next(m for m in card["evaluation"][0]["metrics"] if m["type"] == key)


def lock(project: Path) -> dict:
    return yaml.safe_load((project / "dvc.lock").read_text())


# --- the check: an honest registration passes ---------------------------------------------------


def test_an_honest_registration_passes_every_lineage_rule_also_against_the_remote(registered):
    reg, base, head = registered
    report = check.run(reg.store, base, head, options=CheckOptions(remote=True))
    assert {
        "lineage.pipeline",
        "lineage.artifact",
        "lineage.data",
        "lineage.params",
        "lineage.metrics",
        "lineage.remote",
    } <= set(report.rules)
    assert not [f for f in report.findings if f.rule.startswith("lineage")], report.findings


# --- acceptance 2: hand-edited metric, wrong artifact md5, data dep md5 ---------------------------


def test_a_hand_edited_metric_fails_with_claimed_and_found(registered):
    reg, _, head = registered
    card = honest(reg)
    true_value = json.loads((reg.store.workdir / "metrics.json").read_text())["accuracy"]
    metric(card, "accuracy")["value"] = 0.99
    found = lineage_findings(reg, head, forge(reg, card, "1.0.1"))
    assert [f.rule for f in found] == ["lineage.metrics"]
    assert found[0].file == "models/churn/versions/1.0.1.yaml"
    assert "accuracy" in found[0].message and "0.99" in found[0].message
    assert (
        f"metrics.json at {card['provenance']['source']['commit'][:10]} holds {true_value}"
        in found[0].message
    )


def test_a_wrong_artifact_md5_fails_with_claimed_and_found(registered):
    reg, _, head = registered
    card = honest(reg)
    card["provenance"]["artifact"]["md5"] = "0" * 32
    found = lineage_findings(reg, head, forge(reg, card, "1.0.1"))
    in_lock = next(o for o in lock(reg.store.workdir)["stages"]["train"]["outs"])
    assert [f.rule for f in found] == ["lineage.artifact"]
    assert f"claims md5 {'0' * 32}" in found[0].message
    assert f"has {in_lock['md5']}" in found[0].message and "models/churn.json" in found[0].message


def test_a_data_dependency_md5_differing_from_dvc_lock_fails(registered):
    reg, _, head = registered
    card = honest(reg)
    raw = next(d for d in card["provenance"]["data"] if d["path"] == "data/raw.csv")
    locked = next(
        d for d in lock(reg.store.workdir)["stages"]["prepare"]["deps"] if d["path"] == "data/raw.csv"
    )
    raw["md5"] = "f" * 32
    found = lineage_findings(reg, head, forge(reg, card, "1.0.1"))
    assert [f.rule for f in found] == ["lineage.data"]
    assert "data data/raw.csv" in found[0].message
    assert f"claims md5 {'f' * 32}" in found[0].message and f"has {locked['md5']}" in found[0].message


def test_other_lies_in_the_provenance_are_found(registered):
    reg, _, head = registered
    card = honest(reg)
    card["provenance"]["params"]["params.yaml"]["train"]["epochs"] = 50
    card["provenance"]["data"] = [d for d in card["provenance"]["data"] if d["path"] != "data/raw.csv"]
    card["provenance"]["pipeline"]["lock_digest"] = "a" * 64
    card["provenance"]["artifact"]["size"] += 1
    card["provenance"]["source"]["tree"] = "b" * 40
    del metric(card, "roc_auc")["source"]
    messages: dict[str, str] = {}
    for f in lineage_findings(reg, head, forge(reg, card, "1.0.1")):
        messages[f.rule] = messages.get(f.rule, "") + f.message + "\n"
    assert "claims 50, dvc.lock" in messages["lineage.params"] and "has 100" in messages["lineage.params"]
    assert "data/raw.csv" in messages["lineage.data"] and "leaves it out" in messages["lineage.data"]
    assert f"claims {'a' * 64}" in messages["lineage.pipeline"]
    assert f"source.tree: the card claims {'b' * 40}" in messages["lineage.pipeline"]
    assert "claims size" in messages["lineage.artifact"]
    assert "roc_auc" in messages["lineage.metrics"] and "no source" in messages["lineage.metrics"]


def test_the_policy_requiring_dvc_fails_a_card_without_a_pipeline(registered):
    reg, _, _ = registered
    policy = reg.view().read(layout.POLICY_PATH).decode().replace("dvc: optional", "dvc: required")
    advance(reg, commit(reg, {layout.POLICY_PATH: policy}))
    head = reg.require_head()
    card = honest(reg)
    card["provenance"]["pipeline"] = None
    found = lineage_findings(reg, head, forge(reg, card, "1.0.1"))
    assert any(f.rule == "lineage.pipeline" and "lineage.dvc: required" in f.message for f in found)


# --- the shapes dvc.lock comes in ------------------------------------------------------------------


def _commit_lock(project: Path, edit, message: str) -> str:
    text = (project / "dvc.lock").read_text()
    (project / "dvc.lock").write_text(edit(text))
    git(project, "commit", "-qam", message)
    return git(project, "rev-parse", "HEAD")


def test_legacy_lock_entries_and_directory_outs(registered, card_file):
    """DVC 2 entries (no 'hash:', md5-dos2unix) and a directory out (.dir md5, nfiles) as artifact."""
    reg, _, head = registered
    project = reg.store.workdir
    _commit_lock(
        project, lambda t: "\n".join(x for x in t.splitlines() if "hash: md5" not in x) + "\n", "a DVC 2 lock"
    )
    legacy = reg.register("churn", card_file, allow_same_artifact=True)
    assert legacy.card["provenance"]["artifact"]["hash"] == "md5-dos2unix"
    assert lineage_findings(reg, head, reg.require_head()) == []
    card = copy.deepcopy(legacy.card)
    card["provenance"]["artifact"]["hash"] = "md5"
    found = lineage_findings(reg, reg.require_head(), forge(reg, card, "1.1.1"))
    assert len(found) == 1 and "'md5-dos2unix' (a DVC 2 entry)" in found[0].message

    before = reg.require_head()
    prepared = reg.register("churn", card_file, artifact="data/prepared", allow_same_artifact=True)
    art = prepared.card["provenance"]["artifact"]
    assert art["md5"].endswith(".dir") and art["nfiles"] == 2 and art["stage"] == "prepare"
    assert lineage_findings(reg, before, reg.require_head()) == []
    card = copy.deepcopy(prepared.card)
    card["provenance"]["artifact"]["nfiles"] = 3
    found = lineage_findings(reg, reg.require_head(), forge(reg, card, "1.2.1"))
    assert len(found) == 1 and "claims nfiles 3" in found[0].message and "has 2" in found[0].message


def test_params_grouped_per_file_and_as_dotted_keys(registered, card_file):
    reg, _, _ = registered
    project = reg.store.workdir

    def dotted(text: str) -> str:  # dvc.yaml's `params: [train.epochs, ...]` locks dotted keys
        data = yaml.safe_load(text)
        data["stages"]["train"]["params"]["params.yaml"] = pipeline.flat_params(
            data["stages"]["train"]["params"]["params.yaml"]
        )
        return yaml.safe_dump(data, sort_keys=False)

    _commit_lock(project, dotted, "dotted params")
    before = reg.require_head()
    reg.register("churn", card_file, allow_same_artifact=True)
    card = honest(reg, "1.1.0")
    assert card["provenance"]["params"]["params.yaml"]["train.epochs"] == 100
    assert lineage_findings(reg, before, reg.require_head()) == []
    head = reg.require_head()
    grouped = copy.deepcopy(card)  # the same values, grouped: equal
    params = grouped["provenance"]["params"]["params.yaml"]
    params["train"] = {k.split(".", 1)[1]: params.pop(k) for k in list(params) if k.startswith("train.")}
    assert lineage_findings(reg, head, forge(reg, grouped, "1.1.1")) == []
    grouped["provenance"]["params"]["params.yaml"]["train"]["l2"] = 0.5
    found = lineage_findings(reg, head, forge(reg, grouped, "1.1.2"))
    assert len(found) == 1 and "params.yaml train.l2: the card claims 0.5" in found[0].message


def test_metrics_dvc_caches_are_read_from_the_cache_by_the_lock_md5(registered, card_file):
    reg, _, _ = registered
    project = reg.store.workdir
    git(project, "rm", "-q", "--cached", "metrics.json")
    git(project, "commit", "-qm", "metrics.json lives in the DVC cache only")
    before = reg.require_head()
    reg.register("churn", card_file, allow_same_artifact=True)
    head = reg.require_head()
    assert lineage_findings(reg, before, head) == []
    card = honest(reg, "1.1.0")
    metric(card, "accuracy")["value"] = 0.5
    found = lineage_findings(reg, head, forge(reg, card, "1.1.1"))
    assert len(found) == 1 and "claims 0.5" in found[0].message
    out = next(o for o in lock(project)["stages"]["evaluate"]["outs"] if o["path"] == "metrics.json")
    pipeline.cache_file(project / ".dvc" / "cache", out["md5"]).unlink()
    found = lineage_findings(reg, head, forge(reg, honest(reg, "1.1.0"), "1.1.3"))
    assert found and all("neither committed" in f.message for f in found)


# --- acceptance 3: --remote finds a file missing inside a directory out ---------------------------


def test_check_remote_finds_a_file_missing_inside_a_directory_out(registered):
    reg, base, head = registered
    project = reg.store.workdir
    prepared = next(o for o in lock(project)["stages"]["prepare"]["outs"])
    listing = json.loads(pipeline.cache_file(project / ".dvc" / "cache", prepared["md5"]).read_text())
    test_json = next(e for e in listing if e["relpath"] == "test.json")
    remote = project.parent / "dvc-remote"
    pipeline.cache_file(remote, test_json["md5"]).unlink()
    assert lineage_findings(reg, base, head) == []  # without --remote nothing is asked
    found = lineage_findings(reg, base, head, remote=True)
    assert [f.rule for f in found] == ["lineage.remote"]
    assert (
        f"data/prepared/test.json (md5 {test_json['md5']}) inside directory out data/prepared"
        in found[0].message
    )
    assert "'local'" in found[0].message
    proc = gitreg(project, "check", "--base", base, "--head", head, "--remote")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "data/prepared/test.json" in proc.stdout


# --- acceptance 4 (lineage half): lineage --json field by field ------------------------------------


def test_lineage_json_matches_dvc_lock_params_and_metrics(registered):
    reg, _, _ = registered
    project = reg.store.workdir
    proc = gitreg(project, "lineage", "churn@1.0.0", "--json")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    locked = lock(project)["stages"]
    params = yaml.safe_load((project / "params.yaml").read_text())
    metrics = json.loads((project / "metrics.json").read_text())

    assert got["code"]["commit"] == git(project, "rev-parse", "HEAD")
    assert got["code"]["subject"] == "train v1"
    assert [s["name"] for s in got["pipeline"]["stages"]] == ["prepare", "train", "evaluate"]
    assert got["pipeline"]["stage"] == "train"
    for stage in got["pipeline"]["stages"]:
        assert stage["cmd"] == locked[stage["name"]]["cmd"] and stage["frozen"] is False
        for kind in ("deps", "outs"):
            assert [(e["path"], e["md5"], e.get("size")) for e in stage[kind]] == [
                (e["path"], e["md5"], e.get("size")) for e in locked[stage["name"]][kind]
            ]
        assert stage["params"] == locked[stage["name"]].get("params", {})
    model = locked["train"]["outs"][0]
    assert got["artifact"] == {
        "path": "models/churn.json",
        "md5": model["md5"],
        "hash": "md5",
        "size": model["size"],
        "stage": "train",
    }
    deps = {d["path"]: d for st in ("prepare", "train") for d in locked[st]["deps"]}
    assert [d["path"] for d in got["data"]] == ["data/raw.csv", "data/prepared"]
    for d in got["data"]:
        assert d["md5"] == deps[d["path"]]["md5"] and d["size"] == deps[d["path"]]["size"]
    assert got["data"][1]["nfiles"] == deps["data/prepared"]["nfiles"]
    assert got["params"] == {"params.yaml": {"prepare": params["prepare"], "train": params["train"]}}
    flat = pipeline.flatten(metrics)
    assert {m["key"]: m["value"] for m in got["metrics"]} == flat
    assert all(m["source"] == {"file": "metrics.json", "key": m["key"]} for m in got["metrics"])
    assert got["environment"]["python"] == (project / ".python-version").read_text().strip()
    assert got["tag"] == "churn@v1.0.0" and got["registered_by"]["email"]

    mermaid = gitreg(project, "lineage", "churn@1.0.0", "--format", "mermaid")
    assert mermaid.returncode == 0 and mermaid.stdout.startswith("flowchart LR")
    assert f"models/churn.json<br/>md5 {model['md5'][:8]}" in mermaid.stdout
    text = gitreg(project, "lineage", "churn@1.0.0")
    assert "accuracy = " in text.stdout and "(metrics.json: accuracy)" in text.stdout


# --- DVC stays out of plain reads ----------------------------------------------------------------


def test_plain_reads_and_check_without_remote_never_import_dvc(registered):
    reg, base, head = registered
    script = f"""
import sys
from gitreg.check import engine as check
from gitreg.check.change import CheckOptions
from gitreg.cli import app, load_commands
from gitreg.store.gitstore import GitStore
load_commands()
for args in (["list"], ["show", "churn"], ["show", "churn@1.0.0"], ["which", "churn", "staging"],
             ["history", "churn"], ["lineage", "churn@1.0.0", "--json"],
             ["diff", "churn@1.0.0", "churn@1.0.0"],
             ["check", "--base", "{base}", "--head", "{head}"]):
    try:
        app(args, standalone_mode=False)
    except BaseException as exc:
        print("raised", type(exc).__name__, file=sys.stderr)
report = check.run(GitStore.discover("."), "{base}", "{head}")
assert "lineage.metrics" in report.rules and report.ok, report.findings
print("DVC:", sorted(m for m in sys.modules if m == "dvc" or m.startswith(("dvc.", "dvc_"))))
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=reg.store.workdir, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "DVC: []"
