"""Racing writers: compare-and-swap on every ref, so no registration is lost or doubled.

Real processes started together against one repository; the registry branch and
the tags must end up holding every winner and nothing else, each card bound to its tag.
"""

from __future__ import annotations

import subprocess
import sys

import yaml
from helpers import git

from gitreg.store import yamlio

RACERS = 8
AGAIN = ("--allow-same-artifact",)  # one training, registered as many versions on purpose


def _start(repo, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gitreg", *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _bound(repo, version: str) -> None:
    card = yamlio.load(git(repo, "show", f"gitreg:models/churn/versions/{version}.yaml"), "card")
    record = yaml.safe_load(git(repo, "show", f"gitreg:models/churn/versions/{version}.tag"))
    tag = git(repo, "rev-parse", f"refs/tags/churn@v{version}")
    assert record["object"] == tag
    assert f"gitreg-card-sha256: {yamlio.digest(card)}" in git(repo, "cat-file", "-p", tag)


def test_racing_registrations_of_different_versions_all_land(registry_repo, card_file):
    repo = registry_repo
    procs = [
        _start(repo, "register", "churn", "--card", str(card_file), "--version", f"1.0.{i}", *AGAIN)
        for i in range(RACERS)
    ]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _ in results), results
    versions = sorted(git(repo, "ls-tree", "--name-only", "gitreg:models/churn/versions/").split())
    assert versions == sorted(
        [f"1.0.{i}.tag" for i in range(RACERS)] + [f"1.0.{i}.yaml" for i in range(RACERS)]
    )
    for i in range(RACERS):
        _bound(repo, f"1.0.{i}")
    # One registry commit each on a linear branch: nothing was overwritten.
    assert int(git(repo, "rev-list", "--count", "gitreg")) == 1 + RACERS
    assert subprocess.run(["git", "fsck", "--no-dangling"], cwd=repo).returncode == 0


def test_racing_registrations_of_one_version_have_one_winner(registry_repo, card_file):
    repo = registry_repo
    procs = [
        _start(repo, "register", "churn", "--card", str(card_file), "--version", "2.0.0", *AGAIN)
        for _ in range(RACERS)
    ]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    winners = [r for r in results if r[0] == 0]
    losers = [r for r in results if r[0] != 0]
    assert len(winners) == 1, results
    for code, err in losers:
        assert code == 1, err
        assert "registered" in err or "exists already" in err, err
        assert "Traceback" not in err
        assert "tag -d" not in err, err  # the winner's tag is a registration: never "delete it"
    assert git(repo, "tag", "--list", "churn@v*").split() == ["churn@v2.0.0"]
    assert git(repo, "for-each-ref", "refs/gitreg/pending/") == ""  # each loser dropped its own
    _bound(repo, "2.0.0")
    assert int(git(repo, "rev-list", "--count", "gitreg")) == 2


def test_racing_merges_of_independent_proposals_both_land(registry_repo, card_file):
    repo = registry_repo
    names = ["churn", "churn-eu", "churn-us"]
    branches = []
    for name in names:
        assert (
            _start(repo, "register", name, "--card", str(card_file), "--artifact", "models/churn.json").wait(
                timeout=300
            )
            == 0
        )
    for name in names:  # proposals from the same registry head
        proc = _start(repo, "promote", f"{name}@1.0.0", "staging", "--json")
        assert proc.wait(timeout=300) == 0, proc.stderr.read()
        branches.append(f"gitreg-promote/{name}/v1.0.0/staging")
    procs = [_start(repo, "merge", branch) for branch in branches]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert all(code == 0 for code, _ in results), results
    for name in names:
        stages = yaml.safe_load(git(repo, "show", f"gitreg:models/{name}/stages.yaml"))
        assert stages == {"staging": ["1.0.0"]}
    assert subprocess.run(["git", "fsck", "--no-dangling"], cwd=repo).returncode == 0
