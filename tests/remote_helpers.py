"""A team set-up for the remote, hook and forge tests: a project with a registry (three versions
registered, all in staging), a real bare repository as its remote with gitreg's pre-receive hook
installed by `gitreg install-hooks --server`, and pushes through the git CLI.

The set-up is built once per test module and copied for each test (the remote URL is relative,
so a copy is a working pair).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import git, gitreg
from registry_helpers import GOOD, POLICY, WEAK, advance, make_project, set_stages, train

from gitreg.registry import Registry

BETTER = {"accuracy": 0.95, "fairness": {"demographic_parity_gap": 0.01}}


def build_team(root: Path, *, server_hook: bool = True) -> Path:
    """ROOT/work (the project) and ROOT/remote.git (its remote, already holding the registry)."""
    reg = make_project(root / "work", POLICY)
    train(reg, "churn", WEAK)  # 1.0.0: accuracy 0.80, fails the production gate
    train(reg, "churn", GOOD)  # 1.1.0
    train(reg, "churn", BETTER)  # 1.2.0
    advance(reg, set_stages(reg, "churn", {"staging": ["1.0.0", "1.1.0", "1.2.0"]}))
    git(root, "init", "-q", "--bare", "remote.git")
    if server_hook:
        proc = gitreg(root / "remote.git", "install-hooks", "--server")
        assert proc.returncode == 0, proc.stderr
    work = root / "work"
    git(work, "remote", "add", "origin", "../remote.git")
    push = git_push(work, "main", "gitreg", "--tags")
    assert push.returncode == 0, push.stderr
    return root


def copy_team(template: Path, dest: Path) -> tuple[Path, Path]:
    shutil.copytree(template, dest, symlinks=True)
    return dest / "work", dest / "remote.git"


def git_push(repo: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`git push origin ARGS` as a user runs it (PATH without gitreg: the hook must cope)."""
    return subprocess.run(
        ["git", "push", "origin", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path_without_gitreg(), **(env or {})},
    )


def path_without_gitreg() -> str:
    """PATH minus the directory of this Python's scripts: the installed shim must find gitreg
    through the interpreter baked in at install time."""
    scripts = os.path.dirname(sys.executable)
    return os.pathsep.join(
        p
        for p in os.environ.get("PATH", "").split(os.pathsep)
        if p and os.path.abspath(p) != os.path.abspath(scripts)
    )


def remote_refs(remote: Path) -> str:
    return git(remote, "for-each-ref", "--format=%(refname) %(objectname)")


def registry(work: Path) -> Registry:
    return Registry.open(work)
