"""GTO's tags as a mirror of the registry: `gto show`, `gto which` and `dvc artifacts get --stage`
answer what `gitreg which` answers.

GTO rebuilds its state from tags: a (version, stage) is active when its newest tag is an
assignment, a version is registered when its newest NAME@vX tag is a registration, and `gto
which` answers the highest active version of a stage. DVC's `artifacts get --stage` takes the
commit of the newest tag naming the stage, assignment or not. So the mirror keeps exactly one
version active per stage (the one gitreg serves), writes removals before additions and dates
each new tag after every tag of its artifact: neither GTO nor DVC then has a tie to break.

Archived versions take GTO's deprecation form for a version (NAME@vX!#N, a deregistration).
GTO refuses a second registration of a version, so one promoted back out of the archive loses
its deregistration tags instead (deleted here and, with --push, on the remote: GTO's own
`deprecate --delete` does the same). These tags are never evidence: the check and the hooks
judge the registry branch and registration tags only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from gitreg.errors import ConcurrentUpdate, GitregError, RegistryRefusal
from gitreg.model.branch import RegistryBranch
from gitreg.model.view import RegistryView
from gitreg.results import to_data
from gitreg.store import layout
from gitreg.store.gitstore import GitStore, Ident, TagInfo

if TYPE_CHECKING:
    from gitreg.ops.promotion import MergeResult

TAGS = "refs/tags/"
# promotion.ARCHIVE_STAGE; not imported from there, so that sync-tags does not load the check.
ARCHIVE_STAGE = "archived"
CONFIG_KEY = "gitreg.gtoTags"  # false: merges write no GTO tags (sync-tags still does)


@dataclass
class GtoState:
    """What GTO makes of one artifact's tags."""

    registered: dict[str, bool] = field(default_factory=dict)  # version -> active
    deregistrations: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # version -> (tag, id)
    active: dict[tuple[str, str], bool] = field(default_factory=dict)  # (version, stage) -> active
    commits: dict[str, str] = field(default_factory=dict)  # version -> commit
    last_time: int = 0  # the newest tag's date
    counter: int = 0  # the highest counter


@dataclass
class TagWrite:
    tag: str
    action: str  # assign | unassign | deregister | undo-deregister (the tag is deleted)
    version: str
    stage: str | None
    commit: str
    object: str = ""


@dataclass
class SyncResult:
    """What `gitreg sync-tags` did: the tags written, the models GTO cannot name, the push."""

    written: list[TagWrite] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # models whose names GTO's grammar refuses
    pushed: list[str] = field(default_factory=list)  # tags published to the remote
    remote: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.written or self.pushed)

    def to_dict(self) -> dict:
        return to_data(self)


# --- reading GTO's state ------------------------------------------------------------------


def read_tags(store: GitStore) -> dict[str, list[tuple[layout.GtoTag, TagInfo]]]:
    """artifact name -> its annotated GTO tags, oldest first (GTO ignores lightweight tags)."""
    found: dict[str, list[tuple[layout.GtoTag, TagInfo]]] = {}
    for ref, oid in store.refs(TAGS).items():
        parsed = layout.parse_gto_tag(ref[len(TAGS) :])
        if parsed is None:
            continue
        info = store.tag_info(oid)
        if info is None or info.target_type != "commit":
            continue
        found.setdefault(parsed.name, []).append((parsed, info))
    for tags in found.values():
        tags.sort(key=lambda t: (t[1].time, _removal_last(t[0])))
    return found


def _removal_last(tag: layout.GtoTag) -> int:
    # GTO sorts events by date and a tie leaves the removal newest: do the same.
    return 1 if tag.action in ("unassign", "deregister") else 0


def state_of(tags: Iterable[tuple[layout.GtoTag, TagInfo]]) -> GtoState:
    tags = list(tags)
    state = GtoState()
    for parsed, info in tags:  # registrations first: an assignment names the version on its commit
        if parsed.version is not None:
            state.commits.setdefault(parsed.version, info.target)
    by_commit = {commit: version for version, commit in state.commits.items()}
    for parsed, info in tags:
        state.last_time = max(state.last_time, info.time)
        state.counter = max(state.counter, parsed.counter or 0)
        if parsed.action in ("register", "deregister") and parsed.version:
            state.registered[parsed.version] = parsed.action == "register"
            if parsed.action == "deregister":
                tag = layout.gto_tag_name(
                    parsed.name, "deregister", parsed.counter or 0, version=parsed.version
                )
                if parsed.counter is None:
                    tag = f"{parsed.name}@v{parsed.version}!"
                state.deregistrations.setdefault(parsed.version, []).append((tag, info.id))
        elif parsed.action in ("assign", "unassign") and parsed.stage:
            version = by_commit.get(info.target, info.target)
            state.active[(version, parsed.stage)] = parsed.action == "assign"
    return state


# --- what the registry wants GTO to say -----------------------------------------------------


def plan(view: RegistryView, name: str, state: GtoState) -> list[TagWrite]:
    """The tags that make GTO's state of NAME say what the registry says (removals first)."""
    stages = view.stages(name)
    archived = set(stages.get(ARCHIVE_STAGE) or [])
    served = {stage: vs[-1] for stage, vs in stages.items() if vs and stage != ARCHIVE_STAGE}
    in_stage = {v for stage, vs in stages.items() if stage != ARCHIVE_STAGE for v in vs}
    removals: list[TagWrite] = []
    additions: list[TagWrite] = []
    for version in view.versions(name):
        commit = state.commits.get(version) or _source_commit(view, name, version)
        if commit is None:
            continue
        want_registered = not (version in archived and version not in in_stage)
        if state.registered.get(version, False) == want_registered:
            continue
        if want_registered:  # out of the archive: GTO takes no second registration, so undo
            for tag, oid in state.deregistrations.get(version, []):
                removals.append(TagWrite(tag, "undo-deregister", version, None, commit, oid))
        else:
            removals.append(TagWrite("", "deregister", version, None, commit))
    for (version, stage), active in sorted(state.active.items()):
        if active and served.get(stage) != version:
            commit = state.commits.get(version) or _source_commit(view, name, version)
            if commit is not None and layout.Version.is_valid(version):
                removals.append(TagWrite("", "unassign", version, stage, commit))
    for stage, version in served.items():
        if not state.active.get((version, stage)):
            commit = state.commits.get(version) or _source_commit(view, name, version)
            if commit is not None:
                additions.append(TagWrite("", "assign", version, stage, commit))
    return removals + additions


def _source_commit(view: RegistryView, name: str, version: str) -> str | None:
    try:
        card = view.card(name, version)
    except GitregError:
        return None
    commit = ((card.get("provenance") or {}).get("source") or {}).get("commit")
    return commit if isinstance(commit, str) else None


# --- writing ------------------------------------------------------------------------------------


def write(store: GitStore, view: RegistryView, ident: Ident | None = None) -> SyncResult:
    """Write the GTO tags the registry at VIEW calls for, all refs in one transaction. IDENT
    (default: git's committer) is asked for only when there is something to write."""
    result = SyncResult()
    tags = read_tags(store)
    updates: list[tuple[str, str | None, str | None]] = []
    for name in view.model_names():
        if not layout.is_gto_name(name):
            result.skipped.append(name)
            continue
        state = state_of(tags.get(name, []))
        writes = plan(view, name, state)
        if not writes:
            continue
        ident = ident or store.ident()
        # Removals get one second, additions the next, both after every tag of the artifact.
        base = max(ident.time, state.last_time + 1)
        counter = state.counter
        for w in writes:
            if w.action == "undo-deregister":
                updates.append((TAGS + w.tag, None, w.object))
                result.written.append(w)
                continue
            counter += 1
            w.tag = layout.gto_tag_name(name, w.action, counter, version=w.version, stage=w.stage or "")
            when = base if w.action in ("unassign", "deregister") else base + 1
            w.object = store.make_tag(
                w.tag, w.commit, _message(w, view.commit), sign=False, ident=replace(ident, time=when)
            )
            updates.append((TAGS + w.tag, w.object, None))
            result.written.append(w)
    if updates:
        store.update_refs(updates, "gitreg: sync GTO tags")
    return result


def _message(w: TagWrite, registry_commit: str | None) -> str:
    what = {
        "assign": f"Assigning stage {w.stage} to version v{w.version}",
        "unassign": f"Unassigning stage {w.stage} from version v{w.version}",
        "deregister": f"Deregistering version v{w.version} (archived)",
    }[w.action]
    at = f" at {registry_commit}" if registry_commit else ""
    return f"{what}\n\nWritten by gitreg as a mirror of its registry branch{at}; not evidence.\n"


def sync(
    store: GitStore,
    view: RegistryView,
    ident: Ident | None = None,
    remote: str | None = None,
    *,
    push: bool = False,
) -> SyncResult:
    """Mirror the registry into GTO's tags; with PUSH (to REMOTE, default gitreg.remote, else
    origin), take the remote's GTO tags in first and
    publish every GTO tag of the registry's models the remote lacks (and the deletions of
    this sync) in one atomic push."""
    if push or remote is not None:
        from gitreg.ops.remote import resolve_remote

        remote = resolve_remote(store, remote)
        _take_remote_tags(store, view, remote)
    result = write(store, view, ident)
    if remote is not None:
        result.remote = remote
        deleted = [w.tag for w in result.written if w.action == "undo-deregister"]
        result.pushed = _publish(store, view, remote, deleted)
    return result


def _gto_refs(refs: dict[str, str], names: set[str]) -> dict[str, str]:
    out = {}
    for ref, oid in refs.items():
        parsed = layout.parse_gto_tag(ref[len(TAGS) :]) if ref.startswith(TAGS) else None
        # Registration tags proper (no counter) are published by `gitreg push` with the branch.
        if parsed is not None and parsed.name in names and (parsed.counter or parsed.action != "register"):
            out[ref] = oid
    return out


def _take_remote_tags(store: GitStore, view: RegistryView, remote: str) -> None:
    names = set(view.model_names())
    theirs = _gto_refs(store.ls_remote(remote, [TAGS + "*"]), names)
    ours = store.refs(TAGS)
    missing = {ref: oid for ref, oid in theirs.items() if ref not in ours}
    clash = [ref for ref, oid in theirs.items() if ref in ours and ours[ref] != oid]
    if clash:
        raise RegistryRefusal(
            f"{len(clash)} GTO tag(s) differ between this repository and {remote}: {', '.join(clash[:3])}.",
            hint=f"Delete the local copies (git tag -d TAG), then: gitreg sync-tags --push -r {remote}",
        )
    if missing:
        store.fetch(remote, sorted(set(missing.values())))
        # Another sync may take them in meanwhile: the same objects.
        with contextlib.suppress(ConcurrentUpdate):
            store.update_refs([(ref, oid, None) for ref, oid in sorted(missing.items())], "gitreg: GTO tags")


def _publish(store: GitStore, view: RegistryView, remote: str, deleted: list[str]) -> list[str]:
    """Push the GTO tags the remote lacks and delete there the ones this sync deleted, at once."""
    names = set(view.model_names())
    ours = _gto_refs(store.refs(TAGS), names)
    theirs = store.ls_remote(remote, [TAGS + "*"])
    new = {ref: oid for ref, oid in sorted(ours.items()) if ref not in theirs}
    gone = {TAGS + t: theirs[TAGS + t] for t in deleted if TAGS + t in theirs}
    if not new and not gone:
        return []
    refspecs = [f"{oid}:{ref}" for ref, oid in new.items()] + [f":{ref}" for ref in gone]
    leases: dict[str, str | None] = {**dict.fromkeys(new), **gone}
    pushed = store.push(remote, refspecs, leases=leases)
    if not pushed.ok:
        raise RegistryRefusal(
            f"{remote} refused the GTO tags ({len(new)}); none was published.",
            details=[f"{r.dst}: {r.summary}" for r in pushed.refs if not r.ok] + pushed.messages,
            hint=f"Someone synced at the same time: run 'gitreg sync-tags --push {remote}' again.",
        )
    return [ref[len(TAGS) :] for ref in [*new, *gone]]


# --- when a promotion lands -----------------------------------------------------------------


def merge(reg: RegistryBranch, proposal: str, *, push: bool = False, ff: bool = False) -> MergeResult:
    """`gitreg merge`, then GTO's tags for what it landed (pushed after the registry with PUSH).
    The merge stands whatever happens to the tags: a failure there is reported in the result,
    and `gitreg sync-tags` writes them later."""
    from gitreg.ops import promotion

    result = promotion.merge(reg, proposal, push=push, ff=ff)
    store = reg.store
    if not result.merged or (store.config(CONFIG_KEY) is not None and not store.config_bool(CONFIG_KEY)):
        return result
    try:
        result.gto_tags = [w.tag for w in write(store, reg.view()).written]
        if push and result.gto_tags:
            sync(store, reg.view(), push=True)
    except GitregError as exc:
        result.gto_tags_error = f"{exc.message} Run 'gitreg sync-tags{' --push' if push else ''}'."
    return result
