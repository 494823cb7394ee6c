"""Who may do what, judged by the base: the policy's owners, the approvals a stage needs, and
merges that are what they say.

- owners: a policy without `maintainers` is unowned; reported as a warning on every check.
- maintainers: a change to registry.yaml, signers/ or checks/ needs `maintainers.approvals`
  distinct maintainer signatures: the change commits' own and approval commits.
- approval: a version entering a stage with `approvers` needs that many distinct signed
  approval commits (gitreg approve) by approvers, never counting the proposer.
- merge: a merge commit's tree is the merge of its parents (no content slipped into the
  merge itself), and it has two parents.

Signatures verify against the base's signers/ at the time of the check (gitreg.trust.approvals).
"""

from __future__ import annotations

from collections.abc import Iterator

from gitreg.check.change import Change, Finding
from gitreg.check.rules.schema import is_policy_path
from gitreg.model.policy import Role
from gitreg.store import layout

_APPROVE_FIX = (
    "An approver runs 'gitreg approve {branch} --push' (a signed, empty commit on the proposal "
    "branch); merge with a merge commit or a fast-forward, never a squash, so approvals stay in "
    "the history."
)


def owners(change: Change) -> Iterator[Finding]:
    if change.base is None or change.policy.maintainers is not None:
        return
    yield Finding(
        "owners",
        layout.POLICY_PATH,
        "the policy is unowned: registry.yaml names no maintainers, so any pusher may change "
        "the policy, the signers and checks/.",
        "Add 'maintainers: {principals: [YOU@EXAMPLE.COM], approvals: 1}' with 'gitreg policy "
        "set FILE', and your key with 'gitreg signers add'.",
        severity="warning",
    )


def maintainers(change: Change) -> Iterator[Finding]:
    role = change.policy.maintainers
    if change.base is None or role is None:
        return
    touched = sorted({p for _, p in change.paths if is_policy_path(p)})
    if not touched:
        return
    trail = change.trail
    signed = trail.signers(role)
    if len(signed) >= role.approvals:
        return
    yield Finding(
        "maintainers",
        touched[0],
        f"this policy change ({', '.join(touched[:3])}) needs {role.approvals} distinct maintainer "
        f"signature(s); it has {len(signed)}{_named(signed)}. {_trail_words(trail)} "
        f"May still sign: {_remaining(role, signed)}.",
        "A maintainer signs it: 'gitreg approve gitreg-policy/...' on the proposal branch "
        "(signatures must verify against the base's signers/).",
    )


def approval(change: Change) -> Iterator[Finding]:
    needs = [
        (e, change.policy.stages[e.stage].approvers)
        for e in change.entries
        if e.stage in change.policy.stages and change.policy.stages[e.stage].approvers is not None
    ]
    if not needs:
        return
    trail = change.trail
    for entry, role in needs:
        assert role is not None
        got = trail.approvers(role)
        if len(got) >= role.approvals:
            continue
        branch = layout.proposal_branch(entry.model, entry.version, entry.stage)
        stale = (
            f" {len(trail.stale)} approval(s) predate a later change and do not count." if trail.stale else ""
        )
        yield Finding(
            "approval",
            layout.stages_path(entry.model),
            f"{entry.label} needs {role.approvals} approval(s) from the {entry.stage} approvers, never "
            f"counting the proposer; it has {len(got)}{_named(got)}. {_trail_words(trail)}{stale} "
            f"May still approve: {_remaining(role, got, trail.proposers)}.",
            _APPROVE_FIX.format(branch=branch),
            entry.model,
            entry.version,
        )


def merge(change: Change) -> Iterator[Finding]:
    head = change.head.commit
    if not head:
        return
    parents = change.store.commit_info(head).parents
    if len(parents) > 2:
        yield Finding(
            "merge",
            head[:12],
            f"{head[:12]} merges {len(parents)} commits at once; the registry takes one change per merge.",
            "Merge proposals one at a time (gitreg merge, or the forge's merge button).",
        )
    elif len(parents) == 2:
        tree, _ = change.store.merge_tree(parents[0], parents[1])
        if tree != change.head.tree:
            yield Finding(
                "merge",
                head[:12],
                f"the merge commit {head[:12]} holds changes of its own: its tree is not the merge "
                "of its parents, so what it changes was never proposed or approved.",
                "Merge the proposal as it was approved (gitreg merge), and propose other changes "
                "on their own.",
            )


def _named(names: list[str]) -> str:
    return f" ({', '.join(names)})" if names else ""


def _trail_words(trail) -> str:
    if trail.unsigned_proposal:
        return (
            "The proposal is unsigned (claims "
            + ", ".join(sorted({c.claims for c in trail.changes}))
            + "): there is no proposer to exclude."
        )
    return f"Proposed by {', '.join(trail.proposers) or 'nobody'}."


def _remaining(role: Role, done: list[str], exclude: list[str] | None = None) -> str:
    left = [p for p in role.principals if p not in done and p not in (exclude or [])]
    return ", ".join(left) if left else "nobody (the policy lists too few)"
