"""Publishing and fetching the registry: `gitreg push` and `gitreg sync`.

push: the registry branch and the registration tags the remote lacks, in one
`git push --atomic`, with a lease on the value the remote had (so a racing
push makes ours fail instead of clobbering it), then every ref status is
checked. sync: reads the remote's registry branch and only the tags of the
versions it added since the last sync, refuses a registration tag that moved
and a registry branch that no longer descends from the last one seen, and
only then moves local refs, all in one transaction. The last state seen is
recorded in refs/gitreg/remotes/<remote>/<branch>, which a plain `git fetch`
never touches (unlike refs/remotes/..., which it force-updates).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gitreg.errors import GitFailed, GitregError, NotInitialized, RegistryRefusal, UsageError
from gitreg.model.view import RegistryView
from gitreg.ops import repair
from gitreg.results import to_data
from gitreg.store import layout
from gitreg.store.gitstore import GitStore, PushResult

if TYPE_CHECKING:
    from gitreg.model.branch import RegistryBranch

REMOTE_CONFIG_KEY = "gitreg.remote"
TAG_PATTERN = "refs/tags/*@v*"
_REMOTE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


@dataclass
class PushReport:
    remote: str
    branch: str
    old: str | None  # the remote's registry branch before
    new: str  # ... and after
    tags: list[str] = field(default_factory=list)  # registration tags published
    messages: list[str] = field(default_factory=list)  # what the remote's hooks said
    steps: list[str] = field(default_factory=list)  # the heads pushed in turn (policy runs apart)

    @property
    def up_to_date(self) -> bool:
        return self.old == self.new and not self.tags

    json_properties = ("up_to_date",)

    def to_dict(self) -> dict:
        return to_data(self)


@dataclass
class SyncReport:
    remote: str
    branch: str
    old: str | None  # the local registry branch before
    new: str | None  # ... and after
    remote_head: str
    state: str  # up-to-date | created | fast-forward | ahead | merged
    tags: list[str] = field(default_factory=list)  # registration tags fetched

    def to_dict(self) -> dict:
        return to_data(self)


def resolve_remote(store: GitStore, remote: str | None) -> str:
    """The remote to use: the one given, else git config gitreg.remote, else origin."""
    name = remote or store.config(REMOTE_CONFIG_KEY) or "origin"
    if not _REMOTE_RE.fullmatch(name) or store.remote_url(name) is None:
        raise UsageError(
            f"{name!r} is not a remote of this repository.",
            hint="Add it (git remote add origin URL), pass --remote NAME, or set "
            "git config gitreg.remote NAME.",
        )
    return name


def last_seen_ref(remote: str, branch: str) -> str:
    return f"refs/gitreg/remotes/{remote}/{branch}"


def push(reg: RegistryBranch, remote: str | None = None) -> PushReport:
    """Publish the registry branch and the registration tags the remote lacks, atomically."""
    store = reg.store
    remote = resolve_remote(store, remote)
    theirs = store.ls_remote(remote, [reg.branch_ref, TAG_PATTERN])
    old = theirs.get(reg.branch_ref)
    # Never publish a card whose tag is missing here: the models changed since what the remote
    # holds are checked (all of them when it holds nothing this clone knows).
    repair.before_write(reg, repair.changed_models(store, old, reg.head()))
    head = reg.require_head()
    if old is not None and old != head and not (store.has_object(old) and store.is_ancestor(old, head)):
        raise RegistryRefusal(
            f"the registry branch on {remote} has commits this repository does not have.",
            hint=f"Run 'gitreg sync --remote {remote}', then push again. Nothing was pushed.",
        )
    tags = _tags_to_publish(store, RegistryView(store, store.commit_tree(head), head), theirs, remote)
    report = PushReport(remote, reg.branch, old, head, [t for t, _ in tags])
    if report.up_to_date:
        _see(store, remote, reg.branch, head)
        return report
    # A policy change lands alone (the server judges a push that mixes policy and content as
    # one change): publish each run of policy steps and of content steps as its own push.
    at, published = old, set[str]()
    attempted: list[str] = []  # every refspec tried, for the read-back after a failure
    for tip in _segments(store, old, head):
        view = RegistryView(store, store.commit_tree(tip), tip)
        now = [(t, oid) for t, oid in tags if t not in published and view.has_version(*_parsed(t))]
        refspecs = [f"{tip}:{reg.branch_ref}"] + [f"{oid}:refs/tags/{t}" for t, oid in now]
        leases = {reg.branch_ref: at} | {f"refs/tags/{t}": None for t, _ in now}
        attempted += refspecs
        try:
            result = store.push(remote, refspecs, leases=leases)
        except GitFailed as exc:  # the push broke off (connection, a killed receive-pack)
            raise _read_back(store, remote, reg.branch_ref, theirs, attempted, exc) from None
        if not result.ok:
            if at is not None and at != old:  # the earlier pushes landed
                _see(store, remote, reg.branch, at)
            raise _read_back(store, remote, reg.branch_ref, theirs, attempted, refusal(remote, result))
        report.messages += result.messages
        report.steps.append(tip)
        published.update(t for t, _ in now)
        at = tip
    _see(store, remote, reg.branch, head)
    return report


def _parsed(tag: str) -> tuple[str, str]:
    parsed = layout.parse_tag_name(tag)
    assert parsed is not None  # _tags_to_publish keeps registration tags only
    return parsed


def _segments(store: GitStore, old: str | None, head: str) -> list[str]:
    """The heads to push in turn: each first-parent step that changes the policy (registry.yaml,
    signers/, checks/) and the last commit of each run of other steps; [HEAD] when the remote has
    no registry branch yet (each step of a new branch is judged by its parent)."""
    if old is None:
        return [head]
    steps = list(reversed(list(store.walk(head, old))))
    tips: list[str] = []
    last_kind = None
    for commit in steps:
        parents = store.commit_info(commit).parents
        base = store.commit_tree(parents[0]) if parents else None
        paths = [p for _, p in store.changed_paths(base, store.commit_tree(commit))]
        policy = bool(paths) and all(
            p == layout.POLICY_PATH or p.startswith((layout.SIGNERS_DIR + "/", layout.CHECKS_DIR + "/"))
            for p in paths
        )
        kind = "policy" if policy else "content"
        # Each policy step alone: the next one may be signed by a key the previous one adds,
        # and a push is judged by the signers the remote had before it.
        if kind == last_kind == "content":
            tips[-1] = commit
        else:
            tips.append(commit)
        last_kind = kind
    return tips or [head]


def _read_back(
    store: GitStore,
    remote: str,
    branch_ref: str,
    before: dict[str, str],
    refspecs: list[str],
    failure: GitregError,
) -> GitregError:
    """After a failed push, what the remote holds now: the failure as it was when nothing moved,
    else an error naming exactly which refs moved and which did not.

    The server commits a push's refs one at a time (--atomic or not): a receive-pack killed in
    between leaves some moved. The next `gitreg push` completes it: the missing tags are the
    objects the remote's registry branch records, which its hook accepts.
    """
    try:
        after = store.ls_remote(remote, [branch_ref, TAG_PATTERN])
    except GitregError:
        failure.details.append(f"(the refs of {remote} could not be read back: it may have moved some)")
        return failure
    wanted = {dst: src for src, _, dst in (spec.partition(":") for spec in refspecs)}  # ref -> object
    moved = [ref for ref in wanted if after.get(ref) != before.get(ref)]
    if not moved:
        return failure
    stayed = [ref for ref in wanted if ref not in moved]
    short = {ref: (after.get(ref) or "deleted")[:12] for ref in moved}
    locked = "lock" in str(failure)
    hint = f"Run 'gitreg push --remote {remote}' again: it publishes what is missing."
    if locked:
        hint += (
            f" If {remote} reports locked refs, a killed push left lock files there: its admin runs "
            "'gitreg doctor --fix' in the bare repository first."
        )
    return GitFailed(
        f"the push to {remote} stopped halfway: it moved {len(moved)} of {len(wanted)} ref(s).",
        details=[f"moved: {r} (now {short[r]})" for r in moved]
        + [f"not moved: {r}" for r in stayed]
        + [str(failure)],
        hint=hint,
    )


def _tags_to_publish(
    store: GitStore, view: RegistryView, theirs: dict[str, str], remote: str
) -> list[tuple[str, str]]:
    """(tag, object id) of the registration tags of registered versions the remote lacks.

    Only the tags that are not the same here and on the remote are read further: a tag both
    sides hold as the same object was published before (its card and record with it). So
    the cost is two ref listings, not a read of each of the 250,000 tags of a big registry.
    """
    out = []
    mine = store.ref_targets(TAG_PATTERN)
    for ref in sorted(ref for ref, oid in mine.items() if theirs.get(ref) != oid):
        oid = mine[ref]
        tag = ref[len("refs/tags/") :]
        parsed = layout.parse_tag_name(tag)
        if parsed is None or not view.has_version(*parsed):
            continue  # not a registration of this registry: not ours to publish
        recorded = view.tag_record(*parsed)
        if recorded is not None and recorded != oid:
            raise RegistryRefusal(
                f"the local tag {tag} is {oid[:12]}, but the registry recorded {recorded[:12]}.",
                hint=f"Restore the registered tag: git tag -f {tag} {recorded}. Nothing was pushed.",
            )
        if ref not in theirs:
            out.append((tag, oid))
        elif theirs[ref] != oid:
            raise RegistryRefusal(
                f"the registration tag {tag} differs on {remote} ({theirs[ref][:12]}) from the "
                f"registered one ({oid[:12]}): it was moved.",
                hint="Registration tags never move. Ask the remote's admin to restore it "
                f"(git push {remote} {oid}:refs/tags/{tag} --force). Nothing was pushed.",
            )
    return out


def refusal(remote: str, result: PushResult) -> RegistryRefusal:
    """The remote said no: every ref status and what its hooks printed."""
    details = [f"{r.dst}: {r.summary}" for r in result.refs if r.flag in "!"]
    details += [m for m in result.messages if m.strip()]
    stale = any("stale info" in r.summary or "fetch first" in r.summary for r in result.refs)
    locked = any("lock" in r.summary for r in result.refs) or any("lock" in m for m in result.messages)
    if stale:
        hint = f"The remote changed meanwhile: run 'gitreg sync --remote {remote}' and push again."
    elif locked:
        hint = (
            f"{remote} has lock files left by a killed push or git process: its admin runs "
            "'gitreg doctor --fix' in the bare repository, then push again."
        )
    else:
        hint = "Fix what the remote reported; the remote is unchanged."
    return RegistryRefusal(f"{remote} refused the push; nothing was published:", details=details, hint=hint)


def _see(store: GitStore, remote: str, branch: str, oid: str) -> None:
    ref = last_seen_ref(remote, branch)
    old = store.ref_target(ref)
    if old != oid:
        store.update_refs([(ref, oid, old)], f"gitreg: seen on {remote}")


def sync(reg: RegistryBranch, remote: str | None = None) -> SyncReport:
    """Fetch the registry branch and the registration tags of the versions it added; refuse
    moved tags and force-pushes.

    The remote is asked for its branches, then for exactly the tags it holds of the versions
    its registry branch added since the last sync (protocol v2 ref prefixes): never for every
    tag, and never for a tag held here already, so a tag moved on the remote behind its
    hook's back is not seen unless a sync needs it (then it is refused). A tag is taken only
    when it is the object the registry branch recorded for it.
    """
    store = reg.store
    remote = resolve_remote(store, remote)
    if reg.head() is not None:
        repair.before_write(reg, ())  # what a crash left; the versions fetched bring their tags
    remote_head = store.ls_remote(remote, [reg.branch_ref], heads=True).get(reg.branch_ref)
    if remote_head is None:
        raise NotInitialized(
            f"{remote} has no registry branch {reg.branch!r}.",
            hint=f"Publish yours with 'gitreg push --remote {remote}'.",
        )
    store.fetch(remote, [remote_head])
    seen_ref = last_seen_ref(remote, reg.branch)
    seen = store.ref_target(seen_ref)
    local = reg.head()
    # What we last knew of the remote: our own record, else git's remote-tracking ref
    # (a plain `git push` or `git fetch` of the registry branch updates it).
    known = seen or store.ref_target(f"refs/remotes/{remote}/{reg.branch}")
    _refuse_rewrite(store, remote, reg.branch, known, local, remote_head)
    view = RegistryView(store, store.commit_tree(remote_head), remote_head)
    local_view = reg.view() if local else None
    moved, twice, wanted = [], [], {}
    for name, version in _added_versions(store, seen, view):
        ref = layout.tag_ref(name, version)
        recorded = view.tag_record(name, version)
        mine = store.ref_target(ref)
        if mine is None:
            wanted[ref] = recorded
        elif recorded is not None and mine != recorded:
            tag = layout.tag_name(name, version)
            if (
                local_view is not None
                and local_view.tag_record(name, version) == mine
                and not _published(store, remote, reg.branch, name, version)
            ):
                twice.append(
                    f"{tag}: registered here ({mine[:12]}, unpublished) and on {remote} ({recorded[:12]})"
                )
            else:
                moved.append(f"{tag}: here {mine[:12]}, recorded on {remote} {recorded[:12]}")
    if twice:
        raise RegistryRefusal(
            f"the same version was registered here and on {remote} (a conflict):",
            details=twice,
            hint=f"Keep {remote}'s: delete your tag (git tag -d NAME@vX.Y.Z), reset your registry "
            f"branch to {remote}'s (git fetch {remote} {reg.branch} && git branch -f {reg.branch} "
            "FETCH_HEAD), sync, and register yours as the next version. Nothing was changed here.",
        )
    if moved:
        raise RegistryRefusal(
            f"registration tags here differ from what {remote}'s registry recorded: they were moved.",
            details=moved,
            hint="Registration tags never move: restore the registered ones (gitreg repair). "
            "Nothing was changed here.",
        )
    theirs = store.fetch_refs(remote, sorted(wanted))
    updates: list[tuple[str, str | None, str | None]] = []
    fetched = []
    for ref, oid in theirs.items():
        recorded = wanted[ref]
        if recorded is not None and recorded != oid:
            raise RegistryRefusal(
                f"{ref[len('refs/tags/') :]} on {remote} is {oid[:12]}, but the registry branch records "
                f"{recorded[:12]}: the tag was moved.",
                hint="Restore the registered tag on the remote. Nothing was changed here.",
            )
        updates.append((ref, oid, None))
        fetched.append(ref[len("refs/tags/") :])
    if local is None:
        state = "created"
    elif local == remote_head:
        state = "up-to-date"
    elif store.is_ancestor(local, remote_head):
        state = "fast-forward"
    elif store.is_ancestor(remote_head, local):
        state = "ahead"
    else:
        state = "merged"
    new = {"ahead": local, "merged": None}.get(state, remote_head)
    if new is None:
        if local is None:  # cannot happen: without a local branch the state is "created"
            raise AssertionError("sync: a merge needs a local registry branch")
        new = _merge(reg, remote, local, remote_head)
    if new != local:
        updates.insert(0, (reg.branch_ref, new, local))
    if seen != remote_head:
        updates.append((seen_ref, remote_head, seen))
    # The fetched tag objects are held by pending refs until their tag refs land (repair).
    pending: list[tuple[str, str | None, str | None]] = [
        (layout.pending_ref(*_parse(ref), theirs[ref]), theirs[ref], None)
        for ref, _, _ in updates
        if ref in theirs
    ]
    if pending:
        store.update_refs(pending, f"gitreg: fetching tags from {remote}")
    if updates:
        store.update_refs(
            updates + [(ref, None, None) for ref, _, _ in pending], f"gitreg: sync from {remote}"
        )
    return SyncReport(remote, reg.branch, local, new, remote_head, state, fetched)


def _parse(tag_ref: str) -> tuple[str, str]:
    parsed = layout.parse_tag_name(tag_ref[len("refs/tags/") :])
    assert parsed is not None  # only registration tags are wanted
    return parsed


def _added_versions(store: GitStore, seen: str | None, remote: RegistryView) -> list[tuple[str, str]]:
    """(name, version) of the cards REMOTE's registry holds beyond the state a sync last took
    from it (every card on a first sync): a tree diff, whose cost follows the change.

    Only our own last-seen record counts: a sync writes it together with the tags it fetched,
    while git's remote-tracking ref (a clone's) says nothing of which tags are here."""
    base_tree = store.commit_tree(seen) if seen is not None and store.has_object(seen) else None
    found = []
    for status, path in store.changed_paths(base_tree, remote.tree):
        parts = path.split("/")
        if status != "D" and len(parts) == 4 and parts[2] == "versions" and path.endswith(".yaml"):
            found.append((parts[1], parts[3][: -len(".yaml")]))
    return found


def _refuse_rewrite(
    store: GitStore, remote: str, branch: str, seen: str | None, local: str | None, remote_head: str
) -> None:
    """Refuse a remote registry branch that does not descend from what we saw or hold."""
    if seen is not None and not store.is_ancestor(seen, remote_head):
        raise RegistryRefusal(
            f"the registry branch on {remote} was rewritten (force-pushed): {remote_head[:12]} does "
            f"not descend from {seen[:12]}, the last state seen there.",
            hint="The registry's history is its audit log and never rewritten: ask the remote's "
            f"admin to restore {seen} (git push {remote} {seen}:refs/heads/{branch} --force). "
            "Nothing was changed here.",
        )
    # Diverged after a sync: both sides moved on from what was seen; sync merges them.
    # Without a last-seen state, a rewrite of the remote cannot be told apart: refuse.
    if seen is None and local is not None and _diverged(store, local, remote_head):
        raise RegistryRefusal(
            f"the registry branch on {remote} was rewritten (force-pushed), or this repository "
            f"never synced with it: neither {remote_head[:12]} there nor {local[:12]} here "
            "descends from the other.",
            hint="If your local registry commits are unpublished work, register or promote them "
            f"again on top of the remote's registry (git branch -f {branch} {remote_head}). "
            "Nothing was changed here.",
        )


def _published(store: GitStore, remote: str, branch: str, name: str, version: str) -> bool:
    """Whether the last state seen on REMOTE already held NAME VERSION."""
    for ref in (last_seen_ref(remote, branch), f"refs/remotes/{remote}/{branch}"):
        seen = store.ref_target(ref)
        if seen is not None:
            return RegistryView(store, store.commit_tree(seen), seen).has_version(name, version)
    return True  # unknown: treat as published (a moved tag), the safer reading


def _diverged(store: GitStore, local: str, remote_head: str) -> bool:
    return not (store.is_ancestor(local, remote_head) or store.is_ancestor(remote_head, local))


def _merge(reg: RegistryBranch, remote: str, local: str, remote_head: str) -> str:
    """A merge commit putting this repository's unpublished registry commits on top of the
    remote's (first parent: the remote's line). Refused, changing nothing, on a conflict."""
    store = reg.store
    tree, conflicts = store.merge_tree(remote_head, local)
    if tree is None:
        raise RegistryRefusal(
            f"your unpublished registry changes conflict with {remote}'s registry:",
            details=conflicts or ["the two registries share no history"],
            hint="Both sides changed the same files (the same version registered twice, or the "
            "same model's stages). Keep the remote's: 'git branch -f "
            f"{reg.branch} {remote_head}' (your tag objects stay), then register or promote "
            "again. Nothing was changed here.",
        )
    message = (
        f"Merge unpublished registry changes onto {remote}'s registry\n\n"
        f"Theirs: {remote_head}\nOurs: {local}\n"
    )
    return store.write_commit(tree, [remote_head, local], message, store.ident())


def publish(
    reg: RegistryBranch, branch: str, remote: str | None = None, push_options: tuple[str, ...] = ()
) -> tuple[str, PushResult]:
    """Push a proposal branch (with the registration tags its new cards need), atomically.

    Returns (remote, result); a refusal raises RegistryRefusal.
    """
    store = reg.store
    remote = resolve_remote(store, remote)
    ref = layout.branch_ref(branch)
    head = store.ref_target(ref)
    if head is None:
        raise UsageError(f"there is no branch {branch!r} to push.")
    theirs = store.ls_remote(remote, [ref, TAG_PATTERN])
    refspecs = [f"{head}:{ref}"]
    leases: dict[str, str | None] = {ref: theirs.get(ref)}
    base = reg.head()
    base_tree = store.commit_tree(base) if base else None
    for status, path in store.changed_paths(base_tree, store.commit_tree(head)):
        parts = path.split("/")
        if status == "A" and len(parts) == 4 and parts[2] == "versions" and path.endswith(".yaml"):
            tag_ref = layout.tag_ref(parts[1], parts[3][:-5])
            oid = store.ref_target(tag_ref)
            if oid is not None and tag_ref not in theirs:
                refspecs.append(f"{oid}:{tag_ref}")
                leases[tag_ref] = None
    result = store.push(remote, refspecs, leases=leases, push_options=push_options)
    if not result.ok:
        raise refusal(remote, result)
    return remote, result
