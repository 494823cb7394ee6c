"""The CI gate and what deploy jobs read: check, events.

`gitreg check --base OLD --head NEW --format text` is the contract hooks and CI call:
exit 0 pass, 1 findings, 2 usage or operational error.
"""

from __future__ import annotations

import os

import typer

from gitreg.cli import app, echo, emit_json, registry


@app.command()
def check(
    base: str | None = typer.Option(
        None,
        "--base",
        help="Registry commit to judge against; its policy applies "
        "(default: HEAD's first parent; all zeros: nothing).",
    ),
    head: str | None = typer.Option(
        None, "--head", help="Registry commit to judge (default: the registry branch)."
    ),
    format_: str = typer.Option("text", "--format", help="text, json or github."),
    remote: bool = typer.Option(
        False,
        "--remote",
        help="Also check that every object the new "
        "versions need (model, data, files in directory outs) is in the DVC remote.",
    ),
) -> None:
    """Judge a change to the registry by the policy of its base (exit 1 when it fails)."""
    from gitreg.check import report as render
    from gitreg.check.change import CheckOptions
    from gitreg.errors import UsageError

    if format_ not in ("text", "json", "github"):
        raise UsageError(f"--format {format_!r} is not one of text, json, github.")
    result = registry().check(base, head, options=CheckOptions(remote=True) if remote else None)
    if format_ == "json":
        echo(render.as_json(result))
    elif format_ == "github":
        echo(render.github(result))
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as f:
                f.write(render.summary(result))
    else:
        echo(render.text(result))
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def events(
    old: str = typer.Argument(..., help="Registry commit before (all zeros: the beginning)."),
    new: str = typer.Argument(..., help="Registry commit after."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """What changed in the registry between two commits: registrations, promotions, archivals."""
    found = registry().events(old, new)
    if json_:
        emit_json([e.to_dict() for e in found])
        return
    if not found:
        echo("No registry events.")
    for e in found:
        if e.kind == "policy":
            echo(f"{e.time}  policy       {', '.join(e.paths)}  by {e.author}  ({e.commit[:10]})")
            continue
        move = f" {e.from_stage or '-'} -> {e.to_stage or '-'}" if e.kind != "registered" else ""
        echo(f"{e.time}  {e.kind:<12} {e.model}@{e.version}{move}  by {e.author}  ({e.commit[:10]})")
