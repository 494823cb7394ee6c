"""Repair: finish what a crash left half-done, for the whole registry, idempotently.

A registration is written in this order (registry.py):

    1. every object: card blobs, trees, the registry commit, the tag object
    2. refs/gitreg/pending/NAME@vVER/TAG-ID -> the tag object   (nothing can gc it from here on)
    3. one transaction: the registry branch (or the proposal branch), the tag ref, then the
       pending ref deleted; git commits these one rename at a time

so a crash leaves one of: nothing but a pending ref (the registration never happened), a card whose
tag ref is missing (its object held by the pending ref or recorded in the card's .tag file), or a
leftover pending ref. Repair, run by every write command first:

- creates every missing tag ref whose card is on the registry branch or a registration proposal
  branch, from the object the registry recorded;
- drops pending refs whose work is done, or whose registration never happened (only when no other
  git or gitreg process works in this repository: it may be that process's registration);
- removes lock files no live git process holds (a killed git leaves them, and every later write of
  that ref fails on them);
- reports, without touching it, what only a person can decide: a card whose tag object is gone,
  a tag that differs from the recorded one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Container
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from gitreg.errors import ConcurrentUpdate, GitregError, InconsistentRegistry
from gitreg.model.view import RegistryView
from gitreg.store import cache, layout, locks

if TYPE_CHECKING:
    from gitreg.model.branch import RegistryBranch
    from gitreg.store.gitstore import GitStore


_REGISTER_PROPOSALS = "refs/heads/gitreg-register/"


@dataclass
class RepairReport:
    tags_made: list[str] = field(default_factory=list)  # registration tag refs created
    pending_done: list[str] = field(default_factory=list)  # pending refs whose tag had landed
    pending_dropped: list[str] = field(default_factory=list)  # registrations that never happened
    locks_removed: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # what a person must decide (doctor explains)

    @property
    def changed(self) -> bool:
        return bool(self.tags_made or self.pending_done or self.pending_dropped or self.locks_removed)

    def to_dict(self) -> dict:
        return {**asdict(self), "changed": self.changed}


@dataclass(frozen=True)
class Missing:
    """A card whose registration tag ref is absent."""

    name: str
    version: str
    where: str  # the branch holding the card
    recorded: str | None  # the tag object id the registry recorded

    @property
    def tag(self) -> str:
        return layout.tag_name(self.name, self.version)


def repair(reg: RegistryBranch, *, lock_age: float = 0.0) -> RepairReport:
    """Finish what crashes left half-done, in the whole registry; idempotent."""
    return repair_store(reg.store, reg.branch_ref, lock_age=lock_age)


def repair_store(
    store: GitStore, branch_ref: str, *, lock_age: float = 0.0, models: Collection[str] | None = None
) -> RepairReport:
    """Repair the whole registry, or with MODELS only what a crash can have left (pending refs,
    registration proposals, locks) and the cards of MODELS: then the cost follows those, not
    the number of cards and tags (250,000 each at 10,000 models)."""
    report = RepairReport()
    _remove_stale_locks(store, report, lock_age)
    pending = store.refs(layout.PENDING_PREFIX)  # by prefix: git reads only that part of the refs
    proposals = sorted(store.refs(_REGISTER_PROPOSALS))
    head = store.ref_target(branch_ref)
    if models is not None:
        # Each pending ref names the registration it holds: its card is checked too.
        named = [p for ref in pending if (p := layout.parse_pending_ref(ref))]
        tags = _TagRefs(store)
        for missing in missing_tags(store, head, tags, proposals, models=models, versions=named):
            _restore(store, missing, report)
        if pending:
            _settle_pending(store, head, pending, report)
        return report
    all_tags = store.ref_names("refs/tags/")
    # A registry whose cards and tags were found whole stays whole until one of them changes:
    # the verdict is cached by the models tree's id and the tag names.
    key = None
    if head is not None and not pending and not proposals:
        models_id = store.entry_id(store.commit_tree(head), layout.MODELS_DIR)
        digest = hashlib.sha256("\n".join(sorted(all_tags)).encode()).hexdigest()[:24]
        key = f"{models_id}-{digest}"
        if cache.has(store.common_dir, "whole", key):
            return report
    for missing in missing_tags(store, head, set(all_tags), proposals):
        _restore(store, missing, report)
    if pending:
        _settle_pending(store, head, pending, report)
    if key is not None and not report.left and not report.tags_made:
        cache.add(store.common_dir, "whole", key)
    return report


def before_write(reg: RegistryBranch, models: Collection[str] | None = None) -> RepairReport:
    """Repair, then refuse to build on a registry that repair could not make whole.

    MODELS: the models the write builds on (None: the whole registry). A crash always leaves a
    pending ref or a registration proposal behind, and those are always settled; a tag deleted
    by hand is found when a write touches its model, and by `gitreg repair` and `doctor`."""
    report = repair_store(reg.store, reg.branch_ref, models=models)
    if report.left:
        raise InconsistentRegistry(
            "the registry is inconsistent, and a write would build on it:",
            details=report.left,
            hint="Run 'gitreg doctor' to see every defect and what 'gitreg doctor --fix' will do; "
            "a lost tag object comes back with 'gitreg sync' (or a fetch) from a clone that has it. "
            "Nothing was written.",
        )
    return report


def changed_models(store: GitStore, old: str | None, head: str | None) -> list[str] | None:
    """The models whose files differ between commits OLD and HEAD of the registry branch; None
    when OLD is unknown or not behind HEAD (then everything counts as changed)."""
    if old is None or head is None or not store.has_object(old) or not store.is_ancestor(old, head):
        return None
    prefix = layout.MODELS_DIR + "/"
    changed = store.changed_paths(store.commit_tree(old), store.commit_tree(head))
    return sorted({p[len(prefix) :].split("/", 1)[0] for _, p in changed if p.startswith(prefix)})


class _TagRefs:
    """Whether a tag ref exists, looked up one at a time (libgit2 searches the sorted
    packed-refs): for a few cards, far cheaper than listing every tag."""

    def __init__(self, store: GitStore):
        self.store = store

    def __contains__(self, ref: object) -> bool:
        return isinstance(ref, str) and self.store.ref_target(ref) is not None


def missing_tags(
    store: GitStore,
    head: str | None,
    tags: Container[str],
    proposals: list[str] | None = None,
    *,
    models: Collection[str] | None = None,
    versions: Collection[tuple[str, str]] = (),
) -> list[Missing]:
    """Cards (registry branch, then registration proposals) whose tag ref does not exist.

    MODELS: look only at these models' cards (None: every model), and at VERSIONS ((name,
    version) pairs). Cost: one tree listing per model looked at and one tag lookup per card;
    only a missing tag's record is read.
    """
    found: list[Missing] = []
    if head is not None:
        view = RegistryView(store, store.commit_tree(head), head)
        if models is None:
            listing = store.list_dir(view.tree, layout.MODELS_DIR)
            subtrees = [(n, oid) for n, oid, is_tree in listing if is_tree]
        else:
            subtrees = [(n, oid) for n in sorted(set(models)) if (oid := view.model_tree(n)) is not None]
        looked = {n for n, _ in subtrees}
        for name, subtree in subtrees:
            for entry in store.file_names(subtree, layout.VERSIONS_DIR):
                version = entry[:-5] if entry.endswith(".yaml") else None
                if version and layout.tag_ref(name, version) not in tags and layout.Version.is_valid(version):
                    found.append(Missing(name, version, "the registry branch", _record(view, name, version)))
        for name, version in sorted(set(versions)):
            if name in looked or not view.has_version(name, version):
                continue
            if layout.tag_ref(name, version) not in tags:
                found.append(Missing(name, version, "the registry branch", _record(view, name, version)))
    if proposals is None:
        proposals = store.ref_names(_REGISTER_PROPOSALS)
    for ref in proposals:
        parsed = layout.parse_proposal_branch(ref[len("refs/heads/") :])
        tip = store.ref_target(ref)
        if parsed is None or tip is None or layout.tag_ref(parsed[0], parsed[1]) in tags:
            continue
        view = RegistryView(store, store.commit_tree(tip), tip)
        if view.has_version(parsed[0], parsed[1]) and not any(
            (m.name, m.version) == parsed[:2] for m in found
        ):
            found.append(Missing(parsed[0], parsed[1], ref, _record(view, parsed[0], parsed[1])))
    return found


def _record(view: RegistryView, name: str, version: str) -> str | None:
    try:
        return view.tag_record(name, version)
    except GitregError:  # an unreadable record is the check's and doctor's finding
        return None


def _restore(store: GitStore, missing: Missing, report: RepairReport) -> None:
    oid = missing.recorded
    if oid is None:
        report.left.append(f"{missing.tag}: the card on {missing.where} records no tag object.")
        return
    tag = store.tag_object(oid)
    if tag is None:
        report.left.append(
            f"{missing.tag}: its tag ref is missing and the recorded tag object {oid[:12]} is not in "
            "this repository (a crash before gitreg kept it safe, or a gc)."
        )
        return
    if tag.name != missing.tag:
        report.left.append(
            f"{missing.tag}: the recorded object {oid[:12]} is the tag {tag.name}, not this one."
        )
        return
    try:
        store.update_refs(
            [(layout.tag_ref(missing.name, missing.version), oid, None)], f"gitreg: repair {missing.tag}"
        )
        report.tags_made.append(missing.tag)
    except ConcurrentUpdate:
        pass  # another process made it meanwhile


def _settle_pending(store: GitStore, head: str | None, pending: dict[str, str], report: RepairReport) -> None:
    others: bool | None = None
    view = RegistryView(store, store.commit_tree(head), head) if head is not None else None
    for ref, oid in sorted(pending.items()):
        parsed = layout.parse_pending_ref(ref)
        tag_ref = layout.tag_ref(*parsed) if parsed else None
        tag_target = store.ref_target(tag_ref) if tag_ref is not None else None
        if tag_ref is not None and tag_target == oid:
            store.delete_ref(ref, oid)
            report.pending_done.append(ref)
            continue
        registered = parsed is not None and (
            (view is not None and view.has_version(*parsed))
            or store.ref_target(layout.branch_ref(layout.register_proposal_branch(*parsed))) is not None
        )
        if registered and tag_ref is not None and tag_target is None:
            continue  # its card records another object, or it is not readable: left below
        if others is None:
            others = bool(locks.processes_in(store.common_dir))
        if others:
            continue  # maybe a live registration: the next repair decides
        store.delete_ref(ref, oid)
        report.pending_dropped.append(ref)


def _remove_stale_locks(store: GitStore, report: RepairReport, lock_age: float) -> None:
    for lock in locks.find(store.common_dir):
        if lock.stale(lock_age) and locks.remove(lock):
            report.locks_removed.append(str(lock.path.relative_to(store.common_dir)))
