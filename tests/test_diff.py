"""`diff A B`: metrics with deltas, params, data, artifact and code commit, field by field against
dvc.lock, params.yaml and metrics.json at each version's source commit."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from helpers import CARD, git, gitreg
from registry_helpers import advance, set_stages

from gitreg.demo.project import V2_FEATURES
from gitreg.demo.run import train
from gitreg.lineage import pipeline
from gitreg.registry import Registry


@pytest.fixture(scope="module")
def project(_dvc_template, tmp_path_factory):
    """churn 1.0.0 (3 features) and 1.1.0 (adds usage_drop, in production); read-only."""
    root = tmp_path_factory.mktemp("diff") / "dvc"
    shutil.copytree(_dvc_template, root, symlinks=True)
    project = root / "project"
    (root / "card.yaml").write_text(CARD)
    reg = Registry.open(project)
    reg.init()
    reg.register("churn", root / "card.yaml")
    train(project, "Add usage_drop", features=V2_FEATURES)
    reg.register("churn", root / "card.yaml")
    advance(reg, set_stages(reg, "churn", {"staging": ["1.0.0"], "production": ["1.1.0"]}))
    return project


def at(project, rev: str, path: str) -> str:
    return git(project, "show", f"{rev}:{path}")


def test_diff_json_against_lock_params_and_metrics(project):
    proc = gitreg(project, "diff", "churn@1.0.0", "churn@production", "--json")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    a, b = (git(project, "rev-parse", f"churn@v{v}^{{commit}}") for v in ("1.0.0", "1.1.0"))
    assert (got["a"]["version"], got["b"]["version"]) == ("1.0.0", "1.1.0")
    assert got["code"] == {"a": a, "b": b, "status": "changed"}
    assert got["b"]["stages"] == ["production"]

    locks = {rev: yaml.safe_load(at(project, rev, "dvc.lock"))["stages"] for rev in (a, b)}
    model = {rev: locks[rev]["train"]["outs"][0]["md5"] for rev in (a, b)}
    assert got["artifact"]["md5"] == {"a": model[a], "b": model[b], "status": "changed"}

    metrics = {rev: pipeline.flatten(json.loads(at(project, rev, "metrics.json"))) for rev in (a, b)}
    rows = {m["key"]: m for m in got["metrics"]}
    assert set(rows) == set(metrics[a]) == {"accuracy", "roc_auc", "fairness.demographic_parity_gap"}
    for key, row in rows.items():
        assert (row["a"], row["b"]) == (metrics[a][key], metrics[b][key])
        assert row["delta"] == pytest.approx(metrics[b][key] - metrics[a][key])
        assert row["status"] == ("same" if metrics[a][key] == metrics[b][key] else "changed")

    params = {rev: pipeline.flat_params(yaml.safe_load(at(project, rev, "params.yaml"))) for rev in (a, b)}
    prows = {(p["file"], p["key"]): p for p in got["params"]}
    assert set(prows) == {("params.yaml", k) for k in params[a]}
    for (_, key), row in prows.items():
        assert (row["a"], row["b"]) == (params[a][key], params[b][key])
    changed = [k for (_, k), row in prows.items() if row["status"] == "changed"]
    assert changed == ["train.features"]

    deps = {
        rev: {d["path"]: d["md5"] for st in ("prepare", "train") for d in locks[rev][st]["deps"]}
        for rev in (a, b)
    }
    drows = {d["path"]: d for d in got["data"]}
    assert set(drows) == {"data/raw.csv", "data/prepared"}
    for path, row in drows.items():
        assert (row["a"], row["b"]) == (deps[a][path], deps[b][path]) and row["status"] == "same"


def test_diff_text_shows_deltas_and_what_changed(project):
    proc = gitreg(project, "diff", "churn@staging", "churn@1.1.0")
    assert proc.returncode == 0, proc.stderr
    a = json.loads(at(project, "churn@v1.0.0", "metrics.json"))["accuracy"]
    b = json.loads(at(project, "churn@v1.1.0", "metrics.json"))["accuracy"]
    assert f"accuracy: {a} -> {b}  ({b - a:+g})" in proc.stdout
    assert "train.features" in proc.stdout and "usage_drop" in proc.stdout
    assert "data: same" in proc.stdout and "code commit: changed" in proc.stdout
