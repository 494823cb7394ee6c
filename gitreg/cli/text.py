"""Text the read commands print, shared by the Typer commands (cli/read.py) and the fast path
(cli/fast.py) so that both print the same bytes. Imports neither Typer nor the core's heavy parts."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitreg.ops.read import VersionInfo
    from gitreg.trust.verdicts import VersionCheck


def json_text(value: Any) -> str:
    """A result (dataclasses, lists, dicts) as JSON, through the one conversion."""
    from gitreg.results import to_data

    return json.dumps(to_data(value), indent=2, sort_keys=False, default=str)


def no_version_in_stage(name: str, stage: str) -> str:
    return f"no version of {name} is in stage {stage!r}"


def version_card(info: VersionInfo) -> str:
    """`show NAME@VERSION`: a header naming the tag, stages and verdict, then the card."""
    from gitreg.store import yamlio

    stages = ", ".join(info.stages) or "none"
    lines = [f"# {info.tag}  (stages: {stages})"]
    if info.verification is not None:
        lines.append(f"# {verdict(info.verification)}")
    lines.append(yamlio.dump(info.card).rstrip())
    return "\n".join(lines)


def verdict(v: VersionCheck) -> str:
    """One line on a version's tag: who signed it and whether it verifies."""
    sig = v.signature
    if sig is not None and sig.status == "verified":
        who = f"signed by {sig.signer} ({sig.kind} {sig.fingerprint})"
    elif sig is not None and sig.status == "unsigned":
        who = "unsigned"
    elif sig is not None:
        who = f"{sig.kind} signature: {sig.status}"
    else:
        who = "no signature read"
    if v.ok:
        return f"{who}; verifies"
    return (
        f"{who}; DOES NOT VERIFY: "
        + "; ".join(p.code for p in v.problems)
        + f" (run: gitreg verify {v.name}@{v.version})"
    )
