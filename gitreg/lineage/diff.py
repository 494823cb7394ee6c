"""What differs between two registered versions: metrics (with deltas), params, data, artifact,
code commit and environment. Read from the two cards alone: no checkout, no DVC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

from gitreg.lineage import pipeline
from gitreg.lineage import trace as lineage
from gitreg.lineage.trace import Lineage
from gitreg.model.view import RegistryView
from gitreg.results import to_data
from gitreg.store.gitstore import GitStore


@dataclass
class Side:
    ref: str
    name: str
    version: str
    commit: str | None
    stages: list[str]


@dataclass
class Diff:
    """A against B. Each compared value is a row {…identity…, a, b, status} with status same,
    changed, added or removed; metric rows add the delta b - a when both are numbers."""

    a: Side
    b: Side
    code: dict[str, Any]
    artifact: dict[str, dict[str, Any]]
    metrics: list[dict[str, Any]]
    params: list[dict[str, Any]]
    data: list[dict[str, Any]]
    environment: list[dict[str, Any]]

    def to_dict(self) -> dict:
        return to_data(self)


def compare(a: Lineage, b: Lineage) -> Diff:
    """Compare two lineages (as trace.build returns them)."""
    art_a, art_b = a.artifact or {}, b.artifact or {}
    return Diff(
        a=_side(a),
        b=_side(b),
        code=_pair(a.code.commit, b.code.commit),
        artifact={
            **{key: _pair(art_a.get(key), art_b.get(key)) for key in ("path", "md5", "size")},
            "lfs_oid": _pair(_lfs_oid(art_a), _lfs_oid(art_b)),
        },
        metrics=_rows(_metric_values(a), _metric_values(b), numeric=True),
        params=_rows(_param_values(a), _param_values(b), key_names=("file", "key")),
        data=_rows(_data_values(a), _data_values(b), key_names=("path",)),
        environment=_rows(_env_values(a), _env_values(b)),
    )


def _lfs_oid(artifact: dict) -> str | None:
    lfs = artifact.get("lfs")
    return str(lfs.get("oid")) if isinstance(lfs, dict) and lfs.get("oid") else None


def _side(lin: Lineage) -> Side:
    return Side(f"{lin.name}@{lin.version}", lin.name, lin.version, lin.code.commit, lin.stages)


def _pair(a: Any, b: Any) -> dict:
    return {"a": a, "b": b, "status": _status(a, b)}


def _status(a: Any, b: Any) -> str:
    if a is None:
        return "added" if b is not None else "same"
    if b is None:
        return "removed"
    return "same" if a == b else "changed"


def _metric_values(lin: Lineage) -> dict[tuple, Any]:
    values: dict[tuple, Any] = {}
    for metric in lin.metrics:
        values.setdefault((metric["key"],), metric.get("value"))
    return values


def _param_values(lin: Lineage) -> dict[tuple, Any]:
    values: dict[tuple, Any] = {}
    for file, params in lin.params.items():
        for key, value in pipeline.flat_params(params).items():
            values[(file, key)] = value
    return values


def _data_values(lin: Lineage) -> dict[tuple, Any]:
    return {(d["path"],): d.get("md5") for d in lin.data if isinstance(d, dict)}


def _env_values(lin: Lineage) -> dict[tuple, Any]:
    return {(k,): v for k, v in pipeline.flat_params(lin.environment).items()}


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _rows(
    a: dict[tuple, Any], b: dict[tuple, Any], *, numeric: bool = False, key_names: tuple[str, ...] = ("key",)
) -> list[dict[str, Any]]:
    rows = []
    keys = list(a) + [k for k in b if k not in a]
    for key in keys:
        va, vb = a.get(key), b.get(key)
        row: dict[str, Any] = dict(zip(key_names, key, strict=True))
        row.update(a=va, b=vb, status=_status(va, vb))
        if numeric:
            row["delta"] = round(vb - va, 12) if _number(va) and _number(vb) else None
        rows.append(row)
    return rows


def lineages(store: GitStore, view: RegistryView, a: tuple[str, str], b: tuple[str, str]) -> Diff:
    """Compare (name, version) A with B in VIEW."""
    return compare(lineage.build(store, view, *a, detail=False), lineage.build(store, view, *b, detail=False))
