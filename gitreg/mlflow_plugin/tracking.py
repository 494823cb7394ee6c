"""A tracking store for `gitreg:` URIs (entry point `mlflow.tracking_store`) that holds nothing.

MLflow's client opens a tracking store before it reads a registry. With mlflow-skinny and no
tracking server there is none to open (its default, SQLite, is not in skinny), so
`MLFLOW_TRACKING_URI=gitreg:PATH` alone sets both: this empty store, and the registry, which
defaults to the tracking URI. Anything about experiments or runs is refused, saying where
runs belong.
"""

from __future__ import annotations

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import FEATURE_DISABLED
from mlflow.store.tracking.abstract_store import AbstractStore

from gitreg.mlflow_plugin import uri
from gitreg.mlflow_plugin.errors import as_mlflow

_RUN_CALLS = (
    "search_experiments",
    "create_experiment",
    "get_experiment",
    "delete_experiment",
    "restore_experiment",
    "rename_experiment",
    "get_run",
    "update_run_info",
    "create_run",
    "delete_run",
    "restore_run",
    "get_metric_history",
    "_search_runs",
    "log_batch",
    "log_inputs",
    "link_traces_to_run",
)


class GitregTrackingStore(AbstractStore):
    def __init__(self, store_uri: str | None = None, artifact_uri: str | None = None):
        super().__init__()
        with as_mlflow():
            self.repo = uri.repo_path(store_uri or f"{uri.SCHEME}:.")


def _no_runs(call: str):
    def refuse(self, *args, **kwargs):
        raise MlflowException(
            f"gitreg: a gitreg: URI serves MLflow's model registry; it keeps no experiments or runs "
            f"({call}). Log runs to a tracking server (MLFLOW_TRACKING_URI) and keep "
            f"MLFLOW_REGISTRY_URI=gitreg:{self.repo}.",
            error_code=FEATURE_DISABLED,
        )

    refuse.__name__ = call
    return refuse


for _call in _RUN_CALLS:
    setattr(GitregTrackingStore, _call, _no_runs(_call))
