"""What differs between two registered versions: metrics (with deltas), params, data, artifact,
code commit and environment. Read from the two cards alone: no checkout, no DVC.
"""

from __future__ import annotations

from typing import Any

from gitreg.lineage import pipeline
from gitreg.lineage import trace as lineage


def compare(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Compare two lineages (as lineage.build returns them)."""
    return {
        "a": _side(a),
        "b": _side(b),
        "code": _pair((a.get("code") or {}).get("commit"), (b.get("code") or {}).get("commit")),
        "artifact": {
            "path": _pair(_get(a, "artifact", "path"), _get(b, "artifact", "path")),
            "md5": _pair(_get(a, "artifact", "md5"), _get(b, "artifact", "md5")),
            "size": _pair(_get(a, "artifact", "size"), _get(b, "artifact", "size")),
        },
        "metrics": _rows(_metric_values(a), _metric_values(b), numeric=True),
        "params": _rows(_param_values(a), _param_values(b), key_names=("file", "key")),
        "data": _rows(_data_values(a), _data_values(b), key_names=("path",)),
        "environment": _rows(_env_values(a), _env_values(b)),
    }


def _side(lin: dict) -> dict:
    return {
        "ref": f"{lin['name']}@{lin['version']}",
        "name": lin["name"],
        "version": lin["version"],
        "commit": (lin.get("code") or {}).get("commit"),
        "stages": lin.get("stages") or [],
    }


def _get(lin: dict, *keys: str) -> Any:
    value: Any = lin
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _pair(a: Any, b: Any) -> dict:
    return {"a": a, "b": b, "status": _status(a, b)}


def _status(a: Any, b: Any) -> str:
    if a is None:
        return "added" if b is not None else "same"
    if b is None:
        return "removed"
    return "same" if a == b else "changed"


def _metric_values(lin: dict) -> dict[tuple, Any]:
    values: dict[tuple, Any] = {}
    for metric in lin.get("metrics") or []:
        values.setdefault((metric["key"],), metric.get("value"))
    return values


def _param_values(lin: dict) -> dict[tuple, Any]:
    values: dict[tuple, Any] = {}
    for file, params in (lin.get("params") or {}).items():
        for key, value in pipeline.flat_params(params).items():
            values[(file, key)] = value
    return values


def _data_values(lin: dict) -> dict[tuple, Any]:
    return {(d["path"],): d.get("md5") for d in lin.get("data") or [] if isinstance(d, dict)}


def _env_values(lin: dict) -> dict[tuple, Any]:
    return {(k,): v for k, v in pipeline.flat_params(lin.get("environment") or {}).items()}


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
            both = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (va, vb))
            row["delta"] = round(vb - va, 12) if both else None
        rows.append(row)
    return rows


def lineages(store, view, a: tuple[str, str], b: tuple[str, str]) -> dict[str, Any]:
    """Compare (name, version) A with B in VIEW."""
    return compare(lineage.build(store, view, *a, detail=False), lineage.build(store, view, *b, detail=False))
