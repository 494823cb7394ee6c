"""A registration is its tag and its card together, or neither, whenever the process dies.

`register` runs as a real process group and is killed with SIGKILL (git children
included) at random points. The writes are ordered so that the only state a kill
can leave besides "both" and "neither" is a card whose tag ref is missing while
the tag object it records exists; `gitreg repair` (which every write runs first)
finishes that one. A tag without its card must never appear.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from helpers import git, gitreg

RUNS = 30


def _state(repo: Path, version: str) -> tuple[bool, str | None, str | None]:
    card = (
        subprocess.run(
            ["git", "cat-file", "-e", f"gitreg:models/churn/versions/{version}.yaml"],
            cwd=repo,
            capture_output=True,
        ).returncode
        == 0
    )
    tag = git(repo, "rev-parse", "--verify", "-q", f"refs/tags/churn@v{version}", check=False) or None
    record = None
    if card:
        record = yaml.safe_load(git(repo, "show", f"gitreg:models/churn/versions/{version}.tag"))["object"]
    return card, tag, record


def _stale_locks(repo: Path) -> list[Path]:
    return [p for p in (repo / ".git").rglob("*.lock") if "refs" in p.parts or p.name == "packed-refs.lock"]


def test_sigkill_never_leaves_a_tag_without_its_card(registry_repo, card_file):
    repo = registry_repo
    rng = random.Random(1234)
    started = time.monotonic()
    assert gitreg(repo, "register", "churn", "--card", str(card_file), "--version", "0.0.1").returncode == 0
    duration = time.monotonic() - started
    outcomes = {"both": 0, "neither": 0, "repaired": 0}
    for i in range(RUNS):
        version = f"1.0.{i}"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gitreg",
                "register",
                "churn",
                "--card",
                str(card_file),
                "--version",
                version,
            ],
            cwd=repo,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=rng.uniform(0.05, 1.1) * duration)  # the random kill point
        with contextlib.suppress(ProcessLookupError):  # it may have finished before the kill
            os.killpg(proc.pid, signal.SIGKILL)  # the whole group: git children die too
        proc.wait()
        card, tag, record = _state(repo, version)
        assert not (tag and not card), f"run {i}: tag {version} exists without its card"
        if card and not tag:
            assert git(repo, "cat-file", "-t", record) == "tag"  # repairable: the object is there
        for lock in _stale_locks(repo):  # what the error message tells a user to do
            lock.unlink()
        repaired = gitreg(repo, "repair", "--json")
        assert repaired.returncode == 0, repaired.stderr
        card, tag, record = _state(repo, version)
        assert card == bool(tag), f"run {i}: card {card}, tag {tag} after repair"
        if card:
            assert tag == record
            outcomes["repaired" if f"churn@v{version}" in repaired.stdout else "both"] += 1
        else:
            outcomes["neither"] += 1
    # The kill points spread over the whole command: both outcomes were seen.
    assert outcomes["neither"] > 0 and outcomes["both"] + outcomes["repaired"] > 0, outcomes
    # And the registry still works afterwards.
    proc = gitreg(repo, "register", "churn", "--card", str(card_file), "--version", "9.0.0")
    assert proc.returncode == 0, proc.stderr
    fsck = subprocess.run(["git", "fsck", "--no-dangling"], cwd=repo, capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr


def test_repair_finishes_a_registration_whose_tag_ref_was_lost(registry_repo, card_file):
    """The state a kill between the two ref moves leaves: card and tag object, no tag ref."""
    repo = registry_repo
    assert gitreg(repo, "register", "churn", "--card", str(card_file)).returncode == 0
    tag_id = git(repo, "rev-parse", "refs/tags/churn@v1.0.0")
    git(repo, "update-ref", "-d", "refs/tags/churn@v1.0.0")
    assert _state(repo, "1.0.0") == (True, None, tag_id)
    # The next write repairs first; so does `gitreg repair`.
    proc = gitreg(repo, "register", "churn", "--card", str(card_file))
    assert proc.returncode == 0, proc.stderr
    assert _state(repo, "1.0.0") == (True, tag_id, tag_id)
    git(repo, "update-ref", "-d", "refs/tags/churn@v1.1.0")
    proc = gitreg(repo, "repair")
    assert proc.returncode == 0 and "churn@v1.1.0" in proc.stdout
    assert gitreg(repo, "repair").stdout.strip() == "Nothing to repair."


def test_a_stale_lock_gives_a_clear_error_and_changes_nothing(registry_repo, card_file):
    from helpers import snapshot

    repo = registry_repo
    lock = repo / ".git" / "refs" / "heads" / "gitreg.lock"
    lock.write_text("")
    before = snapshot(repo)
    proc = gitreg(repo, "register", "churn", "--card", str(card_file))
    assert proc.returncode == 2
    assert "gitreg.lock" in proc.stderr and "delete that lock file" in proc.stderr
    assert snapshot(repo) == before
