"""The registry records its format version (registry.yaml's `version`) and every command checks
it: a registry written by a newer gitreg is refused with the upgrade message, never misread."""

from __future__ import annotations

import pytest
from helpers import git, gitreg, snapshot
from registry_helpers import GOOD, advance, commit, make_project, train

from gitreg.store import layout


@pytest.fixture
def newer(tmp_path):
    reg = make_project(tmp_path / "work")
    train(reg, "churn", GOOD)
    policy = reg.view().read(layout.POLICY_PATH).decode().replace("version: 1", "version: 2")
    advance(reg, commit(reg, {layout.POLICY_PATH: policy}))
    return tmp_path / "work"


@pytest.mark.parametrize(
    "command",
    [
        ["list"],
        ["which", "churn", "production"],
        ["show", "churn"],
        ["show", "churn@1.0.0"],
        ["history", "churn"],
        ["verify"],
        ["promote", "churn@1.0.0", "staging"],
        ["audit", "churn"],
    ],
)
def test_a_newer_format_is_refused_with_the_upgrade_message(newer, command):
    before = snapshot(newer)
    proc = gitreg(newer, *command)
    assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
    assert "this registry was written by a newer gitreg (format 2)" in proc.stderr
    assert "Upgrade gitreg" in proc.stderr
    assert "bug" not in proc.stderr
    assert snapshot(newer) == before


def test_the_current_format_reads(tmp_path):
    reg = make_project(tmp_path / "work")
    train(reg, "churn", GOOD)
    assert "version: 1" in git(tmp_path / "work", "show", "gitreg:registry.yaml")
    assert gitreg(tmp_path / "work", "list").returncode == 0
