"""Custom validators: commands the base's policy runs for each version entering a stage.

    validators:
      - {stage: production, run: "python checks/bias.py", timeout: 120}

A validator is trusted code from the base, never from the change: it runs in a scratch
directory holding the base's registry.yaml and checks/ (so `python checks/bias.py` means the
base's copy), never in the repository, with the version's card as a JSON file and a minimal
environment (PATH, HOME in the scratch directory, LANG) plus these variables:

    GITREG_MODEL, GITREG_VERSION, GITREG_STAGE   the version entering the stage
    GITREG_FROM                                   the stages it was in (comma-separated)
    GITREG_CARD                                   path of the card as JSON
    GITREG_BASE, GITREG_HEAD                      the commits judged
    GITREG_REPOSITORY                             the git directory, to read objects from

`python` on PATH is gitreg's own interpreter. Exit 0 passes; any other exit, a crash
(a signal) or the timeout fails the check with the command's output.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gitreg.check.change import Change, Entry, Finding
from gitreg.check.rules.schema import CHECKS_DIR
from gitreg.errors import GitregError
from gitreg.store import layout

DEFAULT_TIMEOUT = 60.0
MAX_OUTPUT = 4000


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: str  # "passed", "exit 3", "killed by signal 11", "timed out after 5s", "could not start"
    output: str


def run_validator(command: str, cwd: str, env: dict[str, str], timeout: float) -> Outcome:
    """Run COMMAND with the shell in CWD; kill its whole process group on timeout."""
    try:
        proc = subprocess.Popen(
            command,
            shell=True,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return Outcome(False, "could not start", str(exc))
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, _ = proc.communicate()
        return Outcome(False, f"timed out after {timeout:g}s", _tail(out))
    if proc.returncode == 0:
        return Outcome(True, "passed", _tail(out))
    if proc.returncode < 0 or 128 < proc.returncode < 128 + 65:
        # The shell reports a child killed by signal N as exit 128+N.
        sig = -proc.returncode if proc.returncode < 0 else proc.returncode - 128
        return Outcome(False, f"crashed (killed by signal {sig})", _tail(out))
    if proc.returncode in (126, 127):
        return Outcome(False, f"could not run (exit {proc.returncode})", _tail(out))
    return Outcome(False, f"failed (exit {proc.returncode})", _tail(out))


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, AttributeError):
        proc.kill()


def _tail(data: bytes | None) -> str:
    text = (data or b"").decode(errors="replace").rstrip()
    return text if len(text) <= MAX_OUTPUT else "..." + text[-MAX_OUTPUT:]


def _applies(validator: dict, stage: str) -> bool:
    return validator.get("stage") in (None, stage)


def validators(change: Change) -> Iterator[Finding]:
    specs = change.policy.validators
    todo = [(e, v) for e in change.entries for v in specs if _applies(v, e.stage)]
    if not todo:
        return
    trusted = change.judge  # the base's code, never the change's
    with tempfile.TemporaryDirectory(prefix="gitreg-validate-") as scratch:
        work = Path(scratch, "work")
        work.mkdir()
        change.store.export(trusted.tree, CHECKS_DIR, work)
        policy = trusted.read(layout.POLICY_PATH)
        if policy is not None:
            (work / layout.POLICY_PATH).write_bytes(policy)
        for e, spec in todo:
            yield from _judge(change, e, spec, Path(scratch), work)


def _judge(change: Change, e: Entry, spec: dict, scratch: Path, work: Path) -> Iterator[Finding]:
    try:
        card = change.head.card(e.model, e.version)
    except GitregError:
        return  # the registered/schema rules report it
    card_file = scratch / f"card-{e.model}-{e.version}.json"
    card_file.write_text(json.dumps(card, indent=2, sort_keys=True))
    # A minimal environment: nothing of the hook's own (GIT_DIR, GIT_QUARANTINE_PATH, tokens...)
    # but PATH, HOME in the scratch directory, LANG and the GITREG_* variables.
    env = {
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", os.defpath),
        "HOME": str(scratch),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }
    env.update(
        {
            "GITREG_MODEL": e.model,
            "GITREG_VERSION": e.version,
            "GITREG_STAGE": e.stage,
            "GITREG_FROM": ",".join(e.was),
            "GITREG_CARD": str(card_file),
            "GITREG_BASE": (change.base.commit or "") if change.base else "",
            "GITREG_HEAD": change.head.commit or "",
            "GITREG_REPOSITORY": str(change.store.common_dir),
        }
    )
    timeout = float(spec.get("timeout") or DEFAULT_TIMEOUT)
    outcome = run_validator(spec["run"], str(work), env, timeout)
    if outcome.ok:
        return
    name = spec.get("name") or spec["run"]
    output = "\n".join(f"    | {line}" for line in outcome.output.splitlines()) or "    (no output)"
    yield Finding(
        "validator",
        layout.stages_path(e.model),
        f"{e.label}: validator {name!r} {outcome.status}:\n{output}",
        "Fix what the validator reports and promote again; a validator itself changes only "
        "in a policy change of its own (registry.yaml, checks/).",
        e.model,
        e.version,
    )
