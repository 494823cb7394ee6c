"""Signed registrations with real SSH and GPG keys, and who may sign (`gitreg signers`)."""

from __future__ import annotations

import json
import subprocess

from helpers import git, gitreg, snapshot
from signing_support import (
    SIGNER_EMAIL,
    branch,
    init_required,
    ok,
    register,
    signers,
    tag_id,
    use_gpg_key,
    use_ssh_key,
    verify_json,
)

from gitreg.trust.signatures import split_tag


def _fingerprint(pub) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(pub)], capture_output=True, text=True, check=True
    ).stdout
    return out.split()[1]


# --- acceptance 1: a version signed by an allowed key verifies (SSH, then GPG) ---------------


def test_ssh_signed_registration_verifies(plain_repo, card_file, tmp_path, keys):
    init_required(plain_repo, tmp_path)
    alice = keys.ssh["alice"]
    signers(plain_repo, "add", "--ssh", f"{alice}.pub", "--principal", SIGNER_EMAIL)
    use_ssh_key(plain_repo, alice)
    reg = json.loads(ok(register(plain_repo, card_file, "--json")).stdout)
    assert reg["signed"] is True
    raw = subprocess.run(
        ["git", "cat-file", "tag", reg["tag"]], cwd=plain_repo, capture_output=True, check=True
    ).stdout
    assert split_tag(raw).kind == "ssh"

    code, versions = verify_json(plain_repo)
    assert code == 0
    [v] = versions
    assert v["ok"] and v["problems"] == []
    assert v["signature"]["status"] == "verified"
    assert v["signature"]["signer"] == SIGNER_EMAIL
    assert v["signature"]["fingerprint"] == _fingerprint(f"{alice}.pub")

    # show and history name the signer and say it verifies.
    shown = ok(gitreg(plain_repo, "show", "plain@1.0.0")).stdout
    assert f"signed by {SIGNER_EMAIL} (ssh {_fingerprint(f'{alice}.pub')}); verifies" in shown
    listing = ok(gitreg(plain_repo, "show", "plain")).stdout
    assert "ssh" in listing.splitlines()[-1]
    history = ok(gitreg(plain_repo, "history", "plain", "--verify")).stdout
    assert f"signed by {SIGNER_EMAIL}" in history and "verifies" in history
    events = json.loads(ok(gitreg(plain_repo, "history", "plain", "--verify", "--json")).stdout)
    registered = [e for e in events if e["kind"] == "registered"]
    assert registered[0]["verification"]["signature"]["signer"] == SIGNER_EMAIL


def test_gpg_signed_registration_verifies(plain_repo, card_file, tmp_path, keys, monkeypatch):
    monkeypatch.setenv("GNUPGHOME", str(keys.gnupg))
    init_required(plain_repo, tmp_path)
    added = signers(plain_repo, "add", "--gpg", keys.carol.fingerprint)
    assert added["fingerprint"] == keys.carol.fingerprint
    # Only Carol's key was exported, although Dan's sits in the same keyring.
    files = git(plain_repo, "ls-tree", "-r", "--name-only", "gitreg", "signers/gpg")
    assert files.splitlines() == [f"signers/gpg/{keys.carol.fingerprint}.asc"]

    use_gpg_key(plain_repo, keys.carol)
    ok(register(plain_repo, card_file))
    code, [v] = verify_json(plain_repo, "plain@1.0.0")
    assert code == 0 and v["ok"]
    assert v["signature"]["kind"] == "gpg"
    assert v["signature"]["fingerprint"] == keys.carol.fingerprint
    assert v["signature"]["signer"] == f"Test Author <{SIGNER_EMAIL}>"
    assert "verifies" in ok(gitreg(plain_repo, "show", "plain@1.0.0")).stdout


# --- who may sign ------------------------------------------------------------------------------


def test_signers_add_list_and_revoke_each_land_as_one_commit(plain_repo, tmp_path, keys, monkeypatch):
    monkeypatch.setenv("GNUPGHOME", str(keys.gnupg))
    init_required(plain_repo, tmp_path)
    alice, bob = (f"{keys.ssh[n]}.pub" for n in ("alice", "bob"))
    before = branch(plain_repo)
    signers(plain_repo, "add", "--ssh", alice, "--principal", SIGNER_EMAIL)
    after = branch(plain_repo)
    assert git(plain_repo, "rev-parse", f"{after}^") == before
    changed = git(plain_repo, "diff", "--name-only", before, after)
    assert changed == "signers/allowed_signers"
    signers(plain_repo, "add", "--ssh", bob, "--principal", "bob@example.com")
    signers(plain_repo, "add", "--gpg", keys.carol.fingerprint)

    listed = json.loads(ok(gitreg(plain_repo, "signers", "list", "--json")).stdout)
    assert [(s["kind"], s["identities"][0], s["revoked"]) for s in listed] == [
        ("ssh", SIGNER_EMAIL, False),
        ("ssh", "bob@example.com", False),
        ("gpg", f"Test Author <{SIGNER_EMAIL}>", False),
    ]
    assert listed[0]["fingerprint"] == _fingerprint(alice)

    # Adding the same key twice is refused and writes nothing.
    head = branch(plain_repo)
    proc = gitreg(plain_repo, "signers", "add", "--ssh", alice, "--principal", "other@example.com")
    assert proc.returncode == 1 and "already allowed" in proc.stderr
    assert branch(plain_repo) == head

    # Revoking: one commit touching signers/revoked only; the key stays listed, marked revoked.
    signers(plain_repo, "revoke", "--principal", "bob@example.com")
    assert git(plain_repo, "diff", "--name-only", head, "gitreg") == "signers/revoked"
    signers(plain_repo, "revoke", "--gpg", keys.carol.fingerprint)
    listed = json.loads(ok(gitreg(plain_repo, "signers", "list", "--json")).stdout)
    assert [s["revoked"] for s in listed] == [False, True, True]
    text = ok(gitreg(plain_repo, "signers", "list")).stdout
    assert "revoked" in text and "allowed" in text
    # A revoked key cannot be allowed again.
    proc = gitreg(plain_repo, "signers", "add", "--gpg", keys.carol.fingerprint)
    assert proc.returncode == 1 and "revoked" in proc.stderr


def test_signers_add_refuses_bad_input_and_writes_nothing(plain_repo, tmp_path, keys, monkeypatch):
    monkeypatch.setenv("GNUPGHOME", str(keys.gnupg))
    init_required(plain_repo, tmp_path)
    before = snapshot(plain_repo)
    alice = keys.ssh["alice"]
    cases = [
        (["--ssh", str(alice), "--principal", SIGNER_EMAIL], "private key"),
        (["--ssh", f"{alice}.pub", "--principal", "not an email"], "principal"),
        (["--ssh", f"{alice}.pub"], "--principal"),
        (["--ssh", str(tmp_path / "missing.pub"), "--principal", SIGNER_EMAIL], "cannot read"),
        (["--gpg", "0" * 40], "no GPG public key"),
    ]
    for args, said in cases:
        proc = gitreg(plain_repo, "signers", "add", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert said in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot(plain_repo) == before


def test_a_gpg_file_that_holds_another_key_is_ignored(plain_repo, card_file, tmp_path, keys, monkeypatch):
    """signers/gpg/CAROL.asc holding Dan's key must not let Dan sign."""
    monkeypatch.setenv("GNUPGHOME", str(keys.gnupg))
    init_required(plain_repo, tmp_path)
    from gitreg.store.gitstore import GitStore

    dan_key = subprocess.run(
        ["gpg", "--armor", "--export", keys.dan.fingerprint], capture_output=True, check=True
    ).stdout
    store = GitStore.discover(plain_repo)
    head = branch(plain_repo)
    tree = store.write_tree(store.commit_tree(head), {f"signers/gpg/{keys.carol.fingerprint}.asc": dan_key})
    commit = store.write_commit(tree, [head], "smuggle a key\n", store.ident())
    git(plain_repo, "update-ref", "refs/heads/gitreg", commit, head)
    [listed] = json.loads(ok(gitreg(plain_repo, "signers", "list", "--json")).stdout)
    assert "not the key its name says" in listed["problem"]
    from gitreg.check import engine as check

    report = check.run(store, head, commit)
    assert [(f.rule, f.file) for f in report.findings] == [
        ("signers", f"signers/gpg/{keys.carol.fingerprint}.asc")
    ]
    # A line ssh-keygen would skip is a finding too.
    tree = store.write_tree(store.commit_tree(head), {"signers/allowed_signers": b"someone@x\n"})
    bad = store.write_commit(tree, [head], "a broken line\n", store.ident())
    [finding] = check.run(store, head, bad).findings
    assert finding.file == "signers/allowed_signers:1" and "ssh-keygen ignores it" in finding.message

    use_gpg_key(plain_repo, keys.dan)
    ok(register(plain_repo, card_file))
    code, [v] = verify_json(plain_repo)
    assert code == 1
    assert [p["code"] for p in v["problems"]] == ["unknown-key"]


# --- acceptance 3: required signing and no key fails before writing anything --------------------


def test_register_required_without_a_key_fails_before_writing(plain_repo, card_file, tmp_path, empty_gnupg):
    init_required(plain_repo, tmp_path)
    before = snapshot(plain_repo)
    objects = git(plain_repo, "count-objects", "-v")
    # Default format (openpgp), no user.signingKey, no secret key in GNUPGHOME.
    proc = register(plain_repo, card_file)
    assert proc.returncode == 1, proc.stderr
    assert "the policy requires signed registrations, but no signing key is configured" in proc.stderr
    assert "hint: Set up git signing" in proc.stderr and "Nothing was written" in proc.stderr
    assert snapshot(plain_repo) == before
    assert git(plain_repo, "count-objects", "-v") == objects  # not even a loose object

    # SSH format without a key, and with a key path that does not exist.
    git(plain_repo, "config", "gpg.format", "ssh")
    proc = register(plain_repo, card_file)
    assert proc.returncode == 1 and "user.signingKey is not set" in proc.stderr
    git(plain_repo, "config", "user.signingKey", str(tmp_path / "nope"))
    proc = register(plain_repo, card_file)
    assert proc.returncode == 1 and "does not exist" in proc.stderr
    # --no-sign cannot dodge the policy.
    proc = register(plain_repo, card_file, "--no-sign")
    assert proc.returncode == 1 and "--no-sign was given" in proc.stderr
    assert snapshot(plain_repo) == before


def test_register_when_git_fails_to_sign_leaves_refs_alone(plain_repo, card_file, tmp_path):
    """A key file that exists but is no key passes the up-front check; git tag -s then fails."""
    init_required(plain_repo, tmp_path)
    junk = tmp_path / "junk-key"
    junk.write_text("not a key\n")
    junk.chmod(0o600)
    use_ssh_key(plain_repo, junk)
    before = snapshot(plain_repo)
    proc = register(plain_repo, card_file)
    assert proc.returncode == 2
    assert "could not create tag plain@v1.0.0: git made no signature" in proc.stderr
    assert "signing set-up" in proc.stderr
    assert snapshot(plain_repo) == before


def test_sign_flag_signs_where_the_policy_does_not_require_it(plain_repo, card_file, keys):
    ok(gitreg(plain_repo, "init"))
    use_ssh_key(plain_repo, keys.ssh["alice"])
    ok(register(plain_repo, card_file, "--no-sign"))
    ok(register(plain_repo, card_file, "--sign"))
    code, versions = verify_json(plain_repo)
    # Optional policy: unsigned is fine; signed by a key nobody listed is a warning, not a finding.
    assert code == 0
    assert [v["signature"]["status"] for v in versions] == ["unsigned", "unknown-key"]
    assert "not an allowed signer" in versions[1]["warnings"][0]
    assert tag_id(plain_repo, "plain@v1.1.0")


# --- the parts, without git ------------------------------------------------------------------------


def test_split_tag_takes_the_last_signature_block_as_git_does():
    head = b"object " + b"a" * 40 + b"\ntype commit\ntag m@v1.0.0\ntagger A <a@x> 1 +0000\n\n"
    body = b"Register\n-----BEGIN PGP SIGNATURE-----\nnot really\n"
    sig = b"-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n"
    tag = split_tag(head + body + sig)
    assert tag.kind == "ssh" and tag.signature == sig and tag.payload == head + body
    assert tag.headers["tag"] == "m@v1.0.0" and tag.tagger_email == "a@x" and tag.tagger_time == 1
    assert split_tag(head + b"plain\n").signature is None


def test_allowed_signers_lines_with_options_and_comments(keys):
    from gitreg.trust.keys import parse_allowed_signers, parse_public_key, parse_revoked, signature_key

    pub = (keys.ssh["alice"].parent / "alice.pub").read_text().strip()
    text = (
        f'# comment\n\na@x,b@x namespaces="git",valid-before="20300101" {pub}\nc@x ssh-ed25519 not-base64!\n'
    )
    [signer] = parse_allowed_signers(text)
    assert signer.principals == ("a@x", "b@x") and signer.line == 3
    assert signer.key == parse_public_key(pub)
    assert signer.key.fingerprint == _fingerprint(keys.ssh["alice"].parent / "alice.pub")
    ssh, gpg = parse_revoked(f"{pub}\n{'ab' * 20}  # a GPG key\n")
    assert ssh == {signer.key.fingerprint} and gpg == {"AB" * 20}
    assert signature_key(b"-----BEGIN SSH SIGNATURE-----\nnonsense\n-----END SSH SIGNATURE-----\n") is None
