"""Without the DVC extra: reads, registration, the check and verification work, and the commands
that need DVC say which extra to install. DVC is made un-importable for a real gitreg process by a
`sitecustomize` that refuses it, as an install without the extra would be."""

from __future__ import annotations

import json
from pathlib import Path

import tomllib
from helpers import gitreg, gitreg_process

BLOCK_DVC = """\
import importlib.abc
import sys


class _NoDvc(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "dvc" or name.startswith("dvc."):
            raise ImportError(f"No module named {name!r} (DVC is not installed)")
        return None


sys.meta_path.insert(0, _NoDvc())
"""


def test_dvc_is_an_extra_not_a_dependency():
    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.lower().startswith(("dvc", "gitpython"))]
    assert [d for d in project["optional-dependencies"]["dvc"] if d.startswith("dvc")]


def test_without_dvc_reads_writes_check_and_verify_work(plain_repo, card_file, registry_repo, tmp_path):
    site = tmp_path / "no-dvc"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCK_DVC)
    env = {"PYTHONPATH": str(site)}
    probe = gitreg_process(plain_repo, "--version", env=env)
    assert probe.returncode == 0
    assert gitreg_process(plain_repo, "init", env=env).returncode == 0
    args = ["--card", str(card_file), "--artifact", "model.bin", "--metrics", "metrics.json"]
    registered = gitreg_process(plain_repo, "register", "plain", *args, "--json", env=env)
    assert registered.returncode == 0, registered.stderr
    assert json.loads(registered.stdout)["tag"] == "plain@v1.0.0"
    for command in (["list"], ["show", "plain"], ["show", "plain@1.0.0"], ["verify", "plain"], ["check"]):
        proc = gitreg_process(plain_repo, *command, env=env)
        assert proc.returncode == 0, (command, proc.stderr)
    proposal = gitreg_process(plain_repo, "promote", "plain@1.0.0", "staging", "--json", env=env)
    assert proposal.returncode == 0, proposal.stderr
    branch = json.loads(proposal.stdout)["branch"]
    assert gitreg_process(plain_repo, "merge", branch, env=env).returncode == 0
    which = gitreg_process(plain_repo, "which", "plain", "staging", env=env)
    assert which.returncode == 0 and which.stdout.strip() == "1.0.0"

    # A version with a DVC pipeline: reproduce needs DVC, and says which extra brings it.
    card = tmp_path / "churn.yaml"
    card.write_text(card_file.read_text())
    assert gitreg(registry_repo, "register", "churn", "--card", str(card)).returncode == 0
    proc = gitreg_process(registry_repo, "reproduce", "churn@1.0.0", env=env)
    assert proc.returncode == 2
    assert "needs DVC, which is not installed" in proc.stderr
    assert "pip install 'gitreg-ml[dvc]'" in proc.stderr
    assert "bug" not in proc.stderr
