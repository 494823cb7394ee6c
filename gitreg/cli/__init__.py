"""The gitreg command line: a thin Typer layer over `gitreg.Registry`.

Command modules register themselves on `app` (cli/root.py); each imports the core
lazily so that `gitreg --help` stays fast. `main()` first offers the arguments to
cli/fast.py, which answers the hot paths (the plain reads and `hook`) without
importing Typer and hands everything else to the Typer app. Errors from the core
(the GitregError family) become a message on stderr and an exit code: 1 when the
registry says no, 2 for usage or operational errors. A traceback appears only with --traceback.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitreg.cli.root import _state, app, echo, emit_json, registry  # noqa: F401

# The Typer app and its helpers live in cli/root.py, loaded on first use: `from gitreg.cli
# import app, echo, emit_json, registry` keeps working for every command module, while
# `main()` answers the hot reads (cli/fast.py) without importing Typer at all.
_ROOT_NAMES = ("_state", "app", "echo", "emit_json", "registry")


def __getattr__(name: str) -> Any:
    if name in _ROOT_NAMES:
        from gitreg.cli import root

        return getattr(root, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    """The `gitreg` command: the hot reads answer without Typer (cli/fast.py), the rest with it."""
    from gitreg.cli import fast

    answered = fast.run(sys.argv[1:])
    if answered is not None:
        sys.exit(answered)
    typer_main()


def typer_main() -> None:
    """Every command through the Typer app: the reference the fast path is tested against."""
    import typer

    from gitreg.cli.root import _state, app
    from gitreg.errors import GitregError

    load_commands()

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
