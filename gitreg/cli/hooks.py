"""Hook commands: `gitreg hook NAME` (what the installed shims exec) and `gitreg install-hooks`."""

from __future__ import annotations

import os
import sys

import typer

from gitreg.cli import _state, app, echo, emit_json


@app.command("hook", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def hook(
    name: str = typer.Argument(..., help="pre-receive or pre-push."),
    args: list[str] | None = typer.Argument(None, help="The hook's arguments, as git passes them."),
) -> None:
    """Run a gitreg git hook (the shims in hooks/ exec this). Exit 1 refuses the push."""
    from gitreg.ops import hooks

    code, lines = hooks.run(
        _state["repo"], name, list(args or []), lambda: sys.stdin.buffer.read(), os.environ
    )
    for line in lines:
        typer.echo(line, err=True)
    raise typer.Exit(code)


@app.command("install-hooks")
def install_hooks(
    server: bool = typer.Option(
        False,
        "--server",
        help="Install the pre-receive hook (in a server's bare repository) "
        "instead of the client's pre-push hook.",
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Install gitreg's git hook; an existing hook is kept as HOOK.local and still runs."""
    from gitreg.ops import hooks
    from gitreg.store.gitstore import GitStore

    done = hooks.install(GitStore.discover(_state["repo"]), server=server, python=sys.executable)
    if json_:
        emit_json([d.to_dict() for d in done])
        return
    for d in done:
        echo(f"Installed the {d.hook} hook: {d.path}")
        if d.chained:
            echo(f"  The hook that was there runs after gitreg's check, from {d.chained}")
