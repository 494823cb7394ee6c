"""Shared fixtures: real git repositories, a real DVC project, and the CLI in a real process.

The environment is pinned once for the whole run: a throw-away HOME with its own
git identity, no system git config, DVC's site cache in a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from helpers import CARD, git, gitreg

# Fixtures of the signature tests (keys made once per session), shared by their test modules.
pytest_plugins = ["signing_support"]


def pytest_configure(config):
    home = Path(tempfile.mkdtemp(prefix="gitreg-test-home-"))
    config.gitreg_home = home  # removed again in pytest_unconfigure
    os.environ.update(
        {
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
            "GIT_AUTHOR_NAME": "Test Author",
            "GIT_AUTHOR_EMAIL": "author@example.com",
            "GIT_COMMITTER_NAME": "Test Author",
            "GIT_COMMITTER_EMAIL": "author@example.com",
            "DVC_SITE_CACHE_DIR": str(home / "dvc-site-cache"),
            "DVC_NO_ANALYTICS": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "MLFLOW_DISABLE_TELEMETRY": "true",  # the MLflow plugin's tests: no usage reports
            "DO_NOT_TRACK": "1",
        }
    )
    for var in (
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GNUPGHOME",
        "SSH_AUTH_SOCK",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_TOKEN",
        "MLFLOW_TRACKING_URI",
        "MLFLOW_REGISTRY_URI",
    ):
        os.environ.pop(var, None)
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test Author\n\temail = author@example.com\n"
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )


# End-to-end modules that train, re-run pipelines, race or kill processes: `pytest -m "not slow"`
# is the quick loop while developing; CI runs everything.
SLOW_MODULES = {
    "test_demo.py",
    "test_reproduce.py",
    "test_races.py",
    "test_crash.py",
    "test_example_policy.py",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


def pytest_unconfigure(config):
    home = getattr(config, "gitreg_home", None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def card_file(tmp_path) -> Path:
    path = tmp_path / "card.yaml"
    path.write_text(CARD)
    return path


@pytest.fixture
def plain_repo(tmp_path) -> Path:
    """A git repository without DVC: a committed model file and metrics file."""
    repo = tmp_path / "plain"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "model.bin").write_bytes(b"\x00weights\x01" * 100)
    (repo / "metrics.json").write_text('{"accuracy": 0.91, "fairness": {"gap": 0.02}}\n')
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "train")
    return repo


@pytest.fixture(scope="session")
def _dvc_template(tmp_path_factory) -> Path:
    """A real DVC project (the demo's), trained once per session; tests get copies."""
    from gitreg.demo.run import build_project, train

    root = tmp_path_factory.mktemp("dvc-template")
    project = build_project(root)
    train(project, "train v1")
    return root


@pytest.fixture
def dvc_project(_dvc_template, tmp_path) -> Path:
    """A private copy of the trained DVC project (its remote alongside, relative path intact)."""
    root = tmp_path / "dvc"
    shutil.copytree(_dvc_template, root, symlinks=True)
    return root / "project"


@pytest.fixture
def registry_repo(dvc_project) -> Path:
    """The DVC project with `gitreg init` done."""
    proc = gitreg(dvc_project, "init")
    assert proc.returncode == 0, proc.stderr
    return dvc_project
