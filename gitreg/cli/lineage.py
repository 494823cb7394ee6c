"""Lineage commands: lineage, reproduce, diff, fetch. The core is imported inside each command,
and DVC only by reproduce and fetch (and only when they need it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from gitreg.cli import app, echo, emit_json, registry

if TYPE_CHECKING:
    from gitreg.lineage.trace import Lineage

JSON = typer.Option(False, "--json", help="Print JSON instead of text.")


@app.command()
def lineage(
    ref: str = typer.Argument(..., help="NAME@VERSION or NAME@STAGE."),
    json_: bool = JSON,
    format_: str = typer.Option("text", "--format", help="text, json or mermaid (the DAG)."),
) -> None:
    """Where a version came from: code commit, pipeline stages, data, params, metrics, environment."""
    from gitreg.errors import UsageError
    from gitreg.lineage import trace as lin

    if format_ not in ("text", "json", "mermaid"):
        raise UsageError(f"--format {format_!r} is not one of text, json, mermaid.")
    info = registry().lineage(ref)
    if json_ or format_ == "json":
        emit_json(info)
    elif format_ == "mermaid":
        echo(lin.mermaid(info).rstrip())
    else:
        _lineage_text(info)


def _lineage_text(info: Lineage) -> None:
    stages = ", ".join(info.stages) or "none"
    echo(f"{info.name}@{info.version}  (tag {info.tag}; stages: {stages})")
    code = info.code
    line = f"code:         {code.commit}"
    if code.available:
        line += f"  {code.time}  {code.author}  {code.subject}"
    else:
        line += "  (commit not in this repository)"
    echo(line)
    pipe = info.pipeline
    if pipe:
        echo(f"pipeline:     dvc, stage {pipe['stage']} (dvc.lock sha256 {pipe['lock_digest']})")
        for stage in pipe["stages"]:
            if "cmd" not in stage:
                echo(f"  {stage['name']}")
                continue
            frozen = "  [frozen]" if stage["frozen"] else ""
            echo(f"  {stage['name']}: {stage['cmd']}{frozen}")
            for dep in stage["deps"]:
                echo(f"    <- {dep['path']}  {dep['md5']}{'  (git)' if dep['in_git'] else ''}")
            for out in stage["outs"]:
                echo(f"    -> {out['path']}  {out['md5']}")
    art = info.artifact or {}
    size = f"  {art['size']} bytes" if art.get("size") is not None else ""
    lfs = f"  Git LFS sha256 {art['lfs'].get('oid')}" if isinstance(art.get("lfs"), dict) else ""
    md5 = f"  md5 {art['md5']}" if art.get("md5") else ""
    echo(f"artifact:     {art.get('path')}{md5}{lfs}{size}")
    if info.data:
        echo("data:")
        for d in info.data:
            echo(f"  {d['path']}  md5 {d['md5']}" + (f"  (stage {d['stage']})" if d.get("stage") else ""))
    if info.params:
        from gitreg.lineage.pipeline import flat_params

        echo("params:")
        for file, values in info.params.items():
            for key, value in flat_params(values).items():
                echo(f"  {file}  {key} = {value}")
    if info.metrics:
        echo("metrics:")
        for m in info.metrics:
            src = m.get("source") or {}
            where = f"  ({src.get('file')}: {src.get('key')})" if src else "  (no source)"
            echo(f"  {m['key']} = {m['value']}{where}")
    if info.environment:
        echo("environment:")
        for key, value in info.environment.items():
            if isinstance(value, dict):
                value = "  ".join(f"{k} {v}" for k, v in value.items())
            echo(f"  {key}: {value}")
    by = info.registered_by or {}
    echo(f"registered:   {info.registered_at} by {by.get('name')} <{by.get('email')}>")


@app.command()
def reproduce(
    ref: str = typer.Argument(..., help="NAME@VERSION or NAME@STAGE."),
    env: list[str] = typer.Option(
        [],
        "--env",
        help="Pass this environment variable to the pipeline (repeatable); it otherwise gets only "
        "PATH, HOME, the locale, TMPDIR and DVC_* variables.",
    ),
    json_: bool = JSON,
) -> None:
    """Re-run a version's DVC pipeline at its source commit (in a temporary worktree, scrubbed
    environment) and compare every out's hash and every metric with the card.
    Exit 0 PASS, 1 FAIL, 2 when it cannot run (e.g. missing data)."""

    def progress(line: str) -> None:
        typer.echo(line, err=json_)

    try:
        result = registry().reproduce(ref, progress=progress, pass_env=env)
    except KeyboardInterrupt:
        typer.echo("interrupted: the temporary worktree was removed", err=True)
        raise typer.Exit(130) from None
    if json_:
        emit_json(result.to_dict())
    else:
        echo("")
        for out in result.outs:
            found = out.found or "-"
            if out.status == "same":
                echo(f"  same      {out.path}  {out.expected}")
            elif out.status == "not reproduced":
                echo(f"  frozen    {out.path}  {out.expected}  (stage {out.stage} is frozen: not reproduced)")
            else:
                echo(f"  {out.status:<9} {out.path}  expected {out.hash} {out.expected}, got {found}")
        for m in result.metrics:
            within = f" (tolerance {m.tolerance:g})" if m.tolerance else ""
            if m.status == "same":
                echo(f"  same      metric {m.key} = {m.found}  ({m.file}){within}")
            else:
                echo(
                    f"  {m.status:<9} metric {m.key}: the card says {m.expected}, "
                    f"the re-run's {m.file} has {_show(m.found)}{within}"
                )
        verdict = "PASS" if result.ok else "FAIL"
        tail = (
            "every out and metric matches the card and dvc.lock"
            if result.ok
            else "differs: "
            + ", ".join(
                [o.path for o in result.differing]
                + [f"metric {m.key} ({m.expected} -> {_show(m.found)})" for m in result.differing_metrics]
            )
        )
        echo(f"{verdict}: {result.name}@{result.version} at {result.commit[:10]}: {tail}")
    if not result.ok:
        raise typer.Exit(1)


@app.command()
def diff(
    a: str = typer.Argument(..., help="NAME@VERSION or NAME@STAGE."),
    b: str = typer.Argument(..., help="NAME@VERSION or NAME@STAGE."),
    json_: bool = JSON,
) -> None:
    """Compare two versions: metrics (with deltas), params, data, artifact and code commit."""
    result = registry().diff(a, b)
    if json_:
        emit_json(result)
        return
    echo(f"a: {result.a.ref} ({str(result.a.commit)[:10]})   b: {result.b.ref} ({str(result.b.commit)[:10]})")
    echo(f"code commit: {'same' if result.code['status'] == 'same' else 'changed'}")
    lfs = result.artifact.get("lfs_oid") or {}
    art = lfs if lfs.get("a") or lfs.get("b") else result.artifact["md5"]
    kind = "Git LFS sha256" if art is lfs else "md5"
    echo(
        f"artifact {kind}: {art['a']} -> {art['b']}"
        if art["status"] != "same"
        else f"artifact {kind}: same ({art['a']})"
    )
    if result.metrics:
        echo("metrics:")
        for m in result.metrics:
            delta = f"  ({m['delta']:+g})" if m.get("delta") is not None else ""
            echo(f"  {m['key']}: {_show(m['a'])} -> {_show(m['b'])}{delta}")
    sections = (("params", result.params, "key"), ("data", result.data, "path"))
    for section, rows, key in (*sections, ("environment", result.environment, "key")):
        changed = [r for r in rows if r["status"] != "same"]
        if changed:
            echo(f"{section}:")
            for r in changed:
                where = f"{r['file']}  " if section == "params" else ""
                echo(f"  {where}{r[key]}: {_show(r['a'])} -> {_show(r['b'])}  [{r['status']}]")
        else:
            echo(f"{section}: same")


def _show(value: Any) -> str:
    return "-" if value is None else str(value)


@app.command()
def fetch(
    ref: str = typer.Argument(..., help="NAME@VERSION or NAME@STAGE (e.g. churn@production)."),
    output: str = typer.Option(
        ...,
        "-o",
        "--output",
        help="Where to write the artifact (a file, or a new directory for a directory out).",
    ),
    json_: bool = JSON,
) -> None:
    """Write a version's artifact from the DVC cache or remote (or Git LFS), verified (for deploy jobs)."""
    reg = registry()
    pinned = f"{ref.partition('@')[0]}@{reg.resolve(ref)}"  # a stage may move: fetch what was read
    card = reg.card(pinned)
    path = reg.fetch(pinned, output)
    art = card["provenance"]["artifact"]
    if json_:
        emit_json({"name": card["name"], "version": card["version"], "path": str(path), "artifact": art})
    else:
        lfs = art.get("lfs")
        digest = f"Git LFS sha256 {lfs['oid']}" if lfs else f"md5 {art['md5']}"
        echo(f"{card['name']}@{card['version']}: {art['path']} ({digest}, verified) -> {path}")
