"""`gitreg push` and `gitreg sync` against real bare remotes.

push publishes the registry branch and the registration tags the remote lacks in one atomic
push and checks each ref's status; sync fetches them and refuses a moved registration tag or a
rewritten registry branch, changing nothing locally when it refuses.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from helpers import git, gitreg, snapshot
from registry_helpers import GOOD, WEAK, set_stages, train
from remote_helpers import build_team, copy_team, registry, remote_refs

from gitreg.ops import remote as remotes


@pytest.fixture(scope="module")
def _template(tmp_path_factory) -> Path:
    return build_team(tmp_path_factory.mktemp("team"))


@pytest.fixture
def team(_template, tmp_path) -> tuple[Path, Path]:
    return copy_team(_template, tmp_path / "team")


def clone(remote: Path, dest: Path) -> Path:
    """A teammate's clone: the remote's tags, but no local registry branch yet."""
    git(dest.parent, "clone", "-q", str(remote), dest.name)
    return dest


def test_push_publishes_the_branch_and_new_tags_in_one_push(team):
    work, remote = team
    reg = registry(work)
    first = train(reg, "churn", GOOD)
    second = train(reg, "fraud", GOOD)
    proc = gitreg(work, "push", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["remote"] == "origin" and report["new"] == reg.require_head()
    assert report["tags"] == sorted([first.tag, second.tag])
    assert "passed" in " ".join(report["messages"])  # the server hook judged it
    assert git(remote, "rev-parse", "refs/heads/gitreg") == reg.require_head()
    for r in (first, second):
        assert git(remote, "rev-parse", f"refs/tags/{r.tag}") == r.tag_id
    assert git(work, "rev-parse", "refs/gitreg/remotes/origin/gitreg") == reg.require_head()
    again = gitreg(work, "push")
    assert again.returncode == 0 and "up to date" in again.stdout


def test_push_is_atomic_when_the_remote_refuses_one_ref(team):
    work, remote = team
    # An update hook refuses the registry branch alone (per ref): without --atomic the tag
    # would land and the branch would not.
    hook = remote / "hooks" / "update"
    hook.write_text('#!/bin/sh\nif [ "$1" = refs/heads/gitreg ]; then echo "branch frozen" >&2; exit 1; fi\n')
    hook.chmod(0o755)
    reg = registry(work)
    new = train(reg, "churn", GOOD)
    before = remote_refs(remote)
    proc = gitreg(work, "push")
    assert proc.returncode == 1
    assert "origin refused the push; nothing was published" in proc.stderr
    assert "branch frozen" in proc.stderr and "refs/heads/gitreg" in proc.stderr
    assert remote_refs(remote) == before and new.tag not in before
    # Nothing was recorded as seen on the remote either.
    assert git(work, "rev-parse", "refs/gitreg/remotes/origin/gitreg", check=False) != reg.require_head()


def test_push_relays_the_server_hooks_refusal(team):
    work, remote = team
    reg = registry(work)
    bad = set_stages(reg, "churn", {"staging": ["1.1.0", "1.2.0"], "production": ["1.0.0"]})
    reg.store.update_refs([(reg.branch_ref, bad, reg.require_head())], "test")
    before = remote_refs(remote)
    proc = gitreg(work, "push")
    assert proc.returncode == 1
    assert "pre-receive hook declined" in proc.stderr and "[gate]" in proc.stderr
    assert remote_refs(remote) == before


def test_push_refuses_when_the_remote_has_commits_we_lack(team, tmp_path):
    work, remote = team
    mate = clone(remote, tmp_path / "mate")
    mate_reg = registry(mate)
    assert gitreg(mate, "sync").returncode == 0
    train(mate_reg, "churn", GOOD)
    assert gitreg(mate, "push").returncode == 0
    reg = registry(work)
    train(reg, "fraud", GOOD)
    before = remote_refs(remote)
    proc = gitreg(work, "push")
    assert proc.returncode == 1
    assert "has commits this repository does not have" in proc.stderr and "gitreg sync" in proc.stderr
    assert remote_refs(remote) == before
    # The usual way out: sync merges the unpublished registration onto the remote's, then push.
    proc = gitreg(work, "sync", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["state"] == "merged"
    merged = reg.require_head()
    assert git(work, "rev-parse", f"{merged}^1") == report["remote_head"]
    assert reg.view().has_version("fraud", "1.0.0") and reg.view().has_version("churn", "1.3.0")
    proc = gitreg(work, "push")
    assert proc.returncode == 0, proc.stderr
    assert git(remote, "rev-parse", "refs/heads/gitreg") == merged
    assert git(remote, "rev-parse", "--verify", "refs/tags/fraud@v1.0.0")


def test_sync_refuses_a_conflicting_registration_and_changes_nothing(team, tmp_path):
    work, remote = team
    mate = clone(remote, tmp_path / "mate")
    assert gitreg(mate, "sync").returncode == 0
    train(registry(mate), "churn", GOOD)  # churn 1.3.0 there
    assert gitreg(mate, "push").returncode == 0
    train(registry(work), "churn", WEAK)  # and another churn 1.3.0 here (other metrics)
    before = snapshot(work)
    proc = gitreg(work, "sync")
    assert proc.returncode == 1
    assert "conflict" in proc.stderr and "churn@v1.3.0: registered here" in proc.stderr
    assert snapshot(work) == before


def test_push_refuses_a_local_tag_that_differs_from_the_registration(team):
    work, remote = team
    git(work, "tag", "-f", "-a", "-m", "moved", "churn@v1.1.0", "HEAD")
    reg = registry(work)
    train(reg, "fraud", GOOD)
    before = remote_refs(remote)
    proc = gitreg(work, "push")
    assert proc.returncode == 1 and "churn@v1.1.0" in proc.stderr and "recorded" in proc.stderr
    assert remote_refs(remote) == before


def test_push_and_sync_use_the_configured_remote(team, tmp_path):
    work, _ = team
    git(tmp_path, "init", "-q", "--bare", "mirror.git")
    git(work, "remote", "add", "mirror", str(tmp_path / "mirror.git"))
    git(work, "config", "gitreg.remote", "mirror")
    proc = gitreg(work, "push")
    assert proc.returncode == 0, proc.stderr
    assert "mirror" in proc.stdout
    assert git(tmp_path / "mirror.git", "rev-parse", "refs/heads/gitreg") == registry(work).require_head()
    proc = gitreg(work, "push", "--remote", "nowhere")
    assert proc.returncode == 2 and "not a remote" in proc.stderr


def test_sync_creates_and_fast_forwards_the_registry(team, tmp_path):
    work, remote = team
    mate = clone(remote, tmp_path / "mate")
    proc = gitreg(mate, "sync", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["state"] == "created" and report["remote_head"] == registry(work).require_head()
    mate_reg = registry(mate)
    assert mate_reg.require_head() == registry(work).require_head()
    assert git(mate, "rev-parse", "refs/tags/churn@v1.1.0") == git(
        work, "rev-parse", "refs/tags/churn@v1.1.0"
    )
    # A teammate registers and pushes; sync fast-forwards and fetches the new tag.
    reg = registry(work)
    new = train(reg, "churn", GOOD)
    assert gitreg(work, "push").returncode == 0
    proc = gitreg(mate, "sync")
    assert proc.returncode == 0 and "Fast-forwarded" in proc.stdout and new.tag in proc.stdout
    assert git(mate, "rev-parse", f"refs/tags/{new.tag}") == new.tag_id
    assert mate_reg.require_head() == reg.require_head()
    assert "up to date" in gitreg(mate, "sync").stdout


def test_sync_never_reads_a_tag_it_holds_so_a_moved_one_is_not_taken(team, tmp_path):
    """sync asks only for the tags of versions it lacks (scale: a registry of 250,000 tags):
    a tag the remote's admin moves behind the hook's back is neither read nor taken."""
    work, remote = team
    mate = clone(remote, tmp_path / "mate")
    assert gitreg(mate, "sync").returncode == 0
    held = git(mate, "rev-parse", "refs/tags/churn@v1.0.0")
    moved = git(work, "rev-parse", "refs/tags/churn@v1.2.0")
    git(remote, "update-ref", "refs/tags/churn@v1.0.0", moved)
    before = snapshot(mate)
    proc = gitreg(mate, "sync")
    assert proc.returncode == 0 and "up to date" in proc.stdout
    assert snapshot(mate) == before and git(mate, "rev-parse", "refs/tags/churn@v1.0.0") == held


_PACKET = re.compile(r"packet: +(\S+)([<>]) (ref-prefix (\S+)|[0-9a-f]{40} (refs/\S+))")


def _asked(trace: Path) -> tuple[list[str], list[str]]:
    """From a GIT_TRACE_PACKET file: the ref prefixes git asked the remote for (protocol v2),
    and the tags the remote advertised in answer."""
    prefixes, tags = set(), set()
    for line in trace.read_text().splitlines():
        m = _PACKET.search(line)
        if m is None or m[1] == "upload-pack":
            continue
        if m[2] == ">" and m[4]:
            prefixes.add(m[4])
        elif m[2] == "<" and m[5] and m[5].startswith("refs/tags/"):
            tags.add(m[5])
    return sorted(prefixes), sorted(tags)


def test_sync_asks_only_for_the_branch_and_the_tags_it_lacks(team, tmp_path):
    """Acceptance (issue 14): sync fetches no tag it already has, and never lists every tag."""
    work, remote = team
    mate = clone(remote, tmp_path / "mate")
    assert gitreg(mate, "sync").returncode == 0
    new = train(registry(work), "churn", GOOD)
    assert gitreg(work, "push").returncode == 0
    trace = tmp_path / "packets"
    proc = gitreg(mate, "sync", "--json", env={"GIT_TRACE_PACKET": str(trace)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["tags"] == [new.tag]
    assert _asked(trace) == (["refs/heads/", f"refs/tags/{new.tag}"], [f"refs/tags/{new.tag}"])
    assert git(mate, "rev-parse", f"refs/tags/{new.tag}") == new.tag_id
    assert git(mate, "for-each-ref", "refs/gitreg/incoming") == ""  # the scratch refs are gone
    # Up to date: the branch is all it asks for.
    trace.unlink()
    assert gitreg(mate, "sync", env={"GIT_TRACE_PACKET": str(trace)}).returncode == 0
    assert _asked(trace) == (["refs/heads/"], [])


def test_sync_names_its_branches_as_haves_never_its_tags_and_leaves_no_trace(team, tmp_path):
    """git fetch reads every local ref twice (what is complete, then whether the new objects
    connect): 10 s a fetch at 543,000 tags. sync fetches from a throwaway git dir that shares
    the object store but holds only branches and gitreg's records: the remote hears of no
    local tag (not even the newest commit, which only a tag holds), and the git dir is gone."""
    work, remote = team
    mate = clone(remote, tmp_path / "mate")
    assert gitreg(mate, "sync").returncode == 0
    future = {
        **os.environ,
        **{f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER") for what, value in
           (("NAME", "Mate"), ("EMAIL", "mate@example.com"), ("DATE", "3000000000 +0000"))},
    }  # fmt: skip
    empty = git(mate, "hash-object", "-t", "tree", "-w", "--stdin")
    orphan = subprocess.run(
        ["git", "commit-tree", empty, "-m", "held by a tag alone"],
        cwd=mate, env=future, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    git(mate, "tag", "local-only", orphan)
    new = train(registry(work), "churn", GOOD)
    assert gitreg(work, "push").returncode == 0
    stale = mate / ".git" / "gitreg-tmp" / "fetch-killed"  # what a sync killed two days ago left
    (stale / "refs").mkdir(parents=True)
    os.utime(stale, (0, 0))
    trace = tmp_path / "packets"
    proc = gitreg(mate, "sync", env={"GIT_TRACE_PACKET": str(trace)})
    assert proc.returncode == 0, proc.stderr
    haves = re.findall(r"packet: +fetch> have ([0-9a-f]{40})", trace.read_text())
    assert git(mate, "rev-parse", "refs/heads/main") in haves  # the branches are named
    assert orphan not in haves
    assert git(mate, "rev-parse", f"refs/tags/{new.tag}") == new.tag_id
    assert registry(mate).require_head() == registry(work).require_head()
    assert list((mate / ".git" / "gitreg-tmp").iterdir()) == []
    assert git(mate, "for-each-ref", "refs/gitreg/incoming") == ""


def test_sync_refuses_a_moved_tag_it_never_had_by_the_registry_record(team, tmp_path):
    work, remote = team
    moved = git(work, "rev-parse", "refs/tags/churn@v1.2.0")
    git(remote, "update-ref", "refs/tags/churn@v1.0.0", moved)
    mate = clone(remote, tmp_path / "mate")
    git(mate, "tag", "-d", "churn@v1.0.0")  # the clone took the moved tag: forget it
    for tag in git(mate, "tag", "-l").split():
        git(mate, "tag", "-d", tag)
    before = snapshot(mate)
    proc = gitreg(mate, "sync")
    assert proc.returncode == 1
    assert "churn@v1.0.0" in proc.stderr and "records" in proc.stderr
    assert snapshot(mate) == before


def test_sync_refuses_a_force_pushed_registry_branch(team, tmp_path):
    work, remote = team
    mate = clone(remote, tmp_path / "mate")
    assert gitreg(mate, "sync").returncode == 0
    head = registry(work).require_head()
    rewritten = git(work, "commit-tree", f"{head}^{{tree}}", "-p", f"{head}~1", "-m", "rewritten")
    git(work, "push", "-q", str(remote), f"{rewritten}:refs/heads/scratch")  # just the objects
    git(remote, "update-ref", "-d", "refs/heads/scratch")
    git(remote, "update-ref", "refs/heads/gitreg", rewritten)  # an admin rewrites history
    before = snapshot(mate)
    proc = gitreg(mate, "sync")
    assert proc.returncode == 1
    assert "rewritten (force-pushed)" in proc.stderr and "last state seen" in proc.stderr
    assert snapshot(mate) == before
    # Without a last-seen record, the local registry branch is the baseline.
    git(mate, "update-ref", "-d", remotes.last_seen_ref("origin", "gitreg"))
    before = snapshot(mate)
    proc = gitreg(mate, "sync")
    assert proc.returncode == 1 and "force-pushed" in proc.stderr
    assert snapshot(mate) == before


def test_sync_keeps_unpublished_local_work(team):
    work, _ = team
    reg = registry(work)
    train(reg, "fraud", GOOD)
    proc = gitreg(work, "sync")
    assert proc.returncode == 0 and "ahead" in proc.stdout
    assert reg.view().has_version("fraud", "1.0.0")


def test_sync_without_a_registry_on_the_remote(tmp_path):
    git(tmp_path, "init", "-q", "--bare", "empty.git")
    git(tmp_path, "init", "-q", "work")
    git(tmp_path / "work", "remote", "add", "origin", "../empty.git")
    proc = gitreg(tmp_path / "work", "sync")
    assert proc.returncode == 2 and "has no registry branch" in proc.stderr
    assert "gitreg push" in proc.stderr


def test_merge_push_publishes_the_merged_promotion(team):
    work, remote = team
    assert gitreg(work, "promote", "churn@1.1.0", "production").returncode == 0
    proc = gitreg(work, "merge", "gitreg-promote/churn/v1.1.0/production", "--push")
    assert proc.returncode == 0, proc.stderr
    assert "pushed" in proc.stdout
    head = registry(work).require_head()
    assert git(remote, "rev-parse", "refs/heads/gitreg") == head
    assert git(work, "rev-parse", remotes.last_seen_ref("origin", "gitreg")) == head
