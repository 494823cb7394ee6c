"""`gitreg init`: an orphan registry branch, idempotent, seeded policy, clear errors."""

from __future__ import annotations

from helpers import git, gitreg, snapshot

from gitreg.model.policy import DEFAULT_POLICY


def test_init_creates_an_orphan_registry_branch(dvc_project):
    before = snapshot(dvc_project)
    proc = gitreg(dvc_project, "init")
    assert proc.returncode == 0 and "Created registry branch gitreg" in proc.stdout
    files = git(dvc_project, "ls-tree", "-r", "--name-only", "gitreg").split()
    assert files == ["README.md", "models/.gitkeep", "registry.yaml", "signers/allowed_signers"]
    assert git(dvc_project, "show", "gitreg:registry.yaml") + "\n" == DEFAULT_POLICY
    assert git(dvc_project, "rev-list", "--count", "gitreg") == "1"
    assert git(dvc_project, "merge-base", "gitreg", "HEAD", check=False) == ""  # orphan
    after = snapshot(dvc_project)
    assert {k: v for k, v in after.items() if k != "refs"} == {k: v for k, v in before.items() if k != "refs"}


def test_init_is_idempotent(registry_repo):
    before = snapshot(registry_repo)
    proc = gitreg(registry_repo, "init")
    assert proc.returncode == 0 and "exists already" in proc.stdout
    assert snapshot(registry_repo) == before


def test_init_with_policy(dvc_project, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nstages:\n  live: {max_versions: 1}\n")
    assert gitreg(dvc_project, "init", "--policy", str(policy)).returncode == 0
    assert git(dvc_project, "show", "gitreg:registry.yaml") == policy.read_text().strip()
    assert gitreg(dvc_project, "init", "--policy", str(policy)).returncode == 0  # same: no-op
    other = tmp_path / "other.yaml"
    other.write_text("version: 1\nstages:\n  live: {max_versions: 2}\n")
    before = snapshot(dvc_project)
    proc = gitreg(dvc_project, "init", "--policy", str(other))
    assert proc.returncode == 1 and "exists already with another policy" in proc.stderr
    assert snapshot(dvc_project) == before


def test_init_refuses_an_invalid_policy(dvc_project, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nstages:\n  live: {max_versions: none}\n")
    before = snapshot(dvc_project)
    proc = gitreg(dvc_project, "init", "--policy", str(policy))
    assert proc.returncode == 1 and "stages/live/max_versions" in proc.stderr
    assert snapshot(dvc_project) == before


def test_init_outside_a_repository(tmp_path):
    proc = gitreg(tmp_path, "init")
    assert proc.returncode == 2
    assert "not inside a git repository" in proc.stderr and "hint:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_init_in_an_empty_repository(tmp_path):
    repo = tmp_path / "empty"
    repo.mkdir()
    git(repo, "init", "-q")
    assert gitreg(repo, "init").returncode == 0
    assert git(repo, "rev-parse", "--verify", "-q", "HEAD", check=False) == ""  # HEAD untouched
