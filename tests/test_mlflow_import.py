"""Issue 12: `gitreg import mlflow` from a real MLflow Model Registry on SQLite, populated through
MLflow's own client (the `mlflow` extra, installed by .ci/run): 3 models, versions with aliases,
legacy stages, a deleted run and a run without a commit."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from helpers import git, gitreg

mlflow = pytest.importorskip("mlflow")

POLICY = """\
version: 1
stages:
  staging: {}
  production: {max_versions: 1}
  archived: {}
signing: {registration: optional}
lineage: {dvc: optional}
"""

DVC_YAML = """\
artifacts:
  churn: {path: models/churn.bin, type: model}
  fraud-detector: {path: models/fraud.bin, type: model}
  ranker: {path: models/ranker.bin, type: model}
"""


def ok(proc):
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def refs_and_objects(repo: Path) -> tuple[str, str]:
    return (
        git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
        git(repo, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)"),
    )


@pytest.fixture
def project(tmp_path) -> tuple[Path, str, list[str]]:
    """A repository whose two commits trained three models, and an MLflow registry that knows them."""
    repo = tmp_path / "project"
    (repo / "models").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "dvc.yaml").write_text(DVC_YAML)
    commits = []
    for round_ in (1, 2):
        for name in ("churn", "fraud", "ranker"):
            (repo / "models" / f"{name}.bin").write_bytes(f"{name} weights {round_}".encode() * 50)
        (repo / "metrics.json").write_text(json.dumps({"auc": 0.8 + round_ / 100}))
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", f"train round {round_}")
        commits.append(git(repo, "rev-parse", "HEAD"))
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    ok(gitreg(repo, "init", "--policy", str(policy)))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _populate(uri, tmp_path / "mlruns", commits)
    return repo, uri, commits


def _populate(uri: str, artifacts: Path, commits: list[str]) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("train", artifact_location=artifacts.as_uri())

    def version(model: str, commit: str | None, params: dict, metrics: dict):
        tags = {"mlflow.source.git.commit": commit} if commit else {}
        run = client.create_run(experiment, tags=tags)
        for k, v in params.items():
            client.log_param(run.info.run_id, k, v)
        for k, v in metrics.items():
            client.log_metric(run.info.run_id, k, v)
        client.set_terminated(run.info.run_id)
        source = f"runs:/{run.info.run_id}/model"
        return client.create_model_version(model, source, run_id=run.info.run_id), run.info.run_id

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # legacy stages are deprecated in MLflow 3, and still used
        client.create_registered_model("Churn", description="Churn classifier", tags={"team": "crm"})
        v1, _ = version("Churn", commits[0], {"lr": "0.1"}, {"auc": 0.81})
        v2, _ = version("Churn", commits[1], {"lr": "0.05"}, {"auc": 0.82})
        client.transition_model_version_stage("Churn", v1.version, "Archived")
        client.transition_model_version_stage("Churn", v2.version, "Production")
        client.set_registered_model_alias("Churn", "champion", v2.version)

        client.create_registered_model("Fraud Detector")
        f1, _ = version("Fraud Detector", commits[0], {"depth": "6"}, {"recall": 0.7})
        client.set_registered_model_alias("Fraud Detector", "staging", f1.version)
        _, deleted = version("Fraud Detector", commits[1], {"depth": "8"}, {"recall": 0.75})
        client.delete_run(deleted)

        client.create_registered_model("ranker")
        version("ranker", None, {}, {})  # a run that names no commit
        r2, _ = version("ranker", commits[1], {"k": "10"}, {"ndcg": 0.6})
        client.transition_model_version_stage("ranker", r2.version, "Staging")


def test_an_mlflow_registry_imports_with_every_version_and_reports_the_rest(project):
    repo, uri, commits = project
    result = json.loads(ok(gitreg(repo, "import", "mlflow", "--tracking-uri", uri, "--json")).stdout)
    assert result["state"] == "proposed" and result["branch"] == "gitreg-import/mlflow"
    got = {(v["name"], v["version"], v["commit"]) for v in result["versions"]}
    assert got == {
        ("churn", "1.0.0", commits[0]),
        ("churn", "2.0.0", commits[1]),
        ("fraud-detector", "1.0.0", commits[0]),
        ("ranker", "2.0.0", commits[1]),
    }
    assert result["stages"] == {
        "churn": {"production": ["2.0.0"], "archived": ["1.0.0"]},
        "fraud-detector": {"staging": ["1.0.0"]},
        "ranker": {"staging": ["2.0.0"]},
    }
    unmapped = {u["what"]: u["why"] for u in result["unmapped"]}
    assert "is deleted" in unmapped["mlflow 'Fraud Detector' version 2"]
    assert "mlflow.source.git.commit" in unmapped["mlflow 'ranker' version 1"]
    assert "no such stage" in unmapped["mlflow 'Churn' version 2 alias 'champion'"]
    assert len(unmapped) == 3
    assert result["findings"] == []

    ok(gitreg(repo, "merge", "gitreg-import/mlflow"))
    assert ok(gitreg(repo, "which", "churn", "production")).stdout.strip() == "2.0.0"
    shown = json.loads(ok(gitreg(repo, "show", "churn@2.0.0", "--json")).stdout)
    facts = shown["card"]["imported"]["mlflow"]
    assert facts["params"] == {"lr": "0.05"} and facts["metrics"] == {"auc": 0.82}
    assert facts["aliases"] == ["champion"] and facts["stage"] == "Production"
    assert facts["model_tags"] == {"team": "crm"}
    assert shown["card"]["overview"] == "Churn classifier"
    assert shown["card"]["provenance"]["source"]["commit"] == commits[1]
    # MLflow's metrics stay MLflow's claims: the evaluation holds only what the commit proves
    # (this dvc.yaml names no metrics file), so no gate can pass on a number typed into MLflow.
    assert shown["card"]["evaluation"] == []
    assert shown["verification"]["ok"], shown["verification"]
    assert git(repo, "rev-parse", "churn@v2.0.0^{commit}") == commits[1]


def test_the_mlflow_import_is_idempotent_and_a_dry_run_writes_nothing(project):
    repo, uri, _ = project
    before = refs_and_objects(repo)
    dry = json.loads(
        ok(gitreg(repo, "import", "mlflow", "--tracking-uri", uri, "--dry-run", "--json")).stdout
    )
    assert dry["state"] == "dry-run" and len(dry["versions"]) == 4
    assert refs_and_objects(repo) == before
    ok(gitreg(repo, "import", "mlflow", "--tracking-uri", uri))
    proposed = refs_and_objects(repo)
    pending = json.loads(ok(gitreg(repo, "import", "mlflow", "--tracking-uri", uri, "--json")).stdout)
    assert pending["state"] == "pending"
    assert refs_and_objects(repo) == proposed
    ok(gitreg(repo, "merge", "gitreg-import/mlflow"))
    merged = refs_and_objects(repo)
    again = json.loads(ok(gitreg(repo, "import", "mlflow", "--tracking-uri", uri, "--json")).stdout)
    assert again["state"] == "up-to-date" and again["versions"] == []
    assert refs_and_objects(repo) == merged


def test_only_the_named_models_are_imported(project):
    repo, uri, _ = project
    result = json.loads(
        ok(
            gitreg(
                repo,
                "import",
                "mlflow",
                "--tracking-uri",
                uri,
                "--model",
                "ranker",
                "--model",
                "nope",
                "--json",
            )
        ).stdout
    )
    assert {v["name"] for v in result["versions"]} == {"ranker"}
    assert any(u["what"] == "mlflow model 'nope'" for u in result["unmapped"])


def test_an_unreadable_tracking_uri_is_an_operational_error(project, tmp_path):
    repo, _, _ = project
    before = refs_and_objects(repo)
    proc = gitreg(repo, "import", "mlflow", "--tracking-uri", "nosuchscheme://x")
    assert proc.returncode == 2 and "--tracking-uri" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert refs_and_objects(repo) == before
