"""Policy changes land alone: a change that edits registry.yaml, signers/ or checks/ and anything
else fails, because the rest would be judged by the policy it replaces (or dodge it).
"""

from __future__ import annotations

from collections.abc import Iterator

from gitreg.check.change import Change, Finding
from gitreg.check.rules.schema import is_policy_path


def policy_alone(change: Change) -> Iterator[Finding]:
    if change.base is None:
        return  # the registry's first commit: there is no earlier policy to judge it by
    policy = [p for _, p in change.paths if is_policy_path(p)]
    other = [p for _, p in change.paths if not is_policy_path(p)]
    if not policy or not other:
        return
    shown = ", ".join(other[:5]) + (f" and {len(other) - 5} more" if len(other) > 5 else "")
    yield Finding(
        "policy-alone",
        policy[0],
        f"this change edits the policy ({', '.join(policy[:5])}) and also {shown}. A policy "
        "change must land alone: the rest of the change is judged by the base's policy.",
        "Split it: merge the policy change on its own first, then propose the rest on top of it.",
    )
