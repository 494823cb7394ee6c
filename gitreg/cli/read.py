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
        emit_json([m.to_dict() for m in models])
        return
    if not models:
        echo("No models registered yet. Register one with: gitreg register NAME --card CARD.yaml")
        return
    rows: list[tuple[str, ...]] = [("MODEL", "LATEST", "VERSIONS", "STAGES")]
    for m in models:
        if m.error:
            rows.append((m.name, "-", "-", f"unreadable: {m.error} (run 'gitreg doctor')"))
            continue
        stages = ", ".join(f"{s}={v}" for s, v in m.stages.items()) or "-"
        rows.append((m.name, m.latest or "-", str(m.versions), stages))
    _table(rows)


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
        model = info.model
        echo(f"{info.name}: {model.get('description') or ''}".rstrip(": "))
        owners = ", ".join(o.get("name", "") for o in model.get("owners") or [])
        if owners:
            echo(f"owners: {owners}")
        if model.get("artifact"):
            echo(f"artifact: {model['artifact'].get('path')}")
        echo("")
        rows: list[tuple[str, ...]] = [("VERSION", "STAGES", "TAG")]
        rows += [(v.version, ", ".join(v.stages) or "-", v.signed or "-") for v in info.versions]
        _table(rows)
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
    rows: list[tuple[str, ...]] = [("TIME", "EVENT", "VERSION", "STAGE", "BY", "COMMIT")]
    if verify:
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
        if verify:
            check = checks.get(e.version) if e.kind == "registered" else None
            row += (text.verdict(check) if check else "",)
        rows.append(row)
    _table(rows)


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


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
