"""A governed team for the governance tests: a bare remote with gitreg's server hook, and one
clone per person, each signing with their own SSH key:

    alice  maintainer and production approver (she ran `gitreg init`)
    carol  maintainer
    bob    production approver
    eve    the insider: a registered signer with push access, neither maintainer nor approver

Built once per test module and copied per test (remote URLs are relative).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from helpers import git, gitreg
from registry_helpers import GOOD, WEAK, advance, set_stages, train
from remote_helpers import git_push

from gitreg.registry import Registry
from gitreg.store.gitstore import GitStore, Ident

PEOPLE = ("alice", "bob", "carol", "eve")
POLICY = """\
version: 1
stages:
  staging: {}
  production:
    from: [staging]
    max_versions: 1
    gates:
      - {metric: accuracy, min: 0.9}
    approvers:
      principals: [alice@example.com, bob@example.com]
      approvals: 1
  archived:
    from: [staging, production]
maintainers:
  principals: [alice@example.com, carol@example.com]
  approvals: 1
"""
BETTER = {"accuracy": 0.95, "fairness": {"demographic_parity_gap": 0.01}}


def email(person: str) -> str:
    return f"{person}@example.com"


def as_(person: str) -> dict[str, str]:
    """The identity git and gitreg see for PERSON (the test session pins one globally)."""
    name = person.title()
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email(person),
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email(person),
    }


def ident(person: str, when: int = 1_700_000_000) -> Ident:
    return Ident(person.title(), email(person), when, 0)


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def run(root: Path, person: str, *args: str) -> subprocess.CompletedProcess:
    """gitreg ARGS in PERSON's clone, as PERSON."""
    return gitreg(root / person, *args, env=as_(person))


def use_key(repo: Path, key: Path) -> None:
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingKey", str(key))


def build(root: Path) -> Path:
    keys = root / "keys"
    keys.mkdir(parents=True)
    for person in PEOPLE:
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", email(person), "-f", str(keys / person)],
            check=True,
        )
    alice = root / "alice"
    alice.mkdir()
    git(alice, "init", "-q")
    (alice / "README.md").write_text("project\n")
    git(alice, "add", "-A")
    git(alice, "commit", "-qm", "start")
    use_key(alice, keys / "alice")
    (root / "policy.yaml").write_text(POLICY)
    ok(run(root, "alice", "init", "--policy", str(root / "policy.yaml")))
    for person in ("bob", "carol", "eve"):
        out = ok(
            run(
                root,
                "alice",
                "signers",
                "add",
                "--ssh",
                str(keys / f"{person}.pub"),
                "--principal",
                email(person),
                "--json",
            )
        )
        import json

        branch = json.loads(out.stdout)["branch"]
        ok(run(root, "alice", "merge", branch))
    reg = Registry.open(alice)
    train(reg, "churn", WEAK)  # 1.0.0
    train(reg, "churn", GOOD)  # 1.1.0
    advance(reg, set_stages(reg, "churn", {"staging": ["1.0.0", "1.1.0"]}))
    git(root, "init", "-q", "--bare", "remote.git")
    ok(gitreg(root / "remote.git", "install-hooks", "--server"))
    git(alice, "remote", "add", "origin", "../remote.git")
    push = git_push(alice, "main", "gitreg", "--tags")
    assert push.returncode == 0, push.stderr
    for person in ("bob", "carol", "eve"):
        git(root, "clone", "-q", "remote.git", person)
        git(root / person, "remote", "set-url", "origin", "../remote.git")
        use_key(root / person, keys / person)
    return root


def copy(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest, symlinks=True)
    return dest


def store(root: Path, person: str) -> GitStore:
    return GitStore.discover(root / person)


def remote_refs(root: Path) -> str:
    return git(root / "remote.git", "for-each-ref", "--format=%(refname) %(objectname)")


def refused(root: Path, person: str, *args: str, rule: str) -> subprocess.CompletedProcess:
    """A `git push` from PERSON's clone that the server must refuse, naming RULE, changing nothing."""
    before = remote_refs(root)
    proc = git_push(root / person, *args)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert rule in proc.stderr, proc.stderr
    assert remote_refs(root) == before
    return proc
