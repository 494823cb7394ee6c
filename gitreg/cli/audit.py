"""`gitreg audit`: a model's whole trail, as Markdown or JSON."""

from __future__ import annotations

from pathlib import Path

import typer

from gitreg.cli import app, echo, emit_json, registry


@app.command()
def audit(
    name: str = typer.Argument(..., help="Model name."),
    format_: str = typer.Option("markdown", "--format", help="markdown or json."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write to FILE."),
    json_: bool = typer.Option(False, "--json", help="Print JSON (the same as --format json)."),
) -> None:
    """A model's whole trail: registrations, promotions and approvals, signatures, lineage,
    metrics, and whether every tag and card verifies (exit 1 when one does not)."""
    from gitreg.errors import UsageError
    from gitreg.ops import audit as audits

    format_ = "json" if json_ else format_
    if format_ not in ("markdown", "json"):
        raise UsageError(f"{format_!r} is not a format.", hint="Use --format markdown or json.")
    report = audits.audit(registry(), name)
    if format_ == "json":
        import json

        text = json.dumps(report, indent=2, default=str) + "\n"
    else:
        text = audits.to_markdown(report)
    if output is not None:
        output.write_text(text)
        echo(f"Wrote the audit trail of {name} to {output}.")
    elif format_ == "json":
        emit_json(report)
    else:
        echo(text.rstrip())
    if not report["ok"]:
        raise typer.Exit(1)
