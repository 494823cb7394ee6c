"""`gitreg report` (the weekly review) and `gitreg card new|export`."""

from __future__ import annotations

from pathlib import Path

import typer

from gitreg.cli import app, echo, registry
from gitreg.cli.audit import check_format, deliver

card_app = typer.Typer(
    help="Model cards: a template to fill in, exports to other tools.", no_args_is_help=True
)
app.add_typer(card_app, name="card")


@app.command()
def report(
    since: str | None = typer.Option(None, "--since", help="Window start: an age (7d, 2w) or a date."),
    until: str | None = typer.Option(None, "--until", help="Window end (default: now)."),
    from_: str | None = typer.Option(None, "--from", help="Every registry commit after REV instead."),
    format_: str = typer.Option("markdown", "--format", help="markdown, json or html."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write to FILE."),
    json_: bool = typer.Option(False, "--json", help="Print JSON (the same as --format json)."),
) -> None:
    """The weekly review: registrations, promotions and archives with their approvers, policy
    and signer changes, open proposals with their check verdict, and each new version's metrics
    against what its target stage serves now."""
    import json
    import time

    from gitreg.errors import UsageError
    from gitreg.ops.audit import parse_date
    from gitreg.review import report as reports

    format_ = check_format(format_, json_)
    if since is not None and from_ is not None:
        raise UsageError("give --since or --from, not both.")
    reg = registry()
    end = parse_date(until) if until is not None else int(time.time())
    begin = None if from_ is not None else parse_date(since or "7d", now=end)
    review = reg.review(since=begin, until=end, start=from_)
    if format_ == "json":
        value = review.to_dict()
        deliver(json.dumps(value, indent=2, default=str) + "\n", output, "the review", value)
    elif format_ == "html":
        from gitreg.review import documents

        deliver(documents.review_page(review, links=False), output, "the review")
    else:
        deliver(reports.markdown(review), output, "the review")


@card_app.command("new")
def card_new(
    name: str = typer.Argument(..., help="Model name."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write to FILE (refuses to overwrite)."),
) -> None:
    """Print a narrative card to fill in (what `gitreg register --card` reads)."""
    from gitreg.errors import UsageError
    from gitreg.review import cards

    text = cards.template(name)
    if output is not None:
        if output.exists():
            raise UsageError(
                f"{output} exists already.", hint="Give another path; card new does not overwrite."
            )
        output.write_text(text)
        echo(f"Wrote a card for {name} to {output}: fill it in, then gitreg register {name} --card {output}")
    else:
        echo(text.rstrip())


@card_app.command("export")
def card_export(
    ref: str = typer.Argument(..., help="NAME@VERSION or NAME@STAGE."),
    to: str = typer.Option(..., "--to", help="huggingface (README.md) or model-card-toolkit (JSON)."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Write to FILE."),
) -> None:
    """Export a version's card for Hugging Face (README with model-index) or Model Card Toolkit."""
    text = registry().export_card(ref, to)
    deliver(text, output, f"the {to} card of {ref}")
