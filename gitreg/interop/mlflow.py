"""`gitreg import mlflow`: an MLflow Model Registry as one proposal, read through MLflow's own
client (the optional extra `mlflow`).

Each registered model becomes a model (its name lower-cased, other characters made '-'), each
version N becomes version N.0.0 whose source commit is its run's `mlflow.source.git.commit`
tag. The card's provenance is read from that commit, as `register` reads it: the artifact is
the path dvc.yaml's `artifacts:` gives the model there (or a DVC out of that path), because a
registry of proven artifacts cannot take MLflow's word for bytes it cannot read from Git.
What MLflow says and Git cannot prove (description, tags, aliases, stage, the run's params
and metrics, the model's source URI) is kept in the card under `imported.mlflow`.

Aliases and legacy stages become stages where the policy has a stage of that name
(case-insensitive); versions in MLflow's `Archived` stage go to `archived`. What cannot be
mapped is reported: a version without a run, whose run is deleted, without a commit, whose
commit this repository lacks, or whose commit proves no artifact; an alias or stage the policy
lacks; a name two models share once normalised.
"""

from __future__ import annotations

import re
from typing import Any

from gitreg.errors import ForeignRegistryError, GitregError, MissingExtra, UsageError
from gitreg.interop.proposal import (
    ImportedVersion,
    ImportResult,
    Plan,
    Unmapped,
    build_card,
    model_meta,
    propose,
    stages_after,
)
from gitreg.model.branch import RegistryBranch
from gitreg.model.view import RegistryView
from gitreg.ops.promotion import ARCHIVE_STAGE
from gitreg.ops.register import adoptable
from gitreg.ops.repair import before_write
from gitreg.store import layout
from gitreg.store.gitstore import GitStore, Ident

SOURCE = "mlflow"
COMMIT_TAG = "mlflow.source.git.commit"
_NO_STAGE = ("", "none")


def client(tracking_uri: str) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise MissingExtra(
            "importing from MLflow needs MLflow's client, which is not installed.",
            hint="Install the extra: pip install 'gitreg-ml[mlflow]'",
        ) from None
    try:
        return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    except Exception as exc:  # MLflow raises its own and its backends' errors
        raise _unreadable(exc) from None


def _unreadable(exc: Exception) -> ForeignRegistryError:
    return ForeignRegistryError(
        f"cannot read the MLflow registry at the given tracking URI: {type(exc).__name__}: {exc}",
        hint="Check --tracking-uri (e.g. sqlite:///mlflow.db or http://host:5000).",
    )


def model_name(mlflow_name: str) -> str | None:
    """MLflow's name as a gitreg model name ('Fraud Detector' -> 'fraud-detector'), or None."""
    name = re.sub(r"[^a-z0-9._-]+", "-", mlflow_name.lower()).strip("-._")
    name = re.sub(r"\.{2,}", ".", name)[: layout.MAX_NAME_LENGTH].rstrip("-.")
    try:
        return layout.check_name(name)
    except UsageError:
        return None


def import_registry(
    reg: RegistryBranch, tracking_uri: str, only: list[str], *, dry_run: bool = False
) -> ImportResult:
    before_write(reg)  # finish what a crash left half-done before proposing on top of it
    head = reg.require_head()
    found = plan(reg.store, head, tracking_uri, only)
    return propose(reg.store, found, reg.store.ident(), dry_run=dry_run)


def plan(store: GitStore, head: str, tracking_uri: str, only: list[str]) -> Plan:
    mlflow = client(tracking_uri)
    view = RegistryView(store, store.commit_tree(head), head)
    result = Plan(SOURCE, head)
    try:
        models = list(_all(mlflow.search_registered_models))
    except Exception as exc:  # MLflow raises its own and its backends' errors
        raise _unreadable(exc) from None
    wanted = set(only)
    missing = wanted - {m.name for m in models}
    for absent in sorted(missing):
        result.unmapped.append(Unmapped(f"mlflow model {absent!r}", "the MLflow registry has no such model"))
    taken: dict[str, str] = {}
    for model in sorted(models, key=lambda m: m.name):
        if wanted and model.name not in wanted:
            continue
        name = model_name(model.name)
        if name is None or name in taken:
            why = (
                f"its name maps to {name!r}, which {taken[name]!r} took"
                if name
                else "its name has nothing a gitreg model name can hold"
            )
            result.unmapped.append(Unmapped(f"mlflow model {model.name!r}", why))
            continue
        taken[name] = model.name
        if name != model.name:
            result.notes.append(f"mlflow model {model.name!r} is gitreg model {name!r}")
        _plan_model(store, view, mlflow, model, name, result)
    return result


def _all(search) -> Any:
    token = None
    while True:
        page = search(max_results=100, page_token=token)
        yield from page
        token = getattr(page, "token", None)
        if not token:
            return


def _plan_model(
    store: GitStore, view: RegistryView, mlflow: Any, model: Any, name: str, result: Plan
) -> None:
    aliases: dict[str, list[str]] = {}
    for alias, number in (getattr(model, "aliases", None) or {}).items():
        aliases.setdefault(str(number), []).append(alias)
    versions = sorted(
        _all(lambda **kw: mlflow.search_model_versions(f"name = '{_quote(model.name)}'", **kw)),
        key=lambda v: int(v.version),
    )
    adds: dict[str, list[str]] = {}
    for mv in versions:
        version = f"{int(mv.version)}.0.0"
        what = f"mlflow {model.name!r} version {mv.version}"
        if view.has_model(name) and view.has_version(name, version):
            continue
        stages = _stages(view, mv, aliases.get(str(mv.version), []), what, result)
        imported = _version(store, mlflow, model, mv, name, version, what, result)
        if imported is None:
            continue
        result.versions.append(imported)
        if not view.has_model(name) and name not in result.models:
            result.models[name] = model_meta(name, imported.card)
        for stage in stages:
            adds.setdefault(stage, []).append(version)
    after = stages_after(view, name, adds) if adds else None
    if after is not None:
        result.stages[name] = after


def _stages(view: RegistryView, mv: Any, aliases: list[str], what: str, result: Plan) -> list[str]:
    """The policy's stages that MLflow's stage and aliases name for this version."""
    policy = view.policy.stages
    out = []
    legacy = str(getattr(mv, "current_stage", "") or "")
    names = ([legacy] if legacy.lower() not in _NO_STAGE else []) + aliases
    for label in names:
        stage = label.lower()
        if stage in policy:
            if stage not in out:
                out.append(stage)
        else:
            kind = "stage" if label == legacy else "alias"
            result.unmapped.append(Unmapped(f"{what} {kind} {label!r}", "the policy has no such stage"))
    if ARCHIVE_STAGE in out and len(out) > 1:
        out.remove(ARCHIVE_STAGE)  # an alias still points at it: it is served, not archived
    return out


def _version(
    store: GitStore, mlflow: Any, model: Any, mv: Any, name: str, version: str, what: str, result: Plan
) -> ImportedVersion | None:
    def skip(why: str) -> ImportedVersion | None:
        result.unmapped.append(Unmapped(what, why))
        return None

    if str(getattr(mv, "status", "READY")) != "READY":
        return skip(f"its status is {mv.status}, not READY")
    if not mv.run_id:
        return skip("it has no run, so no source commit")
    try:
        run = mlflow.get_run(mv.run_id)
    except Exception:
        return skip(f"its run {mv.run_id} is gone (deleted for good)")
    if run.info.lifecycle_stage == "deleted":
        return skip(f"its run {mv.run_id} is deleted")
    run_tags = dict(run.data.tags)
    commit = run_tags.get(COMMIT_TAG) or (mv.tags or {}).get(COMMIT_TAG)
    if not commit:
        return skip(f"its run has no {COMMIT_TAG} tag: no source commit")
    if not re.fullmatch(r"[0-9a-f]{40}", str(commit)) or not store.has_object(commit):
        return skip(f"its commit {str(commit)[:12]} is not in this repository (fetch it first)")
    try:
        commit = store.resolve_commit(commit)
    except GitregError:
        return skip(f"{str(commit)[:12]} is not a commit")
    facts = {
        "model": model.name,
        "version": str(mv.version),
        "source": mv.source,
        "run_id": mv.run_id,
        "stage": getattr(mv, "current_stage", None),
        "aliases": sorted(
            a for a, n in (getattr(model, "aliases", None) or {}).items() if str(n) == str(mv.version)
        ),
        "description": mv.description or None,
        "tags": dict(mv.tags or {}),
        "model_tags": dict(getattr(model, "tags", None) or {}),
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
    }
    facts = {k: v for k, v in facts.items() if v not in (None, {}, [])}
    tag = layout.tag_name(name, version)
    existing = store.ref_target(layout.tag_ref(name, version))
    adopted = adoptable(store, name, version, commit) if existing else None
    if existing and adopted is None:
        return skip(f"the tag {tag} exists already on another commit or binds another card")
    user = str(getattr(run.info, "user_id", "") or "")
    when = int(getattr(mv, "creation_timestamp", 0) or 0) // 1000
    imported: dict[str, Any] = {"tag": tag, "mlflow": facts}
    try:
        card = build_card(
            store,
            name,
            version,
            commit,
            source=SOURCE,
            imported=imported,
            overview=mv.description or getattr(model, "description", None) or None,
            owner=(user, "") if user else None,
            labels=[],
            ident=Ident(user or "mlflow", "", when, 0),
        )
    except GitregError as exc:
        return skip(exc.message)
    message = (
        f"Import {tag} from MLflow: model {model.name!r} version {mv.version}, run {mv.run_id}\n\n"
        "Made by gitreg import mlflow; the card (imported.tag) names this tag, the reviewed merge binds it.\n"
    )
    imported_version = ImportedVersion(
        name,
        version,
        tag,
        commit,
        adopted is not None,
        f"{model.name} v{mv.version}",
        card,
        tag_id=adopted.id if adopted else None,
        tag_message=message,
    )
    return imported_version


def _quote(name: str) -> str:
    return name.replace("'", "\\'")
