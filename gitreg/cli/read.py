"""Read commands: list, show, history, which. Each has --json."""

from __future__ import annotations

import typer

from gitreg.cli import app, echo, emit_json, registry, text

JSON = typer.Option(False, "--json", help="Print JSON instead of text.")


@app.command("list")
def list_(json_: bool = JSON) -> None:
    """List every registered model with its latest version and stages."""
    models = registry().list()
    if json_:
        emit_json(models)
        return
    echo(text.model_list(models))


@app.command()
def show(
    ref: str = typer.Argument(..., help="NAME, NAME@VERSION or NAME@STAGE."),
    json_: bool = JSON,
) -> None:
    """Show a model, or one version's card (NAME@1.2.0, NAME@production)."""
    from gitreg.ops.read import ModelInfo

    info = registry().show(ref)
    if json_:
        emit_json(info)
        return
    if isinstance(info, ModelInfo):
        echo(text.model_info(info))
        return
    echo(text.version_card(info))


@app.command()
def history(
    name: str = typer.Argument(..., help="Model name."),
    json_: bool = JSON,
    verify: bool = typer.Option(
        False, "--verify", help="Also verify each registration's tag and name its signer."
    ),
) -> None:
    """Registrations and stage changes of a model, oldest first (from the registry branch log)."""
    reg = registry()
    found = reg.history(name)
    checks = {c.version: c for c in reg.verify(name)} if verify else {}
    if json_:
        out = [e.to_dict() for e in found]
        for e in out:
            if verify and e["kind"] == "registered" and e["version"] in checks:
                e["verification"] = checks[e["version"]].to_dict()
        emit_json(out)
        return
    echo(text.history(found, checks if verify else None))


@app.command()
def which(
    name: str = typer.Argument(..., help="Model name."),
    stage: str = typer.Argument(..., help="Stage, such as production."),
    json_: bool = JSON,
) -> None:
    """The version a stage serves now (exit 1 when the stage holds none)."""
    version = registry().which(name, stage)
    if json_:
        emit_json({"name": name, "stage": stage, "version": version})
    elif version:
        echo(version)
    if version is None:
        if not json_:
            typer.echo(text.no_version_in_stage(name, stage), err=True)
        raise typer.Exit(1)
