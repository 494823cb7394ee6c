"""Governance operations: `gitreg approve` and policy changes as proposals.

    gitreg approve BRANCH          a signed, empty commit `Approve <change id>` on a proposal branch
    gitreg signers add|revoke      |
    gitreg policy set FILE         | a gitreg-policy/... proposal branch, never the registry branch
    gitreg checks add FILE...      |

A policy proposal is one change commit on top of the registry branch, signed with the user's git
signing set-up when there is one (a maintainer's own signature counts), and checked before the
branch exists; only the signatures it still lacks are left for `approve`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gitreg.check import engine as check
from gitreg.errors import ConcurrentUpdate, RegistryRefusal, UsageError
from gitreg.model.policy import Policy
from gitreg.model.view import RegistryView
from gitreg.ops import repair
from gitreg.store import layout
from gitreg.trust import approvals

if TYPE_CHECKING:
    from gitreg.model.branch import RegistryBranch

# Findings a proposal is expected to have until it is approved: they do not stop proposing.
PENDING_RULES = ("approval", "maintainers")
_RETRIES = 5

Edit = Callable[[RegistryView], tuple[dict[str, bytes | None], str]]


@dataclass
class PolicyProposal:
    branch: str
    commit: str
    base: str
    message: str
    signed: bool
    pending: list[str] = field(default_factory=list)  # what it still needs before it may merge

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Approval:
    branch: str
    commit: str  # the approval commit
    change: str  # the change commit it approves
    pending: list[str] = field(default_factory=list)  # what the proposal still needs, if anything
    pushed_to: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class Proposer:
    """What gitreg.trust.signing writes through: signers/ changes become policy proposals."""

    def __init__(self, reg: RegistryBranch):
        self.reg = reg
        self.store = reg.store

    def propose_policy(self, edit: Edit, slug: str) -> PolicyProposal:
        return propose_policy(self.reg, edit, slug)


def pending(report: check.Report) -> tuple[list[str], list]:
    """(what approvals are still missing, findings that refuse the proposal outright)."""
    waiting = [f.message for f in report.findings if f.rule in PENDING_RULES]
    return waiting, [f for f in report.findings if f.rule not in PENDING_RULES]


def propose_policy(reg: RegistryBranch, edit: Edit, slug: str) -> PolicyProposal:
    """A gitreg-policy/SLUG-<id> branch holding EDIT(view) as one checked commit."""
    from gitreg.ops.promotion import refusal
    from gitreg.trust.signing import can_sign

    repair.before_write(reg, ())  # finish what a crash left before building on the registry
    store = reg.store
    ident = store.ident()
    sign = can_sign(store, ident)
    for _ in range(_RETRIES):
        head = reg.require_head()
        view = RegistryView(store, store.commit_tree(head), head)
        changes, message = edit(view)
        tree = store.write_tree(view.tree, changes)
        if tree == view.tree:
            raise RegistryRefusal("the policy already says that; nothing to propose.", hint="Nothing to do.")
        text = f"{message}\n\ngitreg-proposal: policy {slug}\n"
        commit = (
            store.make_signed_commit(tree, [head], text, ident)
            if sign
            else store.write_commit(tree, [head], text, ident)
        )
        report = check.run(store, head, commit)
        waiting, refused = pending(report)
        if refused:
            report.findings = refused
            raise refusal(report, f"the policy change ({message})")
        branch = layout.policy_proposal_branch(slug, commit)
        try:
            store.update_refs([(layout.branch_ref(branch), commit, None)], f"gitreg: propose {branch}")
        except ConcurrentUpdate:
            continue
        return PolicyProposal(branch, commit, head, message, sign, waiting)
    raise ConcurrentUpdate("the registry kept changing; gave up.", hint="Nothing was written. Run it again.")


def set_policy(reg: RegistryBranch, policy_file: str | os.PathLike) -> PolicyProposal:
    try:
        data = Path(policy_file).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {policy_file}: {exc.strerror}.") from None
    Policy.parse(data, str(policy_file))  # the schema, before anything is written

    def edit(view: RegistryView) -> tuple[dict[str, bytes | None], str]:
        return {layout.POLICY_PATH: data}, "Change the policy (registry.yaml)"

    return propose_policy(reg, edit, "policy-set")


def add_checks(reg: RegistryBranch, files: list[str | os.PathLike]) -> PolicyProposal:
    """checks/<name> for each FILE: the validator scripts the policy runs, as maintainers sign them."""
    if not files:
        raise UsageError("give at least one script to add under checks/.")
    changes: dict[str, bytes | None] = {}
    for file in files:
        path = Path(file)
        name = path.name
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {file}: {exc.strerror}.") from None
        if not name or name.startswith(".") or "/" in name:
            raise UsageError(f"{file!r} is not a file name gitreg puts under checks/.")
        changes[f"{layout.CHECKS_DIR}/{name}"] = data

    def edit(view: RegistryView) -> tuple[dict[str, bytes | None], str]:
        names = ", ".join(p.split("/", 1)[1] for p in changes)
        return dict(changes), f"Add validator script(s) to checks/: {names}"

    return propose_policy(reg, edit, "checks-add")


def approve(reg: RegistryBranch, proposal: str, *, push: bool = False, remote: str | None = None) -> Approval:
    """Add a signed approval commit on top of the proposal branch PROPOSAL (compare-and-swap)."""
    repair.before_write(reg, ())  # finish what a crash left before writing
    store = reg.store
    branch = proposal.removeprefix("refs/heads/")
    if not branch.startswith(layout.PROPOSAL_PREFIXES):
        raise UsageError(
            f"{proposal!r} is not a proposal branch.",
            hint="Approve a branch named gitreg-promote/..., gitreg-register/... or gitreg-policy/....",
        )
    ref = layout.branch_ref(branch)
    tip = store.ref_target(ref)
    if tip is None:
        raise UsageError(
            f"there is no branch {branch!r} here.",
            hint=f"Fetch it first: git fetch origin {branch}:{branch}",
        )
    head = reg.require_head()
    changes = [c for c in store.walk(tip, head, first_parent=False) if approvals.approves(store, c) is None]
    if not changes:
        raise RegistryRefusal(
            f"{branch} holds no change the registry lacks: it is merged already.", hint="Nothing to approve."
        )
    change = changes[0]  # the newest: an approval covers every change below it
    subject = store.commit_info(change).message.splitlines()[0] if store.commit_info(change).message else ""
    message = f"Approve {change}\n\n{subject}\n\n{approvals.APPROVE_TRAILER}: {change}\n"
    ident = store.ident()
    commit = store.make_signed_commit(store.commit_tree(tip), [tip], message, ident)
    store.update_refs([(ref, commit, tip)], f"gitreg: approve {branch}")
    waiting: list[str] = []
    if store.is_ancestor(head, commit):
        waiting, _ = pending(check.run(store, head, commit))
    result = Approval(branch, commit, change, waiting)
    if push:
        from gitreg.ops import remote as remotes

        result.pushed_to, _ = remotes.publish(reg, branch, remote)
    return result
