"""An MLflow-format model tracked by DVC registers with gitreg and loads through MLflow's client by
`models:/NAME@production`, predicting what it predicted before (issue 16, acceptance 2)."""

from __future__ import annotations

import gc
import shutil
import tempfile

import mlflow.pyfunc
import pandas as pd
import yaml
from mlflow_helpers import cli, cli_json, promote

from gitreg.demo.run import dvc
from gitreg.store.gitstore import git_in

MODEL_CODE = '''\
"""A model from code: MLflow copies this file into the MLmodel folder and loads it from there."""
import mlflow
from mlflow.pyfunc import PythonModel


class Scorer(PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input["tenure"] * 0.5 - model_input["support_calls"] * 2.0 + 1.0


mlflow.models.set_model(Scorer())
'''

SAVE = """\
import gc
import shutil
import tempfile
import mlflow.pyfunc

shutil.rmtree("models/scorer", ignore_errors=True)
mlflow.pyfunc.save_model(
    "models/scorer", python_model="src/scorer_model.py", pip_requirements=["mlflow-skinny"]
)
"""


def test_pyfunc_model_tracked_by_dvc_loads_by_alias(registry_repo, card_file, tmp_path, monkeypatch):
    repo = registry_repo
    (repo / "src" / "scorer_model.py").write_text(MODEL_CODE)
    (repo / "src" / "save_scorer.py").write_text(SAVE)
    pipeline = yaml.safe_load((repo / "dvc.yaml").read_text())
    pipeline["stages"]["scorer"] = {
        "cmd": "python src/save_scorer.py",
        "deps": ["src/save_scorer.py", "src/scorer_model.py"],
        "outs": ["models/scorer"],
    }
    (repo / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    dvc(repo, "repro", "-q", "scorer")  # mlflow.pyfunc writes the MLmodel folder; DVC tracks it
    dvc(repo, "push", "-q")
    git_in(repo, "add", "-A")
    git_in(repo, "commit", "-q", "-m", "Save the scorer as an MLflow pyfunc model")
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert lock["stages"]["scorer"]["outs"][0]["md5"].endswith(".dir")  # a directory out

    accounts = pd.DataFrame({"tenure": [1.0, 12.0, 40.0], "support_calls": [5.0, 0.0, 2.0]})
    before = list(mlflow.pyfunc.load_model(str(repo / "models" / "scorer")).predict(accounts))

    cli(repo, "register", "scorer", "--card", str(card_file), "--artifact", "models/scorer")
    promote(repo, "scorer@1.0.0", "staging", "production")
    assert cli_json(repo, "which", "scorer", "production")["version"] == "1.0.0"
    shutil.rmtree(repo / "models" / "scorer")  # whatever loads now comes through the registry

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"gitreg://{repo}")
    out = tmp_path / "loaded"
    out.mkdir()
    model = mlflow.pyfunc.load_model("models:/scorer@production", dst_path=str(out))
    assert list(model.predict(accounts)) == before == [-8.5, 7.0, 17.0]
    assert (out / "MLmodel").is_file()
    # MLflow's file-by-file calls (a listing, one file) read a private verified copy.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    listed = {f.path for f in mlflow.artifacts.list_artifacts(artifact_uri="models:/scorer@production")}
    assert {"MLmodel", "scorer_model.py"} <= listed  # the model code travels in the folder
    copies = list(tmp_path.glob("gitreg-mlflow-*"))
    assert len(copies) == 1
    gc.collect()  # the repository object is gone: its copy goes with it
    assert not copies[0].exists()
    assert not (repo / "models" / "scorer").exists()  # fetched into dst_path, not the work tree
