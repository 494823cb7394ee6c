"""Is dvc.lock still the truth at a commit? The idea of `dvc status`, computed from Git objects alone.

A lock is fresh when every file it records that Git holds has the md5 (and size) the lock says,
each dvc.yaml stage has the lock's command, deps, outs and params, and the params files hold the
values the lock recorded. Anything else means the lock describes a run that is not this commit:
a metrics file edited by hand, a command changed after the run, params moved on.

DVC is not imported: everything is read from the commit's tree, the lock once.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from gitreg.errors import RegistryRefusal
from gitreg.lineage import lfs, pipeline
from gitreg.lineage.pipeline import Pipeline
from gitreg.store.gitstore import GitStore

MAX_HASHED_BLOB = 64 * 1024 * 1024  # bigger committed files are compared by size only
_VAR = re.compile(r"\$\{\s*([^}\s]+)\s*\}")
FIX = "run `dvc repro` and commit"


@dataclass(frozen=True)
class Staleness:
    """One reason a stage of dvc.lock does not describe the commit."""

    stage: str
    reason: str

    def __str__(self) -> str:
        return f"dvc.lock is stale for stage {self.stage}: {self.reason}"


def check(store: GitStore, pipe: Pipeline, stages: list[str] | None = None) -> list[Staleness]:
    """Every way dvc.lock at PIPE's commit is stale for STAGES (None: the whole lock); [] when it
    is fresh (or there is none). A card speaks for its own stages: a monorepo's other models do not
    hold up its registration, and are not read."""
    if not pipe.has_dvc:
        return []
    found: list[Staleness] = []
    hashes: dict[tuple[str, str], tuple[str, int] | None] = {}  # one hash per blob
    for name in pipe.stages if stages is None else stages:
        stage = pipe.stages.get(name)
        if not isinstance(stage, dict):
            found.append(Staleness(name, "its dvc.lock entry is not a mapping"))
            continue
        wdir = _wdir(pipe, name)
        for kind in ("deps", "outs"):
            for entry in stage.get(kind) or []:
                if isinstance(entry, dict) and entry.get("path"):
                    why = _committed_file(store, pipe, wdir, entry, hashes)
                    if why:
                        found.append(Staleness(name, why))
    found += _against_dvc_yaml(store, pipe, stages)
    return found


def require_fresh(store: GitStore, pipe: Pipeline, stages: list[str] | None = None) -> None:
    stale = check(store, pipe, stages)
    if stale:
        first = stale[0]
        raise RegistryRefusal(
            f"dvc.lock is stale for stage {first.stage}: {FIX} ({first.reason}).",
            details=[str(s) for s in stale[1:]],
            hint=f"Run `dvc repro`, commit dvc.lock with what it wrote, and register that commit "
            f"(at {pipe.commit[:10]} the lock describes another run).",
        )


# --- committed files against the lock ------------------------------------------------------------


def _committed_file(store: GitStore, pipe: Pipeline, wdir: str, entry: dict, hashes: dict) -> str | None:
    path = pipeline.norm(posixpath.join(wdir, str(entry["path"])))
    obj = store.entry(pipe.tree, path)
    if obj is None or obj.type_str != "blob":
        return None  # in DVC's cache, not in Git (directories in Git: not checked here)
    kind = str(entry.get("hash", "md5-dos2unix"))
    key = (str(obj.id), kind)
    if key not in hashes:
        hashes[key] = _hash_blob(store, str(obj.id), kind)
    got = hashes[key]
    if got is None:
        return None
    md5, size = got
    if md5.startswith("lfs:"):  # a Git LFS pointer: its size is the file's size
        if entry.get("size") is not None and int(entry["size"]) != size:
            return f"{path} is {size} bytes (Git LFS pointer), dvc.lock records {entry['size']}"
        return None
    if entry.get("md5") and str(entry["md5"]) != md5:
        return f"{path} at the commit has md5 {md5}, dvc.lock records {entry['md5']}"
    if entry.get("size") is not None and int(entry["size"]) != size:
        return f"{path} at the commit is {size} bytes, dvc.lock records {entry['size']}"
    return None


def _hash_blob(store: GitStore, oid: str, kind: str) -> tuple[str, int] | None:
    size = store.blob_size(oid)
    if size > MAX_HASHED_BLOB:
        return None
    data = store.read_blob_id(oid)
    pointer = lfs.parse_pointer(data)
    if pointer is not None:
        return f"lfs:{pointer.oid}", pointer.size
    return pipeline.md5_of(data, kind), size


# --- dvc.yaml against the lock ---------------------------------------------------------------------


def _against_dvc_yaml(store: GitStore, pipe: Pipeline, stages: list[str] | None) -> list[Staleness]:
    scope = list(pipe.stages) if stages is None else stages
    if not pipe.dvc_yaml:
        return [Staleness(name, "dvc.yaml is not in the commit") for name in scope]
    raw = pipe.dvc_yaml.get("stages")
    specs: Mapping = raw if isinstance(raw, Mapping) else {}
    context = _context(store, pipe)
    found: list[Staleness] = []
    params_cache: dict[str, dict[str, Any] | None] = {}
    if stages is None:  # the whole lock: a dvc.yaml stage never run is stale too
        for name in specs:
            spec = specs[name]
            if (
                isinstance(spec, dict)
                and "foreach" not in spec
                and "matrix" not in spec
                and name not in pipe.stages
            ):
                found.append(Staleness(name, "it is in dvc.yaml but not in dvc.lock (never run)"))
    for name in scope:
        spec = specs.get(name)
        if spec is None:
            base = name.split("@", 1)[0]
            parent = specs.get(base) if base != name else None
            if not (isinstance(parent, dict) and ("foreach" in parent or "matrix" in parent)):
                found.append(Staleness(name, "it is in dvc.lock but no longer in dvc.yaml"))
            continue  # a NAME@KEY of a foreach/matrix stage: its files are checked above
        if not isinstance(spec, dict) or "foreach" in spec or "matrix" in spec:
            continue
        lock = pipe.stages.get(name)
        if not isinstance(lock, dict):
            found.append(Staleness(name, "it is in dvc.yaml but not in dvc.lock (never run)"))
            continue
        found += _stage(store, pipe, name, spec, lock, context, params_cache)
    return found


def _stage(
    store: GitStore, pipe: Pipeline, name: str, spec: dict, lock: dict, context: dict, params_cache: dict
) -> list[Staleness]:
    found = []
    want_cmd = _resolve(_as_list(spec.get("cmd")), context)
    if want_cmd is not None and want_cmd != _as_list(lock.get("cmd")):
        found.append(
            Staleness(
                name,
                f"dvc.yaml runs {' && '.join(want_cmd)!r}, dvc.lock recorded "
                f"{' && '.join(_as_list(lock.get('cmd')))!r}",
            )
        )
    for what, want, have in (
        ("deps", _paths(spec.get("deps")), _lock_paths(lock.get("deps"))),
        (
            "outs",
            _paths([*(spec.get("outs") or []), *(spec.get("metrics") or []), *(spec.get("plots") or [])]),
            _lock_paths(lock.get("outs")),
        ),
    ):
        resolved = _resolve(sorted(want), context)
        if resolved is not None and set(map(pipeline.norm, resolved)) != have:
            extra = sorted(set(map(pipeline.norm, resolved)) - have)
            gone = sorted(have - set(map(pipeline.norm, resolved)))
            parts = [f"dvc.yaml adds {', '.join(extra)}"] if extra else []
            parts += [f"dvc.lock still has {', '.join(gone)}"] if gone else []
            found.append(Staleness(name, f"{what} differ: {'; '.join(parts)}"))
    found += _params(store, pipe, name, spec, lock, params_cache)
    return found


def _params(
    store: GitStore, pipe: Pipeline, name: str, spec: dict, lock: dict, cache: dict
) -> list[Staleness]:
    declared: dict[str, list[str] | None] = {}  # file -> keys (None: the whole file)
    for item in spec.get("params") or []:
        if isinstance(item, str):
            declared.setdefault("params.yaml", []).append(item)  # type: ignore[union-attr]
        elif isinstance(item, dict):
            for file, keys in item.items():
                declared[str(file)] = [str(k) for k in keys] if keys else None
    raw = lock.get("params")
    locked: dict = raw if isinstance(raw, dict) else {}
    found = []
    for file in sorted(set(declared) | set(locked)):
        if file not in declared:
            found.append(Staleness(name, f"dvc.lock records params of {file}, dvc.yaml declares none"))
            continue
        if file not in locked:
            found.append(Staleness(name, f"dvc.yaml declares params of {file}, dvc.lock records none"))
            continue
        have = pipeline.flat_params(locked[file] or {})
        keys = declared[file]
        if file not in cache:
            try:
                cache[file] = pipeline.read_params_file(store, pipe, file)
            except RegistryRefusal:
                cache[file] = None
        values = cache[file]
        if values is None:
            continue  # not readable here (e.g. a .py params file): dvc.lock is taken as it is
        want = {k: v for k, v in values.items() if keys is None or any(_under(k, key) for key in keys)}
        missing = [k for k in keys or [] if not any(_under(h, k) for h in have)]
        if missing:
            found.append(Staleness(name, f"params {file} {', '.join(missing)}: not in dvc.lock"))
        for key in sorted(set(want) | set(have)):
            if key not in have:
                found.append(Staleness(name, f"params {file} {key} = {want[key]!r} is not in dvc.lock"))
            elif key not in want:
                found.append(Staleness(name, f"params {file} {key}: dvc.lock has {have[key]!r}, {file} none"))
            elif not _same(want[key], have[key]):
                found.append(
                    Staleness(name, f"params {file} {key}: {file} has {want[key]!r}, dvc.lock {have[key]!r}")
                )
    return found


def _under(key: str, prefix: str) -> bool:
    return key == prefix or key.startswith(prefix + ".")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _as_list(cmd: Any) -> list[str]:
    if cmd is None:
        return []
    return [str(c) for c in cmd] if isinstance(cmd, list) else [str(cmd)]


def _paths(entries: Any) -> set[str]:
    paths = set()
    for entry in entries or []:
        path = next(iter(entry)) if isinstance(entry, dict) and entry else entry
        if isinstance(path, str):
            paths.add(path)
    return paths


def _lock_paths(entries: Any) -> set[str]:
    return {pipeline.norm(str(e["path"])) for e in entries or [] if isinstance(e, dict) and e.get("path")}


def _wdir(pipe: Pipeline, stage: str) -> str:
    wdir = pipe.spec(stage).get("wdir")
    return str(wdir) if wdir else ""


# --- ${...} interpolation, as far as it can be resolved from the commit -----------------------------


def _context(store: GitStore, pipe: Pipeline) -> dict[str, Any]:
    """Values `${...}` may name: dvc.yaml's inline `vars` and params.yaml (DVC's default vars)."""
    context: dict[str, Any] = {}
    with suppress(RegistryRefusal):  # an unreadable params.yaml leaves ${...} unresolved
        context.update(pipeline.read_params_file(store, pipe, "params.yaml") or {})
    for item in pipe.dvc_yaml.get("vars") or []:
        if isinstance(item, dict):
            context.update(pipeline.flat_params(item))
    return context


def _resolve(values: list[str], context: dict[str, Any]) -> list[str] | None:
    """VALUES with `${key}` filled in; None when one cannot be resolved here (then not compared)."""
    out = []
    for value in values:
        if "${" not in value:
            out.append(value)
            continue
        names = _VAR.findall(value)
        if any(n not in context for n in names):
            return None
        out.append(_VAR.sub(lambda m: str(context[m.group(1)]), value))
    return out
