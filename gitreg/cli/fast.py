"""The hot paths without Typer: the reads (`which`, `show`, `list`, `history`), `hook NAME ARGS`
(what a server's pre-receive shim execs on every push), and the two writes a pipeline runs in a
loop (`register`, `promote` without --push).

Deploy scripts, training jobs and hooks call these again and again, and importing Typer (with
click, and pydantic for its parameter coercion) cost more than the work. `run` takes only the
plainest spellings: the root options -C/--repo and --traceback, the positional arguments, --json,
and for `register` its options each given once. Anything else (help, completion, other options,
a wrong number of arguments) returns None and goes to the Typer app, which stays the reference:
tests run both on the same argv and compare output, exit codes and refs.
"""

from __future__ import annotations

import os
import re
import sys

# click's own pattern: what typer.echo strips when the stream is not a terminal.
_ANSI = re.compile(r"\033\[[;?0-9]*[a-zA-Z]")


def run(argv: list[str]) -> int | None:
    """The exit code after answering ARGV, or None when Typer must answer it."""
    if not _plain_streams() or any(k.startswith("_") and k.endswith("_COMPLETE") for k in os.environ):
        return None  # shell completion (_GITREG_COMPLETE, or the name a wrapper runs under) is Typer's
    parsed = _parse(argv)
    if parsed is not None:
        command, args, as_json, repo, traceback = parsed
        if command == "hook":
            return _answer(traceback, lambda: _hook(repo, args))
        if command == "which":
            return _answer(traceback, lambda: _which(repo, args[0], args[1], as_json))
        if command == "promote":
            return _answer(traceback, lambda: _promote(repo, args[0], args[1], as_json))
        return _answer(traceback, lambda: _read(command, repo, args, as_json))
    wrote = _parse_register(argv)
    if wrote is not None:
        options, repo, traceback = wrote
        return _answer(traceback, lambda: _register(repo, options))
    return None


def _answer(traceback: bool, answer) -> int:
    """ANSWER's exit code, with errors printed as cli.typer_main prints them."""
    from gitreg.errors import GitregError

    try:
        return answer()
    except GitregError as exc:
        if traceback:
            raise
        _echo(f"error: {exc}", sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        _echo("interrupted", sys.stderr)
        return 130
    except Exception as exc:
        if traceback:
            raise
        from gitreg.store import faults

        fault = faults.classify(exc)
        if fault is not None:  # a damaged or full repository is not a bug of gitreg
            _echo(f"error: {fault}", sys.stderr)
            return fault.exit_code
        _echo(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in gitreg: run again with --traceback and report it.",
            sys.stderr,
        )
        return 3


def _root(argv: list[str]) -> tuple[str, bool, int] | None:
    """The root options -C/--repo and --traceback: (repo, traceback, where the command is)."""
    repo, traceback, i = ".", False, 0
    while i < len(argv) and argv[i].startswith("-"):
        arg = argv[i]
        if arg == "--traceback":
            traceback = True
        elif arg in ("-C", "--repo") and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            i += 1
            repo = argv[i]
        elif arg.startswith("--repo=") and not arg[7:].startswith("-"):
            repo = arg[7:]
        else:
            return None
        i += 1
    return repo, traceback, i


def _parse(argv: list[str]) -> tuple[str, list[str], bool, str, bool] | None:
    root = _root(argv)
    if root is None:
        return None
    repo, traceback, i = root
    if i == len(argv) or argv[i] not in ("which", "show", "hook", "list", "history", "promote"):
        return None
    command, rest = argv[i], argv[i + 1 :]
    args = [a for a in rest if a != "--json"]
    if any(a.startswith("-") for a in args):
        return None
    if command in ("which", "promote") and len(args) != 2:
        return None
    if command == "hook" and (not args or len(args) != len(rest)):
        return None  # `--json` is no hook argument: Typer's usage error
    if command in ("show", "history") and len(args) != 1:
        return None
    if command == "list" and args:
        return None
    return command, args, len(args) != len(rest), repo, traceback


def _plain_streams() -> bool:
    """click re-wraps a stream whose encoding is ASCII; leave those cases to it."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "ascii").lower().replace("_", "-")
        if encoding in ("ascii", "us-ascii", "646", "ansi-x3.4-1968"):
            return False
    return True


def _echo(text: str, stream) -> None:
    """What typer.echo prints: ANSI codes stripped unless the stream is a terminal."""
    try:
        tty = stream.isatty()
    except Exception:
        tty = False
    stream.write((text if tty else _ANSI.sub("", text)) + "\n")
    stream.flush()


def _hook(repo: str, args: list[str]) -> int:
    """`hook NAME ARGS`: what the installed shims exec on every push."""
    from gitreg.ops import hooks

    code, lines = hooks.run(repo, args[0], args[1:], lambda: sys.stdin.buffer.read(), os.environ)
    for line in lines:
        _echo(line, sys.stderr)
    return code


def _which(repo: str, name: str, stage: str, as_json: bool) -> int:
    import gitreg.cli.text as text
    from gitreg.model.branch import RegistryBranch
    from gitreg.ops import read
    from gitreg.store.gitstore import GitStore

    version = read.which(RegistryBranch.of(GitStore.discover(repo)), name, stage)
    if as_json:
        _echo(text.json_text({"name": name, "stage": stage, "version": version}), sys.stdout)
    elif version:
        _echo(version, sys.stdout)
    if version is None:
        if not as_json:
            _echo(text.no_version_in_stage(name, stage), sys.stderr)
        return 1
    return 0


def _read(command: str, repo: str, args: list[str], as_json: bool) -> int:
    """`list`, `show REF` and `history NAME`, printed as cli/read.py prints them."""
    import gitreg.cli.text as text
    from gitreg.model.branch import RegistryBranch
    from gitreg.ops import read
    from gitreg.store import layout
    from gitreg.store.gitstore import GitStore

    reg = RegistryBranch.of(GitStore.discover(repo))  # in the order the Typer path meets errors
    if command == "list":
        models = read.list_models(reg)
        out = text.json_text(models) if as_json else text.model_list(models)  # one to_data pass
    elif command == "history":
        found = read.history(reg, args[0])
        out = text.json_text([e.to_dict() for e in found]) if as_json else text.history(found)
    else:
        ref = layout.ModelRef.parse(args[0])
        shown = None if as_json else read.show_text(reg, ref)  # a card shown before: no PyYAML
        info = shown or read.show(reg, ref)
        if as_json:
            out = text.json_text(info)
        elif isinstance(info, read.ModelInfo):
            out = text.model_info(info)
        else:
            out = text.version_card(info)
    _echo(out, sys.stdout)
    return 0


# `register`'s options as cli/write.py declares them: those taking a value, and the flags.
_REGISTER_VALUES = ("--card", "--version", "--bump", "--rev", "--artifact", "--metrics", "--image")
_REGISTER_FLAGS = ("--sign", "--no-sign", "--propose", "--allow-same-artifact", "--strict", "--json")


def _parse_register(argv: list[str]) -> tuple[dict[str, str | bool], str, bool] | None:
    """`register NAME --card FILE [options]` in its plainest spellings: each option at most once,
    values that do not start with '-', NAME given once. Anything else is Typer's to parse."""
    root = _root(argv)
    if root is None:
        return None
    repo, traceback, i = root
    if i == len(argv) or argv[i] != "register":
        return None
    options: dict[str, str | bool] = {}
    rest, k = argv[i + 1 :], 0
    while k < len(rest):
        arg = rest[k]
        key, eq, value = arg.partition("=")
        if key in options:
            return None
        if key in _REGISTER_VALUES:
            if not eq:
                if k + 1 == len(rest):
                    return None
                k += 1
                value = rest[k]
            if not value or value.startswith("-"):
                return None
            options[key] = value
        elif arg in _REGISTER_FLAGS:
            options[arg] = True
        elif arg.startswith("-") or "name" in options:
            return None
        else:
            options["name"] = arg
        k += 1
    if "name" not in options or "--card" not in options or ("--sign" in options and "--no-sign" in options):
        return None
    return options, repo, traceback


def _register(repo: str, options: dict[str, str | bool]) -> int:
    """`register`, printed as cli/write.py prints it."""
    from pathlib import Path

    import gitreg.cli.text as text
    from gitreg.registry import Registry

    def value(key: str) -> str | None:
        found = options.get(key)
        return found if isinstance(found, str) else None

    sign = True if "--sign" in options else False if "--no-sign" in options else None
    reg = Registry.open(repo).register(
        str(options["name"]),
        Path(str(options["--card"])),
        version=value("--version"),
        bump=value("--bump"),
        rev=value("--rev") or "HEAD",
        artifact=value("--artifact"),
        metrics=value("--metrics"),
        sign=sign,
        image=value("--image"),
        propose="--propose" in options,
        allow_same_artifact="--allow-same-artifact" in options,
        strict="--strict" in options,
    )
    for warning in reg.warnings:
        _echo(f"warning: {warning}", sys.stderr)
    if "--json" in options:
        _echo(text.json_text(reg.to_dict()), sys.stdout)
        return 0
    for line in text.registered(reg):
        _echo(line, sys.stdout)
    return 0


def _promote(repo: str, ref: str, stage: str, as_json: bool) -> int:
    """`promote REF STAGE` (no --push/--open: those are Typer's), printed as cli/promote.py prints it."""
    import gitreg.cli.text as text
    from gitreg.registry import Registry

    proposal = Registry.open(repo).promote(ref, stage)
    if as_json:
        _echo(text.json_text(proposal.to_dict()), sys.stdout)
        return 0
    for line in [*text.proposed(proposal, stage), text.merge_hint(proposal.branch)]:
        _echo(line, sys.stdout)
    return 0
