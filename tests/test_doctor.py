"""`gitreg doctor` on a registry damaged on purpose, one defect of each kind: it lists each, `--fix`
repairs the safe ones and says what it left, the person does what each fix says, and the next
doctor is clean. Also in a bare server repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from helpers import git, gitreg
from registry_helpers import GOOD, WEAK, make_project, train

from gitreg.store import cache, layout

SAFE = {"lock", "tag-missing", "pending", "cache"}
PERSON = {"tag-moved", "tag-lost", "stray-tag", "fsck"}


def _doctor(repo: Path, *args: str) -> tuple[int, dict]:
    proc = gitreg(repo, "doctor", "--json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def _kinds(report: dict, *, unfixed: bool = True) -> set[str]:
    return {p["kind"] for p in report["problems"] if p["defect"] and not (unfixed and p["fixed"])}


def test_doctor_lists_every_defect_fixes_the_safe_ones_and_the_rest_by_its_hints(tmp_path):
    reg = make_project(tmp_path / "work")
    for name in ("churn", "fraud", "spam", "ranker", "lost"):
        train(reg, name, GOOD)
    train(reg, "churn", WEAK)  # churn@1.1.0
    work = tmp_path / "work"
    git(
        tmp_path, "clone", "-q", "--no-local", "--mirror", "work", "backup.git"
    )  # the clone a person restores from
    assert _doctor(work)[0] == 0

    # 1. a stale lock, an hour old, no git process
    lock = work / ".git" / "refs" / "heads" / "gitreg.lock"
    lock.write_text("")
    os.utime(lock, (time.time() - 3600, time.time() - 3600))
    # 2. a card whose tag ref is gone (the object is still here)
    fraud_tag = git(work, "rev-parse", "refs/tags/fraud@v1.0.0")
    git(work, "update-ref", "-d", "refs/tags/fraud@v1.0.0")
    # 3. a pending ref left by a registration that never landed
    pending = layout.pending_ref("ghost", "1.0.0", fraud_tag)
    git(work, "update-ref", pending, fraud_tag)
    # 4. a cache of the wrong shape
    cache.directory(work / ".git").mkdir(exist_ok=True)
    (cache.directory(work / ".git") / "summaries.json").write_text('{"models": 7}')
    # 6. a lost tag: ref and object gone
    lost_tag = git(work, "rev-parse", "refs/tags/lost@v1.0.0")
    git(work, "update-ref", "-d", "refs/tags/lost@v1.0.0")
    git(work, "prune", "--expire=now")
    assert subprocess.run(["git", "cat-file", "-e", lost_tag], cwd=work).returncode != 0
    # 5. (after the prune, so the registered object stays) a moved tag
    spam_tag = git(work, "rev-parse", "refs/tags/spam@v1.0.0")
    git(work, "tag", "-f", "-a", "-m", "moved", "spam@v1.0.0", "main")
    # 7. a stray tag: named like a registration, registering nothing
    git(work, "tag", "-a", "-m", "by hand", "ranker@v7.0.0")
    # 8. a corrupt object the registry reaches (the ranker card)
    card = git(work, "rev-parse", "gitreg:models/ranker/versions/1.0.0.yaml")
    loose = work / ".git" / "objects" / card[:2] / card[2:]
    loose.chmod(0o644)
    data = bytearray(loose.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 6] = b"\x00oops!"
    loose.write_bytes(bytes(data))

    code, report = _doctor(work)
    assert code == 1
    assert _kinds(report) >= SAFE | PERSON, json.dumps(report, indent=1)
    subjects = {p["subject"] for p in report["problems"]}
    assert {"refs/tags/fraud@v1.0.0", "refs/tags/spam@v1.0.0", "refs/tags/lost@v1.0.0"} <= subjects
    assert {"refs/tags/ranker@v7.0.0", pending, "refs/heads/gitreg.lock"} <= subjects
    assert all(p["safe"] == (p["kind"] in SAFE) for p in report["problems"] if p["kind"] in SAFE | PERSON)

    code, fixed = _doctor(work, "--fix")
    assert code == 1  # what only a person may do is left
    assert {p["kind"] for p in fixed["problems"] if p["fixed"]} == SAFE
    assert _kinds(fixed) == PERSON, json.dumps(fixed, indent=1)
    assert git(work, "rev-parse", "refs/tags/fraud@v1.0.0") == fraud_tag
    assert not lock.exists() and git(work, "for-each-ref", "refs/gitreg/pending/") == ""

    code, second = _doctor(work)
    assert _kinds(second) == PERSON  # the safe ones stay fixed; nothing new
    fixes = {p["kind"]: p["fix"] for p in second["problems"] if p["defect"]}
    # The person follows each fix as written.
    assert f"git tag -f spam@v1.0.0 {spam_tag}" in fixes["tag-moved"]
    git(work, "tag", "-f", "spam@v1.0.0", spam_tag)
    assert "git tag -d ranker@v7.0.0" in fixes["stray-tag"]
    git(work, "tag", "-d", "ranker@v7.0.0")
    assert "git fetch origin tag lost@v1.0.0" in fixes["tag-lost"]
    git(work, "fetch", "-q", str(tmp_path / "backup.git"), "tag", "lost@v1.0.0")
    assert "clone" in fixes["fsck"]
    loose.unlink()  # restore the object from the clone
    packed = subprocess.run(
        ["git", "cat-file", "blob", card], cwd=tmp_path / "backup.git", capture_output=True, check=True
    ).stdout
    subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=work, input=packed, check=True)

    code, last = _doctor(work)
    assert code == 0 and last["ok"], json.dumps(last, indent=1)


def test_doctor_names_a_newer_format(tmp_path):
    reg = make_project(tmp_path / "work")
    train(reg, "churn", GOOD)
    work = tmp_path / "work"
    from registry_helpers import advance, commit

    policy = reg.view().read(layout.POLICY_PATH).decode().replace("version: 1", "version: 2")
    advance(reg, commit(reg, {layout.POLICY_PATH: policy}))
    code, report = _doctor(work)
    assert code == 1
    problems = {p["kind"]: p for p in report["problems"] if p["defect"]}
    assert "format" in problems and "Upgrade gitreg" in problems["format"]["fix"], report


def test_doctor_in_a_bare_server_repository_finds_and_fixes_a_half_push(tmp_path):
    """A remote without the hook got the registry branch and not the tag (a push broken off):
    doctor there names it and, the tag object being there, --fix completes it."""
    reg = make_project(tmp_path / "work")
    train(reg, "churn", GOOD)
    work = tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", "remote.git")
    remote = tmp_path / "remote.git"
    git(work, "push", "-q", str(remote), "gitreg")
    tag = git(work, "rev-parse", "refs/tags/churn@v1.0.0")
    # The objects arrived (as receive-pack stores the pack first), the tag ref did not.
    git(work, "push", "-q", str(remote), f"{tag}:refs/tags/churn@v1.0.0")
    git(remote, "update-ref", "-d", "refs/tags/churn@v1.0.0")
    code, report = _doctor(remote)
    assert code == 1 and report["bare"]
    assert "tag-missing" in _kinds(report)
    code, _ = _doctor(remote, "--fix")
    assert code == 0 and git(remote, "rev-parse", "refs/tags/churn@v1.0.0") == tag
    assert _doctor(remote)[0] == 0


def test_push_refuses_to_publish_a_card_whose_tag_is_lost(tmp_path):
    """To a remote without the hook, a card without its tag would go out unchecked: push repairs
    first, and refuses (pushing nothing) what repair cannot make whole."""
    reg = make_project(tmp_path / "work")
    train(reg, "churn", GOOD)
    work = tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", "remote.git")
    git(work, "remote", "add", "origin", "../remote.git")
    git(work, "update-ref", "-d", "refs/tags/churn@v1.0.0")
    git(work, "prune", "--expire=now")
    proc = gitreg(work, "push")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "churn@v1.0.0" in proc.stderr and "gitreg doctor" in proc.stderr
    assert git(tmp_path / "remote.git", "for-each-ref") == ""
