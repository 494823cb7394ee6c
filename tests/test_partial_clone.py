"""CI in a partial clone (issue 14): the shipped GitHub workflow's and GitLab template's own
shell steps, run against a real bare remote over file:// (protocol v2, filters allowed as
GitHub and GitLab allow them), clone one branch without blobs or tags, and `gitreg check`
fetches what it reads: the verdict is the full clone's, and another model's cards never
arrive. A tag moved on the remote is judged by its value there, so it still fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import git, gitreg
from registry_helpers import GOOD, train
from remote_helpers import build_team, copy_team, git_push, registry

ROOT = Path(__file__).resolve().parent.parent
PROPOSAL = "gitreg-promote/churn/v1.1.0/production"


@pytest.fixture(scope="module")
def _template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("partial")
    build_team(root, server_hook=False)
    work = root / "work"
    train(registry(work), "fraud", GOOD)  # another model: its cards must never be fetched
    proc = gitreg(work, "promote", "churn@1.1.0", "production")
    assert proc.returncode == 0, proc.stderr
    assert git_push(work, "gitreg", "--tags", f"{PROPOSAL}:refs/pull/7/head").returncode == 0
    git(root / "remote.git", "update-ref", "refs/merge-requests/7/head", "refs/pull/7/head")
    git(root / "remote.git", "config", "uploadpack.allowFilter", "true")
    return root


@pytest.fixture
def team(_template, tmp_path):
    return copy_team(_template, tmp_path / "team")


def _github_steps() -> dict[str, str]:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "gitreg-check.yml").read_text())
    [job] = workflow["jobs"].values()
    return {s["name"]: s["run"] for s in job["steps"] if "run" in s and "name" in s}


def _bash(script: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    path = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
    return subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=cwd,
        env={**os.environ, "PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _missing(repo: Path) -> set[str]:
    """Objects the clone's refs reach that are not here (rev-list does not fetch them)."""
    out = git(repo, "rev-list", "--objects", "--all", "--missing=print")
    return {line[1:] for line in out.splitlines() if line.startswith("?")}


def run_github(
    team, tmp_path, pr: str = "7", head: str = PROPOSAL
) -> tuple[subprocess.CompletedProcess, Path]:
    work, remote = team
    steps = _github_steps()
    clone = next(v for k, v in steps.items() if k.startswith("Clone what the check reads"))
    env = {
        "REPO_URL": f"file://{remote}",
        "BASE_REF": "gitreg",
        "BASE_SHA": git(work, "rev-parse", "gitreg"),
        "PR_NUMBER": pr,
        "HEAD_SHA": git(work, "rev-parse", head),
        "TOKEN": "not-a-token",
    }
    job = tmp_path / "job"
    job.mkdir(parents=True)
    done = _bash(clone, job, env)
    assert done.returncode == 0, done.stderr
    assert git(job, "config", "remote.origin.promisor") == "true"
    assert git(job, "tag", "-l") == "" and _missing(job)
    return _bash(steps["gitreg check"], job, env), job


def test_the_github_workflow_checks_from_a_partial_clone(team, tmp_path):
    work, _ = team
    full = gitreg(work, "check", "--base", "gitreg", "--head", PROPOSAL, "--format", "github")
    done, job = run_github(team, tmp_path)
    assert (done.returncode, done.stdout) == (full.returncode, full.stdout), done.stderr
    assert done.returncode == 0
    fraud_card = git(work, "rev-parse", "gitreg:models/fraud/versions/1.0.0.yaml")
    assert fraud_card in _missing(job), "a model the change does not touch was fetched"
    assert git(job, "tag", "-l") == ""  # tags are judged by their remote value, not kept


def test_a_registration_tag_moved_on_the_remote_fails_the_partial_clone_check(team, tmp_path):
    """The partial clone keeps no tags: it judges a new card's tag by its value on the remote.
    A teammate with push access moves that tag there after proposing: the check fails."""
    work, remote = team
    reg = train(registry(work), "churn", GOOD, propose=True)
    assert git_push(work, reg.tag, f"{reg.proposal}:refs/pull/8/head").returncode == 0
    done, _ = run_github(team, tmp_path / "before", "8", reg.proposal)
    assert done.returncode == 0, done.stdout + done.stderr
    git(remote, "update-ref", f"refs/tags/{reg.tag}", git(work, "rev-parse", "refs/tags/churn@v1.2.0"))
    done, _ = run_github(team, tmp_path / "after", "8", reg.proposal)
    assert done.returncode == 1, done.stdout + done.stderr
    assert reg.tag in done.stdout


def test_the_gitlab_template_checks_from_a_partial_clone(team, tmp_path):
    work, remote = team
    template = yaml.safe_load((ROOT / "gitlab" / "gitreg-check.gitlab-ci.yml").read_text())
    job_def = template["gitreg-check"]
    assert job_def["variables"]["GIT_STRATEGY"] == "none"
    script = "\n".join(line for line in job_def["script"] if "pip install" not in line)
    env = {
        "CI_REPOSITORY_URL": f"file://{remote}",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "gitreg",
        "CI_MERGE_REQUEST_IID": "7",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA": git(work, "rev-parse", "gitreg"),
        "CI_COMMIT_SHA": git(work, "rev-parse", PROPOSAL),
    }
    job = tmp_path / "gitlab-job"
    job.mkdir()
    done = _bash(script, job, env)
    full = gitreg(work, "check", "--base", "gitreg", "--head", PROPOSAL, "--format", "text")
    assert (done.returncode, done.stdout) == (full.returncode, full.stdout) and done.returncode == 0, (
        done.stderr
    )
    clone = job / ".gitreg-check"
    assert git(clone, "tag", "-l") == "" and _missing(clone)
    assert git(clone, "branch", "-a", "--format=%(refname)").split() == [
        "refs/heads/gitreg",
        "refs/remotes/origin/gitreg",
    ]
