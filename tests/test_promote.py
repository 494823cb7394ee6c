"""Proposals: promote builds a checked branch, merge lands it with compare-and-swap, and
`register --propose` takes the same road. Failures leave every ref as it was."""

from __future__ import annotations

import json

import pytest
import yaml
from helpers import git, gitreg, snapshot
from registry_helpers import GOOD, WEAK, advance, make_project, set_stages, train

from gitreg.errors import RegistryRefusal
from gitreg.ops.promotion import plan
from gitreg.store import layout


@pytest.fixture
def reg(tmp_path):
    reg = make_project(tmp_path / "p")
    train(reg, "churn", GOOD)
    train(reg, "churn", WEAK)
    return reg


def stages_at(reg, rev) -> dict:
    return yaml.safe_load(git(reg.store.workdir, "show", f"{rev}:models/churn/stages.yaml"))


def test_promote_creates_one_commit_editing_only_stages_yaml(reg):
    head = reg.require_head()
    root = reg.store.workdir
    before = snapshot(root)
    proposal = reg.promote("churn@1.0.0", "staging")
    assert proposal.branch == "gitreg-promote/churn/v1.0.0/staging"
    assert git(root, "rev-parse", proposal.branch) == proposal.commit
    assert git(root, "rev-parse", f"{proposal.commit}^@") == head  # one parent: the registry
    assert git(root, "diff", "--name-only", head, proposal.commit) == "models/churn/stages.yaml"
    assert stages_at(reg, proposal.commit) == {"staging": ["1.0.0"]}
    assert reg.require_head() == head  # the registry moves only on merge
    after = snapshot(root)
    assert after["refs"].replace(f"refs/heads/{proposal.branch} {proposal.commit}\n", "") == before["refs"]
    assert {k: v for k, v in after.items() if k != "refs"} == {k: v for k, v in before.items() if k != "refs"}


def test_a_refused_promotion_writes_nothing(reg):
    root = reg.store.workdir
    before = snapshot(root)
    with pytest.raises(RegistryRefusal) as err:
        reg.promote("churn@1.0.0", "production")  # skips staging
    assert "[transition]" in str(err.value)
    assert err.value.report.findings[0].rule == "transition"
    assert snapshot(root) == before


def test_promote_then_merge_moves_through_the_stages_and_archives(reg):
    for ref, stage in (("churn@1.0.0", "staging"), ("churn@1.0.0", "production")):
        reg.merge(reg.promote(ref, stage).branch)
    assert reg.which("churn", "production") == "1.0.0"
    assert reg.view().stages("churn") == {"production": ["1.0.0"]}
    # A version that passes the gates replaces 1.0.0, which goes to archived.
    train(reg, "churn", GOOD)
    reg.merge(reg.promote("churn@1.2.0", "staging").branch)
    proposal = reg.promote("churn@staging", "production")  # a stage reference works too
    assert proposal.version == "1.2.0"
    assert proposal.moves == ["1.2.0: staging -> production", "1.0.0: production -> archived"]
    result = reg.merge(proposal.branch)
    assert result.merged and not result.fast_forward and result.report.ok
    assert reg.view().stages("churn") == {"production": ["1.2.0"], "archived": ["1.0.0"]}
    assert sorted((e.kind, e.version, e.from_stage, e.to_stage) for e in result.events) == [
        ("archived", "1.0.0", "production", "archived"),
        ("promoted", "1.2.0", "staging", "production"),
    ]


def test_plan_without_an_archived_stage_drops_the_replaced_version(reg):
    from gitreg.model.policy import Policy

    policy = Policy.parse("version: 1\nstages:\n  live: {max_versions: 2}\n")
    after, moves = plan(policy, {"live": ["1.0.0", "1.1.0"]}, "1.2.0", "live")
    assert after == {"live": ["1.1.0", "1.2.0"]}
    assert moves[-1] == "1.0.0: live -> (removed)"


def test_plan_takes_a_version_out_of_the_archive_when_it_returns(reg):
    policy = reg.view().policy
    after, moves = plan(policy, {"archived": ["1.0.0"], "production": ["1.1.0"]}, "1.0.0", "staging")
    assert after == {"staging": ["1.0.0"], "production": ["1.1.0"]}
    assert moves == ["1.0.0: archived -> staging"]


@pytest.mark.parametrize(
    "ref, stage, says",
    [
        ("churn@1.0.0", "canary", "no stage 'canary'"),
        ("churn@9.9.9", "staging", "no version 9.9.9"),
        ("nope@1.0.0", "staging", "not registered"),
    ],
)
def test_promote_refuses_what_cannot_be(reg, ref, stage, says):
    with pytest.raises(RegistryRefusal, match=says):
        reg.promote(ref, stage)


def test_promoting_the_version_a_stage_serves_is_refused(reg):
    reg.merge(reg.promote("churn@1.0.0", "staging").branch)
    with pytest.raises(RegistryRefusal, match="serves already"):
        reg.promote("churn@1.0.0", "staging")


def test_an_unmerged_proposal_branch_is_not_overwritten_but_a_merged_one_is_reused(reg):
    first = reg.promote("churn@1.0.0", "staging")
    with pytest.raises(RegistryRefusal, match="exists already and is not merged"):
        reg.promote("churn@1.0.0", "staging")
    reg.merge(first.branch)
    advance(reg, set_stages(reg, "churn", {}))  # taken out of staging again
    again = reg.promote("churn@1.0.0", "staging")
    assert again.branch == first.branch and again.commit != first.commit


def test_merge_makes_a_merge_commit_when_the_registry_moved(reg):
    train(reg, "fraud", GOOD)
    one = reg.promote("churn@1.0.0", "staging")
    two = reg.promote("fraud@1.0.0", "staging")
    assert reg.merge(one.branch, ff=True).fast_forward  # asked for, and possible
    result = reg.merge(two.branch, ff=True)
    assert result.merged and not result.fast_forward  # not possible: the registry moved
    parents = git(reg.store.workdir, "rev-parse", f"{result.commit}^@").split()
    assert parents == [one.commit, two.commit]
    assert reg.which("fraud", "staging") == "1.0.0" and reg.which("churn", "staging") == "1.0.0"
    assert [(e.model, e.to_stage) for e in result.events] == [("fraud", "staging")]


def test_merge_refuses_conflicting_proposals_and_leaves_the_registry(reg):
    one = reg.promote("churn@1.0.0", "staging")
    two = reg.promote("churn@1.1.0", "staging")
    reg.merge(one.branch)
    head = reg.require_head()
    with pytest.raises(RegistryRefusal, match="conflicts") as err:
        reg.merge(two.branch)
    assert "models/churn/stages.yaml" in err.value.details
    assert reg.require_head() == head


def test_merge_refuses_a_proposal_the_check_rejects(reg):
    bad = set_stages(reg, "churn", {"production": ["1.0.0"]})  # made by hand, skipping staging
    git(reg.store.workdir, "branch", "gitreg-promote/churn/v1.0.0/production", bad)
    head = reg.require_head()
    with pytest.raises(RegistryRefusal) as err:
        reg.merge("gitreg-promote/churn/v1.0.0/production")
    assert {f.rule for f in err.value.report.findings} == {"transition"}
    assert reg.require_head() == head


def test_merging_again_is_a_no_op(reg):
    proposal = reg.promote("churn@1.0.0", "staging")
    reg.merge(proposal.branch)
    again = reg.merge(proposal.branch)
    assert not again.merged and again.commit == reg.require_head()


def test_merge_with_push_and_no_push_method_does_not_push(reg):
    proposal = reg.promote("churn@1.0.0", "staging")
    result = reg.merge(proposal.branch, push=False)
    assert result.merged and not result.pushed


# --- the CLI -------------------------------------------------------------------------------------


def test_cli_promote_merge_and_refusal(reg):
    root = reg.store.workdir
    proc = gitreg(root, "promote", "churn@1.0.0", "staging", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["branch"] == "gitreg-promote/churn/v1.0.0/staging" and out["check"]["ok"]
    assert out["ref"] == "refs/heads/gitreg-promote/churn/v1.0.0/staging"
    proc = gitreg(root, "merge", out["branch"])
    assert proc.returncode == 0, proc.stderr
    assert "Merged" in proc.stdout and "promoted churn@1.0.0" in proc.stdout
    proc = gitreg(root, "merge", out["branch"])
    assert proc.returncode == 0 and "merged already" in proc.stdout
    reg.merge(reg.promote("churn@1.1.0", "staging").branch)
    before = snapshot(root)
    proc = gitreg(root, "promote", "churn@1.1.0", "production")
    assert proc.returncode == 1
    assert "[gate]" in proc.stderr and "accuracy >= 0.9" in proc.stderr and "fix:" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(root) == before
    proc = gitreg(root, "promote", "churn", "production")
    assert proc.returncode == 2 and "which version" in proc.stderr


# --- register --propose --------------------------------------------------------------------------


def test_register_propose_end_to_end(reg, card_file):
    root = reg.store.workdir
    (root / "churn.bin").write_bytes(b"v3 weights")
    git(root, "commit", "-qam", "train v3")
    head = reg.require_head()
    proc = gitreg(
        root,
        "register",
        "churn",
        "--card",
        str(card_file),
        "--artifact",
        "churn.bin",
        "--metrics",
        "churn-metrics.json",
        "--propose",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["proposal"] == "gitreg-register/churn/v1.2.0"
    assert reg.require_head() == head  # the registry branch did not move
    tip = git(root, "rev-parse", out["proposal"])
    assert tip == out["registry_commit"]
    assert git(root, "rev-parse", f"{tip}^@") == head
    assert sorted(git(root, "diff", "--name-only", head, tip).split()) == [
        "models/churn/versions/1.2.0.tag",
        "models/churn/versions/1.2.0.yaml",
    ]
    assert git(root, "rev-parse", "churn@v1.2.0") == out["tag_id"]  # the tag exists already
    assert reg.check(base=head, head=out["proposal"]).ok
    assert not reg.view().has_version("churn", "1.2.0")
    proc = gitreg(root, "merge", out["proposal"])
    assert proc.returncode == 0, proc.stderr
    assert "registered churn@1.2.0" in proc.stdout
    assert reg.view().has_version("churn", "1.2.0")
    merged = reg.require_head()
    assert git(root, "rev-parse", f"{merged}^@").split() == [head, tip]  # a merge commit


def test_register_propose_for_a_new_model_creates_model_yaml_on_the_branch(reg, card_file):
    registration = train(reg, "fraud", GOOD, propose=True)
    assert registration.proposal == "gitreg-register/fraud/v1.0.0"
    assert not reg.view().has_model("fraud")
    reg.merge(registration.proposal)
    assert reg.view().versions("fraud") == ["1.0.0"]
    assert reg.store.ref_target(layout.tag_ref("fraud", "1.0.0")) == registration.tag_id


def test_merge_records_who_approved(reg):
    """By default a merge commit even where a fast-forward would do. The audit names the merger
    and the proposer from signatures only: unsigned commits read 'unsigned (claims NAME)'."""
    proposal = reg.promote("churn@1.0.0", "staging")
    before = reg.require_head()
    env = {
        "GIT_COMMITTER_NAME": "Rita Reviewer",
        "GIT_COMMITTER_EMAIL": "rita@example.com",
        "GIT_AUTHOR_NAME": "Rita Reviewer",
        "GIT_AUTHOR_EMAIL": "rita@example.com",
    }
    proc = gitreg(reg.store.workdir, "merge", proposal.branch, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "merge commit" in proc.stdout
    head = reg.require_head()
    assert git(reg.store.workdir, "rev-parse", f"{head}^@").split() == [before, proposal.commit]
    assert git(reg.store.workdir, "log", "-1", "--format=%an <%ae>", head) == (
        "Rita Reviewer <rita@example.com>"
    )
    audit = json.loads(gitreg(reg.store.workdir, "audit", "churn", "--format", "json").stdout)
    promoted = [e for e in audit["trail"] if e["kind"] == "promoted"]
    assert promoted[-1]["merged_by"] == "unsigned (claims Rita Reviewer <rita@example.com>)"
    assert promoted[-1]["proposed_by"] == "unsigned (claims Test Author <author@example.com>)"
