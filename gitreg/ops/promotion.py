"""Proposals: a promotion (or a registration) as one commit on a branch of its own, judged by the
check before the branch exists, and merged into the registry branch only when the check passes.

    gitreg-promote/NAME/vVERSION/STAGE   one commit editing models/NAME/stages.yaml
    gitreg-register/NAME/vVERSION        one commit adding the card and its tag record

Nothing here touches the work tree; branches move with compare-and-swap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gitreg.check import engine as check
from gitreg.check.change import CheckOptions
from gitreg.errors import ConcurrentUpdate, RegistryRefusal, UsageError
from gitreg.model import events
from gitreg.model.events import Event
from gitreg.model.policy import Policy
from gitreg.model.view import RegistryView
from gitreg.ops import repair
from gitreg.results import to_data
from gitreg.store import layout, yamlio

if TYPE_CHECKING:
    from gitreg.model.branch import RegistryBranch

ARCHIVE_STAGE = "archived"
PROPOSAL_TRAILER = "gitreg-proposal"


@dataclass
class Proposal:
    kind: str  # promote | register
    name: str
    version: str
    stage: str | None
    branch: str
    commit: str
    base: str  # the registry head the proposal was built on
    moves: list[str] = field(default_factory=list)  # "1.0.0: production -> archived"
    report: check.Report | None = field(default=None, repr=False, metadata={"json": "check"})
    json_properties = ("ref",)
    pending: list[str] = field(default_factory=list)  # approvals it needs before it may merge

    @property
    def ref(self) -> str:
        return layout.branch_ref(self.branch)

    def to_dict(self) -> dict:
        return to_data(self)


@dataclass
class MergeResult:
    proposal: str
    commit: str  # the registry branch after the merge
    previous: str  # the registry branch before
    merged: bool  # False: the proposal was merged already
    fast_forward: bool
    report: check.Report | None = field(default=None, repr=False, metadata={"json": "check"})
    events: list[Event] = field(default_factory=list)
    pushed: bool = False
    gto_tags: list[str] = field(default_factory=list)  # GTO stage tags written for the merge
    gto_tags_error: str | None = None  # why they could not be written or pushed (the merge stands)

    def to_dict(self) -> dict:
        return to_data(self)


def refusal(report: check.Report, what: str) -> check.CheckRefused:
    """The check said no: a refusal listing each finding, with the report attached."""
    return check.CheckRefused(report, what)


# --- planning a promotion -------------------------------------------------------------


def plan(
    policy: Policy, stages: dict[str, list[str]], version: str, stage: str
) -> tuple[dict[str, list[str]], list[str]]:
    """The stages after promoting VERSION into STAGE, and the moves made, in words.

    The version leaves the stages that STAGE's `from` names; when the stage is over its
    max_versions, the versions promoted longest ago leave it, into `archived` if the policy
    has that stage.
    """
    target = policy.stages[stage]
    after = {s: list(vs) for s, vs in stages.items()}
    # A version promoted out of the archive is no longer archived.
    left = [
        s
        for s, vs in after.items()
        if version in vs
        and s != stage
        and (s == ARCHIVE_STAGE or (target.sources is not None and s in target.sources))
    ]
    for s in left:
        after[s].remove(version)
    into = after.setdefault(stage, [])
    if version in into:
        into.remove(version)  # promoting again makes it the one the stage serves
    into.append(version)
    moves = [f"{version}: {' + '.join(left) or '(none)'} -> {stage}"]
    if target.max_versions is not None:
        while len(into) > target.max_versions:
            old = into.pop(0)
            if ARCHIVE_STAGE in policy.stages and stage != ARCHIVE_STAGE:
                archived = after.setdefault(ARCHIVE_STAGE, [])
                if old not in archived:
                    archived.append(old)
                moves.append(f"{old}: {stage} -> {ARCHIVE_STAGE}")
            else:
                moves.append(f"{old}: {stage} -> (removed)")
    order = list(policy.stages) + [s for s in after if s not in policy.stages]
    return {s: after[s] for s in order if after.get(s)}, moves


def promote(reg: RegistryBranch, ref: str | layout.ModelRef, stage: str) -> Proposal:
    """Build, check and create the proposal branch that promotes REF into STAGE."""
    model_ref = layout.ModelRef.parse(ref) if isinstance(ref, str) else ref
    if model_ref.version is None and model_ref.stage is None:
        raise UsageError(
            f"say which version of {model_ref.name} to promote.",
            hint=f"Write {model_ref.name}@VERSION or {model_ref.name}@STAGE.",
        )
    layout.check_stage(stage)
    repair.before_write(reg, [model_ref.name])
    head = reg.require_head()
    view = RegistryView(reg.store, reg.store.commit_tree(head), head)
    version = view.resolve(model_ref)
    name = model_ref.name
    policy = view.policy
    if stage not in policy.stages:
        raise RegistryRefusal(
            f"the policy has no stage {stage!r}.", hint=f"Stages: {', '.join(policy.stages)}."
        )
    before = view.stages(name)
    if (before.get(stage) or [])[-1:] == [version]:
        raise RegistryRefusal(
            f"{name}@{version} is the version {stage} serves already.",
            hint=f"Nothing to do; 'gitreg which {name} {stage}' shows it.",
        )
    after, moves = plan(policy, before, version, stage)
    tree = reg.store.write_tree(view.tree, {layout.stages_path(name): yamlio.dump(after).encode()})
    detail = "".join(f"- {m}\n" for m in moves)
    message = (
        f"Promote {name}@{version} to {stage}\n\n{detail}\n"
        f"{PROPOSAL_TRAILER}: promote {name} {version} {stage}\n"
    )
    ident = reg.store.ident()
    from gitreg.trust.signing import can_sign

    # Signed when git can sign here: the audit then names the proposer from the signature, and
    # the approval rule keeps the proposer from approving their own change.
    if can_sign(reg.store, ident):
        commit = reg.store.make_signed_commit(tree, [head], message, ident)
    else:
        commit = reg.store.write_commit(tree, [head], message, ident)
    report = check.run(reg.store, head, commit)
    # Approvals come after the proposal exists (gitreg approve): only they may be missing now.
    waiting = [f.message for f in report.findings if f.rule == "approval"]
    if len(waiting) != len(report.findings):
        report.findings = [f for f in report.findings if f.rule != "approval"]
        raise refusal(report, f"promoting {name}@{version} to {stage}")
    branch = layout.proposal_branch(name, version, stage)
    _create_branch(reg, branch, commit, head)
    return Proposal("promote", name, version, stage, branch, commit, head, moves, report, waiting)


def propose_registration(
    reg: RegistryBranch,
    head: str,
    commit: str,
    name: str,
    version: str,
    tag_id: str,
    also: list | None = None,
    adopted: str | None = None,
) -> Proposal:
    """Check a registration commit (its tag not created yet, or ADOPTED: there already) and create
    its proposal branch and the tag in one ref transaction (with ALSO, more updates, committed
    after them)."""
    tag_ref = layout.tag_ref(name, version)
    report = check.run(reg.store, head, commit, options=CheckOptions(refs={tag_ref: tag_id}))
    if not report.ok:
        raise refusal(report, f"registering {layout.tag_name(name, version)}")
    branch = layout.register_proposal_branch(name, version)
    _create_branch(reg, branch, commit, head, also=[(tag_ref, tag_id, adopted), *(also or [])])
    return Proposal("register", name, version, None, branch, commit, head, [f"{version}: registered"], report)


def _create_branch(
    reg: RegistryBranch, branch: str, commit: str, registry_head: str, also: list | None = None
) -> None:
    ref = layout.branch_ref(branch)
    old = reg.store.ref_target(ref)
    if old is not None and not reg.store.is_ancestor(old, registry_head):
        raise RegistryRefusal(
            f"the proposal branch {branch} exists already and is not merged.",
            hint=f"Merge it (gitreg merge {branch}) or delete it (git branch -D {branch}), "
            "then run the command again.",
        )
    # A merged proposal branch is history: it is safe to reuse its name.
    reg.store.update_refs([(ref, commit, old), *(also or [])], f"gitreg: propose {branch}")


# --- merging ------------------------------------------------------------------------------


def resolve_proposal(reg: RegistryBranch, proposal: str) -> tuple[str, str | None]:
    """(commit, branch ref or None) of a proposal given as a branch name, ref or commit."""
    for ref in (proposal, layout.branch_ref(proposal)):
        if ref.startswith("refs/") and (target := reg.store.ref_target(ref)) is not None:
            return target, ref
    return reg.store.resolve_commit(proposal), None


def merge(reg: RegistryBranch, proposal: str, *, push: bool = False, ff: bool = False) -> MergeResult:
    """Check what merging PROPOSAL would make of the registry; if it passes, move the branch.

    The merge is a merge commit even when a fast-forward would do: the registry's
    first-parent history is then the list of merged changes (the audit log), each with
    the proposal's commits, signed approvals included, behind it. FF fast-forwards when
    it can. Who approved is never the merge commit's author: it is who signed an approval.
    """
    tip, _ = resolve_proposal(reg, proposal)
    current = reg.require_head()
    # What the proposal changes is what the merge builds on.
    repair.before_write(reg, repair.changed_models(reg.store, reg.store.merge_base(current, tip), tip))
    for _attempt in range(5):
        head = reg.require_head()
        if reg.store.is_ancestor(tip, head):
            return MergeResult(proposal, head, head, merged=False, fast_forward=False)
        fast = ff and reg.store.is_ancestor(head, tip)
        result = tip if fast else _merge_commit(reg, head, tip, proposal)
        report = check.run(reg.store, head, result)
        if not report.ok:
            raise refusal(report, f"merging {proposal}")
        try:
            reg.store.update_refs([(reg.branch_ref, result, head)], f"gitreg: merge {proposal}")
        except ConcurrentUpdate:
            continue  # the registry moved: merge again onto its new head, and check again
        found = events.history(reg.store, result, stop=head)
        if push:
            from gitreg.ops import remote

            remote.push(reg)
        return MergeResult(proposal, result, head, True, fast, report, found, push)
    raise ConcurrentUpdate(
        "the registry kept changing; gave up after several tries.",
        hint="Nothing was written. Run the command again.",
    )


def _merge_commit(reg: RegistryBranch, head: str, tip: str, proposal: str) -> str:
    tree, conflicts = reg.store.merge_tree(head, tip)
    if tree is None:
        if not conflicts:
            raise RegistryRefusal(
                f"{proposal} does not share history with the registry branch.",
                hint="A proposal is a commit on top of the registry branch.",
            )
        raise RegistryRefusal(
            f"{proposal} conflicts with what the registry merged since it was proposed:",
            details=conflicts,
            hint="Delete the proposal branch and propose again on top of the current registry.",
        )
    info = reg.store.commit_info(tip)
    subject = info.message.splitlines()[0] if info.message else proposal
    message = f"Merge {proposal}\n\n{subject}\n"
    return reg.store.write_commit(tree, [head, tip], message, reg.store.ident())
