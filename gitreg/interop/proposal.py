"""What every import shares: the plan (versions, stages, what could not be mapped), cards marked
imported with their narrative left to fill, and the one proposal branch gitreg-import/SOURCE.

An import plans first and writes nothing until the plan is known to change the registry: a
dry run, a re-run on an imported registry and a re-run while the proposal waits for review all
leave refs and objects as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitreg.check import engine as check
from gitreg.errors import GitregError, RegistryRefusal
from gitreg.lineage import provenance
from gitreg.model import card as cards
from gitreg.model.view import RegistryView
from gitreg.ops.promotion import PROPOSAL_TRAILER
from gitreg.ops.register import model_meta
from gitreg.results import to_data
from gitreg.store import layout, yamlio
from gitreg.store.gitstore import GitStore, Ident

__all__ = [
    "ImportResult",
    "ImportedVersion",
    "Plan",
    "Unmapped",
    "build_card",
    "model_meta",
    "propose",
    "stages_after",
]

# Placeholder narrative: the schema accepts it, the production card schema does not, and
# `imported.pending` lists what people still have to write.
TODO = "TODO: imported from {source}; to be written by the model's owners."
PENDING = ["overview", "license", "intended_use", "considerations"]


@dataclass
class Unmapped:
    """Something of the other registry that the import could not carry over, and why."""

    what: str  # e.g. "churn@v1.2.0", "tag churn#qa#3", "mlflow model 'Fraud' version 3"
    why: str

    def __str__(self) -> str:
        return f"{self.what}: {self.why}"


@dataclass
class ImportedVersion:
    name: str
    version: str
    tag: str
    commit: str
    adopted: bool  # the tag existed already (GTO's); False: the import makes it
    origin: str  # what it was called in the other registry
    card: dict = field(repr=False, default_factory=dict, metadata={"json": None})
    tag_id: str | None = None  # the adopted tag object, or the one made when the branch is created
    tag_message: str = field(default="", metadata={"json": None})

    def to_dict(self) -> dict:
        return to_data(self)


@dataclass
class ImportResult:
    source: str  # gto | mlflow
    state: str  # proposed | dry-run | up-to-date | pending
    branch: str
    versions: list[ImportedVersion] = field(default_factory=list)
    stages: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # model -> stages after
    unmapped: list[Unmapped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    commit: str | None = None
    findings: list[str] = field(default_factory=list)  # what the check says of the proposal

    def to_dict(self) -> dict:
        return to_data(self)


@dataclass
class Plan:
    """What an import would add on top of the registry head."""

    source: str
    head: str
    versions: list[ImportedVersion] = field(default_factory=list)
    stages: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    models: dict[str, dict] = field(default_factory=dict)  # model.yaml of models new to the registry
    unmapped: list[Unmapped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.versions and not self.stages and not self.models


def narrative(source: str, *, overview: str | None, owner: tuple[str, str] | None, labels: list) -> dict:
    text = TODO.format(source=source)
    out: dict[str, Any] = {
        "overview": overview or text,
        "owners": [{"name": owner[0], "contact": owner[1]} if owner and owner[1] else {"name": owner[0]}]
        if owner and owner[0]
        else [{"name": text}],
        "license": text,
        "intended_use": {"primary_uses": [text]},
    }
    if labels:
        out["labels"] = [str(label) for label in labels]
    return out


def build_card(
    store: GitStore,
    name: str,
    version: str,
    commit: str,
    *,
    source: str,
    imported: dict,
    overview: str | None,
    owner: tuple[str, str] | None,
    labels: list,
    ident: Ident,
    artifact: str | None = None,
) -> dict:
    """The card of an imported version: provenance read from COMMIT (as register reads it),
    placeholder narrative, and IMPORTED saying where it came from. Raises GitregError when the
    commit proves no artifact."""
    evidence = provenance.collect(
        store, name, commit, artifact=artifact, metrics_file=None, image=None, ident=ident
    )
    story = narrative(source, overview=overview, owner=owner, labels=labels)
    pending = [k for k in PENDING if k != "overview" or not overview]
    card = cards.build(name, version, story, evidence)
    card["imported"] = {"from": source, **imported, "pending": pending}
    cards.validate(card, source=f"the imported card of {layout.tag_name(name, version)}")
    return card


def stages_after(view: RegistryView, name: str, adds: dict[str, list[str]]) -> dict[str, list[str]] | None:
    """The model's stages with ADDS appended (policy order), or None when nothing changes."""
    before = view.stages(name) if view.has_model(name) else {}
    after = {s: list(vs) for s, vs in before.items()}
    for stage, versions in adds.items():
        into = after.setdefault(stage, [])
        for v in versions:
            if v not in into:
                into.append(v)
    order = list(view.policy.stages) + [s for s in after if s not in view.policy.stages]
    after = {s: after[s] for s in order if after.get(s)}
    return None if after == before else after


def commit_plan(store: GitStore, plan: Plan, ident: Ident, tag_ids: dict[str, str]) -> str:
    """One commit on top of the registry head holding every card, tag record, model and stages."""
    view = RegistryView(store, store.commit_tree(plan.head), plan.head)
    changes: dict[str, bytes | None] = {}
    for v in plan.versions:
        changes[layout.card_path(v.name, v.version)] = yamlio.dump(v.card).encode()
        record = {"tag": v.tag, "object": tag_ids[v.tag]}
        changes[layout.tag_record_path(v.name, v.version)] = yamlio.dump(record).encode()
    for name, meta in plan.models.items():
        changes[layout.model_path(name)] = yamlio.dump(meta).encode()
    for name, stages in plan.stages.items():
        changes[layout.stages_path(name)] = yamlio.dump(stages).encode()
    tree = store.write_tree(view.tree, changes)
    lines = [f"- {v.name}@{v.version} <- {v.origin}" for v in plan.versions]
    lines += [f"- {name}: {stages}" for name, stages in plan.stages.items()]
    message = (
        f"Import {len(plan.versions)} version(s) from {plan.source}\n\n"
        + "".join(f"{line}\n" for line in lines)
        + f"\n{PROPOSAL_TRAILER}: import {plan.source}\n"
    )
    return store.write_commit(tree, [plan.head], message, ident)


def propose(store: GitStore, plan: Plan, ident: Ident, *, dry_run: bool) -> ImportResult:
    """Write the plan as the proposal branch gitreg-import/SOURCE (with the tags it makes), and
    report what the check says of it. Writes nothing when dry, empty, or while an earlier
    import proposal waits for review."""
    branch = layout.import_proposal_branch(plan.source)
    result = ImportResult(
        plan.source, "dry-run", branch, plan.versions, plan.stages, plan.unmapped, plan.notes
    )
    ref = layout.branch_ref(branch)
    old = store.ref_target(ref)
    if old is not None and not store.is_ancestor(old, plan.head):
        result.state, result.commit = "pending", old
        result.notes.append(
            f"{branch} waits for review: merge it (gitreg merge {branch}) or delete it, then import again."
        )
        return result
    if plan.empty:
        result.state = "up-to-date"
        return result
    if dry_run:
        return result
    for v in plan.versions:
        if v.tag_id is None:  # made now, not adopted: it names its origin, carries no digest
            v.tag_id = store.make_tag(v.tag, v.commit, v.tag_message, sign=_sign(store, plan), ident=ident)
            v.card["imported"]["object"] = v.tag_id  # the card names its tag object, as for GTO's
    tag_ids = {v.tag: v.tag_id for v in plan.versions if v.tag_id}
    commit = commit_plan(store, plan, ident, tag_ids)
    refs = {layout.tag_ref(v.name, v.version): v.tag_id for v in plan.versions if not v.adopted}
    report = check.run(store, plan.head, commit, options=check.CheckOptions(refs=refs))
    try:
        store.update_refs(
            [(ref, commit, old), *((r, oid, None) for r, oid in refs.items())],
            f"gitreg: import {plan.source}",
        )
    except GitregError as exc:
        raise RegistryRefusal(
            f"could not create {branch}: {exc.message}",
            hint="Nothing was written. Run the import again.",
        ) from None
    result.state, result.commit = "proposed", commit
    result.findings = [f"[{f.rule}] {f.file}: {f.message}" for f in report.findings]
    return result


def _sign(store: GitStore, plan: Plan) -> bool:
    view = RegistryView(store, store.commit_tree(plan.head), plan.head)
    return view.policy.signing_required or store.config_bool("tag.gpgSign")
