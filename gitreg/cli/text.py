"""Text the read commands print, shared by the Typer commands (cli/read.py) and the fast path
(cli/fast.py) so that both print the same bytes. Imports neither Typer nor the core's heavy parts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitreg.model.events import Event
    from gitreg.ops.promotion import Proposal
    from gitreg.ops.read import ModelInfo, ModelSummary, VersionInfo, VersionText
    from gitreg.ops.register import Registration
    from gitreg.trust.verdicts import VersionCheck


def json_text(value: Any) -> str:
    """A result (dataclasses, lists, dicts) as JSON, through the one conversion."""
    import json

    from gitreg.results import to_data

    return json.dumps(to_data(value), indent=2, sort_keys=False, default=str)


def no_version_in_stage(name: str, stage: str) -> str:
    return f"no version of {name} is in stage {stage!r}"


def version_card(info: VersionInfo | VersionText) -> str:
    """`show NAME@VERSION`: a header naming the tag, stages and verdict, then the card (its
    stored text when that is known to be its dump: the same bytes, without PyYAML)."""
    from gitreg.ops.read import VersionText

    stages = ", ".join(info.stages) or "none"
    lines = [f"# {info.tag}  (stages: {stages})"]
    if info.verification is not None:
        lines.append(f"# {verdict(info.verification)}")
    if isinstance(info, VersionText):
        lines.append(info.card_text.rstrip())
    else:
        from gitreg.store import yamlio

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


def table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)  # one format a row: a list is 10,000 rows
    return "\n".join(line.format(*row).rstrip() for row in rows)


def model_list(models: list[ModelSummary]) -> str:
    """`list`: one row a model."""
    if not models:
        return "No models registered yet. Register one with: gitreg register NAME --card CARD.yaml"
    rows: list[tuple[str, ...]] = [("MODEL", "LATEST", "VERSIONS", "STAGES")]
    for m in models:
        if m.error:
            rows.append((m.name, "-", "-", f"unreadable: {m.error} (run 'gitreg doctor')"))
            continue
        stages = ", ".join(f"{s}={v}" for s, v in m.stages.items()) or "-"
        rows.append((m.name, m.latest or "-", str(m.versions), stages))
    return table(rows)


def model_info(info: ModelInfo) -> str:
    """`show NAME`: the model, then a row a version."""
    model = info.model
    lines = [f"{info.name}: {model.get('description') or ''}".rstrip(": ")]
    owners = ", ".join(o.get("name", "") for o in model.get("owners") or [])
    if owners:
        lines.append(f"owners: {owners}")
    if model.get("artifact"):
        lines.append(f"artifact: {model['artifact'].get('path')}")
    lines.append("")
    rows: list[tuple[str, ...]] = [("VERSION", "STAGES", "TAG")]
    rows += [(v.version, ", ".join(v.stages) or "-", v.signed or "-") for v in info.versions]
    return "\n".join(lines) + "\n" + table(rows)


def history(found: list[Event], checks: dict[str, VersionCheck] | None = None) -> str:
    """`history NAME [--verify]`: a row an event, with each registration's verdict if CHECKS."""
    rows: list[tuple[str, ...]] = [("TIME", "EVENT", "VERSION", "STAGE", "BY", "COMMIT")]
    if checks is not None:
        rows[0] += ("SIGNATURE",)
    for e in found:
        stage = (
            f"{e.from_stage or '-'} -> {e.to_stage}"
            if e.to_stage
            else (f"{e.from_stage} -> -" if e.from_stage else "")
        )
        if e.kind == "policy":
            stage = ", ".join(e.paths)
        row: tuple[str, ...] = (e.time, e.kind, e.version, stage, e.author, e.commit[:10])
        if checks is not None:
            check = checks.get(e.version) if e.kind == "registered" else None
            row += (verdict(check) if check else "",)
        rows.append(row)
    return table(rows)


def registered(reg: Registration) -> list[str]:
    """What `register` prints after its warnings (cli/write.py and the fast path)."""
    signed = "signed " if reg.signed else ""
    lines = [f"Registered {reg.tag} ({signed}tag {reg.tag_id[:10]} on {reg.source_commit[:10]})."]
    if reg.proposal:
        lines.append(
            f"Card: {reg.card_path} on proposal branch {reg.proposal} (the check passed); "
            f"merge it with: gitreg merge {reg.proposal}"
        )
    else:
        lines.append(f"Card: {reg.card_path} on the registry branch, sha256 {reg.digest[:16]}...")
    return lines


def proposed(proposal: Proposal, stage: str) -> list[str]:
    """What `promote` prints of the proposal it made (cli/promote.py and the fast path)."""
    return [
        f"Proposed {proposal.name}@{proposal.version} -> {stage} on branch {proposal.branch} "
        f"({proposal.commit[:10]}); the check passed"
        + (", but for the approvals it needs." if proposal.pending else "."),
        *(f"  {move}" for move in proposal.moves),
        *(f"Still needed: {line}" for line in proposal.pending),
    ]


def merge_hint(branch: str) -> str:
    """The last line of `promote` when the proposal stays local."""
    return (
        f"Merge it with: gitreg merge {branch}  (or push it and open a merge request "
        "against the registry branch: --push --open)"
    )
