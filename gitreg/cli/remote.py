"""Remote commands: `gitreg push` and `gitreg sync`."""

from __future__ import annotations

import typer

from gitreg.cli import app, echo, emit_json, registry

_REMOTE_HELP = "The remote (default: git config gitreg.remote, else origin)."


@app.command("push")
def push_(
    remote: str | None = typer.Option(None, "--remote", "-r", help=_REMOTE_HELP),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Publish the registry branch and new registration tags in one atomic push."""
    report = registry().push(remote)
    if json_:
        emit_json(report.to_dict())
        return
    for line in report.messages:
        echo(f"{report.remote}: {line}")
    if report.up_to_date:
        echo(f"{report.remote} is up to date ({report.branch} at {report.new[:10]}).")
        return
    was = report.old[:10] if report.old else "nothing"
    echo(f"Pushed {report.branch} to {report.remote}: {was} -> {report.new[:10]}.")
    if len(report.steps) > 1:
        echo(
            f"In {len(report.steps)} pushes, policy changes apart from the rest: "
            + " -> ".join(s[:10] for s in report.steps)
        )
    if report.tags:
        echo("Published tags: " + ", ".join(report.tags))


@app.command("sync")
def sync_(
    remote: str | None = typer.Option(None, "--remote", "-r", help=_REMOTE_HELP),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Fetch the registry branch and registration tags; refuse moved tags and rewritten history."""
    report = registry().sync(remote)
    if json_:
        emit_json(report.to_dict())
        return
    at = report.remote_head[:10]
    echo(
        {
            "up-to-date": f"{report.branch} is up to date with {report.remote} ({at}).",
            "created": f"Created {report.branch} from {report.remote} at {at}.",
            "fast-forward": f"Fast-forwarded {report.branch} to {report.remote}'s {at}.",
            "ahead": f"{report.branch} is ahead of {report.remote} ({at}): run 'gitreg push' to publish.",
            "merged": f"Merged your unpublished registry changes onto {report.remote}'s {at} "
            f"({str(report.new)[:10]}): run 'gitreg push' to publish.",
        }[report.state]
    )
    if report.tags:
        echo("Fetched tags: " + ", ".join(report.tags))
