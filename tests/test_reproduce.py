"""`reproduce` on a real DVC project with a local remote configured by a relative path:
PASS on an honest version, FAIL naming the out of a clock-dependent training, a clear error
for an object gone from cache and remote, frozen stages reported; the user's work tree,
index, HEAD and worktree list the same afterwards, also on failure and on Ctrl-C.

`dvc repro` is slow: each test here runs it at most once (the missing-object one never).
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import git, gitreg, snapshot
from registry_helpers import advance, forge

from gitreg.demo.run import train
from gitreg.lineage import pipeline
from gitreg.registry import Registry

# Stage commands run `python`: make it the interpreter that has PyYAML, as the demo does.
ENV = {"PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}


@pytest.fixture
def registered(registry_repo, card_file) -> Registry:
    reg = Registry.open(registry_repo)
    reg.register("churn", card_file)
    return reg


def worktree_of(output: str) -> Path:
    found = re.search(r"temporary worktree (\S+)", output)
    assert found, output
    return Path(found[1])


def test_an_honest_version_reproduces_pass_and_the_repo_is_untouched(registered):
    project = registered.store.workdir
    assert "../../dvc-remote" in (project / ".dvc" / "config").read_text()  # relative, as DVC wrote it
    raw = next(d for d in registered.card("churn@1.0.0")["provenance"]["data"] if d["path"] == "data/raw.csv")
    cached = pipeline.cache_file(project / ".dvc" / "cache", raw["md5"])
    cached.unlink()  # only the remote has it now: the worktree must reach it by the pinned URL
    before = snapshot(project)
    proc = gitreg(project, "reproduce", "churn@1.0.0", env=ENV, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS: churn@1.0.0" in proc.stdout
    assert "dvc pull: data/raw.csv" in proc.stdout
    assert cached.is_file()  # pulled into the user's own cache, which the worktree shares
    assert "dvc repro -f evaluate" in proc.stdout and "Running stage 'train'" in proc.stdout
    for path in ("data/prepared", "models/churn.json", "metrics.json"):
        assert re.search(rf"same\s+{re.escape(path)}\s", proc.stdout), proc.stdout
    assert snapshot(project) == before
    assert not worktree_of(proc.stdout).exists()


def test_a_clock_dependent_training_fails_naming_the_out(registered, card_file):
    project = registered.store.workdir
    script = project / "src" / "train.py"
    script.write_text(
        script.read_text().replace(
            '"bias": round(b, 10)}', '"bias": round(b, 10), "trained_at": __import__("time").time_ns()}'
        )
    )
    train(project, "Stamp the model with the training time")
    version = registered.register("churn", card_file).version
    expected = registered.view().card("churn", version)["provenance"]["artifact"]["md5"]
    before = snapshot(project)
    proc = gitreg(project, "reproduce", f"churn@{version}", env=ENV, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"FAIL: churn@{version}" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1].endswith("differs: models/churn.json")
    differs = re.search(r"differs\s+models/churn.json\s+expected md5 (\w+), got (\w+)", proc.stdout)
    assert differs and differs[1] == expected and differs[2] != expected
    assert pipeline.cache_file(project / ".dvc" / "cache", differs[2]).is_file()  # the shared cache
    assert re.search(r"same\s+data/prepared\s", proc.stdout)
    assert snapshot(project) == before
    assert not worktree_of(proc.stdout).exists()


def test_an_object_gone_from_cache_and_remote_is_named(registered):
    project = registered.store.workdir
    raw = next(d for d in registered.card("churn@1.0.0")["provenance"]["data"] if d["path"] == "data/raw.csv")
    for store in (project / ".dvc" / "cache", project.parent / "dvc-remote"):
        pipeline.cache_file(store, raw["md5"]).unlink()
    before = snapshot(project)
    proc = gitreg(project, "reproduce", "churn@1.0.0", env=ENV, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"data/raw.csv (md5 {raw['md5']})" in proc.stderr
    assert "neither the local DVC cache" in proc.stderr and "'local'" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert snapshot(project) == before
    assert "temporary worktree" not in proc.stdout  # refused before any worktree was made


def test_frozen_stages_are_reported_as_not_reproduced(registry_repo, card_file):
    project = registry_repo
    spec = yaml.safe_load((project / "dvc.yaml").read_text())
    spec["stages"]["prepare"]["frozen"] = True
    (project / "dvc.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    git(project, "commit", "-qam", "freeze prepare")
    reg = Registry.open(project)
    reg.register("churn", card_file)
    lines: list[str] = []
    before = snapshot(project)
    result = reg.reproduce("churn@1.0.0", progress=lines.append, env=ENV)
    assert result.ok and result.frozen == ["prepare"] and result.stages == ["train", "evaluate"]
    outs = {o.path: o.status for o in result.outs}
    assert outs == {"data/prepared": "not reproduced", "models/churn.json": "same", "metrics.json": "same"}
    assert any("frozen" in line for line in lines)
    assert any(line.startswith("dvc checkout:") and "data/prepared" in line for line in lines)
    assert snapshot(project) == before


HOLD_ENV = ["--env", "PYTHONPATH", "--env", "GITREG_TEST_HOLD"]


def test_ctrl_c_removes_the_worktree(registered, tmp_path):
    """Ctrl-C while a stage provably runs: the stage's Python blocks opening a FIFO (a
    sitecustomize on PYTHONPATH does it, for the train stage only), so the test's open of the
    FIFO returns exactly when the stage runs; then Ctrl-C reaches the whole process group."""
    import threading

    project = registered.store.workdir
    before = snapshot(project)
    hold = tmp_path / "hold"
    os.mkfifo(hold)
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import os\n"
        "if b'src/train.py' in open('/proc/self/cmdline', 'rb').read():\n"
        "    with open(os.environ['GITREG_TEST_HOLD']) as f:\n"
        "        f.read()\n"
    )
    env = {**os.environ, **ENV, "PYTHONPATH": str(site), "GITREG_TEST_HOLD": str(hold)}
    proc = subprocess.Popen(
        # reproduce scrubs the pipeline's environment: pass the two variables the hold needs.
        [*[sys.executable, "-m", "gitreg", "reproduce", "churn@1.0.0"], *HOLD_ENV],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    opened: list = []
    # Opening a FIFO for writing returns once the reader (the train stage) has opened it.
    opener = threading.Thread(target=lambda: opened.append(open(hold, "w")), daemon=True)  # noqa: SIM115
    opener.start()
    while opener.is_alive() and proc.poll() is None:  # the open returns when the stage runs
        opener.join(timeout=1)
    if not opened:
        out, err = proc.communicate(timeout=120)
        raise AssertionError(f"the train stage never started:\n{out}{err}")
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
    opened[0].close()
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, rest + err
    assert "interrupted" in err
    assert not worktree_of(rest).exists()
    assert snapshot(project) == before


# --- reproduce checks the numbers, in a scrubbed environment ---------------------------------------

TOLERANT = """\
version: 1
stages:
  staging: {}
lineage:
  dvc: required
reproduce:
  tolerance: {roc_auc: 0.01}
"""


def test_a_card_metric_the_rerun_does_not_produce_is_fail_naming_it(dvc_project, card_file, tmp_path):
    policy = tmp_path / "tolerant.yaml"
    policy.write_text(TOLERANT)
    assert gitreg(dvc_project, "init", "--policy", str(policy)).returncode == 0
    reg = Registry.open(dvc_project)
    reg.register("churn", card_file)
    card = copy.deepcopy(reg.view().card("churn", "1.0.0"))  # a hand-made card with better numbers
    values = {}
    for m in card["evaluation"][0]["metrics"]:
        values[m["type"]] = m["value"]
        m["value"] = round(m["value"] + {"accuracy": 0.05, "roc_auc": 0.001}.get(m["type"], 0), 4)
    card["provenance"]["same_artifact_as"] = ["1.0.0"]
    advance(reg, forge(reg, card, "1.0.1"))
    before = snapshot(dvc_project)
    proc = gitreg(dvc_project, "reproduce", "churn@1.0.1", env=ENV, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    claimed = round(values["accuracy"] + 0.05, 4)
    said = f"the card says {claimed}, the re-run's metrics.json has {values['accuracy']}"
    assert f"differs   metric accuracy: {said}" in proc.stdout
    assert re.search(r"same\s+metric roc_auc = .*\(tolerance 0\.01\)", proc.stdout), proc.stdout
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("FAIL: churn@1.0.1") and last.endswith(
        f"differs: metric accuracy ({claimed} -> {values['accuracy']})"
    )
    for path in ("data/prepared", "models/churn.json", "metrics.json"):  # the bytes are the same
        assert re.search(rf"same\s+{re.escape(path)}\s", proc.stdout), proc.stdout
    assert snapshot(dvc_project) == before


def test_the_pipeline_never_sees_the_callers_secrets_unless_passed(registry_repo, card_file):
    project = registry_repo
    script = project / "src" / "evaluate.py"
    script.write_text(
        'import os\nif "GITREG_TEST_SECRET" in os.environ:\n    raise SystemExit("the secret is visible")\n'
        + script.read_text()
    )
    train(project, "Evaluate refuses to run where it sees the secret")
    reg = Registry.open(project)
    reg.register("churn", card_file)
    secret = {**ENV, "GITREG_TEST_SECRET": "hunter2"}
    proc = gitreg(project, "reproduce", "churn@1.0.0", env=secret, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    commit = reg.view().card("churn", "1.0.0")["provenance"]["source"]["commit"]
    notice = next(line for line in proc.stdout.splitlines() if line.startswith("This runs code"))
    assert f"from the source commit {commit[:10]}" in notice and "GITREG_TEST_SECRET" not in notice
    assert proc.stdout.index("This runs code") < proc.stdout.index("dvc repro -f")
    assert "PASS: churn@1.0.0" in proc.stdout

    proc = gitreg(project, "reproduce", "churn@1.0.0", "--env", "GITREG_TEST_SECRET", env=secret, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "the secret is visible" in proc.stdout + proc.stderr

    before = snapshot(project)
    proc = gitreg(project, "reproduce", "churn@1.0.0", "--env", "GITREG_NOT_SET", env=ENV)
    assert proc.returncode == 2 and "--env GITREG_NOT_SET: no such variable" in proc.stderr
    assert snapshot(project) == before


@pytest.mark.skipif(shutil.which("git-lfs") is None, reason="git-lfs is not installed (.ci/run installs it)")
def test_a_model_kept_in_git_lfs_is_rebuilt_and_compared_by_sha256(registry_repo, card_file):
    project = registry_repo
    git(project, "lfs", "install", "--local")
    git(project, "lfs", "track", "models/churn.json")
    spec = yaml.safe_load((project / "dvc.yaml").read_text())
    spec["stages"]["train"]["outs"] = [{"models/churn.json": {"cache": False}}]  # kept in Git, by LFS
    (project / "dvc.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    (project / "models" / ".gitignore").unlink()  # DVC's entry for the cached out
    train(project, "Keep the model in Git LFS")
    assert git(project, "cat-file", "-p", "HEAD:models/churn.json").startswith("version https://git-lfs")
    reg = Registry.open(project)
    art = reg.register("churn", card_file).card["provenance"]["artifact"]
    rebuilt = (project / "models" / "churn.json").read_bytes()
    assert art["lfs"] == {"oid": hashlib.sha256(rebuilt).hexdigest(), "size": len(rebuilt)}
    assert art["md5"] == hashlib.md5(rebuilt).hexdigest()  # dvc.lock's, beside the pointer's oid

    card = copy.deepcopy(reg.view().card("churn", "1.0.0"))  # a card naming other LFS bytes
    card["provenance"]["artifact"]["lfs"]["oid"] = "0" * 64
    card["provenance"]["same_artifact_as"] = ["1.0.0"]
    advance(reg, forge(reg, card, "1.0.1"))
    result = reg.reproduce("churn@1.0.1", env=ENV)
    by_hash = {(o.path, o.hash): o for o in result.outs}
    assert by_hash["models/churn.json", "md5"].status == "same"
    sha = by_hash["models/churn.json", "sha256"]
    assert (sha.status, sha.expected, sha.found) == ("differs", "0" * 64, art["lfs"]["oid"])
    assert not result.ok and result.differing == [sha]
