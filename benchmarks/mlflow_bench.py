"""MLflow's model registry on SQLite, M models x V versions, timed in process.

    python benchmarks/mlflow_bench.py M V DB [--budget SECONDS]

Run with an interpreter that has MLflow (gitreg does not depend on it). The
schema is made by MLflow itself (one model through the client); the rest is
bulk-inserted in the same shape the client writes (versions with tags, a
`production` and a `staging` alias per model), then read back through the
client: version by alias (the `which` of MLflow) and listing every model a
page at a time. Prints JSON with per-call times in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")


def names(m: int) -> list[str]:
    domains = ["churn", "fraud", "ltv", "demand", "ranker"]
    return [f"{domains[k % 5]}-{k:04d}" for k in range(m)]


def build(m: int, v: int, db: Path) -> None:
    from mlflow import MlflowClient

    tmp = db.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    uri = f"sqlite:///{tmp}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    first = names(m)[0]
    client.create_registered_model(first, description="schema seed", tags={"owner": "ds"})
    client.create_model_version(first, source=f"s3://models/{first}/1", tags={"git_commit": "0" * 40})
    con = sqlite3.connect(tmp)
    con.execute("DELETE FROM model_version_tags")
    con.execute("DELETE FROM model_versions")
    con.execute("DELETE FROM registered_model_tags")
    con.execute("DELETE FROM registered_models")
    now = int(time.time() * 1000)
    models, tags, versions, vtags, aliases = [], [], [], [], []
    for k, name in enumerate(names(m)):
        models.append((name, now, now, f"model {k}", "default"))
        tags.append(("owner", "data-science", name, "default"))
        for i in range(1, v + 1):
            versions.append(
                (
                    name,
                    i,
                    now,
                    now,
                    f"version {i}",
                    "ada@example.com",
                    "None",
                    f"s3://models/{name}/{i}",
                    None,
                    "READY",
                    None,
                    None,
                    f"s3://models/{name}/{i}",
                    "default",
                )
            )
            for key, value in (("git_commit", f"{k:020x}{i:020x}"), ("accuracy", "0.9"), ("roc_auc", "0.95")):
                vtags.append((key, value, name, i, "default"))
        aliases += [("production", max(1, v - 3), name, "default"), ("staging", v, name, "default")]
    con.executemany("INSERT INTO registered_models VALUES (?,?,?,?,?)", models)
    con.executemany("INSERT INTO registered_model_tags VALUES (?,?,?,?)", tags)
    con.executemany(
        "INSERT INTO model_versions (name, version, creation_time, last_updated_time, "
        "description, user_id, current_stage, source, run_id, status, status_message, "
        "run_link, storage_location, workspace) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        versions,
    )
    con.executemany("INSERT INTO model_version_tags VALUES (?,?,?,?,?)", vtags)
    con.executemany("INSERT INTO registered_model_aliases VALUES (?,?,?,?)", aliases)
    con.commit()
    con.close()
    tmp.rename(db)


def timed(fn, budget: float, most: int) -> list[float]:
    fn()
    times: list[float] = []
    while len(times) < most and (sum(times) < budget * 1000 or len(times) < 3):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("models", type=int)
    ap.add_argument("versions", type=int)
    ap.add_argument("db", type=Path)
    ap.add_argument("--budget", type=float, default=3.0)
    args = ap.parse_args()
    start = time.perf_counter()
    import mlflow
    from mlflow import MlflowClient

    imported = (time.perf_counter() - start) * 1000
    if not args.db.exists():
        build(args.models, args.versions, args.db)
    uri = f"sqlite:///{args.db}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = names(args.models)[args.models // 2]

    def list_all() -> int:
        count, token = 0, None
        while True:
            page = client.search_registered_models(max_results=100, page_token=token)
            count += len(page)
            token = page.token
            if not token:
                return count

    out = {
        "version": mlflow.__version__,
        "import_ms": imported,
        "listed": list_all(),
        "resolved": client.get_model_version_by_alias(name, "production").version,
    }
    out["resolve"] = timed(lambda: client.get_model_version_by_alias(name, "production"), args.budget, 500)
    out["list"] = timed(list_all, args.budget, 50)
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
