"""Real signing keys for the signature tests, made once per session, and helpers to tamper with tags.

SSH keys are ed25519 (ssh-keygen -N ''), GPG keys `future-default` (ed25519) without passphrase in
a short temporary GNUPGHOME (gpg-agent's socket must fit a Unix socket path), whose agent is
stopped when the session ends. Tests import the fixtures they use from here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import git, gitreg

POLICY_REQUIRED = """\
version: 1
stages:
  staging: {}
  production:
    from: [staging]
signing:
  registration: required
"""
SIGNER_EMAIL = "author@example.com"  # the tests' committer: tagger and principal agree


@dataclass(frozen=True)
class GpgKey:
    fingerprint: str
    email: str


@dataclass(frozen=True)
class Keys:
    ssh: dict[str, Path]  # name -> private key path; NAME.pub beside it
    gnupg: Path  # a GNUPGHOME holding both GPG keys
    carol: GpgKey  # allowed in the tests that add her
    dan: GpgKey  # never allowed: a second key in the same keyring


def _run(*cmd: str, env: dict | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    assert proc.returncode == 0, f"{cmd}: {proc.stderr}"
    return proc.stdout


def _gen_gpg(home: Path, uid: str) -> str:
    env = {"GNUPGHOME": str(home)}
    _run(
        "gpg",
        "--batch",
        "--passphrase",
        "",
        "--quick-gen-key",
        uid,
        "future-default",
        "default",
        "never",
        env=env,
    )
    out = _run("gpg", "--batch", "--with-colons", "--list-secret-keys", uid, env=env)
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))


def stop_agent(home: Path) -> None:
    """Stop the gpg-agent this GNUPGHOME started (only that one)."""
    subprocess.run(
        ["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(home)}, capture_output=True
    )


@pytest.fixture(scope="session")
def keys(tmp_path_factory) -> Keys:
    ssh_dir = tmp_path_factory.mktemp("ssh-keys")
    ssh = {}
    for name in ("alice", "bob"):
        path = ssh_dir / name
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@example.com", "-f", str(path))
        ssh[name] = path
    home = Path(tempfile.mkdtemp(prefix="gr-gpg-"))
    home.chmod(0o700)
    try:
        carol = GpgKey(_gen_gpg(home, f"Test Author <{SIGNER_EMAIL}>"), SIGNER_EMAIL)
        dan = GpgKey(_gen_gpg(home, "Dan <dan@example.com>"), "dan@example.com")
        yield Keys(ssh, home, carol, dan)
    finally:
        stop_agent(home)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def empty_gnupg(monkeypatch):
    """A GNUPGHOME with no keys at all (its agent is stopped afterwards)."""
    home = Path(tempfile.mkdtemp(prefix="gr-gpg0-"))
    home.chmod(0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    yield home
    stop_agent(home)
    shutil.rmtree(home, ignore_errors=True)


def use_ssh_key(repo: Path, key: Path) -> None:
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingKey", str(key))


def use_gpg_key(repo: Path, key: GpgKey) -> None:
    git(repo, "config", "gpg.format", "openpgp")
    git(repo, "config", "user.signingKey", key.fingerprint)


def init_required(repo: Path, tmp_path: Path) -> None:
    """An unowned registry requiring signed registrations: init runs where git has no key
    (with one, init would make its owner the first maintainer)."""
    policy = tmp_path / "policy-required.yaml"
    policy.write_text(POLICY_REQUIRED)
    proc = gitreg(repo, "init", "--policy", str(policy), env={"GNUPGHOME": str(tmp_path / "no-gnupg")})
    assert proc.returncode == 0, proc.stderr


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def register(repo: Path, card: Path, *args: str) -> subprocess.CompletedProcess:
    return gitreg(
        repo,
        "register",
        "plain",
        "--card",
        str(card),
        "--artifact",
        "model.bin",
        "--metrics",
        "metrics.json",
        "--allow-same-artifact",  # one committed model, registered again and again to test signing
        *args,
    )


def branch(repo: Path) -> str:
    return git(repo, "rev-parse", "refs/heads/gitreg")


def tag_id(repo: Path, tag: str) -> str:
    return git(repo, "rev-parse", f"refs/tags/{tag}")


def raw_tag(repo: Path, oid: str) -> bytes:
    return subprocess.run(["git", "cat-file", "tag", oid], cwd=repo, capture_output=True, check=True).stdout


def write_tag(repo: Path, raw: bytes) -> str:
    """Write a (possibly forged) tag object as-is and return its id."""
    return (
        subprocess.run(
            ["git", "hash-object", "-t", "tag", "-w", "--stdin", "--literally"],
            cwd=repo,
            input=raw,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )


def forge_record(repo: Path, parent: str, like: str, name: str, version: str, tag: str) -> str:
    """A registry commit on PARENT with the tree of LIKE, except that NAME@VERSION's tag record
    names TAG: what someone who forged a tag would push along with it."""
    record = f"tag: {name}@v{version}\nobject: {tag}\n"
    return _commit_with(repo, parent, like, {f"models/{name}/versions/{version}.tag": record.encode()})


def forge_file(repo: Path, parent: str, like: str, path: str, data: bytes) -> str:
    return _commit_with(repo, parent, like, {path: data})


def _commit_with(repo: Path, parent: str, like: str, files: dict[str, bytes]) -> str:
    from gitreg.store.gitstore import GitStore

    store = GitStore.discover(repo)
    tree = store.write_tree(store.commit_tree(like), files)
    return store.write_commit(tree, [parent], "forged\n", store.ident())


def check_json(repo: Path, base: str, head: str) -> tuple[int, list[dict]]:
    import json

    proc = gitreg(repo, "check", "--base", base, "--head", head, "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)["findings"]


def verify_json(repo: Path, *args: str) -> tuple[int, list[dict]]:
    import json

    proc = gitreg(repo, "verify", *args, "--json")
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)["versions"]


def signers(repo: Path, *args: str) -> dict:
    """`gitreg signers add|revoke ARGS` (a policy proposal), then merge it: the result as JSON."""
    import json

    result = json.loads(ok(gitreg(repo, "signers", *args, "--json")).stdout)
    ok(gitreg(repo, "merge", result["branch"]))
    return result
