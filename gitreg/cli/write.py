"""Commands that write the registry: init, register, demo."""

from __future__ import annotations

from pathlib import Path

import typer

from gitreg.cli import app, echo, emit_json, registry


@app.command()
def init(
    policy: Path | None = typer.Option(None, "--policy", help="Seed registry.yaml from FILE."),
    ci_: str | None = typer.Option(
        None,
        "--ci",
        help="Also write the CI files that run the check on merge requests into the "
        "work tree, for you to commit: github or gitlab. Never overwrites a file.",
    ),
    install: str | None = typer.Option(
        None,
        "--install",
        help="With --ci: the pip requirement the CI installs gitreg by (default: gitreg-ml==THIS "
        "VERSION; or e.g. git+https://github.com/ORG/gitreg@v0.1.0).",
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create the registry branch (idempotent)."""
    reg = registry()
    planned = None
    if install is not None and ci_ is None:
        from gitreg.errors import UsageError

        raise UsageError("--install only applies with --ci.", hint="Add --ci github or --ci gitlab.")
    if ci_ is not None:
        from gitreg.ops import ci

        # Refuses before anything is written.
        planned = ci.plan(reg.store.workdir, ci_, reg.branch, install)
    result = reg.init(policy)
    written = ci.write(planned) if planned is not None else None
    if json_:
        emit_json({**result.to_dict(), **({"ci": written.to_dict()} if written else {})})
    elif result.created:
        echo(f"Created registry branch {result.branch} at {result.commit[:10]}.")
        if result.maintainers:
            echo(f"Maintainers (may change the policy): {', '.join(result.maintainers)}.")
        else:
            echo(
                "The policy is unowned: git has no signing key here, so registry.yaml names no "
                "maintainers and any pusher may change it. Set up git signing, then add yourself "
                "with 'gitreg signers add' and 'gitreg policy set FILE' (maintainers:)."
            )
    else:
        echo(f"Registry branch {result.branch} exists already; nothing to do.")
    if planned is not None and not json_:
        echo("Wrote " + ", ".join(planned.files) + ": commit them to your default branch.")
        if planned.note:
            echo(planned.note)


@app.command()
def register(
    name: str = typer.Argument(..., help="Model name: lower-case letters, digits, '.', '_', '-'."),
    card: Path = typer.Option(..., "--card", help="The narrative model card (YAML)."),
    version: str | None = typer.Option(None, "--version", help="Exact version, X.Y.Z."),
    bump: str | None = typer.Option(
        None, "--bump", help="Bump the latest version: major, minor or patch (default minor)."
    ),
    rev: str = typer.Option("HEAD", "--rev", help="Source commit that produced the model."),
    artifact: str | None = typer.Option(
        None, "--artifact", help="Artifact path (default: dvc.yaml's artifacts entry)."
    ),
    metrics: str | None = typer.Option(
        None, "--metrics", help="Metrics file at the source commit (default: dvc.yaml's)."
    ),
    sign: bool | None = typer.Option(
        None, "--sign/--no-sign", help="Sign the tag (default: git config tag.gpgSign)."
    ),
    image: str | None = typer.Option(None, "--image", help="Container image digest."),
    propose: bool = typer.Option(
        False,
        "--propose",
        help="Put the card on a checked proposal branch "
        "gitreg-register/NAME/vVERSION instead of the registry branch.",
    ),
    allow_same_artifact: bool = typer.Option(
        False,
        "--allow-same-artifact",
        help="Register an artifact some version already has (the card names those versions).",
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Refuse when pipeline files have uncommitted changes (else: a warning)."
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Register a model version: its card on the registry branch and its tag, together."""
    reg = registry().register(
        name,
        card,
        version=version,
        bump=bump,
        rev=rev,
        artifact=artifact,
        metrics=metrics,
        sign=sign,
        image=image,
        propose=propose,
        allow_same_artifact=allow_same_artifact,
        strict=strict,
    )
    for warning in reg.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if json_:
        emit_json(reg.to_dict())
        return
    import gitreg.cli.text as text

    for line in text.registered(reg):
        echo(line)


@app.command()
def demo(
    directory: Path = typer.Argument(Path("gitreg-demo"), help="Where to build the demo project."),
) -> None:
    """Build a real sample ML project (git + DVC), train and register two versions."""
    from gitreg.demo.run import run

    run(directory, echo)
