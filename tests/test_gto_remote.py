"""GTO's stage tags through a remote guarded by gitreg's server hook: the hook judges the registry
branch and registration tags, and lets GTO's tags through (they are a mirror, never evidence);
`sync-tags --push` publishes them in one atomic push and a second run publishes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import git, gitreg
from remote_helpers import build_team, copy_team, git_push, remote_refs


@pytest.fixture(scope="module")
def _template(tmp_path_factory) -> Path:
    return build_team(tmp_path_factory.mktemp("team"))


@pytest.fixture
def team(_template, tmp_path) -> tuple[Path, Path]:
    return copy_team(_template, tmp_path / "team")


def test_sync_tags_pushes_through_the_server_hook_atomically(team):
    work, remote = team
    proc = gitreg(work, "sync-tags", "--push", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert [(w["action"], w["stage"], w["version"]) for w in result["written"]] == [
        ("assign", "staging", "1.2.0")
    ]
    assert result["pushed"] == [result["written"][0]["tag"]]
    assert f"refs/tags/{result['written'][0]['tag']}" in remote_refs(remote)
    before = remote_refs(remote)
    again = json.loads(gitreg(work, "sync-tags", "--push", "--json").stdout)
    assert again["written"] == [] and again["pushed"] == []
    assert remote_refs(remote) == before


def test_a_gto_tag_pushed_by_hand_is_accepted_and_judges_nothing(team):
    """A teammate's hand-made GTO assignment reaches the remote (the hook does not stop tags it
    does not judge), and the registry is unmoved by it: `which` answers from the branch."""
    work, remote = team
    target = git(work, "rev-parse", "churn@v1.0.0^{commit}")
    git(work, "tag", "-a", "-m", "by hand", "churn#production#7", target)
    push = git_push(work, "refs/tags/churn#production#7")
    assert push.returncode == 0, push.stderr
    assert "refs/tags/churn#production#7" in remote_refs(remote)
    assert gitreg(work, "which", "churn", "production").returncode != 0  # production is empty
    # The mirror corrects GTO's view on the next sync: production holds nothing in the registry.
    result = json.loads(gitreg(work, "sync-tags", "--push", "--json").stdout)
    assert ("unassign", "production", "1.0.0") in [
        (w["action"], w["stage"], w["version"]) for w in result["written"]
    ]
