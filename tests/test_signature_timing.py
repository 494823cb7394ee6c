"""Signatures judged as git judges them, at the time of the check: a back-dated tag by an expired
SSH key, and GPG keys that are expired or revoked (gpgv's EXPKEYSIG / REVKEYSIG), fail; `signers
add --gpg` refuses a key that can no longer sign.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from helpers import git, gitreg
from registry_helpers import advance, commit
from signing_support import SIGNER_EMAIL, init_required, ok, register, stop_agent, use_ssh_key, verify_json

from gitreg.registry import Registry

BACK = "2019-06-01T12:00:00+0000"


def _allow(repo: Path, files: dict[str, bytes]) -> None:
    """signers/ edited straight on the (unowned) registry branch, as a set-up step."""
    reg = Registry.open(repo)
    advance(reg, commit(reg, files))


def _propose(repo: Path, card: Path, date: str):
    """register --propose (the check judges it) with the tagger date DATE."""
    args = ("--card", str(card), "--artifact", "model.bin", "--metrics", "metrics.json", "--propose")
    return gitreg(repo, "register", "plain", *args, env={"GIT_COMMITTER_DATE": date})


def _ssh_line(key: Path, options: str) -> str:
    kind, blob = (Path(f"{key}.pub").read_text().split())[:2]
    return f'{SIGNER_EMAIL} namespaces="git",{options} {kind} {blob}\n'


@pytest.mark.parametrize(
    ("options", "passes"), [('valid-before="20200101"', False), ('valid-before="20990101"', True)]
)
def test_a_back_dated_tag_by_an_expired_ssh_key_is_refused(
    plain_repo, card_file, tmp_path, keys, options, passes
):
    init_required(plain_repo, tmp_path)
    _allow(plain_repo, {"signers/allowed_signers": _ssh_line(keys.ssh["alice"], options).encode()})
    use_ssh_key(plain_repo, keys.ssh["alice"])
    before = git(plain_repo, "for-each-ref")
    proc = _propose(plain_repo, card_file, BACK)
    if passes:
        ok(proc)
        return
    # The tagger date says 2019, inside the key's window; the check judges now, outside it.
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "[signature]" in proc.stderr and "not an allowed signer" in proc.stderr
    assert git(plain_repo, "for-each-ref") == before


@pytest.fixture
def gnupg(monkeypatch):
    home = Path(tempfile.mkdtemp(prefix="gr-gpgt-"))
    home.chmod(0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    yield home
    stop_agent(home)
    shutil.rmtree(home, ignore_errors=True)


def _gpg(*args: str, input: bytes | None = None) -> bytes:
    proc = subprocess.run(["gpg", "--batch", "--no-tty", *args], input=input, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _fingerprint(uid: str) -> str:
    out = _gpg("--with-colons", "--list-keys", uid).decode()
    return next(line.split(":")[9] for line in out.splitlines() if line.startswith("fpr:"))


def _use_gpg(repo: Path, fpr: str, faked: str | None = None) -> None:
    git(repo, "config", "gpg.format", "openpgp")
    git(repo, "config", "user.signingKey", fpr)
    if faked:  # sign as if it were FAKED (the key was valid then)
        wrapper = repo.parent / "gpg-then"
        wrapper.write_text(f'#!/bin/sh\nexec gpg --faked-system-time {faked} "$@"\n')
        wrapper.chmod(0o755)
        git(repo, "config", "gpg.program", str(wrapper))


def test_a_gpg_key_expired_now_fails_and_cannot_be_added(plain_repo, card_file, tmp_path, gnupg):
    uid = f"Test Author <{SIGNER_EMAIL}>"
    # Made in 2020, expired two days later; the tag is signed while it was valid.
    _gpg(
        "--passphrase",
        "",
        "--faked-system-time",
        "20200101T000000",
        "--quick-gen-key",
        uid,
        "future-default",
        "default",
        "2d",
    )
    fpr = _fingerprint(SIGNER_EMAIL)
    init_required(plain_repo, tmp_path)
    _allow(plain_repo, {f"signers/gpg/{fpr}.asc": _gpg("--armor", "--export", fpr)})
    _use_gpg(plain_repo, fpr, faked="20200102T000000")
    proc = _propose(plain_repo, card_file, "2020-01-02T00:00:00+0000")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "EXPKEYSIG" in proc.stderr and "[signature]" in proc.stderr
    added = gitreg(plain_repo, "signers", "add", "--gpg", fpr)
    assert added.returncode == 1 and "is expired" in added.stderr


def test_a_revoked_gpg_key_in_signers_fails_verification(plain_repo, card_file, tmp_path, gnupg):
    uid = f"Test Author <{SIGNER_EMAIL}>"
    _gpg("--passphrase", "", "--quick-gen-key", uid, "future-default", "default", "never")
    fpr = _fingerprint(SIGNER_EMAIL)
    init_required(plain_repo, tmp_path)
    _allow(plain_repo, {f"signers/gpg/{fpr}.asc": _gpg("--armor", "--export", fpr)})
    _use_gpg(plain_repo, fpr)
    ok(register(plain_repo, card_file))
    code, versions = verify_json(plain_repo)
    assert code == 0 and versions[0]["signature"]["status"] == "verified"
    # The key's owner revokes it; the registry's copy of the key now carries the revocation.
    rev = (gnupg / "openpgp-revocs.d" / f"{fpr}.rev").read_text().replace(":-----BEGIN", "-----BEGIN")
    _gpg("--import", input=rev.encode())
    _allow(plain_repo, {f"signers/gpg/{fpr}.asc": _gpg("--armor", "--export", fpr)})
    code, versions = verify_json(plain_repo)
    assert code == 1
    assert (
        versions[0]["signature"]["status"] == "expired" and "REVKEYSIG" in versions[0]["signature"]["detail"]
    )
    listed = gitreg(plain_repo, "signers", "list").stdout
    assert "revoked: nothing it signs verifies" in listed
    added = gitreg(plain_repo, "signers", "add", "--gpg", fpr)
    assert added.returncode == 1 and "is revoked" in added.stderr
