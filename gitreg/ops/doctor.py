"""`gitreg doctor`: every defect of a repository as a registry, in a work repository or a server's
bare one, and with --fix the repairs that are safe.

What it examines: the format version; every card against its registration tag (missing, moved,
object lost); registration tags no card or proposal accounts for (stray); pending refs a crash
left; every lock file, with its age and whether a live git process may hold it; proposal branches
the registry moved on from; `git fsck` of everything the registry reaches; the cache.

Safe fixes (--fix): create a missing tag ref from the object the registry recorded, settle
pending refs, remove locks older than a threshold that no live git process holds, drop a cache of
the wrong shape. Everything else is left for a person, with what to do.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from gitreg.errors import GitregError
from gitreg.model.view import RegistryView
from gitreg.ops import repair
from gitreg.store import cache, faults, layout, locks

if TYPE_CHECKING:
    from gitreg.model.branch import RegistryBranch
    from gitreg.store.gitstore import GitStore

DEFAULT_LOCK_AGE = 60.0  # seconds: a git ref lock lives for milliseconds


@dataclass
class Problem:
    kind: str  # format | tag-missing | tag-lost | tag-moved | stray-tag | pending | lock | ...
    subject: str  # the ref, file or version concerned
    message: str
    fix: str  # what --fix does, or what a person should do
    safe: bool  # --fix may repair it
    defect: bool = True  # False: a note, not something wrong
    fixed: bool = False


@dataclass
class DoctorReport:
    repository: str
    bare: bool
    branch: str
    problems: list[Problem] = field(default_factory=list)
    examined: list[str] = field(default_factory=list)  # what was looked at, in words

    @property
    def defects(self) -> list[Problem]:
        return [p for p in self.problems if p.defect and not p.fixed]

    @property
    def fixed(self) -> list[Problem]:
        return [p for p in self.problems if p.fixed]

    @property
    def ok(self) -> bool:
        return not self.defects

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "ok": self.ok,
            "fixed": [p.subject for p in self.fixed],
            "left": [p.subject for p in self.defects],
        }


def examine(reg: RegistryBranch, *, fix: bool = False, lock_age: float | None = None) -> DoctorReport:
    """Every defect of the repository as a registry; with FIX, repair the safe ones."""
    store, branch_ref = reg.store, reg.branch_ref
    age = DEFAULT_LOCK_AGE if lock_age is None else lock_age
    report = DoctorReport(str(store.workdir or store.common_dir), store.workdir is None, branch_ref)
    checks: list[tuple[str, Callable[[GitStore, str, DoctorReport, float], None]]] = [
        ("locks", _locks),
        ("format", _format),
        ("cards and tags", _cards_and_tags),
        ("pending refs", _pending),
        ("proposals", _proposals),
        ("git fsck", _fsck),
        ("cache", _cache),
    ]
    for label, check in checks:
        try:
            check(store, branch_ref, report, age)
        except GitregError as exc:
            _fault(report, label, exc)
        except Exception as exc:  # a damaged repository: name the fault, go on with the others
            fault = faults.classify(exc)
            if fault is None:
                raise
            _fault(report, label, fault)
    if fix:
        _fix(store, branch_ref, report, age)
    return report


def _fault(report: DoctorReport, check: str, exc: GitregError) -> None:
    report.problems.append(Problem("fault", check, exc.message, exc.hint or "See the message.", safe=False))


# --- the checks -----------------------------------------------------------------------------


def _locks(store: GitStore, branch_ref: str, report: DoctorReport, age: float) -> None:
    found = locks.find(store.common_dir)
    report.examined.append(f"{len(found)} lock file(s)")
    for lock in found:
        rel = str(lock.path.relative_to(store.common_dir))
        if lock.held:
            holder = "; ".join(locks.describe(lock.holders))
            report.problems.append(
                Problem(
                    "lock",
                    rel,
                    f"{rel} is {lock.age:.0f} s old; a live git/gitreg process works in this repository "
                    f"({holder}): it may hold it.",
                    "Wait for that process to finish, then run 'gitreg doctor' again.",
                    safe=False,
                )
            )
        else:
            old = lock.age >= age
            report.problems.append(
                Problem(
                    "lock",
                    rel,
                    f"{rel} is {lock.age:.0f} s old and no git process works in this repository: "
                    "a killed git left it; every write of that ref fails until it is gone.",
                    "--fix removes it."
                    if old
                    else f"--fix removes it once it is {age:.0f} s old (or give --lock-age 0).",
                    safe=old,
                )
            )


def _format(store: GitStore, branch_ref: str, report: DoctorReport, age: float) -> None:
    head = store.ref_target(branch_ref)
    if head is None:
        report.problems.append(
            Problem(
                "no-registry",
                branch_ref,
                f"there is no registry branch {branch_ref} (yet).",
                "Run 'gitreg init', or 'gitreg sync' to fetch the team's.",
                safe=False,
                defect=False,
            )
        )
        return
    view = RegistryView(store, store.commit_tree(head), head)
    raw = view.load(layout.POLICY_PATH)
    version = raw.get("version") if isinstance(raw, dict) else None
    report.examined.append(f"format version {version} (this gitreg: {layout.FORMAT_VERSION})")
    if isinstance(version, int) and version > layout.FORMAT_VERSION:
        report.problems.append(
            Problem(
                "format",
                layout.POLICY_PATH,
                f"the registry is format {version}; this gitreg reads format {layout.FORMAT_VERSION}.",
                f"Upgrade gitreg to a release that reads format {version}.",
                safe=False,
            )
        )
    view.policy  # noqa: B018 - parses and validates: an invalid policy is a finding


def _cards_and_tags(store: GitStore, branch_ref: str, report: DoctorReport, age: float) -> None:
    head = store.ref_target(branch_ref)
    tags = store.refs("refs/tags/")
    carded: set[tuple[str, str]] = set()
    count = 0
    if head is not None:
        view = RegistryView(store, store.commit_tree(head), head)
        for name in view.model_names():
            for version in view.versions(name):
                count += 1
                carded.add((name, version))
                _card_and_tag(store, view, name, version, tags.get(layout.tag_ref(name, version)), report)
    for missing in repair.missing_tags(store, None, tags):  # registration proposals
        carded.add((missing.name, missing.version))
        _missing(store, missing, report)
    for ref in store.refs("refs/heads/gitreg-register/"):
        proposed = layout.parse_proposal_branch(ref[len("refs/heads/") :])
        if proposed is not None:
            carded.add((proposed[0], proposed[1]))
    pending = {p for ref in store.refs(layout.PENDING_PREFIX) if (p := layout.parse_pending_ref(ref))}
    report.examined.append(f"{count} card(s) and {len(tags)} tag(s)")
    for ref, _oid in sorted(tags.items()):
        parsed = layout.parse_tag_name(ref[len("refs/tags/") :])
        if parsed is None or parsed in carded or parsed in pending:
            continue
        tag = layout.tag_name(*parsed)
        report.problems.append(
            Problem(
                "stray-tag",
                ref,
                f"{tag} is named like a registration, but no card on the registry branch or on a "
                "registration proposal, and no registration in progress, accounts for it: it is stray.",
                f"If you made it by hand, remove it: git tag -d {tag} (it registers nothing).",
                safe=False,
            )
        )


def _card_and_tag(
    store: GitStore, view: RegistryView, name: str, version: str, target: str | None, report: DoctorReport
) -> None:
    tag = layout.tag_name(name, version)
    recorded = view.tag_record(name, version)
    if target is None:
        _missing(store, repair.Missing(name, version, "the registry branch", recorded), report)
    elif recorded is not None and target != recorded:
        restore = (
            f"git tag -f {tag} {recorded}"
            if store.has_object(recorded)
            else "fetch the recorded tag from a clone that has it"
        )
        report.problems.append(
            Problem(
                "tag-moved",
                layout.tag_ref(name, version),
                f"{tag} is {target[:12]}, but the registry recorded {recorded[:12]}: the tag was moved.",
                f"Registration tags never move: restore it ({restore}).",
                safe=False,
            )
        )


def _missing(store: GitStore, missing: repair.Missing, report: DoctorReport) -> None:
    ref = layout.tag_ref(missing.name, missing.version)
    if missing.recorded is not None and store.tag_object(missing.recorded) is not None:
        report.problems.append(
            Problem(
                "tag-missing",
                ref,
                f"{missing.tag} has its card on {missing.where} but no tag ref (a crash between the "
                "two); the recorded tag object is here.",
                f"--fix creates {ref} at the recorded object {missing.recorded[:12]}.",
                safe=True,
            )
        )
        return
    report.problems.append(
        Problem(
            "tag-lost",
            ref,
            f"{missing.tag} has its card on {missing.where} but neither its tag ref nor the recorded "
            f"tag object {str(missing.recorded)[:12]} is here.",
            f"Fetch the tag from a clone or the remote that has it (git fetch origin tag {missing.tag}; "
            "'gitreg sync' does it too), then run 'gitreg doctor' again.",
            safe=False,
        )
    )


def _pending(store: GitStore, branch_ref: str, report: DoctorReport, age: float) -> None:
    pending = store.refs(layout.PENDING_PREFIX)
    report.examined.append(f"{len(pending)} pending ref(s)")
    for ref in sorted(pending):
        report.problems.append(
            Problem(
                "pending",
                ref,
                f"{ref} holds a registration's tag object: a registration was interrupted "
                "(or is running now).",
                "--fix finishes the registration if its card landed, else drops the ref.",
                safe=True,
            )
        )


def _proposals(store: GitStore, branch_ref: str, report: DoctorReport, age: float) -> None:
    head = store.ref_target(branch_ref)
    branches = {
        ref: tip
        for prefix in layout.PROPOSAL_PREFIXES
        for ref, tip in store.refs(layout.branch_ref(prefix)).items()
    }
    report.examined.append(f"{len(branches)} proposal branch(es)")
    if head is None:
        return
    view = RegistryView(store, store.commit_tree(head), head)
    for ref, tip in sorted(branches.items()):
        branch = ref[len("refs/heads/") :]
        if store.is_ancestor(tip, head):
            report.problems.append(
                Problem(
                    "proposal-merged",
                    ref,
                    f"{branch} is merged.",
                    f"Delete it when you like: git branch -d {branch}",
                    safe=False,
                    defect=False,
                )
            )
            continue
        parents = store.commit_info(tip).parents
        base = parents[0] if parents else None
        parsed = layout.parse_proposal_branch(branch)
        if parsed is not None and parsed[2] is None and view.has_version(parsed[0], parsed[1]):
            report.problems.append(
                Problem(
                    "proposal-obsolete",
                    ref,
                    f"{branch} proposes {layout.tag_name(*parsed[:2])}, which the registry holds "
                    "already (registered another way).",
                    f"Delete the proposal: git branch -D {branch}",
                    safe=False,
                )
            )
        elif base != head:
            report.problems.append(
                Problem(
                    "proposal-behind",
                    ref,
                    f"{branch} was proposed on {str(base)[:10]}; the registry has moved on to {head[:10]}.",
                    f"'gitreg merge {branch}' judges it against the current registry; if it conflicts, "
                    "delete it and propose again.",
                    safe=False,
                    defect=False,
                )
            )


def _fsck(store: GitStore, branch_ref: str, report: DoctorReport, age: float) -> None:
    tips = [t for t in [store.ref_target(branch_ref)] if t]
    for prefix in (
        "refs/tags/",
        layout.PENDING_PREFIX,
        *(layout.branch_ref(p) for p in layout.PROPOSAL_PREFIXES),
    ):
        tips += [
            oid
            for ref, oid in store.refs(prefix).items()
            if prefix != "refs/tags/" or layout.parse_tag_name(ref[len("refs/tags/") :])
        ]
    if not tips:
        return
    ok, problems = store.fsck(sorted(set(tips)))
    report.examined.append(f"git fsck of {len(set(tips))} tip(s)")
    if not ok:
        report.problems.append(
            Problem(
                "fsck",
                "objects",
                "git fsck finds damage in what the registry reaches:",
                "Restore the objects from a clone that has them (git fetch from it, or re-clone); "
                "never delete registration tags to silence it.",
                safe=False,
            )
        )
        report.problems[-1].message += "\n" + "\n".join(f"  {p}" for p in problems[:20])


def _cache(store: GitStore, branch_ref: str, report: DoctorReport, age: float) -> None:
    folder = cache.directory(store.common_dir)
    if not folder.exists():
        return
    why = cache.damage(store.common_dir)
    report.examined.append("the cache")
    if why:
        report.problems.append(
            Problem(
                "cache",
                str(folder.relative_to(store.common_dir)),
                f"the cache is damaged ({why}); gitreg ignores what it cannot read.",
                "--fix drops it; gitreg rebuilds it as it reads.",
                safe=True,
            )
        )


# --- fixing -----------------------------------------------------------------------------------


def _fix(store: GitStore, branch_ref: str, report: DoctorReport, age: float) -> None:
    kinds = {p.kind for p in report.problems if p.safe}
    if kinds & {"lock", "tag-missing", "pending"}:
        done = repair.repair_store(store, branch_ref, lock_age=age)
        made = {layout.tag_ref(*layout.parse_tag_name(t)) for t in done.tags_made if layout.parse_tag_name(t)}  # type: ignore[misc]
        settled = set(done.pending_done) | set(done.pending_dropped)
        removed = set(done.locks_removed)
        for p in report.problems:
            if p.safe and (p.subject in made or p.subject in settled or p.subject in removed):
                p.fixed = True
        # A tag made by repair may have settled a pending ref in the same run; look again.
        still = set(store.refs(layout.PENDING_PREFIX))
        for p in report.problems:
            if p.kind == "pending" and p.subject not in still:
                p.fixed = True
    if "cache" in kinds:
        shutil.rmtree(cache.directory(store.common_dir), ignore_errors=True)
        for p in report.problems:
            if p.kind == "cache":
                p.fixed = True
