"""What happened in the registry between two commits: registrations and stage changes.

The registry branch's history is the audit log. Events are derived by
comparing trees, model by model, skipping every model whose subtree did not
change (one tree-entry comparison each), so the cost follows the change.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitreg.model.view import RegistryView
from gitreg.results import to_data
from gitreg.store import layout
from gitreg.store.gitstore import CommitInfo, GitStore


@dataclass(frozen=True)
class Event:
    kind: str  # registered | promoted | archived | removed | unregistered | policy
    model: str  # "" for a policy event
    version: str  # "" for a policy event
    from_stage: str | None
    to_stage: str | None
    commit: str
    author: str  # as the commit claims it: who signed is the audit's to say
    email: str
    time: str
    paths: tuple[str, ...] = ()  # a policy event: the policy files it changed

    def to_dict(self) -> dict:
        return to_data(self)


POLICY_PATHS = (layout.POLICY_PATH, layout.SIGNERS_DIR, layout.CHECKS_DIR)


def policy_changes(store: GitStore, old_tree: str | None, new_tree: str) -> tuple[str, ...]:
    """The policy files (registry.yaml, signers/..., checks/...) that differ; three entry
    comparisons when none did."""
    if old_tree is not None and all(
        store.entry_id(old_tree, p) == store.entry_id(new_tree, p) for p in POLICY_PATHS
    ):
        return ()
    return tuple(
        p
        for _, p in store.changed_paths(old_tree, new_tree)
        if p == layout.POLICY_PATH or p.startswith((layout.SIGNERS_DIR + "/", layout.CHECKS_DIR + "/"))
    )


def changed_models(store: GitStore, old_tree: str | None, new_tree: str) -> list[str]:
    old = {n: oid for n, oid, t in store.list_dir(old_tree, layout.MODELS_DIR) if t} if old_tree else {}
    new = {n: oid for n, oid, t in store.list_dir(new_tree, layout.MODELS_DIR) if t}
    return sorted(n for n in old.keys() | new.keys() if old.get(n) != new.get(n))


def between(
    store: GitStore,
    old: RegistryView | None,
    new: RegistryView,
    info: CommitInfo,
    only: str | None = None,
) -> list[Event]:
    """Events of one step from OLD to NEW (OLD None: the registry was empty)."""
    # One model: compare its subtree, not the whole models/ listing.
    names = [only] if only is not None else changed_models(store, old.tree if old else None, new.tree)
    events: list[Event] = []
    for name in names:
        # Each model's folder is looked up once; its files are read from there.
        old_id = old.model_tree(name) if old else None
        new_id = new.model_tree(name)
        if old_id == new_id:
            continue

        def event(kind: str, version: str, src: str | None, dst: str | None, name=name) -> Event:
            return Event(kind, name, version, src, dst, info.id, info.author, info.email, info.time)

        old_versions = set(old.versions(name, old_id)) if old and old_id else set()
        new_versions = set(new.versions(name, new_id)) if new_id else set()
        for v in layout.sort_versions(list(new_versions - old_versions)):
            events.append(event("registered", v, None, None))
        for v in layout.sort_versions(list(old_versions - new_versions)):
            events.append(event("unregistered", v, None, None))
        before = old.stages(name, old_id) if old and old_id else {}
        after = new.stages(name, new_id) if new_id else {}
        for v in layout.sort_versions(list(old_versions | new_versions)):
            was = [s for s, vs in before.items() if v in vs]
            now = [s for s, vs in after.items() if v in vs]
            entered = [s for s in now if s not in was]
            left = [s for s in was if s not in now]
            for dst in entered:
                src = left.pop(0) if left else None
                events.append(event("archived" if dst == "archived" else "promoted", v, src, dst))
            for src in left:
                events.append(event("removed", v, src, None))
    return events


def history(store: GitStore, head: str, name: str | None = None, stop: str | None = None) -> list[Event]:
    """Events from the first commit after STOP to HEAD, oldest first."""
    events: list[Event] = []
    commits = None
    if name is not None:  # only the commits that touch the model or the policy: git finds them
        commits = store.walk_touching(head, [layout.model_dir(name), *POLICY_PATHS], stop)
    for commit_id in store.walk(head, stop) if commits is None else commits:
        info = store.commit_info(commit_id)
        new = RegistryView(store, store.commit_tree(commit_id), commit_id)
        parent = info.parents[0] if info.parents else None
        old_tree = store.commit_tree(parent) if parent else None
        # Policy and signer changes are part of every model's history: they change its gates.
        policy = policy_changes(store, old_tree, new.tree) if old_tree else ()
        if policy:
            events.append(
                Event("policy", "", "", None, None, info.id, info.author, info.email, info.time, policy)
            )
        old = RegistryView(store, old_tree, parent) if old_tree else None
        events.extend(reversed(between(store, old, new, info, only=name)))
    events.reverse()
    return events
