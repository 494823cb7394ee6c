"""Promotions as proposals: promote, merge."""

from __future__ import annotations

import typer

from gitreg.cli import app, echo, emit_json, registry


@app.command()
def promote(
    ref: str = typer.Argument(..., help="NAME@VERSION (or NAME@STAGE) to promote."),
    stage: str = typer.Argument(..., help="Stage to promote into, such as production."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Propose a promotion: a checked branch gitreg-promote/NAME/vVERSION/STAGE."""
    proposal = registry().promote(ref, stage)
    if json_:
        emit_json(proposal.to_dict())
        return
    echo(f"Proposed {proposal.name}@{proposal.version} -> {stage} on branch {proposal.branch} "
         f"({proposal.commit[:10]}); the check passed.")
    for move in proposal.moves:
        echo(f"  {move}")
    echo(f"Merge it with: gitreg merge {proposal.branch}  (or push it and open a merge request "
         "against the registry branch)")


@app.command()
def merge(
    proposal: str = typer.Argument(..., help="Proposal branch (or commit) to merge."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check a proposal against the registry branch, then merge it (compare-and-swap)."""
    result = registry().merge(proposal)
    if json_:
        emit_json(result.to_dict())
        return
    if not result.merged:
        echo(f"{proposal} is merged already; nothing to do.")
        return
    how = "fast-forward" if result.fast_forward else "merge commit"
    echo(f"Merged {proposal} into the registry ({how}, {result.previous[:10]} -> "
         f"{result.commit[:10]}); the check passed.")
    for e in result.events:
        move = f" {e.from_stage or '-'} -> {e.to_stage or '-'}" if e.kind != "registered" else ""
        echo(f"  {e.kind} {e.model}@{e.version}{move}")
