"""A registration is its tag and its card together, or neither, whenever the process dies.

The kills themselves are in test_recovery.py: every write command killed at every step of its ref
transactions, and register killed at the Nth rename of each of its processes for every N (no clock,
no warm-up: strace kills at an exact syscall). Here: the states those kills leave, made directly,
and what a lock left behind means.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml
from helpers import git, gitreg

RUNS = 30
AGAIN = ("--allow-same-artifact",)  # one training, registered as many versions on purpose


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


def test_repair_finishes_a_registration_whose_tag_ref_was_lost(registry_repo, card_file):
    """The state a kill between the two ref moves leaves: card and tag object, no tag ref."""
    repo = registry_repo
    assert gitreg(repo, "register", "churn", "--card", str(card_file)).returncode == 0
    tag_id = git(repo, "rev-parse", "refs/tags/churn@v1.0.0")
    git(repo, "update-ref", "-d", "refs/tags/churn@v1.0.0")
    assert _state(repo, "1.0.0") == (True, None, tag_id)
    # The next write repairs first; so does `gitreg repair`.
    proc = gitreg(repo, "register", "churn", "--card", str(card_file), *AGAIN)
    assert proc.returncode == 0, proc.stderr
    assert _state(repo, "1.0.0") == (True, tag_id, tag_id)
    git(repo, "update-ref", "-d", "refs/tags/churn@v1.1.0")
    proc = gitreg(repo, "repair")
    assert proc.returncode == 0 and "churn@v1.1.0" in proc.stdout
    assert gitreg(repo, "repair").stdout.strip() == "Nothing to repair."


def test_a_lock_a_live_git_process_may_hold_is_left_alone_with_a_clear_error(registry_repo, card_file):
    """A lock while a git process works in the repository: refused, naming the lock; once the
    process is gone the lock is provably stale and the next write removes it and goes on."""
    from helpers import snapshot

    repo = registry_repo
    lock = repo / ".git" / "refs" / "heads" / "gitreg.lock"
    lock.write_text("")
    other = repo / ".git" / "refs" / "tags" / "churn@v0.9.0.lock"  # a killed sync leaves several
    other.write_text("")
    # A real git process working in this repository (it waits for its stdin).
    holder = subprocess.Popen(
        ["git", "hash-object", "--stdin"], cwd=repo, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        before = snapshot(repo)
        proc = gitreg(repo, "register", "churn", "--card", str(card_file))
        assert proc.returncode == 2, proc.stderr
        assert "gitreg.lock" in proc.stderr and "gitreg doctor" in proc.stderr
        assert "churn@v0.9.0.lock" in proc.stderr  # every lock, not only the one git named
        assert "bug" not in proc.stderr
        assert snapshot(repo) == before
        doctor = gitreg(repo, "doctor", "--json")
        locks = [p for p in json.loads(doctor.stdout)["problems"] if p["kind"] == "lock"]
        assert locks and f"pid {holder.pid}" in locks[0]["message"] and not locks[0]["safe"]
    finally:
        holder.communicate(b"x")
    proc = gitreg(repo, "register", "churn", "--card", str(card_file))
    assert proc.returncode == 0, proc.stderr
    assert not lock.exists() and not other.exists()
