"""What `register` can prove from the source commit: artifact, data, params, metrics, environment.

Everything is read from Git objects at that commit (and, for metrics DVC
caches, from the local DVC cache), never from the work tree, so the card
describes the commit and not whatever is checked out.
"""

from __future__ import annotations

import hashlib
from typing import Any

from gitreg.errors import RegistryRefusal
from gitreg.lineage import environment, freshness, lfs, pipeline
from gitreg.lineage.pipeline import Out, Pipeline
from gitreg.model.card import Evidence
from gitreg.store.gitstore import GitStore, Ident

MAX_ARTIFACT_BLOB = 512 * 1024 * 1024


def collect(
    store: GitStore,
    name: str,
    commit: str,
    *,
    artifact: str | None,
    metrics_file: str | None,
    image: str | None,
    ident: Ident,
    require_dvc: bool = False,
) -> Evidence:
    pipe = pipeline.read(store, commit)
    if require_dvc and not pipe.has_dvc:
        raise RegistryRefusal(
            f"the policy requires DVC lineage, but commit {commit[:10]} has no dvc.lock.",
            hint="Run the pipeline with 'dvc repro', commit dvc.lock, and register that commit.",
        )
    try:
        art = _artifact(store, pipe, name, artifact)
    except RegistryRefusal:
        freshness.require_fresh(store, pipe)  # a stale lock explains a missing out best
        raise
    stages = pipe.upstream(art.stage) if art.stage else []
    if metrics_file:
        files = [pipeline.norm(metrics_file)]
    else:
        files = (pipe.model_metrics(art.stage) if art.stage else []) or pipe.metrics_files()
    scope = pipe.model_stages(art.stage, files)
    freshness.require_fresh(store, pipe, scope or None)
    data = data_deps(store, pipe, stages)
    env = environment.collect(store, pipe, image)
    provenance: dict[str, Any] = {
        "source": {"commit": commit, "tree": pipe.tree},
        "pipeline": (
            {"tool": "dvc", "lock_digest": pipe.lock_digest, "stage": art.stage, "stages": stages}
            if art.stage
            else None
        ),
        "artifact": art.as_card(),
        "data": [d.as_card() for d in data],
        "params": pipe.params(stages),
        "environment": env,
        "registered_by": {"name": ident.name, "email": ident.email},
        "registered_at": ident.iso_time,
    }
    metrics: dict[str, dict[str, Any]] = {}
    by_file: dict[str, dict[str, float]] = {}
    for file in files:
        by_file[file] = pipeline.read_metrics(store, pipe, file)
        for key, value in by_file[file].items():
            metrics.setdefault(key, {"value": value, "source": {"file": file, "key": key}})
    art_type = pipe.artifact(name).get("type")

    def key_index() -> dict[str, str]:
        index: dict[str, str] = {}
        for file in dict.fromkeys([*files, *pipe.metrics_files(scope)]):
            try:
                values = by_file.get(file) or pipeline.read_metrics(store, pipe, file)
            except RegistryRefusal:
                continue
            for key in values:
                index.setdefault(key, file)
        return index

    return Evidence(
        provenance=provenance,
        metrics=metrics,
        artifact_type=art_type,
        by_file=by_file,
        key_index=key_index,
        files=lambda: _pipeline_files(pipe, art, scope, files, env),
    )


def _pipeline_files(pipe: Pipeline, art: Out, scope: list[str], metrics: list[str], env: dict) -> list[str]:
    """The paths whose committed state the card describes (for the dirty-work-tree warning): the
    pipeline's own files, and the deps, outs and params of the stages behind the card (SCOPE)."""
    files = ["dvc.yaml", "dvc.lock", ".gitattributes", art.path, *metrics]
    for name in scope:
        stage = pipe.stage(name)
        files += [str(f) for f in (stage.get("params") or {})]
        for kind in ("deps", "outs"):
            files += [pipeline.norm(str(e["path"])) for e in stage.get(kind) or [] if isinstance(e, dict)]
    files += [p["path"] for p in env.get("pins") or []]
    return list(dict.fromkeys(files))


def data_deps(store: GitStore, pipe: Pipeline, stages: list[str]) -> list[Out]:
    """The deps of STAGES that DVC holds, not Git: data, not code."""
    return [d for d in pipe.deps(stages) if store.entry(pipe.tree, d.path) is None]


def _artifact(store: GitStore, pipe: Pipeline, name: str, given: str | None) -> Out:
    path = pipeline.norm(given) if given else pipe.artifact_path(name)
    if path is None:
        raise RegistryRefusal(
            f"no artifact path for {name!r}: dvc.yaml at {pipe.commit[:10]} has no "
            f"'artifacts: {name}:' entry.",
            hint=f"Pass --artifact PATH, or add 'artifacts: {{{name}: {{path: ..., type: model}}}}' "
            "to dvc.yaml.",
        )
    if pipe.has_dvc:
        out = pipe.find_out(path)
        if out is not None:
            entry = store.entry(pipe.tree, path)  # an out committed to Git (cache: false), maybe by LFS
            if entry is not None and entry.type_str == "blob":
                out.lfs = lfs_pointer(store, pipe, path)
            return out
        if lfs_pointer(store, pipe, path) is None:
            known = pipe.outs_named()
            raise RegistryRefusal(
                f"artifact {path} is not an out of any stage in dvc.lock at {pipe.commit[:10]} "
                f"(outs there: {known}).",
                hint="Give the path of a stage out, as dvc.yaml writes it (or a file Git LFS tracks).",
            )
    return git_artifact(store, pipe, path)


def git_artifact(store: GitStore, pipe: Pipeline, path: str) -> Out:
    """An artifact committed to Git: its bytes' md5, or, for a Git LFS pointer, the object's
    sha256 and size from the pointer (never the pointer's own md5)."""
    entry = store.entry(pipe.tree, path)
    if entry is None or entry.type_str != "blob":
        raise RegistryRefusal(
            f"artifact {path} is not a file at commit {pipe.commit[:10]}"
            + (", and it is no out of dvc.lock." if pipe.has_dvc else ", and there is no dvc.lock."),
            hint="Commit the artifact (Git or Git LFS), or track it with a DVC pipeline and commit dvc.lock.",
        )
    pointer = lfs_pointer(store, pipe, path)
    if pointer is not None:
        return Out(path=path, md5="", hash="lfs", size=pointer["size"], lfs=pointer)
    if store.blob_size(str(entry.id)) > MAX_ARTIFACT_BLOB:
        raise RegistryRefusal(f"artifact {path} is too large to hash from Git; track it with DVC or Git LFS.")
    data = store.read_blob_id(str(entry.id))
    return Out(path=path, md5=hashlib.md5(data).hexdigest(), hash="md5", size=len(data))


def lfs_pointer(store: GitStore, pipe: Pipeline, path: str) -> dict | None:
    """{oid, size} of the Git LFS pointer committed at PATH; None when PATH holds real bytes.
    A pointer that .gitattributes does not give to LFS is refused: its bytes are not the model."""
    entry = store.entry(pipe.tree, path)
    if entry is None or entry.type_str != "blob" or store.blob_size(str(entry.id)) >= lfs.MAX_POINTER:
        return None
    oid = str(entry.id)
    pointer = lfs.parse_pointer(store.read_blob_id(oid))
    if pointer is None:
        return None
    if not lfs.tracked(store, pipe.tree, path):
        raise RegistryRefusal(
            f"{path} at {pipe.commit[:10]} is a Git LFS pointer, but .gitattributes there does not "
            "track it with filter=lfs.",
            hint=f"Track it (git lfs track {path!r}), commit .gitattributes, and register that commit.",
        )
    return pointer.as_card()
