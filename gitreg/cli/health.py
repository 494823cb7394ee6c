"""Health commands: `gitreg repair` (finish what a crash left) and `gitreg doctor` (find every
defect, fix the safe ones)."""

from __future__ import annotations

import typer

from gitreg.cli import app, echo, emit_json, registry


@app.command()
def repair(json_: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Finish what crashes left half-done: missing tag refs, pending refs, stale locks."""
    report = registry().repair()
    if json_:
        emit_json(report.to_dict())
    else:
        if report.tags_made:
            echo("Created missing tag(s): " + ", ".join(report.tags_made))
        if report.pending_done or report.pending_dropped:
            n = len(report.pending_done) + len(report.pending_dropped)
            echo(f"Settled {n} pending ref(s) of interrupted registrations.")
        if report.locks_removed:
            echo("Removed stale lock(s): " + ", ".join(report.locks_removed))
        if not report.changed and not report.left:
            echo("Nothing to repair.")
        for line in report.left:
            echo(f"left for a person: {line}")
        if report.left:
            echo("Run 'gitreg doctor' for what to do.")
    if report.left:
        raise typer.Exit(1)


@app.command()
def doctor(
    fix: bool = typer.Option(False, "--fix", help="Repair what is safe to repair; report the rest."),
    lock_age: float | None = typer.Option(
        None,
        "--lock-age",
        help="Seconds a lock file must be old (and held by no live git process) for --fix to remove "
        "it (default 60).",
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Examine the repository as a registry (work or bare server repository): format, every card
    and tag, pending refs, locks, proposals, git fsck, the cache. Exit 1 while defects remain."""
    report = registry().doctor(fix=fix, lock_age=lock_age)
    if json_:
        emit_json(report.to_dict())
    else:
        echo(f"gitreg doctor: {report.repository}{' (bare)' if report.bare else ''}")
        echo("examined: " + "; ".join(report.examined))
        for p in report.problems:
            state = "fixed" if p.fixed else ("note" if not p.defect else "defect")
            echo(f"[{state}] {p.kind}: {p.message}")
            if not p.fixed:
                echo(f"    fix: {p.fix}")
        if report.ok:
            echo("No defects." if not report.fixed else f"Fixed {len(report.fixed)}; no defects left.")
        else:
            left = "; ".join(p.subject for p in report.defects)
            safe = any(p.safe for p in report.defects)
            echo(f"{len(report.defects)} defect(s) left: {left}")
            echo(
                "Run 'gitreg doctor --fix' for the safe ones."
                if safe and not fix
                else "The rest is for a person."
            )
    if not report.ok:
        raise typer.Exit(1)
