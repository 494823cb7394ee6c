"""MLflow's client reading a gitreg registry through the plugin, timed in process beside gitreg's
own resolve of the same reference.

    python benchmarks/mlflow_plugin_bench.py REPO NAME [--budget SECONDS]

Run with an interpreter that has gitreg and its `mlflow` extra. Times
`MlflowClient.get_model_version_by_alias(NAME, "production")` on `gitreg:REPO` (what a serving
job calls for `models:/NAME@production`) and `Registry.resolve("NAME@production")`, one
warm-up call each first, and the first call of a fresh store with no numbering cached (the one
history walk that numbers every model). Prints JSON, per-call times in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from inprocess import timed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("repo")
    ap.add_argument("name")
    ap.add_argument("--budget", type=float, default=3.0)
    args = ap.parse_args()
    from gitreg.registry import Registry

    start = time.perf_counter()
    from mlflow import MlflowClient

    imported = (time.perf_counter() - start) * 1000
    from gitreg.mlflow_plugin import numbering
    from gitreg.store.cache import directory

    repo = str(Path(args.repo).resolve())
    reg = Registry.open(repo)
    ref = f"{args.name}@production"
    numbering._memo.clear()
    (directory(Path(reg.store.common_dir)) / "mlflow-numbers.json").unlink(missing_ok=True)
    uri = f"gitreg://{repo}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    start = time.perf_counter()
    first = client.get_model_version_by_alias(args.name, "production")
    cold = (time.perf_counter() - start) * 1000
    out: dict = {
        "import_ms": imported,
        "first_call_ms": cold,
        "resolved": first.tags["gitreg.version"],
        "number": int(first.version),
        "expected": reg.resolve(ref),
    }
    out["gitreg_resolve"] = timed(lambda: reg.resolve(ref), budget=args.budget, most=500)
    out["plugin_by_alias"] = timed(
        lambda: client.get_model_version_by_alias(args.name, "production"), budget=args.budget, most=500
    )
    out["ratio"] = statistics.median(out["plugin_by_alias"]) / statistics.median(out["gitreg_resolve"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
