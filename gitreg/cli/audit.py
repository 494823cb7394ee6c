"""`gitreg audit`: a model's whole trail, or the registry at a date, as Markdown, JSON or HTML."""

from __future__ import annotations

from pathlib import Path

import typer

from gitreg.cli import app, echo, emit_json, registry

FORMATS = ("markdown", "json", "html")


def check_format(format_: str, json_: bool = False) -> str:
    from gitreg.errors import UsageError

    format_ = "json" if json_ else format_
    if format_ not in FORMATS:
        raise UsageError(f"{format_!r} is not a format.", hint="Use --format markdown, json or html.")
    return format_


def deliver(text: str, output: Path | None, what: str, value=None) -> None:
    """Write TEXT to OUTPUT (saying so), or print it (JSON through emit_json when VALUE is given)."""
    if output is not None:
        output.write_text(text)
        echo(f"Wrote {what} to {output}.")
    elif value is not None:
        emit_json(value)
    else:
        echo(text.rstrip())


@app.command()
def audit(
    name: str | None = typer.Argument(None, help="Model name (or --all)."),
    all_: bool = typer.Option(False, "--all", help="Every model, one document."),
    at: str | None = typer.Option(
        None, "--at", help="The registry at DATE (YYYY-MM-DD = end of that day, UTC; ISO time; 7d)."
    ),
    format_: str = typer.Option("markdown", "--format", help="markdown, json or html."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write to FILE."),
    json_: bool = typer.Option(False, "--json", help="Print JSON (the same as --format json)."),
) -> None:
    """A model's whole trail: registrations, promotions and approvals, signatures, lineage,
    metrics, and whether every tag and card verifies (exit 1 when one does not). With --at:
    which version each stage held at that date, the merge that put it there and its approvers."""
    import json

    from gitreg.errors import UsageError
    from gitreg.ops import audit as audits

    format_ = check_format(format_, json_)
    if (name is not None and all_) or (name is None and not all_ and at is None):
        raise UsageError("give a model NAME or --all.", hint="gitreg audit churn, or gitreg audit --all")
    reg = registry()
    if at is not None:
        state = reg.state_at(at, name)
        if format_ == "json":
            value = state.to_dict()
            text = json.dumps(value, indent=2, default=str) + "\n"
        elif format_ == "html":
            from gitreg.review import documents

            value, text = None, documents.state_page(state)
        else:
            value, text = None, audits.state_markdown(state)
        deliver(text, output, f"the registry at {state.at}", value)
        return
    names = reg.view().model_names() if all_ else [name or ""]
    reports = [audits.audit(reg, n) for n in names]
    if format_ == "json":
        value = reports[0] if not all_ else {"models": reports, "ok": all(r["ok"] for r in reports)}
        text = json.dumps(value, indent=2, default=str) + "\n"
    elif format_ == "html":
        from gitreg.review import documents

        value, text = None, documents.audit_page(reports)
    else:
        value, text = None, "\n".join(audits.to_markdown(r) for r in reports)
    deliver(text, output, "the audit trail of " + ("every model" if all_ else names[0]), value)
    if not all(r["ok"] for r in reports):
        raise typer.Exit(1)
