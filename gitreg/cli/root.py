"""The Typer app every command module registers on, and the root options (-C, --traceback).

Imported only when a command goes through Typer: the hot reads (`which`, `show
NAME@VERSION`) are answered by cli/fast.py without it.
"""

from __future__ import annotations

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
    import gitreg.cli.text as text

    typer.echo(text.json_text(value))


def echo(text: str = "") -> None:
    typer.echo(text)
