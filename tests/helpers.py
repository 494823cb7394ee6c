"""Plain helpers the tests import (fixtures live in conftest.py and are used as fixtures).

`gitreg(...)` runs the CLI in this process, as `python -m gitreg` would, with the same exit
codes, stdout and stderr; `gitreg_process(...)` starts a real process, for what needs one
(signals, a kill, concurrency, a hook's view of the world).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

CARD = """\
overview: Churn classifier for monthly B2C accounts.
owners: [{name: Data Science, contact: ds@example.com}]
license: proprietary
intended_use:
  primary_uses: [Rank accounts by 30-day churn risk]
  users: [CRM analysts]
  out_of_scope: [Credit or pricing decisions]
considerations:
  limitations: [Trained on EU accounts only]
  ethical_risks:
    - {name: Higher error for accounts under 3 months old, mitigation: Exclude them from automated outreach}
"""


def git(cwd, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


def gitreg_process(
    cwd, *args: str, input: str | None = None, env: dict | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """The real CLI in a real process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "gitreg", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        input=input,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def snapshot(repo) -> dict:
    """Everything a failed command must leave alone: refs, HEAD, index and work tree."""
    return {
        "refs": git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        "head": git(repo, "rev-parse", "HEAD", check=False),
        "symbolic": git(repo, "symbolic-ref", "-q", "HEAD", check=False),
        "status": git(repo, "status", "--porcelain=v2", "--untracked-files=all"),
        "index": (Path(repo) / ".git" / "index").read_bytes()
        if (Path(repo) / ".git" / "index").exists()
        else b"",
        "worktrees": git(repo, "worktree", "list", "--porcelain"),
    }


def gitreg(
    cwd, *args: str, input: str | None = None, env: dict | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """The CLI's own entry point (gitreg.cli.main) in this process: argv, working directory,
    environment and standard streams as a process would have them, restored afterwards.
    TIMEOUT is accepted for symmetry with gitreg_process; an in-process run is not timed."""
    from gitreg import cli

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd, saved_argv, saved_stdin = dict(os.environ), os.getcwd(), sys.argv, sys.stdin
    code = 0
    try:
        os.environ.update(env or {})
        os.chdir(cwd)
        sys.argv = ["gitreg", *args]
        sys.stdin = io.StringIO(input or "")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)
        sys.argv, sys.stdin = saved_argv, saved_stdin
    return subprocess.CompletedProcess(["gitreg", *args], code, out.getvalue(), err.getvalue())
