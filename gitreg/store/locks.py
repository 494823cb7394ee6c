"""Lock files git leaves behind when it is killed, and whether anything still holds them.

Git takes `<file>.lock` with O_EXCL before changing a ref, packed-refs, the index or the config,
and renames it over the file to commit. A process killed in between leaves the lock, and every
later write of that ref fails. A lock file records no owner, so "stale" is decided by evidence:
no live git (or gitreg) process works in this repository, and the lock is older than a threshold.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

# The lock files of git's own state; objects/ is left out (git writes tmp_obj_*, not locks).
_TOP_LOCKS = ("packed-refs.lock", "HEAD.lock", "config.lock", "index.lock", "shallow.lock")


@dataclass(frozen=True)
class Lock:
    path: Path
    age: float  # seconds since it was last written
    holders: tuple[int, ...]  # live git/gitreg processes working in this repository

    @property
    def held(self) -> bool:
        return bool(self.holders)

    def stale(self, min_age: float) -> bool:
        return not self.holders and self.age >= min_age


def find(common_dir: Path) -> list[Lock]:
    """Every lock file under refs/ and git's top-level state, oldest first."""
    common_dir = Path(common_dir)
    paths = [common_dir / name for name in _TOP_LOCKS if (common_dir / name).exists()]
    refs = common_dir / "refs"
    if refs.is_dir():
        for root, _dirs, files in os.walk(refs):
            paths += [Path(root, f) for f in files if f.endswith(".lock")]
    worktrees = common_dir / "worktrees"
    if worktrees.is_dir():
        paths += [p for p in worktrees.glob("*/*.lock")]
    if not paths:
        return []
    holders = tuple(processes_in(common_dir))
    now = time.time()
    found = []
    for path in paths:
        try:
            age = max(0.0, now - path.stat().st_mtime)
        except OSError:  # gone meanwhile: its owner finished
            continue
        found.append(Lock(path, age, holders))
    return sorted(found, key=lambda lock: -lock.age)


def remove(lock: Lock) -> bool:
    try:
        lock.path.unlink()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def processes_in(common_dir: Path) -> list[int]:
    """Live processes (other than this one and its parents) that may be git working here.

    Evidence, from /proc: a process named git* or running gitreg whose working directory or
    command line lies in this repository. A process whose details this user cannot read but
    whose name is git* counts too (a shared server repository): better a lock left than a lock
    stolen. Without /proc nothing can be proven, so every lock counts as held.
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return [0]
    repo = str(Path(common_dir).resolve())
    top = repo[: -len("/.git")] if repo.endswith("/.git") else repo
    mine = _ancestors()
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state in ("Z", "X"):  # dead, not yet reaped: holds nothing
            continue
        gitlike = comm.startswith("git") or "gitreg" in cmdline
        if not gitlike:
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except PermissionError:  # another user's git: it may work here
            if comm.startswith("git"):
                found.append(int(entry.name))
            continue
        except OSError:  # gone, or exiting (no cwd any more): it holds nothing
            continue
        if cwd == top or cwd.startswith(top + "/") or repo in cmdline or top in cmdline:
            found.append(int(entry.name))
    return found


def describe(pids: tuple[int, ...]) -> list[str]:
    """'PID (command)' for each, as far as /proc tells."""
    out = []
    for pid in pids[:5]:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            cmd = "?"
        out.append(f"pid {pid} ({cmd.strip()[:80]})")
    return out


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids
