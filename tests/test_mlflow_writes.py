"""Writes through MLflow's client never bypass the registry (issue 16, acceptance 3): a stage or
alias change makes the proposal `gitreg promote` makes, and nothing else; every other write is
refused with the gitreg command named, and nothing changes. Also: how versions are numbered."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import CARD, git, snapshot
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow_helpers import cli, cli_json, client, promote, refs
from registry_helpers import GOOD, make_project, train

from gitreg.mlflow_plugin import numbering
from gitreg.registry import Registry
from gitreg.store import cache

pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated since 2.9.0.*:FutureWarning")


@pytest.fixture(scope="module")
def _template(tmp_path_factory) -> Path:
    """A registry without DVC: churn 1.0.0 in staging, 1.1.0 in production; made once."""
    root = tmp_path_factory.mktemp("writes") / "project"
    reg = make_project(root)
    train(reg, "churn", GOOD)
    train(reg, "churn", {**GOOD, "accuracy": 0.95})
    promote(root, "churn@1.0.0", "staging")
    promote(root, "churn@1.1.0", "staging", "production")
    return root


@pytest.fixture
def repo(_template, tmp_path) -> Path:
    shutil.copytree(_template, tmp_path / "project", symlinks=True)
    return tmp_path / "project"


def test_an_alias_becomes_the_proposal_gitreg_promote_makes(repo):
    c = client(repo)
    before = refs(repo)
    head = git(repo, "rev-parse", "gitreg")
    c.set_registered_model_alias("churn", "production", "1")  # version 1 is churn@1.0.0
    branch = "gitreg-promote/churn/v1.0.0/production"
    made = git(repo, "rev-parse", branch)
    assert refs(repo).splitlines() == sorted([*before.splitlines(), f"refs/heads/{branch} {made}"])
    assert git(repo, "rev-parse", "gitreg") == head  # proposed, not merged
    assert c.get_model_version_by_alias("churn", "production").tags["gitreg.version"] == "1.1.0"
    # The very proposal the CLI makes: same base, same tree, same trailer.
    git(repo, "branch", "-D", branch)
    by_cli = cli_json(repo, "promote", "churn@1.0.0", "production")["commit"]
    assert git(repo, "rev-parse", f"{made}^{{tree}}") == git(repo, "rev-parse", f"{by_cli}^{{tree}}")
    assert git(repo, "rev-parse", f"{made}^") == git(repo, "rev-parse", f"{by_cli}^") == head
    assert "gitreg-proposal: promote churn 1.0.0 production" in git(repo, "log", "-1", "--format=%B", made)
    # Merged with gitreg, MLflow's client then sees it.
    cli(repo, "merge", branch)
    assert c.get_model_version_by_alias("churn", "production").tags["gitreg.version"] == "1.0.0"


def test_a_stage_transition_becomes_a_proposal_and_says_where(repo):
    c = client(repo)
    before = refs(repo)
    mv = c.transition_model_version_stage("churn", "1", "ARCHIVED", archive_existing_versions=True)
    branch = "gitreg-promote/churn/v1.0.0/archived"
    assert isinstance(mv, ModelVersion) and mv.tags["gitreg.proposal"] == branch
    assert mv.current_stage == "Staging"  # not merged: the version is where it was
    made = git(repo, "rev-parse", branch)
    assert refs(repo).splitlines() == sorted([*before.splitlines(), f"refs/heads/{branch} {made}"])


@pytest.mark.parametrize(
    ("call", "command"),
    [
        (
            lambda c: c.set_registered_model_alias("churn", "champion", "1"),
            "gitreg promote churn@1.0.0 STAGE",
        ),
        (
            lambda c: c.transition_model_version_stage("churn", "1", "None"),
            "gitreg promote churn@1.0.0 STAGE",
        ),
        (lambda c: c.create_registered_model("fraud"), "gitreg register fraud"),
        (lambda c: c.delete_model_version("churn", "1"), "gitreg promote churn@VERSION archived"),
        (lambda c: c.delete_registered_model("churn"), "gitreg promote churn@VERSION archived"),
        (lambda c: c.delete_registered_model_alias("churn", "production"), "gitreg promote churn@VERSION"),
        (lambda c: c.update_model_version("churn", "1", "better"), "gitreg register"),
        (lambda c: c.update_registered_model("churn", "better"), "gitreg register"),
        (lambda c: c.rename_registered_model("churn", "churn2"), "gitreg register churn2"),
        (lambda c: c.set_model_version_tag("churn", "1", "k", "v"), "gitreg register"),
        (lambda c: c.delete_model_version_tag("churn", "1", "k"), "gitreg register"),
        (lambda c: c.set_registered_model_tag("churn", "k", "v"), "gitreg register"),
        (lambda c: c.delete_registered_model_tag("churn", "k"), "gitreg register"),
        (lambda c: c.copy_model_version("models:/churn/1", "fraud"), "gitreg register fraud"),
    ],
)
def test_other_writes_are_refused_naming_the_command(repo, call, command):
    before = snapshot(repo)
    with pytest.raises(MlflowException) as caught:
        call(client(repo))
    assert command in caught.value.message
    assert snapshot(repo) == before


def test_a_promotion_the_registry_refuses_is_refused_and_writes_nothing(repo):
    """Into production straight from nowhere: the base policy's `from: [staging]` says no."""
    train(Registry.open(repo), "churn", {**GOOD, "accuracy": 0.96}, card=CARD)  # 1.2.0, in no stage
    before = snapshot(repo)
    with pytest.raises(MlflowException, match="check refuses"):
        client(repo).transition_model_version_stage("churn", "3", "Production")
    with pytest.raises(MlflowException, match="serves already"):
        client(repo).set_registered_model_alias("churn", "production", "2")
    assert snapshot(repo) == before


def test_create_model_version_makes_the_registration_proposal(repo, monkeypatch):
    """A gitreg: source (a commit of this repository) plus the card's path there: the proposal
    `register --propose` makes, its tag with it; the registry branch does not move."""
    import mlflow

    (repo / "churn.bin").write_bytes(b"retrained" * 100)
    (repo / "cards").mkdir()
    (repo / "cards" / "churn.yaml").write_text(CARD)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "retrain churn")
    commit = git(repo, "rev-parse", "HEAD")
    before, head = refs(repo), git(repo, "rev-parse", "gitreg")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"gitreg://{repo}")
    mv = mlflow.register_model(  # create_registered_model says it exists; then create_model_version
        f"gitreg://{repo}?rev={commit}&artifact=churn.bin",
        "churn",
        tags={"gitreg.card": "cards/churn.yaml", "gitreg.metrics": "churn-metrics.json"},
    )
    branch = "gitreg-register/churn/v1.2.0"
    assert mv.status == "PENDING_REGISTRATION" and mv.tags["gitreg.proposal"] == branch
    assert mv.tags["gitreg.version"] == "1.2.0" and mv.tags["mlflow.source.git.commit"] == commit
    assert f"gitreg merge {branch}" in mv.status_message
    made = {f"refs/heads/{branch}": git(repo, "rev-parse", branch), "refs/tags/churn@v1.2.0": ""}
    made["refs/tags/churn@v1.2.0"] = git(repo, "rev-parse", "refs/tags/churn@v1.2.0")
    assert refs(repo).splitlines() == sorted([*before.splitlines(), *(f"{k} {v}" for k, v in made.items())])
    assert git(repo, "rev-parse", "gitreg") == head
    assert git(repo, "rev-parse", "churn@v1.2.0^{commit}") == commit
    c = client(repo)
    with pytest.raises(MlflowException, match="no version 3"):
        c.get_model_version("churn", "3")  # proposed, not registered
    cli(repo, "merge", branch)  # the check passes it, as it would a CLI proposal
    assert c.get_model_version("churn", "3").tags["gitreg.version"] == "1.2.0"


@pytest.mark.parametrize(
    ("source", "tags", "says"),
    [
        ("runs:/0a1b/model", {"gitreg.card": "card.yaml"}, "is not a commit of the registry"),
        ("s3://bucket/churn", {}, "is not a commit of the registry"),
        ("gitreg:///elsewhere?rev=HEAD", {"gitreg.card": "x.yaml"}, "this registry is"),
        ("gitreg:{repo}?rev=HEAD", {}, "without its card"),
        ("gitreg:{repo}?rev=HEAD", {"gitreg.card": "x.yaml", "owner": "ada"}, "keep the tags owner"),
        ("gitreg:{repo}?rev=HEAD", {"gitreg.card": "nowhere.yaml"}, "is not a file at commit"),
    ],
)
def test_create_model_version_refusals_write_nothing(repo, source, tags, says):
    before = snapshot(repo)
    with pytest.raises(MlflowException, match=says) as caught:
        client(repo).create_model_version("churn", source.format(repo=repo), tags=tags)
    if "is not a commit" in says or "card" in says:  # a refusal of the call names the command
        assert "gitreg register churn" in caught.value.message
    assert snapshot(repo) == before


def test_run_link_is_the_commit_on_the_forge(repo):
    git(repo, "remote", "add", "origin", "git@github.com:acme/churn-model.git")
    mv = client(repo).get_model_version("churn", "1")
    commit = mv.tags["mlflow.source.git.commit"]
    assert mv.run_link == f"https://github.com/acme/churn-model/commit/{commit}"
    assert mv.source.endswith(f"commit={commit}")


def test_mlflow_register_model_is_refused(repo, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"gitreg://{repo}")
    before = refs(repo)
    with pytest.raises(MlflowException, match="gitreg register"):
        mlflow.register_model(f"gitreg://{repo}?model=churn&version=1.0.0&commit={'0' * 40}", "churn")
    assert refs(repo) == before


def test_versions_are_numbered_in_registration_order_and_never_renumbered(tmp_path):
    """Numbers follow the registry branch's first-parent history, not semver: a patch of an old
    line registered after 2.0.0 is number 3, and a proposal counts when it is merged."""
    root = tmp_path / "project"
    reg = make_project(root)
    train(reg, "churn", GOOD)  # 1: 1.0.0
    train(reg, "churn", GOOD, version="2.0.0")  # 2
    train(reg, "churn", GOOD, version="1.0.1")  # 3
    proposed = train(reg, "churn", GOOD, version="1.1.0", propose=True).proposal
    train(reg, "churn", GOOD, version="3.0.0")  # 4: lands before the proposal is merged
    c = client(root)
    assert {v.version: v.tags["gitreg.version"] for v in c.search_model_versions("name='churn'")} == {
        1: "1.0.0",
        2: "2.0.0",
        3: "1.0.1",
        4: "3.0.0",
    }
    reg.merge(proposed)
    expected = {1: "1.0.0", 2: "2.0.0", 3: "1.0.1", 4: "3.0.0", 5: "1.1.0"}
    assert {v.version: v.tags["gitreg.version"] for v in c.search_model_versions("name='churn'")} == expected
    # models:/churn/latest is the newest registration (MLflow takes the highest number here).
    assert max(int(v.version) for v in c.get_latest_versions("churn")) == 5
    # The same from nothing: no memo, no cache file; and from a damaged cache file.
    numbering._memo.clear()
    shutil.rmtree(cache.directory(reg.store.common_dir), ignore_errors=True)
    assert numbering.at(reg.store, reg.require_head()).order["churn"] == [expected[n] for n in range(1, 6)]
    numbering._memo.clear()
    (cache.directory(reg.store.common_dir) / "mlflow-numbers.json").write_text('{"format": 1, "commit": 7}')
    assert numbering.at(reg.store, reg.require_head()).order["churn"] == [expected[n] for n in range(1, 6)]


def test_card_labels_are_tags():
    from gitreg.mlflow_plugin.entities import label_tags

    assert label_tags(["tabular", "team=growth", " = orphan", "x=a=b"]) == {
        "tabular": "true",
        "team": "growth",
        "x": "a=b",
    }
    assert label_tags("not a list") == {}
