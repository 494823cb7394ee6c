"""`gitreg register`: provenance from the source commit, card + tag together, and nothing on bad input."""

from __future__ import annotations

import hashlib
import json

import pytest
import yaml
from helpers import CARD, git, gitreg, snapshot

from gitreg.store import yamlio


def lock(project) -> dict:
    return yaml.safe_load((project / "dvc.lock").read_text())


def test_register_fills_provenance_from_the_source_commit(registry_repo, card_file):
    project = registry_repo
    source = git(project, "rev-parse", "HEAD")
    proc = gitreg(project, "register", "churn", "--card", str(card_file), "--version", "1.0.0", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    card = out["card"]
    prov = card["provenance"]
    train = lock(project)["stages"]["train"]
    model_out = next(o for o in train["outs"] if o["path"] == "models/churn.json")
    assert prov["artifact"]["md5"] == model_out["md5"]
    assert prov["artifact"]["size"] == model_out["size"]
    assert prov["artifact"]["stage"] == "train"
    assert prov["source"]["commit"] == source
    assert prov["pipeline"]["stages"] == ["prepare", "train"]
    assert (
        prov["pipeline"]["lock_digest"]
        == hashlib.sha256(git(project, "show", "HEAD:dvc.lock").encode() + b"\n").hexdigest()
    )
    raw = next(d for d in prov["data"] if d["path"] == "data/raw.csv")
    locked = {d["path"]: d for d in lock(project)["stages"]["prepare"]["deps"]}
    assert raw["md5"] == locked["data/raw.csv"]["md5"]
    assert raw["size"] == locked["data/raw.csv"]["size"]
    prepared = next(d for d in prov["data"] if d["path"] == "data/prepared")
    assert prepared["md5"].endswith(".dir") and prepared["nfiles"] == 2
    assert not any(d["path"].startswith("src/") for d in prov["data"])  # code is in the commit
    assert prov["params"]["params.yaml"]["train"]["epochs"] == 100
    assert prov["registered_by"] == {"name": "Test Author", "email": "author@example.com"}
    metrics = json.loads((project / "metrics.json").read_text())
    found = {m["type"]: m for m in card["evaluation"][0]["metrics"]}
    assert found["accuracy"]["value"] == metrics["accuracy"]
    assert found["accuracy"]["source"] == {"file": "metrics.json", "key": "accuracy"}
    gap = found["fairness.demographic_parity_gap"]
    assert gap["value"] == metrics["fairness"]["demographic_parity_gap"]
    # The narrative is kept as written.
    assert card["intended_use"]["out_of_scope"] == ["Credit or pricing decisions"]
    assert card["considerations"]["ethical_risks"][0]["mitigation"] == (
        "Exclude them from automated outreach"
    )

    # The tag: annotated, on the source commit, carrying the card's digest.
    raw_tag = git(project, "cat-file", "-p", "churn@v1.0.0")
    assert git(project, "cat-file", "-t", "churn@v1.0.0") == "tag"
    assert f"object {source}" in raw_tag and "type commit" in raw_tag
    assert "tag churn@v1.0.0" in raw_tag
    stored = yamlio.load(git(project, "show", "gitreg:models/churn/versions/1.0.0.yaml"), "card")
    assert f"gitreg-card-sha256: {yamlio.digest(stored)}" in raw_tag
    assert stored == card
    record = yaml.safe_load(git(project, "show", "gitreg:models/churn/versions/1.0.0.tag"))
    assert record == {"tag": "churn@v1.0.0", "object": git(project, "rev-parse", "churn@v1.0.0")}


def test_versions_bump_and_default(registry_repo, card_file):
    p = registry_repo
    again = ("--allow-same-artifact",)  # one training, registered four times on purpose
    assert gitreg(p, "register", "churn", "--card", str(card_file)).returncode == 0
    assert gitreg(p, "register", "churn", "--card", str(card_file), *again).returncode == 0
    assert gitreg(p, "register", "churn", "--card", str(card_file), "--bump", "patch", *again).returncode == 0
    assert gitreg(p, "register", "churn", "--card", str(card_file), "--bump", "major", *again).returncode == 0
    tags = git(p, "tag", "--list", "churn@*", "--sort=v:refname").split()
    assert tags == ["churn@v1.0.0", "churn@v1.1.0", "churn@v1.1.1", "churn@v2.0.0"]


def test_register_without_dvc(plain_repo, card_file):
    assert gitreg(plain_repo, "init").returncode == 0
    proc = gitreg(
        plain_repo,
        "register",
        "plain",
        "--card",
        str(card_file),
        "--artifact",
        "model.bin",
        "--metrics",
        "metrics.json",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    card = json.loads(proc.stdout)["card"]
    data = (plain_repo / "model.bin").read_bytes()
    assert card["provenance"]["artifact"] == {
        "path": "model.bin",
        "md5": hashlib.md5(data).hexdigest(),
        "hash": "md5",
        "size": len(data),
    }
    assert card["provenance"]["pipeline"] is None and card["provenance"]["data"] == []
    values = {m["type"]: m["value"] for m in card["evaluation"][0]["metrics"]}
    assert values == {"accuracy": 0.91, "fairness.gap": 0.02}


def test_policy_requiring_dvc_refuses_a_repo_without_it(plain_repo, card_file, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nstages: {staging: {}}\nlineage: {dvc: required}\n")
    assert gitreg(plain_repo, "init", "--policy", str(policy)).returncode == 0
    before = snapshot(plain_repo)
    proc = gitreg(
        plain_repo,
        "register",
        "plain",
        "--card",
        str(card_file),
        "--artifact",
        "model.bin",
        "--metrics",
        "metrics.json",
    )
    assert proc.returncode == 1
    assert "requires DVC lineage" in proc.stderr
    assert snapshot(plain_repo) == before


def test_card_metric_claims_are_checked_against_the_commit(registry_repo, tmp_path):
    card = tmp_path / "claims.yaml"
    card.write_text(
        CARD + "evaluation:\n  - task: {type: tabular-classification}\n"
        "    dataset: {name: accounts, split: test}\n"
        "    metrics: [{type: accuracy, value: 0.99}]\n"
    )
    before = snapshot(registry_repo)
    proc = gitreg(registry_repo, "register", "churn", "--card", str(card))
    assert proc.returncode == 1
    assert "the card says accuracy = 0.99, but metrics.json holds" in proc.stderr
    assert snapshot(registry_repo) == before
    card.write_text(
        CARD + "evaluation:\n  - task: {type: tabular-classification}\n"
        "    dataset: {name: accounts, split: test}\n"
        "    metrics: [{type: accuracy}, {type: roc_auc}]\n"
    )
    proc = gitreg(registry_repo, "register", "churn", "--card", str(card), "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)["card"]["evaluation"][0]
    assert result["dataset"] == {"name": "accounts", "split": "test"}
    assert [m["type"] for m in result["metrics"]] == ["accuracy", "roc_auc"]
    assert all(m["source"]["file"] == "metrics.json" for m in result["metrics"])


CARD_BAD = {
    "anchors": ("a: &x 1\nb: *x\n" + CARD, "anchors and aliases"),
    "duplicate-keys": (CARD + "license: MIT\n", "duplicate key 'license'"),
    "python-tag": (CARD + "x: !!python/object/apply:os.system [id]\n", "YAML tags"),
    "not-a-mapping": ("- overview\n- owners\n", "must hold a YAML mapping"),
    "too-big": (CARD + "notes: '" + "x" * 270_000 + "'\n", "over the card limit"),
    "schema": (CARD.replace("license: proprietary\n", "") + "owners2: []\n", "'license' is required"),
    "schema-path": (
        CARD.replace("users: [CRM analysts]", "users: CRM analysts"),
        "intended_use/users: 'CRM analysts' is not of type 'array'",
    ),
    "provenance-by-hand": (CARD + "provenance: {source: {commit: abc}}\n", "register writes itself"),
}


@pytest.mark.parametrize("case", sorted(CARD_BAD))
def test_bad_cards_change_nothing(registry_repo, tmp_path, case):
    text, expect = CARD_BAD[case]
    card = tmp_path / "bad.yaml"
    card.write_text(text)
    before = snapshot(registry_repo)
    proc = gitreg(registry_repo, "register", "churn", "--card", str(card))
    assert proc.returncode == 1, proc.stderr
    assert expect in proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(registry_repo) == before


ARG_BAD = {
    "uppercase": (["Churn"], 2, "not a valid model name"),
    "dotdot": (["a..b"], 2, "contains '..'"),
    "slash": (["a/b"], 2, "not a valid model name"),
    "leading-dash": (["--", "-rf"], 2, "not a valid model name"),
    "option-like": (["--", "--output=x"], 2, "not a valid model name"),
    "newline": (["churn\n"], 2, "not a valid model name"),
    "too-long": (["m" * 65], 2, "longer than 64"),
    "lock-suffix": (["churn.lock"], 2, "'.lock'"),
    "not-semver": (["churn", "--version", "1.2"], 2, "not a semantic version"),
    "bad-rev": (["churn", "--rev", "no-such-branch"], 2, "does not resolve"),
    "option-rev": (["churn", "--rev", "--output=/tmp/x"], 2, "does not resolve"),
    "bad-bump": (["churn", "--bump", "huge"], 2, "not a version part"),
    "not-an-out": (["churn", "--artifact", "src/train.py"], 1, "is not an out of any stage"),
    "missing-artifact": (["churn", "--artifact", "models/nope.pkl"], 1, "is not an out"),
    "missing-card": (["churn", "--card", "/nonexistent/card.yaml"], 2, "cannot read card"),
}


@pytest.mark.parametrize("case", sorted(ARG_BAD))
def test_bad_arguments_change_nothing(registry_repo, card_file, case):
    args, code, expect = ARG_BAD[case]
    before = snapshot(registry_repo)
    extra = [] if "--card" in args else ["--card", str(card_file)]
    # A name that looks like an option comes after '--', as a user would have to write it.
    cmd = [*extra, *args] if args[0] == "--" else [args[0], *extra, *args[1:]]
    proc = gitreg(registry_repo, "register", *cmd)
    assert proc.returncode == code, (proc.stdout, proc.stderr)
    assert expect in proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(registry_repo) == before
    assert not (registry_repo / "x").exists()


def test_existing_version_is_refused(registry_repo, card_file):
    assert (
        gitreg(registry_repo, "register", "churn", "--card", str(card_file), "--version", "1.0.0").returncode
        == 0
    )
    before = snapshot(registry_repo)
    proc = gitreg(registry_repo, "register", "churn", "--card", str(card_file), "--version", "1.0.0")
    assert proc.returncode == 1
    assert "registered already" in proc.stderr and "hint:" in proc.stderr
    assert snapshot(registry_repo) == before


def test_stray_tag_is_refused(registry_repo, card_file):
    git(registry_repo, "tag", "churn@v1.0.0")
    before = snapshot(registry_repo)
    proc = gitreg(registry_repo, "register", "churn", "--card", str(card_file), "--version", "1.0.0")
    assert proc.returncode == 1 and "exists already" in proc.stderr
    assert "tag -d" not in proc.stderr and "gitreg doctor" in proc.stderr  # only doctor calls it stray
    assert snapshot(registry_repo) == before


def test_register_before_init_and_outside_a_repo(dvc_project, card_file, tmp_path):
    before = snapshot(dvc_project)
    proc = gitreg(dvc_project, "register", "churn", "--card", str(card_file))
    assert proc.returncode == 2 and "gitreg init" in proc.stderr
    assert snapshot(dvc_project) == before
    outside = tmp_path / "nowhere"
    outside.mkdir()
    proc = gitreg(outside, "register", "churn", "--card", str(card_file))
    assert proc.returncode == 2 and "not inside a git repository" in proc.stderr


def test_register_leaves_a_dirty_work_tree_alone(registry_repo, card_file):
    p = registry_repo
    (p / "params.yaml").write_text((p / "params.yaml").read_text() + "# local edit\n")
    (p / "scratch.txt").write_text("untracked\n")
    (p / "src" / "train.py").write_text("# staged edit\n")
    git(p, "add", "src/train.py")
    before = snapshot(p)
    assert before["status"]  # really dirty
    proc = gitreg(p, "register", "churn", "--card", str(card_file))
    assert proc.returncode == 0, proc.stderr
    after = snapshot(p)
    assert {k: v for k, v in after.items() if k != "refs"} == {k: v for k, v in before.items() if k != "refs"}
    assert (p / "params.yaml").read_text().endswith("# local edit\n")
    # The card describes the commit, not the dirty tree.
    card = yaml.safe_load(git(p, "show", "gitreg:models/churn/versions/1.0.0.yaml"))
    assert card["provenance"]["source"]["commit"] == git(p, "rev-parse", "HEAD")


def test_register_a_past_commit(registry_repo, card_file):
    p = registry_repo
    first = git(p, "rev-parse", "HEAD")
    (p / "README.md").write_text("later\n")
    git(p, "add", "README.md")
    git(p, "commit", "-qm", "later")
    proc = gitreg(p, "register", "churn", "--card", str(card_file), "--rev", first[:12])
    assert proc.returncode == 0, proc.stderr
    assert git(p, "rev-parse", "churn@v1.0.0^{commit}") == first


def test_registry_branch_name_from_config(dvc_project, card_file):
    git(dvc_project, "config", "gitreg.branch", "models-registry")
    assert gitreg(dvc_project, "init").returncode == 0
    assert gitreg(dvc_project, "register", "churn", "--card", str(card_file)).returncode == 0
    assert git(dvc_project, "show", "models-registry:models/churn/versions/1.0.0.yaml")
    assert git(dvc_project, "rev-parse", "--verify", "-q", "refs/heads/gitreg", check=False) == ""
