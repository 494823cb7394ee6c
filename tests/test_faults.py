"""Faults named for what they are: each a real fault, made the way it happens, and each answered
with exit 2, a message naming the fault, its fix, and refs left as they were. Never "a bug".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import git, gitreg, snapshot
from registry_helpers import GOOD, advance, commit, make_project, train

from gitreg.store import cache, layout


@pytest.fixture
def project(tmp_path) -> Path:
    reg = make_project(tmp_path / "work")
    train(reg, "churn", GOOD)
    train(reg, "fraud", GOOD)
    root = tmp_path / "work"
    (tmp_path / "card.yaml").write_text((tmp_path / "work-churn-card.yaml").read_text())
    return root


def _register(repo: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    # The project registers one training again and again: say so (issue 10 refuses it silently done).
    args = ["register", "churn", "--card", "../card.yaml", "--artifact", "churn.bin", "--allow-same-artifact"]
    return gitreg(repo, *args, "--metrics", "churn-metrics.json", *extra, env=env)


def _refs_on_disk(repo: Path) -> dict[str, bytes]:
    """The ref store's files, byte for byte (git itself cannot list refs when packed-refs is broken)."""
    gitdir = repo / ".git"
    files = [gitdir / "packed-refs", *sorted((gitdir / "refs").rglob("*"))]
    return {str(p.relative_to(gitdir)): p.read_bytes() for p in files if p.is_file()}


def _assert_named(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "bug in gitreg" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert "hint:" in proc.stderr, proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr


def _loose_path(repo: Path, oid: str) -> Path:
    return repo / ".git" / "objects" / oid[:2] / oid[2:]


def _corrupt(path: Path) -> None:
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 8] = b"\x00garbage"
    path.write_bytes(bytes(data))


def test_a_corrupt_card_is_named_with_fsck_and_a_clone_as_the_fix(project):
    oid = git(project, "rev-parse", "gitreg:models/churn/versions/1.0.0.yaml")
    _corrupt(_loose_path(project, oid))
    before = snapshot(project)
    proc = gitreg(project, "show", "churn@1.0.0")
    _assert_named(proc, f"object {oid} is corrupt", "git fsck", "clone")
    assert snapshot(project) == before


def test_a_write_on_a_corrupt_registry_tree_refuses_and_names_it(project):
    oid = git(project, "rev-parse", "gitreg:models/churn/versions")
    _corrupt(_loose_path(project, oid))
    before = snapshot(project)
    proc = _register(project)
    _assert_named(proc, oid, "corrupt", "git fsck")
    assert snapshot(project) == before
    doctor = gitreg(project, "doctor", "--json")
    kinds = {p["kind"] for p in json.loads(doctor.stdout)["problems"]}
    assert doctor.returncode == 1 and {"fsck", "fault"} & kinds, doctor.stdout


def test_a_truncated_packed_refs_is_named_not_taken_for_deleted_tags(project):
    git(project, "pack-refs", "--all")
    packed = project / ".git" / "packed-refs"
    data = packed.read_bytes()
    packed.write_bytes(data[: len(data) - 30])  # cut in the middle of the last line
    before = _refs_on_disk(project)
    for args in (["list"], ["show", "churn"], ["verify"]):
        _assert_named(gitreg(project, *args), "packed-refs", "Restore")
    _assert_named(_register(project), "packed-refs")
    assert _refs_on_disk(project) == before


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_no_space_left_is_named_and_nothing_moves(project, tmp_path):
    """The disk fills up as gitreg writes the registration's objects: a dry run on a copy finds
    which write(2) of the gitreg process is its first into .git/objects (dates pinned, so the
    run repeats exactly), and the real run gets ENOSPC from exactly that write."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.update(GIT_COMMITTER_DATE="1767225600 +0000", GIT_AUTHOR_DATE="1767225600 +0000")
    register = [sys.executable, "-m", "gitreg", "register", "churn", "--card", "../card.yaml"]
    register += ["--artifact", "churn.bin", "--metrics", "churn-metrics.json", "--allow-same-artifact"]
    dry = tmp_path / "dry"
    shutil.copytree(project, dry / "work", symlinks=True)
    shutil.copy(project.parent / "card.yaml", dry / "card.yaml")
    log = tmp_path / "writes.log"
    traced = ["strace", "-qq", "-y", "-o", str(log), "-e", "trace=write"]
    assert (
        subprocess.run([*traced, *register], cwd=dry / "work", capture_output=True, env=env).returncode == 0
    )
    writes = [line for line in log.read_text().splitlines() if line.startswith("write(")]
    nth = next(i for i, line in enumerate(writes, 1) if "/.git/objects/" in line.split(",")[0])
    before = snapshot(project)
    inject = [
        "strace",
        "-qq",
        "-o",
        os.devnull,
        "-e",
        "trace=write",
        "-e",
        f"inject=write:error=ENOSPC:when={nth}",
    ]
    proc = subprocess.run([*inject, *register], cwd=project, capture_output=True, text=True, env=env)
    _assert_named(proc, "no space left", "Free disk space")
    assert snapshot(project) == before


def test_permission_denied_names_the_path_and_the_user(project, tmp_path):
    """A read-only object store. Root ignores file modes, so as root the command runs as nobody
    (setpriv) on a repository nobody owns but may not write into."""
    objects = project / ".git" / "objects"
    before = snapshot(project)
    prefix: list[str] = []
    user = None
    opened: list[Path] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: no way to be refused")
        import pwd

        nobody = pwd.getpwnam("nobody")
        user = "nobody"
        prefix = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
        subprocess.run(["chown", "-R", f"{nobody.pw_uid}:{nobody.pw_gid}", str(tmp_path)], check=True)
        for parent in [p for p in tmp_path.parents if p != Path("/")]:  # let nobody reach tmp_path
            if not os.stat(parent).st_mode & 0o001:
                parent.chmod(os.stat(parent).st_mode | 0o001)
                opened.append(parent)
        home = tmp_path / "home"
        home.mkdir()
        (home / ".gitconfig").write_text("[user]\n\tname = N\n\temail = n@example.com\n")
        subprocess.run(["chown", "-R", f"{nobody.pw_uid}:{nobody.pw_gid}", str(home)], check=True)
        env = {"HOME": str(home), "GIT_CONFIG_GLOBAL": str(home / ".gitconfig")}
    else:
        env = {}
    modes = {d: d.stat().st_mode for d in [objects, *objects.iterdir()] if d.is_dir()}
    for d in modes:
        d.chmod(0o555)
    try:
        proc = subprocess.run(
            [
                *prefix,
                sys.executable,
                "-m",
                "gitreg",
                "register",
                "churn",
                "--card",
                "../card.yaml",
                "--artifact",
                "churn.bin",
                "--metrics",
                "churn-metrics.json",
                "--allow-same-artifact",
            ],
            cwd=project,
            capture_output=True,
            text=True,
            env={**os.environ, **env},
        )
    finally:
        for d, mode in modes.items():
            d.chmod(mode)
        for parent in opened:
            parent.chmod(os.stat(parent).st_mode & ~0o001)
    _assert_named(proc, "permission denied", str(objects))
    if user:
        assert f"by {user}" in proc.stderr
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "0:0", str(tmp_path)], check=True)
    after = snapshot(project)
    assert {k: v for k, v in after.items() if k != "index"} == {
        k: v for k, v in before.items() if k != "index"
    }


@pytest.mark.parametrize(
    "content",
    [
        b"[1, 2, 3]",
        b'{"format": "FORMAT", "models": [1, 2]}',
        b'{"format": "FORMAT", "models": {"churn x": "not a summary"}}',
        b'{"format": "FORMAT", "models": {"churn x": {"name": "churn", "versions": "many", "stages": []}}}',
        b"\xff\xfe not json",
    ],
)
def test_a_cache_of_the_wrong_shape_is_dropped_and_rebuilt_silently(project, content):

    assert gitreg(project, "list").returncode == 0
    path = cache.directory(project / ".git") / "summaries.json"
    path.write_bytes(content.replace(b"FORMAT", cache._format().encode()))
    proc = gitreg(project, "list", "--json")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert [m["name"] for m in json.loads(proc.stdout)] == ["churn", "fraud"]
    assert cache.damage(project / ".git") is None  # rebuilt in the right shape
    assert gitreg(project, "doctor").returncode == 0


def test_a_model_with_a_56_mb_stages_file_is_listed_on_its_own_line(project):
    from gitreg.registry import Registry

    reg = Registry.open(project)
    huge = b"staging: [" + b"1.0.0, " * (56 * 1024 * 1024 // 7) + b"]\n"
    advance(reg, commit(reg, {layout.stages_path("fraud"): huge}))
    proc = gitreg(project, "list")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert any(line.startswith("churn ") and "1.0.0" in line for line in lines), proc.stdout
    fraud = [line for line in lines if line.startswith("fraud ")]
    assert len(fraud) == 1 and "unreadable" in fraud[0] and "over the limit" in fraud[0], proc.stdout
    listed = json.loads(gitreg(project, "list", "--json").stdout)
    assert [m["error"] is not None for m in listed] == [False, True]


def test_a_model_with_a_corrupt_file_is_listed_on_its_own_line(project):
    oid = git(project, "rev-parse", "gitreg:models/fraud/model.yaml")
    _corrupt(_loose_path(project, oid))
    proc = gitreg(project, "list")
    assert proc.returncode == 0, proc.stderr
    assert any(line.startswith("churn ") and "1.0.0" in line for line in proc.stdout.splitlines())
    assert any(line.startswith("fraud ") and "corrupt" in line for line in proc.stdout.splitlines())


# --- the hint that must never be given: "delete the registration tag" ---------------------------


def test_a_tag_waiting_on_a_proposal_is_never_called_stray(project):
    proc = _register(project, "--version", "2.0.0", "--propose")
    assert proc.returncode == 0, proc.stderr
    proc = _register(project, "--version", "2.0.0")
    assert proc.returncode == 1
    assert "proposed already" in proc.stderr and "gitreg-register/churn/v2.0.0" in proc.stderr
    assert "tag -d" not in proc.stderr
    assert gitreg(project, "doctor").returncode == 0  # not stray: the proposal accounts for it


def test_only_doctor_calls_a_tag_stray_and_only_then_says_how_to_remove_it(project):
    # Lightweight: an annotated tag on the very commit would be adopted as GTO's (issue 12).
    git(project, "tag", "churn@v9.9.9")
    proc = _register(project, "--version", "9.9.9")
    assert proc.returncode == 1 and "tag -d" not in proc.stderr and "gitreg doctor" in proc.stderr
    doctor = gitreg(project, "doctor", "--json")
    stray = [p for p in json.loads(doctor.stdout)["problems"] if p["kind"] == "stray-tag"]
    assert doctor.returncode == 1 and len(stray) == 1
    assert "git tag -d churn@v9.9.9" in stray[0]["fix"] and not stray[0]["safe"]
    git(project, "tag", "-d", "churn@v9.9.9")  # what the fix says
    assert gitreg(project, "doctor").returncode == 0
