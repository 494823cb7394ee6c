"""Custom validators (acceptance 6): pass, fail, crash and timeout, run from the base's checks/
in a scratch directory, with the version's card and names in the environment."""

from __future__ import annotations

import json
import os

import pytest
from registry_helpers import GOOD, POLICY, advance, commit, judge, make_project, set_stages, train

from gitreg.store import layout

RECORD = """\
import json, os, sys
out = {k: v for k, v in os.environ.items() if k.startswith("GITREG_")}
out["cwd"] = os.getcwd()
out["card"] = json.load(open(os.environ["GITREG_CARD"]))
out["files"] = sorted(os.listdir("."))
json.dump(out, open(sys.argv[1], "w"))
"""
FAIL = "import sys\nprint('demographic parity gap too high on segment B')\nsys.exit(3)\n"
CRASH = "import os, signal\nprint('about to crash', flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n"
# Blocks without sleeping until the check's timeout kills it.
HANG = "import threading\nprint('waiting forever', flush=True)\nthreading.Event().wait()\n"
RAISE = "raise RuntimeError('validator bug')\n"


def registry_with(tmp_path, validators: str, scripts: dict[str, str]):
    """A registry whose policy has VALIDATORS and whose checks/ holds SCRIPTS (landed alone)."""
    reg = make_project(tmp_path / "p", POLICY + validators)
    train(reg, "churn", GOOD)
    advance(reg, commit(reg, {f"checks/{n}": text for n, text in scripts.items()}))
    advance(reg, set_stages(reg, "churn", {"staging": ["1.0.0"]}))
    return reg


def to_production(reg):
    return judge(reg, set_stages(reg, "churn", {"production": ["1.0.0"]}))


def validator_findings(report):
    return [f for f in report.findings if f.rule == "validator"]


def test_a_passing_validator_sees_the_card_and_its_names(tmp_path):
    out = tmp_path / "seen.json"
    reg = registry_with(
        tmp_path,
        f"""validators:
  - {{stage: production, run: "python checks/record.py {out}", timeout: 60}}
""",
        {"record.py": RECORD},
    )
    report = to_production(reg)
    assert report.ok, report.findings
    seen = json.loads(out.read_text())
    assert (seen["GITREG_MODEL"], seen["GITREG_VERSION"], seen["GITREG_STAGE"], seen["GITREG_FROM"]) == (
        "churn",
        "1.0.0",
        "production",
        "staging",
    )
    assert seen["card"]["version"] == "1.0.0" and seen["card"]["name"] == "churn"
    assert seen["GITREG_HEAD"] == report.head and seen["GITREG_BASE"] == report.base
    # It ran in a scratch directory holding the base's checks/ and policy, not the repository.
    assert seen["files"] == ["checks", "registry.yaml"]
    assert str(reg.store.workdir) not in seen["cwd"]
    assert not (tmp_path / seen["cwd"]).exists()


def test_a_validator_runs_only_for_its_stage(tmp_path):
    out = tmp_path / "seen.json"
    reg = make_project(
        tmp_path / "p",
        POLICY
        + f"""validators:
  - {{stage: production, run: "python checks/record.py {out}"}}
""",
    )
    train(reg, "churn", GOOD)
    advance(reg, commit(reg, {"checks/record.py": RECORD}))
    assert judge(reg, set_stages(reg, "churn", {"staging": ["1.0.0"]})).ok
    assert not out.exists()


@pytest.mark.parametrize(
    "script, timeout, status, output",
    [
        (FAIL, 60, "failed (exit 3)", "demographic parity gap too high on segment B"),
        (RAISE, 60, "failed (exit 1)", "RuntimeError: validator bug"),
        (CRASH, 60, "crashed (killed by signal 9)", "about to crash"),
        (HANG, 0.5, "timed out after 0.5s", "waiting forever"),
    ],
)
def test_a_failing_crashing_or_hanging_validator_fails_the_check(tmp_path, script, timeout, status, output):
    reg = registry_with(
        tmp_path,
        f"""validators:
  - {{name: bias, stage: production, run: "python checks/bias.py", timeout: {timeout}}}
""",
        {"bias.py": script},
    )
    found = validator_findings(to_production(reg))
    assert len(found) == 1
    assert found[0].file == layout.stages_path("churn")
    assert f"validator 'bias' {status}" in found[0].message
    assert output in found[0].message


def test_a_missing_validator_command_fails(tmp_path):
    reg = registry_with(
        tmp_path,
        """validators:
  - {stage: production, run: "no-such-command-here --check"}
""",
        {},
    )
    found = validator_findings(to_production(reg))
    assert len(found) == 1 and "could not run (exit 127)" in found[0].message


def test_the_base_copy_of_a_validator_runs_never_the_change(tmp_path):
    reg = registry_with(
        tmp_path,
        """validators:
  - {stage: production, run: "python checks/bias.py"}
""",
        {"bias.py": FAIL},
    )
    # The change rewrites the validator to pass and promotes in one go.
    head = commit(
        reg, {"checks/bias.py": "print('all good')\n", layout.stages_path("churn"): {"production": ["1.0.0"]}}
    )
    report = judge(reg, head)
    assert {f.rule for f in report.findings} == {"policy-alone", "validator"}
    assert "too high" in validator_findings(report)[0].message


def test_a_validator_without_a_stage_runs_for_every_stage(tmp_path):
    reg = make_project(
        tmp_path / "p",
        POLICY
        + """validators:
  - {run: "python checks/bias.py"}
""",
    )
    train(reg, "churn", GOOD)
    advance(reg, commit(reg, {"checks/bias.py": FAIL}))
    report = judge(reg, set_stages(reg, "churn", {"staging": ["1.0.0"]}))
    assert [f.message.split(":")[0] for f in validator_findings(report)] == ["churn@1.0.0 -> staging"]


ENVIRONMENT = """\
import json, os, sys
json.dump({"env": dict(os.environ), "cwd": os.getcwd()}, open(sys.argv[1], "w"))
"""


def test_a_validator_gets_a_minimal_environment_outside_the_repository(tmp_path, monkeypatch):
    """Nothing of the caller's (a hook's GIT_* variables, tokens) reaches a validator: only PATH,
    HOME in the scratch directory, LANG and GITREG_*; its working directory is not the repository."""
    out = tmp_path / "env.json"
    reg = registry_with(
        tmp_path,
        f"""validators:
  - {{stage: production, run: "python checks/env.py {out}", timeout: 60}}
""",
        {"env.py": ENVIRONMENT},
    )
    monkeypatch.setenv("GITHUB_TOKEN", "secret")
    monkeypatch.setenv("GIT_QUARANTINE_PATH", str(tmp_path / "nowhere"))
    assert to_production(reg).ok
    seen = json.loads(out.read_text())
    extra = {k for k in seen["env"] if not k.startswith("GITREG_")} - {
        "PATH",
        "HOME",
        "LANG",
        "PWD",
        "SHLVL",
        "_",
    }
    assert extra == set(), extra
    assert seen["env"]["HOME"] != os.environ["HOME"] and seen["cwd"].startswith(seen["env"]["HOME"])
    assert not seen["cwd"].startswith(str(reg.store.workdir))
