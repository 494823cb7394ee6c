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
    from gitreg.errors import UsageError
    from gitreg.ops import hooks
    from gitreg.registry import Registry

    if name not in hooks.HOOKS:
        raise UsageError(f"{name!r} is not a gitreg hook.", hint=f"Use one of: {', '.join(hooks.HOOKS)}.")
    reg = Registry.open(_state["repo"])
    under_pre_commit = name == "pre-push" and "PRE_COMMIT_REMOTE_BRANCH" in os.environ
    stdin = b"" if under_pre_commit else sys.stdin.buffer.read()
    if name == "pre-receive":
        updates = hooks.parse_pre_receive(stdin)
    elif under_pre_commit:
        updates = hooks.pre_commit_update(reg.store, os.environ)
    else:
        updates = hooks.parse_pre_push(stdin)
    verdict = hooks.judge(reg.store, reg.branch_ref, updates, reg.head())
    where = "the remote is unchanged" if name == "pre-receive" else "nothing was pushed"
    if not verdict.ok:
        lines = [f"gitreg: push refused, {len(verdict.findings)} finding(s); {where}:"]
        for f in verdict.findings:
            first, *rest = f.message.splitlines() or [""]
            lines.append(f"  {f.file}: [{f.rule}] {first}")
            lines += [f"    {line}" for line in rest]
            lines.append(f"    fix: {f.fix}")
        typer.echo("\n".join(lines), err=True)
        raise typer.Exit(1)
    for checked in verdict.checked:
        typer.echo(f"gitreg: registry change {checked}: passed", err=True)
    code = hooks.run_local(reg.store, name, list(args or []), stdin)
    raise typer.Exit(code or 0)


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
