"""Shared by the MLflow plugin's tests: a client on a gitreg: URI, and a registry built with the
real CLI (register, promote, merge) the way a team would."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import git, gitreg


def client(repo: Path):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"gitreg://{repo}", registry_uri=f"gitreg://{repo}")


def cli(repo: Path, *args: str) -> str:
    proc = gitreg(repo, *args)
    assert proc.returncode == 0, f"gitreg {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def cli_json(repo: Path, *args: str):
    return json.loads(cli(repo, *args, "--json"))


def promote(repo: Path, ref: str, *stages: str) -> None:
    for stage in stages:
        branch = cli_json(repo, "promote", ref, stage)["branch"]
        cli(repo, "merge", branch)


def refs(repo: Path) -> str:
    """Every ref with its target: what a refused write must leave as it was."""
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
