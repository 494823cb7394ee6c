"""The CLI surface: help everywhere, exit codes, and no traceback without --traceback."""

from __future__ import annotations

import pytest
from helpers import gitreg, gitreg_process

from gitreg.cli import app, load_commands


def _commands():
    import typer.main

    load_commands()
    group = typer.main.get_command(app)
    return group, sorted(group.commands)


def test_every_command_and_option_has_help():
    group, names = _commands()
    assert {"init", "register", "list", "show", "history", "which", "demo", "repair"} <= set(names)
    for name in names:
        command = group.commands[name]
        assert command.help, f"{name} has no help"
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                assert param.help, f"{name} {param.opts} has no help"


@pytest.mark.parametrize("args", [["--help"], ["register", "--help"], ["show", "--help"]])
def test_help(tmp_path, args):
    proc = gitreg(tmp_path, *args)
    assert proc.returncode == 0 and "Usage:" in proc.stdout


def test_usage_errors_exit_2(tmp_path):
    proc = gitreg(tmp_path, "register")
    assert proc.returncode == 2 and "Missing argument" in proc.stderr
    proc = gitreg(tmp_path, "no-such-command")
    assert proc.returncode == 2 and "No such command" in proc.stderr


def test_traceback_only_on_request(tmp_path):
    plain = gitreg(tmp_path, "list")
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    traced = gitreg_process(tmp_path, "--traceback", "list")  # a traceback is a process's last words
    assert traced.returncode != 0 and "Traceback" in traced.stderr


def test_version(tmp_path):
    from gitreg.version import __version__

    proc = gitreg(tmp_path, "--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"gitreg {__version__}"


def test_repo_option(registry_repo, tmp_path):
    proc = gitreg(tmp_path, "-C", str(registry_repo), "list", "--json")
    assert proc.returncode == 0 and proc.stdout.strip() == "[]"
