"""Issue 12: come from GTO, and keep GTO's and DVC's tools seeing gitreg's stages.

Real parts only: a DVC project with a local remote (the demo's), registered and promoted with
the real `gto` CLI (installed with DVC), then imported; gitreg's own promotions must then show
in `gto show` and in what `dvc artifacts get --stage` downloads.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import git, gitreg

from gitreg.demo.run import train

pytest.importorskip("gto")

POLICY = """\
version: 1
stages:
  staging: {}
  production: {max_versions: 1}
  archived: {}
signing: {registration: optional}
lineage: {dvc: optional}
"""


def tool(cwd: Path, name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """gto or dvc as a user runs it, from this interpreter's environment."""
    exe = Path(sys.executable).parent / name
    env = {**os.environ, "PATH": f"{exe.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, env=env)
    if check:
        assert proc.returncode == 0, f"{name} {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc


def gto_which(repo: Path, name: str, stage: str) -> str:
    """GTO's answer to "which version does STAGE serve" (gto 1.x: show NAME#STAGE --ref)."""
    return tool(repo, "gto", "show", f"{name}#{stage}", "--ref").stdout.strip()


def refs_and_objects(repo: Path) -> tuple[str, str]:
    return (
        git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        git(repo, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)"),
    )


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="session")
def _gto_template(_dvc_template, tmp_path_factory) -> Path:
    """The demo project as a GTO team left it: v1.0.0 (staging, then deregistered) and
    v1.1.0 (staging and production), with GTO's own tags only. Built once per session with the
    real gto CLI; each test gets a copy."""
    root = tmp_path_factory.mktemp("gto-template") / "dvc"
    shutil.copytree(_dvc_template, root, symlinks=True)
    repo = root / "project"
    tool(repo, "gto", "register", "churn", "--version", "v1.0.0")
    tool(repo, "gto", "assign", "churn", "--version", "v1.0.0", "--stage", "staging")
    train(repo, "train v2", features="tenure, monthly_spend, support_calls, usage_drop")
    tool(repo, "gto", "register", "churn", "--version", "v1.1.0")
    tool(repo, "gto", "assign", "churn", "--version", "v1.1.0", "--stage", "staging")
    tool(repo, "gto", "assign", "churn", "--version", "v1.1.0", "--stage", "production")
    tool(repo, "gto", "deprecate", "churn", "v1.0.0")  # GTO's deregistration: churn@v1.0.0!#N
    policy = root / "policy.yaml"
    policy.write_text(POLICY)
    ok(gitreg(repo, "init", "--policy", str(policy)))
    policy.unlink()
    return root


@pytest.fixture
def gto_repo(_gto_template, tmp_path) -> Path:
    """A private copy of the GTO-registered project, gitreg initialised with a permissive policy."""
    root = tmp_path / "dvc"
    shutil.copytree(_gto_template, root, symlinks=True)
    return root / "project"


def test_a_gto_registry_imports_and_then_follows_gitregs_promotions(gto_repo, card_file):
    repo = gto_repo
    version_tags = git(repo, "tag", "-l", "churn@v*")
    assert gto_which(repo, "churn", "production") == "churn@v1.1.0"

    proc = ok(gitreg(repo, "import", "gto", "--json"))
    result = json.loads(proc.stdout)
    assert result["state"] == "proposed" and result["branch"] == "gitreg-import/gto"
    assert result["findings"] == [] and result["unmapped"] == []
    assert sorted((v["version"], v["adopted"]) for v in result["versions"]) == [
        ("1.0.0", True),
        ("1.1.0", True),
    ]
    assert result["stages"]["churn"] == {
        "staging": ["1.1.0"],
        "production": ["1.1.0"],
        "archived": ["1.0.0"],
    }
    ok(gitreg(repo, "merge", "gitreg-import/gto"))
    # Every version and stage; GTO's tags adopted as the registration tags, none added.
    assert git(repo, "tag", "-l", "churn@v*") == version_tags
    assert ok(gitreg(repo, "which", "churn", "production")).stdout.strip() == "1.1.0"
    card = json.loads(ok(gitreg(repo, "show", "churn@1.1.0", "--json")).stdout)
    assert card["card"]["imported"]["from"] == "gto"
    assert card["card"]["imported"]["object"] == git(repo, "rev-parse", "refs/tags/churn@v1.1.0")
    assert card["card"]["provenance"]["source"]["commit"] == git(repo, "rev-parse", "churn@v1.1.0^{commit}")
    assert "intended_use" in card["card"]["imported"]["pending"]
    assert card["verification"]["ok"], card["verification"]
    assert ok(gitreg(repo, "check")).returncode == 0

    # A gitreg promotion now shows in GTO and in what DVC downloads by stage.
    v3 = train(repo, "train v3", features="tenure, monthly_spend, usage_drop")
    ok(gitreg(repo, "register", "churn", "--version", "1.2.0", "--card", str(card_file)))
    ok(gitreg(repo, "promote", "churn@1.2.0", "production"))
    merged = json.loads(ok(gitreg(repo, "merge", "gitreg-promote/churn/v1.2.0/production", "--json")).stdout)
    assert any(t.startswith("churn#production#") for t in merged["gto_tags"]), merged
    assert gto_which(repo, "churn", "production") == "churn@v1.2.0"
    assert "v1.2.0" in tool(repo, "gto", "show", "churn").stdout
    out = repo.parent / "fetched.json"
    tool(repo, "dvc", "artifacts", "get", ".", "churn", "--stage", "production", "-o", str(out))
    want = json.loads(ok(gitreg(repo, "show", "churn@1.2.0", "--json")).stdout)["card"]
    assert hashlib.md5(out.read_bytes()).hexdigest() == want["provenance"]["artifact"]["md5"]
    assert want["provenance"]["source"]["commit"] == v3

    # Idempotent: GTO already agrees, and the import has nothing left to do.
    before = refs_and_objects(repo)
    assert "nothing written" in ok(gitreg(repo, "sync-tags")).stdout
    assert json.loads(ok(gitreg(repo, "import", "gto", "--json")).stdout)["state"] == "up-to-date"
    assert refs_and_objects(repo) == before


def test_archiving_deregisters_in_gto_and_a_rollback_unassigns_the_newer(gto_repo, card_file):
    repo = gto_repo
    ok(gitreg(repo, "import", "gto"))
    ok(gitreg(repo, "merge", "gitreg-import/gto"))
    # Roll production back to 1.0.0 (out of the archive): GTO must serve it, not the higher 1.1.0.
    ok(gitreg(repo, "promote", "churn@1.0.0", "production"))
    ok(gitreg(repo, "merge", "gitreg-promote/churn/v1.0.0/production"))
    assert ok(gitreg(repo, "which", "churn", "production")).stdout.strip() == "1.0.0"
    assert gto_which(repo, "churn", "production") == "churn@v1.0.0"
    shown = tool(repo, "gto", "show", "--json").stdout
    assert json.loads(shown)["churn"]["version"] in ("v1.1.0", "v1.0.0")
    out = repo.parent / "rolled-back.json"
    tool(repo, "dvc", "artifacts", "get", ".", "churn", "--stage", "production", "-o", str(out))
    card = json.loads(ok(gitreg(repo, "show", "churn@1.0.0", "--json")).stdout)["card"]
    assert hashlib.md5(out.read_bytes()).hexdigest() == card["provenance"]["artifact"]["md5"]


def test_import_gto_dry_run_and_rerun_write_nothing(gto_repo):
    repo = gto_repo
    before = refs_and_objects(repo)
    proc = ok(gitreg(repo, "import", "gto", "--dry-run", "--json"))
    assert json.loads(proc.stdout)["state"] == "dry-run"
    assert refs_and_objects(repo) == before
    ok(gitreg(repo, "import", "gto"))
    proposed = refs_and_objects(repo)
    # Run again while the proposal waits for review: nothing new, same proposal.
    assert json.loads(ok(gitreg(repo, "import", "gto", "--json")).stdout)["state"] == "pending"
    assert refs_and_objects(repo) == proposed


def test_registering_a_version_gto_tagged_adopts_its_tag(dvc_project, card_file):
    """Before issue 12: "tag churn@v0.9.0 exists already, but the registry has no such version"."""
    repo = dvc_project
    tool(repo, "gto", "register", "churn", "--version", "v0.9.0")
    gto_tag = git(repo, "rev-parse", "refs/tags/churn@v0.9.0")
    ok(gitreg(repo, "init"))
    ok(gitreg(repo, "register", "churn", "--version", "0.9.0", "--card", str(card_file)))
    assert git(repo, "rev-parse", "refs/tags/churn@v0.9.0") == gto_tag  # adopted, not replaced
    shown = json.loads(ok(gitreg(repo, "show", "churn@0.9.0", "--json")).stdout)
    assert shown["verification"]["ok"], shown["verification"]
    assert ok(gitreg(repo, "verify", "churn@0.9.0")).returncode == 0


def test_a_gto_tag_on_another_commit_is_not_adopted(dvc_project, card_file):
    repo = dvc_project
    tool(repo, "gto", "register", "churn", "--version", "v0.9.0")
    train(repo, "train v2", features="tenure, monthly_spend, support_calls, usage_drop")
    ok(gitreg(repo, "init"))
    before = refs_and_objects(repo)[0]
    proc = gitreg(repo, "register", "churn", "--version", "0.9.0", "--card", str(card_file))
    assert proc.returncode == 1 and "--rev churn@v0.9.0" in proc.stderr
    assert refs_and_objects(repo)[0] == before


def test_an_imported_card_cannot_drop_the_digest_of_a_gitreg_tag(registry_repo, card_file):
    """Attack: a teammate marks a registered card 'imported' to edit it after the fact. A tag
    gitreg made carries the card's digest, and is always held to it."""
    repo = registry_repo
    ok(gitreg(repo, "register", "churn", "--version", "1.0.0", "--card", str(card_file), "--propose"))
    from gitreg.registry import Registry
    from gitreg.store import layout, yamlio

    reg = Registry.open(repo)
    branch = layout.register_proposal_branch("churn", "1.0.0")
    tip = reg.store.ref_target(layout.branch_ref(branch))
    tree = reg.store.commit_tree(tip)
    card = yamlio.load(reg.store.read_blob(tree, layout.card_path("churn", "1.0.0")), "card")
    tag_id = reg.store.ref_target(layout.tag_ref("churn", "1.0.0"))
    card["imported"] = {"from": "gto", "tag": "churn@v1.0.0", "object": tag_id}
    card["overview"] = "Rewritten after registration."
    forged_tree = reg.store.write_tree(tree, {layout.card_path("churn", "1.0.0"): yamlio.dump(card).encode()})
    forged = reg.store.write_commit(forged_tree, [tip], "edit", reg.store.ident())
    report = reg.check(reg.require_head(), forged)
    assert not report.ok
    assert "binding" in {f.rule for f in report.findings}


def test_sync_tags_pushes_atomically_and_is_idempotent(gto_repo, tmp_path):
    repo = gto_repo
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    ok(gitreg(repo, "import", "gto"))
    ok(gitreg(repo, "merge", "gitreg-import/gto", "--push"))
    ok(gitreg(repo, "promote", "churn@1.0.0", "production"))
    # A push that lands the merge but whose stage tags were not published (e.g. merged on a forge):
    git(repo, "config", "gitreg.gtoTags", "false")
    ok(gitreg(repo, "merge", "gitreg-promote/churn/v1.0.0/production", "--push"))
    assert gto_which(repo, "churn", "production") == "churn@v1.1.0"  # GTO lags behind
    git(repo, "config", "--unset", "gitreg.gtoTags")
    proc = ok(gitreg(repo, "sync-tags", "--push", "--json"))
    result = json.loads(proc.stdout)
    made = {w["tag"] for w in result["written"] if w["action"] != "undo-deregister"}
    undone = {w["tag"] for w in result["written"] if w["action"] == "undo-deregister"}
    assert made and undone == {"churn@v1.0.0!"}  # 1.0.0 left the archive: GTO's deregistration goes
    assert set(result["pushed"]) >= made
    remote_tags = set(git(remote, "tag", "-l").split())
    assert made <= remote_tags and not undone & remote_tags
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    assert gto_which(clone, "churn", "production") == "churn@v1.0.0"
    again = json.loads(ok(gitreg(repo, "sync-tags", "--push", "--json")).stdout)
    assert again["written"] == [] and again["pushed"] == []


def test_a_gto_stage_tag_is_never_evidence_and_sync_tags_puts_gto_back(gto_repo):
    """Attack: a teammate with push access assigns production straight in GTO. The registry
    does not move (GTO's tags are a mirror), the check has nothing to say about tags it does not
    read, and sync-tags makes GTO answer what the registry answers again."""
    repo = gto_repo
    ok(gitreg(repo, "import", "gto"))
    ok(gitreg(repo, "merge", "gitreg-import/gto"))
    head = git(repo, "rev-parse", "gitreg")
    tool(repo, "gto", "assign", "churn", "--version", "v1.0.0", "--stage", "qa")
    tool(repo, "gto", "deprecate", "churn", "v1.1.0", "production")  # unassign what gitreg serves
    assert tool(repo, "gto", "show", "churn#production", "--ref").stdout.strip() == ""
    assert ok(gitreg(repo, "which", "churn", "production")).stdout.strip() == "1.1.0"
    assert json.loads(ok(gitreg(repo, "import", "gto", "--json")).stdout)["state"] == "up-to-date"
    assert git(repo, "rev-parse", "gitreg") == head
    written = json.loads(ok(gitreg(repo, "sync-tags", "--json")).stdout)["written"]
    assert {(w["action"], w["stage"]) for w in written} == {("unassign", "qa"), ("assign", "production")}
    assert gto_which(repo, "churn", "production") == "churn@v1.1.0"
    assert tool(repo, "gto", "show", "churn#qa", "--ref", check=False).stdout.strip() == ""


def test_the_mirror_archives_what_promotion_archives():
    """gtotags keeps its own copy of the archive stage's name so that sync-tags does not load the
    check; the two must not drift apart."""
    from gitreg.interop import gtotags
    from gitreg.ops import promotion

    assert gtotags.ARCHIVE_STAGE == promotion.ARCHIVE_STAGE


def test_what_gto_holds_and_gitreg_cannot_map_is_reported(dvc_project, tmp_path):
    repo = dvc_project
    tool(repo, "gto", "register", "churn", "--version", "v1.0.0")
    tool(repo, "gto", "assign", "churn", "--version", "v1.0.0", "--stage", "qa")  # not in the policy
    tool(repo, "gto", "register", "Churn2", "--version", "v1.0.0")  # GTO's names allow upper case
    tool(repo, "gto", "register", "forecast", "--version", "v1.0.0")  # no artifact at that commit
    git(repo, "tag", "churn@v2.0.0")  # lightweight: GTO ignores it, and it binds nothing
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    ok(gitreg(repo, "init", "--policy", str(policy)))
    result = json.loads(ok(gitreg(repo, "import", "gto", "--dry-run", "--json")).stdout)
    unmapped = {u["what"]: u["why"] for u in result["unmapped"]}
    assert "not a gitreg model name" in unmapped["artifact Churn2"]
    assert "lightweight" in unmapped["tag churn@v2.0.0"]
    assert "no such stage" in unmapped["churn@1.0.0 in stage qa"]
    assert "no artifact path" in unmapped["forecast@v1.0.0"]
    assert [(v["name"], v["version"]) for v in result["versions"]] == [("churn", "1.0.0")]
    text = ok(gitreg(repo, "import", "gto", "--dry-run")).stdout
    assert "not imported: artifact Churn2" in text and "nothing written" in text
