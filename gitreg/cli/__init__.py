"""The gitreg command line: a thin Typer layer over `gitreg.Registry`.

Command modules register themselves on `app`; each imports the core lazily so
that `gitreg --help` stays fast. Errors from the core (the GitregError family)
become a message on stderr and an exit code: 1 when the registry says no,
2 for usage or operational errors. A traceback appears only with --traceback.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TypedDict

import typer

from gitreg.version import __version__

app = typer.Typer(
    name="gitreg",
    help="A model registry that lives in your Git repository.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class _State(TypedDict):
    traceback: bool  # --traceback
    repo: str  # -C/--repo


_state: _State = {"traceback": False, "repo": "."}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gitreg {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    repo: str = typer.Option(".", "-C", "--repo", help="Run as if gitreg was started in this path."),
    traceback: bool = typer.Option(False, "--traceback", help="Show a traceback on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    _state["repo"] = repo
    _state["traceback"] = traceback


def registry():
    from gitreg.registry import Registry

    return Registry.open(_state["repo"])


def emit_json(value: Any) -> None:
    """Print a result (dataclasses, lists, dicts) as JSON, through the one conversion."""
    from gitreg.results import to_data

    typer.echo(json.dumps(to_data(value), indent=2, sort_keys=False, default=str))


def echo(text: str = "") -> None:
    typer.echo(text)


# The modules that register commands on `app`, in the order `gitreg --help` lists them.
COMMAND_MODULES = (
    "audit",
    "check",
    "governance",
    "health",
    "hooks",
    "interop",
    "lineage",
    "promote",
    "read",
    "remote",
    "review",
    "signers",
    "site",
    "write",
)


def load_commands() -> None:
    """Import every command module: each registers its commands on `app`."""
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"gitreg.cli.{name}")


def main() -> None:
    load_commands()
    from gitreg.errors import GitregError

    try:
        # Without standalone mode, click returns the code of a typer.Exit instead of exiting.
        code = app(standalone_mode=False)
    except GitregError as exc:
        if _state["traceback"]:
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        mapped = _is_usage(exc)
        if mapped is not None:
            code, message = mapped
            if message:
                typer.echo(message, err=True)
            sys.exit(code)
        if _state["traceback"]:
            raise
        from gitreg.store import faults

        fault = faults.classify(exc)
        if fault is not None:  # a damaged or full repository is not a bug of gitreg
            typer.echo(f"error: {fault}", err=True)
            sys.exit(fault.exit_code)
        typer.echo(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in gitreg: run again with --traceback and report it.",
            err=True,
        )
        sys.exit(3)
    sys.exit(code if isinstance(code, int) else 0)


def _is_usage(exc: BaseException) -> tuple[int, str] | None:
    """Typer's own click exceptions (its bundled copy), mapped to exit codes."""
    name = type(exc).__name__
    if name == "Abort":  # click's answer to Ctrl-C (KeyboardInterrupt) and EOF at a prompt
        return (130, "interrupted")
    if name == "Exit":
        return (getattr(exc, "exit_code", 1), "")
    if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
        ctx = getattr(exc, "ctx", None)
        usage = ctx.get_usage() + "\n" if ctx is not None else ""
        hint = f"Try '{ctx.command_path} --help' for help.\n" if ctx is not None else ""
        return (exc.exit_code, f"{usage}{hint}error: {exc.format_message()}")
    return None
