"""A version's lineage: the code commit, the DVC stages that made it, the data with md5, the
params, the metrics with where each came from, and the environment.

The card is the registry's record; the pipeline detail (each stage's command, deps
and outs) is read from dvc.lock at the source commit, from Git objects, without DVC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitreg.lineage import pipeline
from gitreg.lineage.pipeline import Pipeline
from gitreg.model.card import metric_identity
from gitreg.model.view import RegistryView
from gitreg.results import to_data
from gitreg.store import layout
from gitreg.store.gitstore import GitStore


@dataclass
class Code:
    """The source commit, and what the repository knows of it."""

    commit: str | None
    tree: str | None
    available: bool  # the commit is in this repository
    author: str | None = None
    email: str | None = None
    time: str | None = None
    subject: str | None = None


@dataclass
class Lineage:
    """Where a version came from: code, pipeline (stages from dvc.lock), data, params, metrics
    (each with the file and key it came from), environment, and who registered it."""

    name: str
    version: str
    tag: str
    stages: list[str]  # the registry stages the version is in
    code: Code
    pipeline: dict[str, Any] | None
    artifact: dict[str, Any] | None
    data: list[dict[str, Any]] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    registered_by: dict[str, Any] | None = None
    registered_at: str | None = None

    def to_dict(self) -> dict:
        return to_data(self)


def provenance_of(card: dict) -> dict:
    prov = card.get("provenance")
    return prov if isinstance(prov, dict) else {}


def source_commit(card: dict) -> str | None:
    source = provenance_of(card).get("source")
    commit = source.get("commit") if isinstance(source, dict) else None
    return str(commit) if commit else None


def metrics_of(card: dict) -> list[dict[str, Any]]:
    """Every metric of a card: key (its identity, the metrics file's key, qualified by
    dataset/split/slice when given), the type label,
    value, source {file, key} and the result's task and dataset."""
    found: list[dict[str, Any]] = []
    for result in card.get("evaluation") or []:
        if not isinstance(result, dict):
            continue
        raw_dataset = result.get("dataset")
        dataset: dict[str, Any] = raw_dataset if isinstance(raw_dataset, dict) else {}
        qualifier = "/".join(str(dataset[k]) for k in ("name", "split", "slice") if dataset.get(k))
        for metric in result.get("metrics") or []:
            if not isinstance(metric, dict) or "type" not in metric:
                continue
            identity = metric_identity(metric)
            entry: dict[str, Any] = {
                "key": f"{identity} [{qualifier}]" if qualifier else identity,
                "type": str(metric["type"]),
                "value": metric.get("value"),
                "source": metric.get("source"),
            }
            if result.get("task"):
                entry["task"] = result["task"]
            if dataset:
                entry["dataset"] = dataset
            found.append(entry)
    return found


def version_stages(pipe: Pipeline, card: dict) -> list[str]:
    """The stages a version's lineage spans: those that made its artifact and its metrics."""
    spec = provenance_of(card).get("pipeline")
    stage = str(spec["stage"]) if isinstance(spec, dict) and spec.get("stage") else None
    files = [str(m["source"].get("file", "")) for m in metrics_of(card) if isinstance(m["source"], dict)]
    return pipe.model_stages(stage, [f for f in files if f])


def build(store: GitStore, view: RegistryView, name: str, version: str, *, detail: bool = True) -> Lineage:
    """The lineage of NAME@VERSION; DETAIL adds each stage's command, deps and outs from dvc.lock."""
    card = view.card(name, version)
    prov = provenance_of(card)
    commit = source_commit(card)
    code = Code(
        commit, (prov.get("source") or {}).get("tree"), commit is not None and store.has_object(commit)
    )
    if code.available and commit:
        info = store.commit_info(commit)
        code.author, code.email, code.time = info.author, info.email, info.time
        code.subject = info.message.strip().splitlines()[0] if info.message.strip() else ""
    return Lineage(
        name=name,
        version=version,
        tag=layout.tag_name(name, version),
        stages=view.stages_of(name, version),
        code=code,
        pipeline=_pipeline(store, card, commit if code.available and detail else None),
        artifact=prov.get("artifact"),
        data=prov.get("data") or [],
        params=prov.get("params") or {},
        metrics=metrics_of(card),
        environment=prov.get("environment") or {},
        registered_by=prov.get("registered_by"),
        registered_at=prov.get("registered_at"),
    )


def _pipeline(store: GitStore, card: dict, commit: str | None) -> dict[str, Any] | None:
    spec = provenance_of(card).get("pipeline")
    if not isinstance(spec, dict):
        return None
    result: dict[str, Any] = {
        "tool": spec.get("tool", "dvc"),
        "lock_digest": spec.get("lock_digest"),
        "stage": spec.get("stage"),
        "stages": [],
    }
    pipe = pipeline.read(store, commit) if commit else None
    if pipe is None or not pipe.has_dvc:
        result["stages"] = [{"name": s} for s in spec.get("stages") or []]
        return result
    for stage in version_stages(pipe, card):
        lock = pipe.stage(stage)
        result["stages"].append(
            {
                "name": stage,
                "cmd": pipe.cmd(stage),
                "frozen": pipe.is_frozen(stage),
                "deps": [_entry(store, pipe, d) for d in lock.get("deps") or []],
                "params": lock.get("params") or {},
                "outs": [_entry(store, pipe, o) for o in lock.get("outs") or []],
            }
        )
    return result


def _entry(store: GitStore, pipe: Pipeline, raw: dict) -> dict[str, Any]:
    entry = pipeline.Out.from_lock(raw, None).as_card()
    entry["in_git"] = store.entry(pipe.tree, entry["path"]) is not None
    return entry


# --- mermaid ----------------------------------------------------------------------------------


def mermaid(lin: Lineage) -> str:
    """The lineage as a mermaid flowchart: data and code into stages, stages into outs."""
    lines = ["flowchart LR"]
    ids: dict[str, str] = {}
    artifact = (lin.artifact or {}).get("path")
    metric_files = {
        pipeline.norm(str(m["source"]["file"]))
        for m in lin.metrics
        if isinstance(m.get("source"), dict) and m["source"].get("file")
    }

    def node(key: str, text: str, shape: str) -> str:
        if key not in ids:
            ids[key] = f"n{len(ids)}"
            left, right = _SHAPES[shape]
            lines.append(f'  {ids[key]}{left}"{_label(text)}"{right}')
        return ids[key]

    def file_node(entry: dict) -> str:
        path = entry["path"]
        md5 = str(entry.get("md5", ""))[:8]
        if path == artifact:
            return node(path, f"{path}<br/>md5 {md5}", "artifact")
        if path in metric_files:
            return node(path, f"{path}<br/>metrics", "metrics")
        if entry.get("in_git"):
            return node(path, path, "code")
        return node(path, f"{path}<br/>md5 {md5}", "data")

    pipe = lin.pipeline
    if not pipe or not any("deps" in s for s in pipe.get("stages") or []):
        commit = node("commit", f"commit {str(lin.code.commit)[:10]}", "code")
        if artifact and lin.artifact:
            lines.append(f"  {commit} --> {file_node(lin.artifact)}")
        return "\n".join(lines) + "\n"
    for stage in pipe["stages"]:
        label = stage["name"] + (" (frozen)" if stage.get("frozen") else "")
        sid = node(f"stage:{stage['name']}", f"{label}<br/>{stage.get('cmd') or ''}", "stage")
        for dep in stage.get("deps") or []:
            lines.append(f"  {file_node(dep)} --> {sid}")
        for file, values in (stage.get("params") or {}).items():
            keys = ", ".join(sorted(pipeline.flat_params(values)))
            pid = node(f"params:{file}:{stage['name']}", f"{file}: {keys}", "params")
            lines.append(f"  {pid} -.-> {sid}")
        for out in stage.get("outs") or []:
            lines.append(f"  {sid} --> {file_node(out)}")
    styled = ids.get(artifact, "none") if artifact else "none"
    lines.append(f"  classDef artifact stroke-width:3px\n  class {styled} artifact")
    return "\n".join(lines) + "\n"


_SHAPES = {
    "stage": ("[", "]"),
    "data": ("[(", ")]"),
    "code": ("[/", "/]"),
    "artifact": ("{{", "}}"),
    "metrics": ("[[", "]]"),
    "params": ("[\\", "\\]"),
}


def _label(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace('"', "#quot;")
        .replace("<br/>", "\n")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\n", "<br/>")
    )
