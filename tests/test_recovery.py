"""Nothing lost: every write command killed at every step of its ref transactions.

A first run of the command under `strace -f -e trace=rename` lists every rename of a lock file
(`<ref>.lock` -> `<ref>`): each is one ref committed, one step of a transaction. Then, for each
step, a fresh copy of the same set-up runs the command again under
`strace -f -P <that lock> -e inject=rename:signal=KILL`: git (or receive-pack, on the server) dies
exactly there. Then `git gc --prune=now` deletes every object no ref reaches, and `gitreg repair`
(and, on the server, `gitreg doctor --fix` followed by the next `gitreg push`) must leave every
registration whole: each card with its tag, at the recorded object, and a clean doctor.

Dates are pinned, so every run makes the same objects and the same lock paths.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import git, gitreg
from remote_helpers import build_team, copy_team

pytestmark = pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")

DATES = {"GIT_COMMITTER_DATE": "1767225600 +0000", "GIT_AUTHOR_DATE": "1767225600 +0000"}
CARD = "../work-churn-card.yaml"
# One training registered at every kill point on purpose: the same bytes again are allowed.
REGISTER = [
    *("register", "churn", "--card", CARD, "--artifact", "churn.bin", "--metrics", "churn-metrics.json"),
    "--allow-same-artifact",
]
RENAME = re.compile(r'rename\("([^"]+)", "([^"]+)"\) = 0')


@pytest.fixture(scope="module")
def team(tmp_path_factory) -> Path:
    """The team set-up, plus: promote 1.1.0 proposed (for merge), a registration made here and
    not pushed (for push), and a clone that has never synced (for sync)."""
    root = build_team(tmp_path_factory.mktemp("recovery"))
    work = root / "work"
    proc = gitreg(work, "promote", "churn@1.1.0", "production", env=DATES)
    assert proc.returncode == 0, proc.stderr
    git(root, "clone", "-q", "--no-tags", "remote.git", "fresh")
    return root


def _env() -> dict:
    return {**os.environ, **DATES}


def _gitreg(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "gitreg", *args]


def steps(root: Path, where: str, args: list[str]) -> list[str]:
    """The lock files (relative to ROOT) the command renames, in order: its ref-transaction steps."""
    log = root / "renames.log"
    proc = subprocess.run(
        ["strace", "-f", "-qq", "-o", str(log), "-e", "trace=rename", *_gitreg(args)],
        cwd=root / where,
        capture_output=True,
        text=True,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stderr
    found = []
    for line in log.read_text().splitlines():
        m = RENAME.search(line)
        if m and m[1].endswith(".lock") and m[1].startswith(str(root) + "/"):
            rel = m[1][len(str(root)) + 1 :]  # as git spells it (".git//refs/..."): -P compares strings
            if rel not in found:
                found.append(rel)
    log.unlink()
    return found


def killed_at(root: Path, where: str, args: list[str], lock: str) -> subprocess.CompletedProcess:
    """Run the command; the process renaming LOCK into place dies at that rename."""
    return subprocess.run(
        [
            *("strace", "-f", "-qq", "-o", os.devnull, "-P", f"{root}/{lock}", "-e", "trace=rename"),
            *("-e", "inject=rename:signal=KILL:when=1", *_gitreg(args)),
        ],
        cwd=root / where,
        capture_output=True,
        text=True,
        env=_env(),
    )


def collect_garbage(repo: Path) -> None:
    """Delete every object no ref reaches, as `git gc --prune=now` does. A crash can leave
    packed-refs.lock, which stops gc (pack-refs) but not its pruning: prune first, always."""
    git(repo, "prune", "--expire=now")
    subprocess.run(["git", "gc", "-q", "--prune=now"], cwd=repo, capture_output=True)


def registrations(repo: Path, branch: str = "gitreg") -> dict[str, str]:
    """tag -> recorded object id, for every card on BRANCH."""
    out: dict[str, str] = {}
    if not git(repo, "rev-parse", "-q", "--verify", f"refs/heads/{branch}", check=False):
        return out
    listing = git(repo, "ls-tree", "-r", "--name-only", branch, "models")
    for path in listing.splitlines():
        if path.endswith(".tag"):
            record = yaml.safe_load(git(repo, "show", f"{branch}:{path}"))
            out[record["tag"]] = record["object"]
    return out


def assert_whole(repo: Path, *branches: str) -> None:
    """Every card on the registry branch (and BRANCHES) has its tag, at the recorded object; no
    pending ref, no lock, fsck clean, doctor clean."""
    for branch in ("gitreg", *branches):
        for tag, oid in registrations(repo, branch).items():
            assert git(repo, "rev-parse", "-q", "--verify", f"refs/tags/{tag}", check=False) == oid, tag
            assert git(repo, "cat-file", "-t", oid) == "tag"
    assert git(repo, "for-each-ref", "refs/gitreg/pending/") == ""
    fsck = subprocess.run(["git", "fsck", "--no-dangling"], cwd=repo, capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
    doctor = gitreg(repo, "doctor", "--json")
    assert doctor.returncode == 0, doctor.stdout
    assert json.loads(doctor.stdout)["ok"]


def crash_everywhere(team: Path, tmp_path: Path, where: str, args: list[str]) -> list[tuple[str, int]]:
    """Kill ARGS at each of its steps; after gc and repair every registration is whole."""
    probe = tmp_path / "probe"
    copy_team(team, probe)
    points = steps(probe, where, args)
    assert points, "the command renamed no lock: nothing was tested"
    seen = []
    for i, lock in enumerate(points):
        root = tmp_path / f"kill-{i}"
        copy_team(team, root)
        proc = killed_at(root, where, args, lock)
        seen.append((os.path.normpath(lock), proc.returncode))
        assert "bug in gitreg" not in proc.stderr, proc.stderr
        repo = root / where
        collect_garbage(repo)
        repaired = gitreg(repo, "repair", "--json")
        assert repaired.returncode == 0, f"{lock}: {repaired.stdout}{repaired.stderr}"
        assert_whole(repo, *_proposal_branches(repo))
        shutil.rmtree(root)
    return seen


def _proposal_branches(repo: Path) -> list[str]:
    out = git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/gitreg-register/")
    return [b for b in out.splitlines() if b]


def test_register_killed_at_every_ref_step_loses_nothing(team, tmp_path):
    seen = crash_everywhere(team, tmp_path, "work", [*REGISTER, "--version", "2.0.0"])
    locks = [lock for lock, _ in seen]
    # The pending ref, the registry branch and the tag: each a step that was killed.
    assert any("refs/gitreg/pending/" in lock for lock in locks), locks
    assert "work/.git/refs/heads/gitreg.lock" in locks and "work/.git/refs/tags/churn@v2.0.0.lock" in locks
    assert all(code != 0 for _, code in seen), seen


def test_register_propose_killed_at_every_ref_step_loses_nothing(team, tmp_path):
    seen = crash_everywhere(team, tmp_path, "work", [*REGISTER, "--version", "2.0.0", "--propose"])
    locks = [lock for lock, _ in seen]
    assert "work/.git/refs/heads/gitreg-register/churn/v2.0.0.lock" in locks, locks


def test_promote_killed_at_every_ref_step_loses_nothing(team, tmp_path):
    seen = crash_everywhere(team, tmp_path, "work", ["promote", "churn@1.2.0", "production"])
    assert any("gitreg-promote/churn/v1.2.0/production" in lock for lock, _ in seen), seen


def test_merge_killed_at_every_ref_step_loses_nothing(team, tmp_path):
    seen = crash_everywhere(team, tmp_path, "work", ["merge", "gitreg-promote/churn/v1.1.0/production"])
    assert "work/.git/refs/heads/gitreg.lock" in [lock for lock, _ in seen], seen


def test_sync_killed_at_every_ref_step_loses_nothing(team, tmp_path):
    seen = crash_everywhere(team, tmp_path, "fresh", ["sync"])
    locks = [lock for lock, _ in seen]
    # The branch, three tags, the last-seen ref and the pending refs that hold the tags.
    assert sum("fresh/.git/refs/tags/" in lock for lock in locks) == 3, locks
    assert sum("refs/gitreg/pending/" in lock for lock in locks) == 3, locks


def test_push_with_receive_pack_killed_at_every_ref_step_is_completed_by_the_next_push(team, tmp_path):
    """The server commits a push's refs one by one: killed in between, the remote holds the
    registry branch without a tag. The client says exactly what moved; doctor in the bare
    repository finds the defect and removes the lock; the next `gitreg push` completes it."""
    probe = tmp_path / "probe"
    copy_team(team, probe)
    _register_unpushed(probe / "work")
    points = [p for p in steps(probe, "work", ["push"]) if p.startswith("remote.git/")]
    named = [os.path.normpath(p) for p in points]
    assert "remote.git/refs/heads/gitreg.lock" in named and "remote.git/refs/tags/churn@v2.0.0.lock" in named
    for i, lock in enumerate(points):
        root = tmp_path / f"kill-{i}"
        copy_team(team, root)
        work, remote = root / "work", root / "remote.git"
        _register_unpushed(work)
        before = git(remote, "for-each-ref", "--format=%(refname) %(objectname)")
        proc = killed_at(root, "work", ["push"], lock)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        after = git(remote, "for-each-ref", "--format=%(refname) %(objectname)")
        moved = sorted(set(after.splitlines()) - set(before.splitlines()))
        if moved:  # the truth, ref by ref
            assert "stopped halfway" in proc.stderr, proc.stderr
            for line in moved:
                assert f"moved: {line.split()[0]}" in proc.stderr
        else:
            assert "moved:" not in proc.stderr
        collect_garbage(remote)
        doctor = gitreg(remote, "doctor", "--json")
        found = {p["kind"] for p in json.loads(doctor.stdout)["problems"] if p["defect"]}
        assert "lock" in found, doctor.stdout
        if "refs/heads/gitreg" in " ".join(moved) and "refs/tags/churn@v2.0.0" not in " ".join(moved):
            assert found & {"tag-missing", "tag-lost"}, doctor.stdout
        fixed = gitreg(remote, "doctor", "--fix", "--lock-age", "0", "--json")
        assert "lock" not in {p["kind"] for p in json.loads(fixed.stdout)["problems"] if not p["fixed"]}
        again = gitreg(work, "push")
        assert again.returncode == 0, again.stderr
        assert_whole(remote)
        assert registrations(remote) == registrations(work)
        shutil.rmtree(root)


def _register_unpushed(work: Path) -> None:
    proc = gitreg(work, *REGISTER, "--version", "2.0.0", env=DATES)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("syscall", ["link", "rename"])
def test_register_killed_at_every_object_and_ref_write_loses_nothing(team, tmp_path, syscall):
    """Beyond the ref steps: objects are committed by link(2) (git and libgit2 write a temporary
    file and link it into place), refs by rename(2). Kill each process at its Nth such call,
    N = 1, 2, ... until a run completes untouched: every write of the command was a crash point."""
    args = [*REGISTER, "--version", "2.0.0"]
    outcomes = {"landed": 0, "not landed": 0}
    for n in range(1, 200):
        root = tmp_path / f"n-{n}"
        copy_team(team, root)
        proc = subprocess.run(
            [
                *("strace", "-f", "-qq", "-o", os.devnull, "-e", f"trace={syscall}"),
                *("-e", f"inject={syscall}:signal=KILL:when={n}", *_gitreg(args)),
            ],
            cwd=root / "work",
            capture_output=True,
            text=True,
            env=_env(),
        )
        assert "bug in gitreg" not in proc.stderr, proc.stderr
        repo = root / "work"
        collect_garbage(repo)
        assert gitreg(repo, "repair").returncode == 0
        assert_whole(repo, *_proposal_branches(repo))
        landed = "churn@v2.0.0" in registrations(repo)
        tagged = git(repo, "rev-parse", "-q", "--verify", "refs/tags/churn@v2.0.0", check=False)
        assert landed == bool(tagged), f"n={n}: card {landed}, tag {tagged}"
        outcomes["landed" if landed else "not landed"] += 1
        shutil.rmtree(root)
        if proc.returncode == 0:
            break  # no process reached its Nth call: every point was tried
    else:
        pytest.fail("the command never completed")
    assert outcomes["not landed"] > 0 and outcomes["landed"] > 0, outcomes
