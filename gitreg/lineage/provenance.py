"""What `register` can prove from the source commit: artifact, data, params, metrics, environment.

Everything is read from Git objects at that commit (and, for metrics DVC
caches, from the local DVC cache), never from the work tree, so the card
describes the commit and not whatever is checked out.
"""

from __future__ import annotations

import hashlib
from typing import Any

from gitreg.errors import RegistryRefusal
from gitreg.lineage import pipeline
from gitreg.lineage.pipeline import Out, Pipeline
from gitreg.model.card import Evidence
from gitreg.store.gitstore import GitStore, Ident

LOCK_FILES = (
    "uv.lock",
    "poetry.lock",
    "Pipfile.lock",
    "pdm.lock",
    "conda-lock.yml",
    "requirements.lock",
    "requirements.txt",
    "environment.yml",
)
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
    art = _artifact(store, pipe, name, artifact)
    stages = pipe.upstream(art.stage) if art.stage else []
    data = data_deps(store, pipe, stages)
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
        "environment": _environment(store, pipe, image),
        "registered_by": {"name": ident.name, "email": ident.email},
        "registered_at": ident.iso_time,
    }
    files = [metrics_file] if metrics_file else pipe.metrics_files()
    metrics: dict[str, dict[str, Any]] = {}
    for file in files:
        for key, value in pipeline.read_metrics(store, pipe, file).items():
            metrics.setdefault(key, {"value": value, "source": {"file": pipeline.norm(file), "key": key}})
    arts = pipe.dvc_yaml.get("artifacts") or {}
    art_type = arts.get(name, {}).get("type") if isinstance(arts.get(name), dict) else None
    return Evidence(provenance=provenance, metrics=metrics, artifact_type=art_type)


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
        if out is None:
            known = ", ".join(o.path for o in pipe.outs()) or "none"
            raise RegistryRefusal(
                f"artifact {path} is not an out of any stage in dvc.lock at {pipe.commit[:10]} "
                f"(outs there: {known}).",
                hint="Give the path of a stage out, as dvc.yaml writes it.",
            )
        return out
    # No DVC: the artifact must be committed to Git itself.
    entry = store.entry(pipe.tree, path)
    if entry is None or entry.type_str != "blob":
        raise RegistryRefusal(
            f"artifact {path} is not a file at commit {pipe.commit[:10]}, and there is no dvc.lock.",
            hint="Commit the artifact, or track it with a DVC pipeline and commit dvc.lock.",
        )
    if store.blob_size(str(entry.id)) > MAX_ARTIFACT_BLOB:
        raise RegistryRefusal(f"artifact {path} is too large to hash from Git; track it with DVC.")
    data = store.read_blob_id(str(entry.id))
    return Out(path=path, md5=hashlib.md5(data).hexdigest(), hash="md5", size=len(data))


def _environment(store: GitStore, pipe: Pipeline, image: str | None) -> dict:
    env: dict[str, Any] = {}
    pyver = store.read_blob(pipe.tree, ".python-version", max_bytes=256)
    if pyver is not None and pyver.strip():
        env["python"] = pyver.decode(errors="replace").split()[0]
    for path in LOCK_FILES:
        entry = store.entry(pipe.tree, path)
        if entry is not None and entry.type_str == "blob":
            data = store.read_blob_id(str(entry.id))
            env["lock_file"] = {"path": path, "sha256": hashlib.sha256(data).hexdigest()}
            break
    if image:
        env["image"] = image
    return env
