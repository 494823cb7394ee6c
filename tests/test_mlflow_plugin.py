"""MLflow's own client over a gitreg registry: a real DVC project registered and promoted with the
gitreg CLI, read back through MlflowClient and `models:/` URIs (issue 16, acceptance 1)."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import mlflow
import pytest
from helpers import CARD, git
from mlflow.exceptions import MlflowException
from mlflow_helpers import cli, cli_json, client, promote

from gitreg.demo import project as demo_files
from gitreg.demo.run import train

# get_latest_versions and stages are deprecated in MLflow, and still what the team's jobs call.
pytestmark = pytest.mark.filterwarnings("ignore:.*deprecated since 2.9.0.*:FutureWarning")


@pytest.fixture(scope="module")
def _promoted_template(_dvc_template, tmp_path_factory) -> Path:
    """churn 1.0.0 in staging, 1.1.0 in production: registered and promoted with the CLI, once."""
    root = tmp_path_factory.mktemp("promoted") / "dvc"
    shutil.copytree(_dvc_template, root, symlinks=True)
    repo = root / "project"
    card = root / "card.yaml"
    card.write_text(CARD)
    cli(repo, "init")
    cli(repo, "register", "churn", "--card", str(card))
    train(repo, "add usage_drop", features=demo_files.V2_FEATURES)
    cli(repo, "register", "churn", "--card", str(card))
    promote(repo, "churn@1.0.0", "staging")
    promote(repo, "churn@1.1.0", "staging", "production")
    return root


@pytest.fixture
def promoted(_promoted_template, tmp_path) -> Path:
    """A private copy of the promoted project (its DVC remote alongside)."""
    shutil.copytree(_promoted_template, tmp_path / "dvc", symlinks=True)
    return tmp_path / "dvc" / "project"


def test_reads_say_what_which_and_show_say(promoted, monkeypatch):
    repo = promoted
    c = client(repo)
    shown = cli_json(repo, "show", "churn")
    production = cli_json(repo, "which", "churn", "production")["version"]
    staging = cli_json(repo, "which", "churn", "staging")["version"]
    assert (production, staging) == ("1.1.0", "1.0.0")

    model = c.get_registered_model("churn")
    assert model.name == "churn"
    assert model.description == shown["model"]["description"]
    assert model.aliases == {"production": 2, "staging": 1}

    versions = c.search_model_versions("name = 'churn'")
    assert {int(v.version): v.tags["gitreg.version"] for v in versions} == {1: "1.0.0", 2: "1.1.0"}
    for v in versions:
        listed = next(x for x in shown["versions"] if x["version"] == v.tags["gitreg.version"])
        assert v.current_stage.lower() == listed["stages"][0]
        card = cli_json(repo, "show", f"churn@{v.tags['gitreg.version']}")["card"]
        commit = card["provenance"]["source"]["commit"]
        assert v.tags["mlflow.source.git.commit"] == commit
        assert f"commit={commit}" in v.source and v.run_link == v.source  # no forge remote here
        assert v.description == card["overview"]
        assert {m.key: m.value for m in v.metrics}["accuracy"] == next(
            m["value"] for m in card["evaluation"][0]["metrics"] if m["type"] == "accuracy"
        )

    by_number = c.get_model_version("churn", "2")
    assert by_number.tags["gitreg.version"] == production
    assert c.get_model_version("churn", "1.0.0").version == 1  # a semver is accepted too

    by_alias = c.get_model_version_by_alias("churn", "production")
    assert by_alias.tags["gitreg.version"] == production and by_alias.aliases == ["production"]
    for spelling in (["Production"], ["production"], ["PRODUCTION"]):
        latest = c.get_latest_versions("churn", spelling)
        assert [v.tags["gitreg.version"] for v in latest] == [production]
    every = c.get_latest_versions("churn")
    assert sorted((v.current_stage, v.tags["gitreg.version"]) for v in every) == [
        ("Production", "1.1.0"),
        ("Staging", "1.0.0"),
    ]

    # MLflow's filter strings, for the fields the registry has
    assert [m.name for m in c.search_registered_models("name LIKE 'ch%'")] == ["churn"]
    assert c.search_registered_models("name = 'fraud'") == []
    tagged = c.search_model_versions("name = 'churn' AND tags.`gitreg.version` = '1.0.0'")
    assert [v.version for v in tagged] == [1]
    assert [v.version for v in c.search_model_versions("version_number > 1")] == [2]
    page = c.search_model_versions("name = 'churn'", max_results=1)
    assert len(page) == 1 and page.token
    with pytest.raises(MlflowException, match="is not registered"):
        c.get_registered_model("fraud")
    with pytest.raises(MlflowException, match="no version 3"):
        c.get_model_version("churn", "3")
    with pytest.raises(MlflowException, match="aliases are the stages"):
        c.get_model_version_by_alias("churn", "champion")
    # A name is a model name, never a path into the registry's tree.
    for name in ("churn/versions", "../churn", "churn\n"):
        with pytest.raises(MlflowException, match=r"not a valid model name"):
            c.get_registered_model(name)
    assert c.search_model_versions("name = 'churn/versions'") == []


def test_download_by_alias_gives_the_cards_bytes(promoted, tmp_path, monkeypatch):
    repo = promoted
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"gitreg://{repo}")  # the registry follows it
    card = cli_json(repo, "show", "churn@production")["card"]
    artifact = card["provenance"]["artifact"]
    out = tmp_path / "out"
    out.mkdir()
    got = Path(mlflow.artifacts.download_artifacts("models:/churn@production", dst_path=str(out)))
    data = (got / Path(artifact["path"]).name).read_bytes()
    assert hashlib.md5(data).hexdigest() == artifact["md5"]
    # Legacy stage and number URIs name the same bytes; one file of the artifact by its path.
    for uri in ("models:/churn/Production", "models:/churn/2", "models:/churn/latest"):
        dest = tmp_path / uri.replace(":", "").replace("/", "_")
        dest.mkdir()
        got = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(dest)))
        assert hashlib.md5((got / "churn.json").read_bytes()).hexdigest() == artifact["md5"]
    one = tmp_path / "one"
    one.mkdir()
    got = Path(mlflow.artifacts.download_artifacts("models:/churn@production/churn.json", dst_path=str(one)))
    assert hashlib.md5(got.read_bytes()).hexdigest() == artifact["md5"]


def test_download_from_the_dvc_remote_when_the_cache_is_empty(promoted, tmp_path, monkeypatch):
    repo = promoted
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"gitreg://{repo}")
    shutil.rmtree(repo / ".dvc" / "cache")
    md5 = cli_json(repo, "show", "churn@staging")["card"]["provenance"]["artifact"]["md5"]
    out = tmp_path / "out"
    out.mkdir()
    got = Path(mlflow.artifacts.download_artifacts("models:/churn@staging", dst_path=str(out)))
    assert hashlib.md5((got / "churn.json").read_bytes()).hexdigest() == md5


def test_without_dvc_the_remote_read_names_the_extra(promoted, tmp_path, monkeypatch):
    """An install without gitreg[dvc]: the cache still serves; the remote needs DVC, and says so."""
    repo = promoted
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"gitreg://{repo}")
    monkeypatch.setitem(sys.modules, "dvc", None)  # import dvc fails, as without the extra
    cached = tmp_path / "cached"
    cached.mkdir()
    assert (
        Path(mlflow.artifacts.download_artifacts("models:/churn@staging", dst_path=str(cached)))
        / "churn.json"
    ).is_file()
    shutil.rmtree(repo / ".dvc" / "cache")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(MlflowException, match=r"gitreg-ml\[dvc\]"):
        mlflow.artifacts.download_artifacts("models:/churn@staging", dst_path=str(out))
    assert list(out.iterdir()) == []


def test_damaged_bytes_are_refused_and_nothing_lands(promoted, tmp_path, monkeypatch):
    """Someone swaps the cached model file: the md5 check refuses it; the destination stays empty."""
    repo = promoted
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"gitreg://{repo}")
    md5 = cli_json(repo, "show", "churn@production")["card"]["provenance"]["artifact"]["md5"]
    cached = repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    cached.chmod(0o644)
    cached.write_bytes(b'{"weights": "backdoor"}')
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(MlflowException, match="hash to md5"):
        mlflow.artifacts.download_artifacts("models:/churn@production", dst_path=str(out))
    assert list(out.iterdir()) == []


def test_a_source_whose_commit_is_not_the_cards_is_refused(promoted, tmp_path):
    """A source URI edited to name another commit (say, one with other bytes) fetches nothing."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    repo = promoted
    source = client(repo).get_model_version_by_alias("churn", "production").source
    other = git(repo, "rev-parse", "HEAD~1")
    forged = source.rsplit("commit=", 1)[0] + f"commit={other}"
    with pytest.raises(MlflowException, match="was registered from commit"):
        get_artifact_repository(forged)
    with pytest.raises(MlflowException, match="not a gitreg source URI"):
        get_artifact_repository(f"gitreg://{repo}?model=churn")
    with pytest.raises(MlflowException, match="not a path inside the artifact"):
        get_artifact_repository(source).download_artifacts("../../.git/config", str(tmp_path))


def test_the_registry_uri_names_a_local_repository(promoted, monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.chdir(promoted)
    c = MlflowClient(tracking_uri="gitreg:.", registry_uri="gitreg:.")
    assert c.get_model_version_by_alias("churn", "staging").tags["gitreg.version"] == "1.0.0"
    with pytest.raises(MlflowException, match="names a host"):
        MlflowClient(tracking_uri="gitreg:.", registry_uri="gitreg://example.com/repo").get_registered_model(
            "churn"
        )
    with pytest.raises(MlflowException, match="keeps no experiments or runs"):
        c.get_run("0" * 32)
