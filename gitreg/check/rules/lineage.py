"""Lineage rules: what a new card claims about where its model came from must be what its
source commit holds. No typed-in numbers, no borrowed hashes.

Only the cards a change adds are judged (a merged card is immutable, another rule's job),
so the cost follows the change. Everything is read from Git objects at the source commit
(dvc.lock, dvc.yaml, params and metrics files); metrics that DVC caches instead of
committing are read from the local DVC cache by the md5 dvc.lock records.

When the rules apply, by the base's policy (`lineage.dvc`):
- `required`: every new card must come from a DVC pipeline (a dvc.lock at its source
  commit), and all of it is checked;
- `optional`: every claim a card makes is still checked: cards with a pipeline get the
  full DVC checks, cards without one (an artifact committed to Git) have their artifact
  md5 checked against the Git blob and their metrics against the metrics files. A claim
  is checked whenever it is made; the policy only decides whether a pipeline must exist.
- `check --remote` (options.remote): every object the version needs (model, data deps,
  each file inside directory outs, from the .dir listing) must exist in the DVC remote,
  asked through DVC's own API. DVC is imported for that option only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from gitreg.check.change import Change, Finding
from gitreg.errors import GitregError, RegistryRefusal
from gitreg.lineage import pipeline, provenance
from gitreg.lineage import trace as lineage
from gitreg.lineage.pipeline import Out, Pipeline
from gitreg.store import layout

FETCH_FIX = "Fetch the source commit (git fetch; in CI check out with full history, fetch-depth: 0)."
REREGISTER = "Register again from the source commit: 'gitreg register' writes provenance itself."


@dataclass
class Subject:
    """One new card, with what its source commit holds."""

    name: str
    version: str
    card: dict
    commit: str | None
    pipe: Pipeline | None = None
    problem: str | None = None  # why the source commit could not be read
    _metrics: dict[str, Any] = field(default_factory=dict)
    _stages: list[str] | None = None

    @property
    def file(self) -> str:
        return layout.card_path(self.name, self.version)

    @property
    def prov(self) -> dict:
        return lineage.provenance_of(self.card)

    @property
    def claims_pipeline(self) -> bool:
        return isinstance(self.prov.get("pipeline"), dict)

    @property
    def stage(self) -> str | None:
        spec = self.prov.get("pipeline")
        return str(spec["stage"]) if isinstance(spec, dict) and spec.get("stage") else None

    def source(self) -> Pipeline:
        """What the source commit holds (pipe.commit is the source commit).

        Only for a subject without a problem: subjects() reads the pipeline whenever it
        records no problem.
        """
        if self.pipe is None:
            raise AssertionError(f"{self.name}@{self.version}: no pipeline was read ({self.problem})")
        return self.pipe

    def finding(self, rule_name: str, message: str, fix: str = REREGISTER) -> Finding:
        return Finding(
            rule_name, self.file, f"{self.name}@{self.version}: {message}", fix, self.name, self.version
        )

    def card_stages(self) -> list[str]:
        """The stages the card speaks for (its artifact's and its metrics', and what they depend
        on), looked up once for every rule that asks."""
        if self._stages is None:
            self._stages = lineage.version_stages(self.source(), self.card)
        return self._stages

    def metrics(self, store, path: str) -> dict[str, float] | str:
        """The metrics file's values (dotted keys), or why it cannot be read."""
        if path not in self._metrics:
            try:
                self._metrics[path] = pipeline.read_metrics(store, self.source(), path)
            except RegistryRefusal as exc:
                self._metrics[path] = exc.message
        return self._metrics[path]


def subjects(change: Change) -> list[Subject]:
    """The new cards of the change, read once and shared by every lineage rule."""
    cached = change.__dict__.get("_lineage_subjects")
    if cached is not None:
        return cached
    found = []
    for name, version in change.new_versions:
        try:
            card = change.head.card(name, version)
        except (RegistryRefusal, GitregError):
            continue  # an unreadable card is the schema rule's finding
        if not isinstance(card.get("provenance"), dict):
            continue
        subject = Subject(name, version, card, lineage.source_commit(card))
        if not subject.commit or not change.store.has_object(subject.commit):
            subject.problem = f"its source commit {subject.commit} is not in this repository"
        else:
            try:
                subject.pipe = pipeline.read(change.store, subject.commit)
            except RegistryRefusal as exc:
                subject.problem = exc.message
        found.append(subject)
    change.__dict__["_lineage_subjects"] = found
    return found


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _few(names: list[str], limit: int = 10) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return (", ".join(names[:limit]) or "none") + more


def _at(s: Subject) -> str:
    return f"at {str(s.commit)[:10]}"


def pipeline_rule(change: Change) -> Iterator[Finding]:
    required = change.policy.dvc_required
    for s in subjects(change):
        if s.problem:
            yield s.finding("lineage.pipeline", f"cannot verify its lineage: {s.problem}.", FETCH_FIX)
            continue
        pipe = s.source()
        tree = (s.prov.get("source") or {}).get("tree")
        if tree and tree != change.store.commit_tree(pipe.commit):
            yield s.finding(
                "lineage.pipeline",
                f"source.tree: the card claims {tree}, commit "
                f"{pipe.commit[:10]} has tree {change.store.commit_tree(pipe.commit)}.",
            )
        if not s.claims_pipeline:
            if required:
                yield s.finding(
                    "lineage.pipeline",
                    "the policy requires DVC lineage (lineage.dvc: "
                    "required), and the card records no pipeline.",
                    "Track the model with a DVC pipeline, commit dvc.lock, register again.",
                )
            continue
        spec = s.prov["pipeline"]
        if not pipe.has_dvc:
            yield s.finding(
                "lineage.pipeline", f"the card records a DVC pipeline, but there is no dvc.lock {_at(s)}."
            )
            continue
        if spec.get("lock_digest") != pipe.lock_digest:
            yield s.finding(
                "lineage.pipeline",
                f"pipeline.lock_digest: the card claims "
                f"{spec.get('lock_digest')}, dvc.lock {_at(s)} has sha256 {pipe.lock_digest}.",
            )
        if not s.stage or s.stage not in pipe.stages:
            yield s.finding(
                "lineage.pipeline",
                f"pipeline.stage: the card claims {s.stage!r}, which is "
                f"no stage of dvc.lock {_at(s)} ({_few(list(pipe.stages))}).",
            )
            continue
        found = pipe.upstream(s.stage)
        if list(spec.get("stages") or []) != found:
            yield s.finding(
                "lineage.pipeline",
                f"pipeline.stages: the card claims {spec.get('stages')}, dvc.lock {_at(s)} gives {found}.",
            )


def artifact_rule(change: Change) -> Iterator[Finding]:
    for s in subjects(change):
        art = s.prov.get("artifact")
        if s.problem or not isinstance(art, dict) or not art.get("path"):
            continue
        path = pipeline.norm(str(art["path"]))
        if not s.claims_pipeline:
            yield from _git_artifact(change, s, art, path)
            continue
        pipe = s.source()
        if not pipe.has_dvc:
            continue
        out = pipe.find_out(path)
        if out is None:
            outs = pipe.outs_named()
            yield s.finding(
                "lineage.artifact", f"artifact {path} is no out of dvc.lock {_at(s)} (outs: {outs})."
            )
            continue
        yield from _compare_entry(s, "lineage.artifact", "artifact", art, out, "dvc.lock")
        try:
            pointer = provenance.lfs_pointer(change.store, pipe, path)
        except RegistryRefusal as exc:
            yield s.finding("lineage.artifact", exc.message, exc.hint or REREGISTER)
            pointer = None
        yield from _compare_lfs(s, art, pointer)
        if art.get("stage") is not None and art.get("stage") != out.stage:
            yield s.finding(
                "lineage.artifact",
                f"artifact {path}: the card claims stage "
                f"{art.get('stage')!r}, dvc.lock {_at(s)} has it made by {out.stage!r}.",
            )


def _git_artifact(change: Change, s: Subject, art: dict, path: str) -> Iterator[Finding]:
    try:
        found = provenance.git_artifact(change.store, s.source(), path)
    except RegistryRefusal as exc:
        yield s.finding("lineage.artifact", f"{exc.message} ({_at(s)})", exc.hint or REREGISTER)
        return
    yield from _compare_lfs(s, art, found.lfs)
    if found.md5:
        yield from _compare_entry(s, "lineage.artifact", "artifact", art, found, "the file in Git")
    elif art.get("md5"):
        yield s.finding(
            "lineage.artifact",
            f"artifact {path}: the card claims md5 {art['md5']}, but Git holds only a Git LFS pointer "
            f"{_at(s)}: an md5 of the model was never proven.",
        )


def _compare_lfs(s: Subject, art: dict, pointer: dict | None) -> Iterator[Finding]:
    """The card's Git LFS pointer (oid, size) against the pointer committed at the artifact's path."""
    claimed = art.get("lfs") if isinstance(art.get("lfs"), dict) else None
    path = art.get("path")
    if pointer is None and claimed is not None:
        yield s.finding(
            "lineage.artifact",
            f"artifact {path}: the card claims Git LFS object {claimed.get('oid')}, and there is no "
            f"Git LFS pointer at that path {_at(s)}.",
        )
    elif pointer is not None and claimed is None:
        yield s.finding(
            "lineage.artifact",
            f"artifact {path}: Git LFS holds it {_at(s)} (object {pointer['oid']}), and the card "
            "records no lfs pointer.",
        )
    elif pointer is not None and claimed is not None:
        for key in ("oid", "size"):
            if claimed.get(key) != pointer[key]:
                yield s.finding(
                    "lineage.artifact",
                    f"artifact {path}: the card claims Git LFS {key} {claimed.get(key)}, the pointer "
                    f"{_at(s)} has {pointer[key]}.",
                )


def _compare_entry(
    s: Subject, rule_name: str, what: str, claimed: dict, found: Out, source: str
) -> Iterator[Finding]:
    """md5, hash kind, size and file count of a card entry against dvc.lock (or Git)."""
    path = found.path
    if claimed.get("md5") != found.md5:
        yield s.finding(
            rule_name,
            f"{what} {path}: the card claims md5 {claimed.get('md5')}, {source} {_at(s)} has {found.md5}.",
        )
    hash_kind = claimed.get("hash")
    if hash_kind is not None and hash_kind != found.hash:
        yield s.finding(
            rule_name,
            f"{what} {path}: the card claims hash {hash_kind!r}, {source} "
            f"{_at(s)} has {found.hash!r}" + (" (a DVC 2 entry)" if found.hash != "md5" else "") + ".",
        )
    for key in ("size", "nfiles"):
        value = getattr(found, key)
        if claimed.get(key) is not None and value is not None and claimed[key] != value:
            yield s.finding(
                rule_name,
                f"{what} {path}: the card claims {key} {claimed[key]}, {source} {_at(s)} has {value}.",
            )


def data_rule(change: Change) -> Iterator[Finding]:
    for s in subjects(change):
        if s.problem or not s.claims_pipeline:
            continue
        pipe = s.source()
        if not pipe.has_dvc or not s.stage or s.stage not in pipe.stages:
            continue
        stages = pipe.upstream(s.stage)
        claimed = [d for d in s.prov.get("data") or [] if isinstance(d, dict) and d.get("path")]
        for entry in claimed:
            path = pipeline.norm(str(entry["path"]))
            dep = pipe.find_dep(path)
            if dep is None:
                yield s.finding(
                    "lineage.data",
                    f"data {path}: the card claims it as a dependency, "
                    f"but no stage of dvc.lock {_at(s)} depends on it.",
                )
                continue
            yield from _compare_entry(s, "lineage.data", "data", entry, dep, "dvc.lock")
        listed = {pipeline.norm(str(d["path"])) for d in claimed}
        for dep in provenance.data_deps(change.store, pipe, stages):
            if dep.path not in listed:
                yield s.finding(
                    "lineage.data",
                    f"data {dep.path} (md5 {dep.md5}): stage {dep.stage!r} "
                    f"depends on it in dvc.lock {_at(s)}, and the card leaves it out.",
                )


def params_rule(change: Change) -> Iterator[Finding]:
    for s in subjects(change):
        if s.problem or not s.claims_pipeline:
            continue
        pipe = s.source()
        if not pipe.has_dvc or not s.stage or s.stage not in pipe.stages:
            continue
        locked = pipe.params(pipe.upstream(s.stage))
        claimed = s.prov.get("params")
        if not isinstance(claimed, dict):
            claimed = {}
        for file in sorted(set(claimed) | set(locked)):
            yield from _params_file(
                change,
                s,
                file,
                pipeline.flat_params(claimed.get(file) or {}),
                pipeline.flat_params(locked.get(file) or {}),
            )


def _params_file(change: Change, s: Subject, file: str, claimed: dict, locked: dict) -> Iterator[Finding]:
    try:
        in_file = pipeline.read_params_file(change.store, s.source(), file)
    except RegistryRefusal as exc:
        in_file = None
        yield s.finding("lineage.params", f"params: {exc.message}", "Fix the params file in that commit.")
    for key, value in claimed.items():
        if key not in locked:
            yield s.finding(
                "lineage.params",
                f"params {file} {key}: the card claims {value!r}, "
                f"dvc.lock {_at(s)} records no such param for the model's stages.",
            )
        elif not _same(value, locked[key]):
            yield s.finding(
                "lineage.params",
                f"params {file} {key}: the card claims {value!r}, dvc.lock {_at(s)} has {locked[key]!r}.",
            )
        elif in_file is not None and key in in_file and not _same(in_file[key], value):
            yield s.finding(
                "lineage.params",
                f"params {file} {key}: the card and dvc.lock say "
                f"{value!r}, {file} {_at(s)} holds {in_file[key]!r}: dvc.lock is stale.",
                "Run 'dvc repro', commit dvc.lock, and register that commit.",
            )
    for key, value in locked.items():
        if key not in claimed:
            yield s.finding(
                "lineage.params",
                f"params {file} {key} = {value!r} is in dvc.lock {_at(s)}, and the card leaves it out.",
            )


def metrics_rule(change: Change) -> Iterator[Finding]:
    for s in subjects(change):
        if s.problem or s.pipe is None:
            continue
        for metric in lineage.metrics_of(s.card):
            source = metric["source"]
            if not isinstance(source, dict) or not source.get("file") or not source.get("key"):
                yield s.finding(
                    "lineage.metrics",
                    f"metric {metric['key']} = {metric['value']} has no "
                    "source (file and key): a typed-in number cannot be verified.",
                    "Leave metric values to register, which reads them from metrics files.",
                )
                continue
            file = pipeline.norm(str(source["file"]))
            values = s.metrics(change.store, file)
            if isinstance(values, str):
                yield s.finding(
                    "lineage.metrics",
                    f"metric {metric['key']}: {values}",
                    "Commit the metrics file (cache: false) or 'dvc pull' it before the check.",
                )
            elif source["key"] not in values:
                yield s.finding(
                    "lineage.metrics",
                    f"metric {metric['key']}: the card claims "
                    f"{metric['value']} from {file} key {source['key']!r}, which {file} "
                    f"{_at(s)} does not hold.",
                )
            elif not _same(metric["value"], values[source["key"]]):
                yield s.finding(
                    "lineage.metrics",
                    f"metric {metric['key']}: the card claims "
                    f"{metric['value']}, {file} {_at(s)} holds {values[source['key']]}.",
                )


def remote_rule(change: Change) -> Iterator[Finding]:
    if not change.options.remote:
        return
    todo = [s for s in subjects(change) if not s.problem and s.claims_pipeline]
    if not todo:
        return
    from gitreg.lineage.dvcstore import Storage, objects_of

    storage = Storage(change.store.workdir)
    try:
        for s in todo:
            wanted = objects_of([s.prov.get("artifact"), *(s.prov.get("data") or [])])
            dirs = {o.path: o for o in wanted if o.is_dir}
            for obj in storage.missing_from_remote(wanted):
                inside = next((d for p, d in dirs.items() if obj.path.startswith(p + "/")), None)
                what = (
                    f"file {obj.describe()} inside directory out {inside.path}" if inside else obj.describe()
                )
                yield s.finding(
                    "lineage.remote",
                    f"{what} is not in the {storage.remote_label}.",
                    "Push it: dvc push (from a machine whose cache has it).",
                )
    finally:
        storage.close()
