"""Living beside GTO and MLflow: `gitreg sync-tags`, `gitreg import gto`, `gitreg import mlflow`."""

from __future__ import annotations

import typer

from gitreg.cli import app, echo, emit_json, registry

import_app = typer.Typer(
    name="import",
    help="Import a GTO registry or an MLflow Model Registry as one proposal for review.",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")


@app.command("sync-tags")
def sync_tags(
    push: bool = typer.Option(False, "--push", help="Publish them in one atomic push."),
    remote: str | None = typer.Option(
        None, "--remote", "-r", help="The remote (default: git config gitreg.remote, else origin)."
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Write GTO's stage tags (NAME#STAGE#N) and deprecations so that `gto show`, `gto which` and
    `dvc artifacts get --stage` answer what `gitreg which` answers. Running it again writes nothing."""
    result = registry().sync_tags(remote, push=push)
    if json_:
        emit_json(result.to_dict())
        return
    for w in result.written:
        echo(f"wrote {w.tag}")
    for name in result.skipped:
        echo(f"skipped {name}: GTO's names allow no '.'")
    if result.pushed:
        echo(f"Pushed {len(result.pushed)} GTO tag(s) to {result.remote}.")
    if not result.changed:
        echo("GTO's tags already agree with the registry; nothing written.")


def _show_import(result, json_: bool) -> None:
    if json_:
        emit_json(result.to_dict())
        return
    for v in result.versions:
        how = "adopting" if v.adopted else "tagging"
        echo(f"  {v.name}@{v.version} <- {v.origin} ({how} {v.tag} on {v.commit[:10]})")
    for name, stages in result.stages.items():
        echo(f"  {name} stages: " + "; ".join(f"{s}: {', '.join(vs)}" for s, vs in stages.items()))
    for u in result.unmapped:
        echo(f"  not imported: {u}")
    for note in result.notes:
        echo(f"  note: {note}")
    if result.state == "dry-run":
        echo(f"Dry run: would propose {len(result.versions)} version(s) on {result.branch}; nothing written.")
    elif result.state == "up-to-date":
        echo(f"Nothing to import from {result.source}: the registry holds all of it.")
    elif result.state == "pending":
        echo(f"{result.branch} waits for review; nothing written.")
    else:
        echo(
            f"Proposed {len(result.versions)} version(s) on {result.branch} ({str(result.commit)[:10]}). "
            "Fill in each card's pending narrative on that branch, then: "
            f"gitreg merge {result.branch} (or push it and open a merge request)."
        )
        for finding in result.findings:
            echo(f"  check: {finding}")


@import_app.command("gto")
def import_gto(
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be imported; write nothing."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Import this repository's GTO registry (tags, dvc.yaml `artifacts:`) as one proposal branch,
    gitreg-import/gto: a card per version, GTO's version tags adopted, current stages."""
    _show_import(registry().import_gto(dry_run=dry_run), json_)


@import_app.command("mlflow")
def import_mlflow(
    tracking_uri: str = typer.Option(..., "--tracking-uri", help="MLflow tracking/registry URI."),
    model: list[str] = typer.Option([], "--model", help="Import only this registered model (repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be imported; write nothing."),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Import an MLflow Model Registry (needs the mlflow extra) as one proposal branch,
    gitreg-import/mlflow: a version per MLflow version whose run names a commit of this repository."""
    _show_import(registry().import_mlflow(tracking_uri, models=model, dry_run=dry_run), json_)
