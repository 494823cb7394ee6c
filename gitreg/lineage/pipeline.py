"""A DVC pipeline as it stands at one commit, read from Git objects (DVC itself is not imported).

dvc.yaml gives stages, artifacts and metrics files; dvc.lock gives what each
stage actually consumed and produced (md5, size, params). Both are read from
the commit's tree, so any commit can be inspected without a checkout.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from gitreg.errors import InvalidCard, RegistryRefusal
from gitreg.lineage import dvcfile
from gitreg.store import yamlio
from gitreg.store.gitstore import BlobTooLarge, GitStore

MAX_PIPELINE_FILE = 16 * 1024 * 1024
MAX_METRICS_FILE = 4 * 1024 * 1024


def norm(path: str) -> str:
    plain = path and path[0] not in "./ \t\n" and path[-1] not in "/ \t\n"
    if plain and "/." not in path and "//" not in path and "\\" not in path:
        return path  # already normal: the common case, and a lock has thousands of paths
    path = posixpath.normpath(path.strip().replace("\\", "/"))
    return path.removeprefix("./").rstrip("/")


@dataclass
class Out:
    path: str
    md5: str
    hash: str
    size: int | None = None
    nfiles: int | None = None
    stage: str | None = None
    lfs: dict | None = None  # {oid, size} when Git holds a Git LFS pointer at PATH

    @classmethod
    def from_lock(cls, entry: dict, stage: str | None) -> Out:
        # DVC 3 writes 'hash: md5'; DVC 2 entries have no 'hash' and used md5-dos2unix.
        return cls(
            path=norm(str(entry["path"])),
            md5=str(entry.get("md5", "")),
            hash=str(entry.get("hash", "md5-dos2unix")),
            size=entry.get("size"),
            nfiles=entry.get("nfiles"),
            stage=stage,
        )

    def as_card(self) -> dict:
        card: dict[str, Any] = {"path": self.path}
        if self.hash != "lfs":  # an artifact only Git LFS holds has the pointer's sha256 instead
            card.update(md5=self.md5, hash=self.hash)
        if self.size is not None:
            card["size"] = self.size
        if self.nfiles is not None:
            card["nfiles"] = self.nfiles
        if self.stage:
            card["stage"] = self.stage
        if self.lfs:
            card["lfs"] = dict(self.lfs)
        return card


@dataclass
class Pipeline:
    commit: str
    tree: str
    dvc_yaml: Mapping = field(default_factory=dict)
    lock: Mapping = field(default_factory=dict)
    lock_digest: str | None = None

    @property
    def has_dvc(self) -> bool:
        return self.lock_digest is not None

    @property
    def stages(self) -> Mapping[str, Any]:
        """dvc.lock's stages by name; a big lock's are parsed one at a time (see dvcfile)."""
        stages = self.lock.get("stages") or {}
        return stages if isinstance(stages, Mapping) else {}

    def stage(self, name: str) -> dict:
        """One stage of dvc.lock ({} when absent or not a mapping)."""
        entry = self.stages.get(name)
        return entry if isinstance(entry, dict) else {}

    def outs(self) -> list[Out]:
        """Every out of every stage: the whole lock is parsed (error messages and reproduce only)."""
        return [o for name in self.stages for o in self.stage_outs(name)]

    def stage_outs(self, name: str) -> list[Out]:
        return [Out.from_lock(o, name) for o in self.stage(name).get("outs") or [] if isinstance(o, dict)]

    def _candidates(self, path: str, under: str) -> Iterable[str]:
        """Stages whose UNDER (outs, deps) may hold PATH, in file order: found by text in a split
        lock (lazily), else every stage."""
        stages = self.stages
        leaf = path.rsplit("/", 1)[-1]
        if isinstance(stages, dvcfile.Section) and _searchable(leaf, path):
            return stages.having(leaf, under)
        return list(stages)

    def find_out(self, path: str) -> Out | None:
        wanted = norm(path)
        for name in self._candidates(wanted, "outs"):
            for out in self.stage_outs(name):
                if out.path == wanted:
                    return out
        return None

    def producer(self, path: str) -> str | None:
        """The stage that writes PATH, if one does."""
        out = self.find_out(path)
        return out.stage if out else None

    def find_dep(self, path: str) -> Out | None:
        """PATH as the first stage that depends on it records it."""
        wanted = norm(path)
        for name in self._candidates(wanted, "deps"):
            dep = self._dep(name, wanted)
            if dep is not None:
                return dep
        return None

    def _dep(self, name: str, wanted: str) -> Out | None:
        """Stage NAME's dep on the normal path WANTED, if it has one."""
        for dep in self.stage(name).get("deps") or []:
            if isinstance(dep, dict) and norm(str(dep.get("path", ""))) == wanted:
                return Out.from_lock(dep, name)
        return None

    def outs_named(self, limit: int = 10) -> str:
        """The outs of the lock for an error message: the first LIMIT, and how many more."""
        paths = [o.path for o in self.outs()]
        more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
        return (", ".join(paths[:limit]) or "none") + more

    def consumers(self, path: str) -> list[str]:
        """The stages that depend on PATH."""
        wanted = norm(path)
        return [name for name in self._candidates(wanted, "deps") if self._dep(name, wanted)]

    def artifact_path(self, name: str) -> str | None:
        path = self.artifact(name).get("path")
        return norm(str(path)) if path else None

    def artifact(self, name: str) -> dict:
        """dvc.yaml's `artifacts:` entry NAME ({} when there is none)."""
        arts = self.dvc_yaml.get("artifacts") or {}
        entry = arts.get(name) if isinstance(arts, Mapping) else None
        return entry if isinstance(entry, dict) else {}

    def spec(self, stage: str) -> dict:
        """dvc.yaml's definition of STAGE (a foreach/matrix stage NAME@KEY is defined as NAME)."""
        specs = self.dvc_yaml.get("stages") or {}
        if not isinstance(specs, Mapping):
            return {}
        entry = specs.get(stage if stage in specs else stage.split("@", 1)[0])
        return entry if isinstance(entry, dict) else {}

    def upstream(self, stage: str) -> list[str]:
        """STAGE and every stage whose outs it depends on, directly or not, in run order."""
        order: list[str] = []

        def visit(name: str) -> None:
            if name in order:
                return
            for dep in self.stage(name).get("deps") or []:
                src = self.producer(str(dep.get("path", ""))) if isinstance(dep, dict) else None
                if src and src != name:
                    visit(src)
            order.append(name)

        visit(stage)
        return order

    def deps(self, stages: list[str]) -> list[Out]:
        found: dict[str, Out] = {}
        for name in stages:
            for dep in self.stage(name).get("deps") or []:
                if isinstance(dep, dict):
                    out = Out.from_lock(dep, name)
                    found.setdefault(out.path, out)
        return list(found.values())

    def params(self, stages: list[str]) -> dict[str, dict]:
        merged: dict[str, dict] = {}
        for name in stages:
            for file, values in (self.stage(name).get("params") or {}).items():
                merged.setdefault(file, {}).update(values or {})
        return merged

    def closure(self, targets: list[str]) -> list[str]:
        """TARGETS and every stage they depend on, in run order, each once."""
        order: list[str] = []
        for target in targets:
            order += [s for s in self.upstream(target) if s not in order]
        return order

    def is_frozen(self, stage: str) -> bool:
        return bool(self.spec(stage).get("frozen"))

    def cmd(self, stage: str) -> str | None:
        cmd = self.stage(stage).get("cmd")
        if isinstance(cmd, list):
            return " && ".join(str(c) for c in cmd)
        return str(cmd) if cmd is not None else None

    def metrics_files(self, stages: list[str] | None = None) -> list[str]:
        """The metrics files dvc.yaml declares: at the top and for STAGES (None: for every stage)."""
        files: list[str] = []

        def add(entries: Any) -> None:
            for entry in entries or []:
                path = next(iter(entry)) if isinstance(entry, dict) and entry else entry
                if isinstance(path, str) and norm(path) not in files:
                    files.append(norm(path))

        add(self.dvc_yaml.get("metrics"))
        if stages is None:
            specs = self.dvc_yaml.get("stages") or {}
            stages = list(specs) if isinstance(specs, Mapping) else []
        for name in stages:
            add(self.spec(name).get("metrics"))
        return files

    def model_stages(self, stage: str | None, metrics: Sequence[str] = ()) -> list[str]:
        """The stages a card speaks for: the one that made its artifact (STAGE), those that made its
        METRICS files, and every stage they depend on, in run order."""
        targets = [stage] if stage and stage in self.stages else []
        for path in metrics:
            src = self.producer(path)
            if src and src not in targets:
                targets.append(src)
        return self.closure(targets)

    def model_metrics(self, stage: str) -> list[str]:
        """The metrics files that speak for the artifact STAGE writes: those of the stages behind it and of
        the stages that read it (an evaluation), and dvc.yaml's top-level ones. Where a monorepo has a
        stage per model, this is the model's own file, never another model's."""
        readers = [c for out in self.stage_outs(stage) for c in self.consumers(out.path)]
        return self.metrics_files(self.closure([stage, *dict.fromkeys(readers)]))


def _searchable(leaf: str, path: str) -> bool:
    """Can PATH be found by the text of its last part (LEAF) in a split lock? Not when YAML could
    spell it otherwise: a bare `yes` reads as True, `~` as None, `1e3` as 1000.0."""
    if not _LITERAL.fullmatch(leaf):
        return False
    return "/" in path or (leaf not in ("True", "False", "None") and dvcfile.plain_str(leaf))


_LITERAL = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9_.@+=,%-]+")  # a path leaf YAML writes as it is


def read(store: GitStore, commit: str) -> Pipeline:
    tree = store.commit_tree(commit)
    pipe = Pipeline(commit=commit, tree=tree)
    lock_bytes = _blob(store, tree, "dvc.lock")
    if lock_bytes is not None:
        pipe.lock = _mapping(lock_bytes, "dvc.lock", commit)
        pipe.lock_digest = hashlib.sha256(lock_bytes).hexdigest()
    yaml_bytes = _blob(store, tree, "dvc.yaml")
    if yaml_bytes is not None:
        pipe.dvc_yaml = _mapping(yaml_bytes, "dvc.yaml", commit)
    return pipe


def _blob(store: GitStore, tree: str, path: str) -> bytes | None:
    try:
        return store.read_blob(tree, path, max_bytes=MAX_PIPELINE_FILE)
    except BlobTooLarge as exc:
        raise RegistryRefusal(f"{path} is {exc.size} bytes, too large to read.") from None


def _mapping(data: bytes, path: str, commit: str) -> dict:
    try:
        return dvcfile.load(data, f"{path} at {commit[:10]}", max_bytes=MAX_PIPELINE_FILE)
    except InvalidCard as exc:
        raise RegistryRefusal(exc.message, hint=f"Fix {path} in that commit.") from None


def flatten(value: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of a nested mapping as dotted keys: {'fairness.gap': 0.03}."""
    flat: dict[str, float] = {}
    if isinstance(value, dict):
        for key, sub in value.items():
            flat.update(flatten(sub, f"{prefix}{key}."))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        flat[prefix[:-1]] = value
    return flat


@overload
def dvc_cache_dir(workdir: Path) -> Path: ...
@overload
def dvc_cache_dir(workdir: None) -> None: ...
@overload
def dvc_cache_dir(workdir: Path | None) -> Path | None: ...
def dvc_cache_dir(workdir: Path | None) -> Path | None:
    """The local DVC cache of a work tree, as .dvc/config (and config.local) set it."""
    if workdir is None:
        return None
    cache = workdir / ".dvc" / "cache"
    for name in ("config", "config.local"):
        conf = workdir / ".dvc" / name
        if conf.is_file():
            section = None
            for line in conf.read_text(errors="replace").splitlines():
                line = line.strip()
                if line.startswith("["):
                    section = line.strip("[]").strip().strip("'\"")
                elif section == "cache" and line.replace(" ", "").startswith("dir="):
                    cache = (workdir / ".dvc" / line.split("=", 1)[1].strip()).resolve()
    return cache


def cache_file(cache: Path, md5: str, hash_name: str = "md5") -> Path:
    """Where DVC keeps an object: DVC 3 under files/md5/, DVC 2 (md5-dos2unix) at the top."""
    base = cache / "files" / "md5" if hash_name == "md5" else cache
    return base / md5[:2] / md5[2:]


def flat_params(values: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a params mapping as a dotted key; lists and scalars are leaves.

    dvc.lock records params as whole sections ({train: {epochs: 100}}) or as
    dotted keys ({train.epochs: 100}); both flatten to {'train.epochs': 100}.
    """
    flat: dict[str, Any] = {}
    if isinstance(values, dict):
        for key, sub in values.items():
            flat.update(flat_params(sub, f"{prefix}{key}."))
    elif prefix:
        flat[prefix[:-1]] = values
    return flat


def _small_file(store: GitStore, pipe: Pipeline, path: str, kind: str) -> bytes | None:
    """A metrics or params file at the pipeline's commit (None when not committed),
    refused by its size before it is loaded."""
    try:
        return store.read_blob(pipe.tree, path, max_bytes=MAX_METRICS_FILE)
    except BlobTooLarge as exc:
        raise RegistryRefusal(f"{kind} file {path} is {exc.size} bytes, too large.") from None


def read_metrics(store: GitStore, pipe: Pipeline, path: str) -> dict[str, float]:
    """The numeric values of a metrics file at the pipeline's commit, as dotted keys.

    A committed metrics file is read from Git; one that DVC caches is read from the
    local DVC cache by the md5 that dvc.lock records for it.
    """
    path = norm(path)
    data = _small_file(store, pipe, path, "metrics")
    if data is None:
        data = _from_cache(store, pipe, path)
    if data is None:
        raise RegistryRefusal(
            f"metrics file {path} is neither committed at {pipe.commit[:10]} nor in the DVC cache.",
            hint="Commit the metrics file (cache: false in dvc.yaml) or run 'dvc pull' first.",
        )
    try:
        if path.endswith(".json"):
            value = json.loads(data)
        else:
            value = yamlio.load(data, path, max_bytes=MAX_METRICS_FILE)
    except (ValueError, InvalidCard) as exc:
        raise RegistryRefusal(f"metrics file {path} cannot be parsed: {exc}") from None
    return flatten(value)


def _from_cache(store: GitStore, pipe: Pipeline, path: str) -> bytes | None:
    """A metrics file from the local DVC cache, by the md5 dvc.lock records, hashed before use:
    a cache is a folder anyone can write to, the lock is what the commit says."""
    out = pipe.find_out(path)
    cache = dvc_cache_dir(store.workdir)
    if out is None or cache is None or not out.md5:
        return None
    file = cache_file(cache, out.md5, out.hash)
    try:
        if file.stat().st_size > MAX_METRICS_FILE:
            raise RegistryRefusal(f"metrics file {path} in the DVC cache is too large.")
        data = file.read_bytes()
    except OSError:
        return None
    found = md5_of(data, out.hash)
    if found != out.md5:
        raise RegistryRefusal(
            f"metrics file {path} in the DVC cache ({file}) hashes to md5 {found}, "
            f"dvc.lock at {pipe.commit[:10]} records {out.md5}: the cached copy is not what was run.",
            hint="Remove the damaged cache object and 'dvc pull' it again (or re-run the pipeline).",
        )
    return data


def md5_of(data: bytes, hash_name: str = "md5") -> str:
    """The md5 DVC records for these bytes (DVC 2's md5-dos2unix normalises CRLF in text)."""
    if hash_name != "md5" and b"\x00" not in data[:8192]:  # DVC 2's md5-dos2unix
        data = data.replace(b"\r\n", b"\n")
    return hashlib.md5(data).hexdigest()


def read_params_file(store: GitStore, pipe: Pipeline, path: str) -> dict[str, Any] | None:
    """A params file at the pipeline's commit, flattened to dotted keys; None when absent or
    in a format read here neither (YAML, JSON and TOML are)."""
    path = norm(path)
    data = _small_file(store, pipe, path, "params")
    if data is None:
        return None
    try:
        if path.endswith(".json"):
            value = json.loads(data)
        elif path.endswith(".toml"):
            try:
                import tomllib
            except ImportError:  # Python 3.10
                return None
            value = tomllib.loads(data.decode())
        elif path.endswith((".yaml", ".yml")):
            value = yamlio.load(data, path, max_bytes=MAX_METRICS_FILE)
        else:
            return None
    except (ValueError, InvalidCard) as exc:
        raise RegistryRefusal(f"params file {path} at {pipe.commit[:10]} cannot be parsed: {exc}") from None
    return flat_params(value) if isinstance(value, dict) else None
