"""`gitreg verify` and the check refuse every way a registration can be forged or tampered with, each
with a message naming the cause (issue 5, acceptance 2, 4 and 5).

The registry's policy requires signed registrations; the test committer (author@example.com) is
the principal of Alice's SSH key and a user id of Carol's GPG key.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import git, gitreg
from signing_support import (
    SIGNER_EMAIL,
    branch,
    check_json,
    forge_file,
    forge_record,
    init_required,
    ok,
    raw_tag,
    register,
    signers,
    tag_id,
    use_gpg_key,
    use_ssh_key,
    verify_json,
    write_tag,
)

from gitreg.check import engine as check
from gitreg.store.gitstore import GitStore


@pytest.fixture
def signed(plain_repo, card_file, tmp_path, keys):
    """A required-signing registry with Alice allowed; returns (repo, base, registration commit)."""
    init_required(plain_repo, tmp_path)
    signers(plain_repo, "add", "--ssh", f"{keys.ssh['alice']}.pub", "--principal", SIGNER_EMAIL)
    use_ssh_key(plain_repo, keys.ssh["alice"])
    base = branch(plain_repo)
    ok(register(plain_repo, card_file))
    return plain_repo, base, branch(plain_repo)


def codes(versions: list[dict], version: str = "1.0.0") -> list[str]:
    return [p["code"] for v in versions if v["version"] == version for p in v["problems"]]


def refused(
    repo: Path, base: str, head: str, *, verify_code: str, verify_says: str, check_says: str, check_rule: str
) -> None:
    """verify (on the registry as it is now) and check (base -> head) both refuse, naming the cause."""
    code, versions = verify_json(repo)
    assert code == 1
    assert verify_code in codes(versions), versions
    text = gitreg(repo, "verify")
    assert text.returncode == 1 and "FAIL" in text.stdout and verify_says in text.stdout, text.stdout
    code, findings = check_json(repo, base, head)
    assert code == 1
    assert any(f["rule"] == check_rule and check_says in f["message"] for f in findings), findings


def set_branch(repo: Path, commit: str) -> None:
    git(repo, "update-ref", "refs/heads/gitreg", commit)


def test_the_untampered_registration_passes_verify_and_check(signed):
    repo, base, head = signed
    assert verify_json(repo)[0] == 0
    assert check_json(repo, base, head) == (0, [])


# --- acceptance 2 -------------------------------------------------------------------------------


def test_unsigned_tag_where_required(signed):
    repo, base, head = signed
    # The same tag without its signature, recorded consistently: only the signature is missing.
    unsigned = write_tag(repo, raw_tag(repo, "plain@v1.0.0").split(b"-----BEGIN SSH SIGNATURE")[0])
    forged = forge_record(repo, base, head, "plain", "1.0.0", unsigned)
    git(repo, "update-ref", "refs/tags/plain@v1.0.0", unsigned)
    set_branch(repo, forged)
    refused(
        repo,
        base,
        forged,
        verify_code="unsigned",
        verify_says="is not signed, and the policy requires signed registrations",
        check_says="is not signed",
        check_rule="signature",
    )


def test_lightweight_tag(signed):
    repo, base, head = signed
    git(repo, "tag", "-f", "plain@v1.0.0", "HEAD")
    refused(
        repo,
        base,
        head,
        verify_code="lightweight",
        verify_says="is a lightweight tag",
        check_says="lightweight",
        check_rule="binding",
    )


def test_ssh_key_not_in_allowed_signers(plain_repo, card_file, tmp_path, keys):
    init_required(plain_repo, tmp_path)
    signers(plain_repo, "add", "--ssh", f"{keys.ssh['alice']}.pub", "--principal", SIGNER_EMAIL)
    base = branch(plain_repo)
    use_ssh_key(plain_repo, keys.ssh["bob"])  # Bob signs; only Alice is allowed
    ok(register(plain_repo, card_file))
    # git itself says "Good" here and only the exit status tells: we never read that word.
    refused(
        plain_repo,
        base,
        branch(plain_repo),
        verify_code="unknown-key",
        verify_says="by a key that is not an allowed signer",
        check_says="not in signers/allowed_signers",
        check_rule="signature",
    )


def test_gpg_key_not_allowed(plain_repo, card_file, tmp_path, keys, monkeypatch):
    """Nobody allowed by GPG: Carol's valid signature, from the user's keyring, is not enough."""
    monkeypatch.setenv("GNUPGHOME", str(keys.gnupg))
    init_required(plain_repo, tmp_path)
    base = branch(plain_repo)
    use_gpg_key(plain_repo, keys.carol)
    ok(register(plain_repo, card_file))
    refused(
        plain_repo,
        base,
        branch(plain_repo),
        verify_code="unknown-key",
        verify_says="not an allowed signer",
        check_says="is not in signers/gpg",
        check_rule="signature",
    )


def test_a_second_unlisted_key_in_the_users_gpg_keyring(plain_repo, card_file, tmp_path, keys, monkeypatch):
    """Carol is allowed; Dan's key sits in the same keyring, so git verify-tag calls his tag good."""
    monkeypatch.setenv("GNUPGHOME", str(keys.gnupg))
    init_required(plain_repo, tmp_path)
    signers(plain_repo, "add", "--gpg", keys.carol.fingerprint)
    base = branch(plain_repo)
    use_gpg_key(plain_repo, keys.dan)
    ok(register(plain_repo, card_file))
    assert (
        subprocess.run(["git", "verify-tag", "plain@v1.0.0"], cwd=plain_repo, capture_output=True).returncode
        == 0
    )  # the trap
    refused(
        plain_repo,
        base,
        branch(plain_repo),
        verify_code="unknown-key",
        verify_says=keys.dan.fingerprint,
        check_says=keys.dan.fingerprint,
        check_rule="signature",
    )


def test_tag_message_edited(signed):
    repo, base, head = signed
    raw = raw_tag(repo, "plain@v1.0.0")
    edited = write_tag(repo, raw.replace(b"Register plain@v1.0.0", b"Register plain@v1.0.0 (approved)"))
    forged = forge_record(repo, base, head, "plain", "1.0.0", edited)
    git(repo, "update-ref", "refs/tags/plain@v1.0.0", edited)
    set_branch(repo, forged)
    refused(
        repo,
        base,
        forged,
        verify_code="bad-signature",
        verify_says="the tag was edited after it was signed",
        check_says="does not match the tag's contents",
        check_rule="signature",
    )


def test_tag_replayed_under_another_name(signed, card_file):
    repo, _, head = signed
    ok(register(repo, card_file))  # 1.1.0, on the same commit
    v11 = branch(repo)
    # The valid signed tag of 1.0.0 copied under the name of 1.1.0, and recorded as such.
    old = tag_id(repo, "plain@v1.0.0")
    forged = forge_record(repo, head, v11, "plain", "1.1.0", old)
    git(repo, "update-ref", "refs/tags/plain@v1.1.0", old)
    set_branch(repo, forged)
    code, versions = verify_json(repo)
    assert code == 1 and "replayed" in codes(versions, "1.1.0") and codes(versions, "1.0.0") == []
    assert "names itself 'plain@v1.0.0'" in gitreg(repo, "verify", "plain@1.1.0").stdout
    code, findings = check_json(repo, head, forged)
    assert any(f["rule"] == "signature" and "copied here" in f["message"] for f in findings), findings


def test_card_digest_mismatch(signed):
    repo, base, head = signed
    card = git(repo, "show", f"{head}:models/plain/versions/1.0.0.yaml")
    assert "Churn classifier" in card
    forged = forge_file(
        repo,
        base,
        head,
        "models/plain/versions/1.0.0.yaml",
        (card.replace("Churn classifier", "Fraud classifier") + "\n").encode(),
    )
    set_branch(repo, forged)
    refused(
        repo,
        base,
        forged,
        verify_code="digest",
        verify_says="the card is not the one that was tagged",
        check_says="the card is not the one that was tagged",
        check_rule="binding",
    )


def test_tag_moved(signed):
    repo, base, head = signed
    (repo / "other.txt").write_text("x\n")
    git(repo, "add", "other.txt")
    git(repo, "commit", "-qm", "another commit")
    message = git(repo, "for-each-ref", "--format=%(contents)", "refs/tags/plain@v1.0.0")
    git(repo, "tag", "-f", "-s", "-m", message.split("-----BEGIN")[0], "plain@v1.0.0", "HEAD")
    code, versions = verify_json(repo)
    assert code == 1 and {"moved", "target"} <= set(codes(versions))
    text = gitreg(repo, "verify").stdout
    assert "the tag was moved or replaced" in text
    assert f"git update-ref refs/tags/plain@v1.0.0 {tag_id_recorded(repo)}" in text
    code, findings = check_json(repo, base, head)
    assert any(f["rule"] == "binding" and "but the registry recorded" in f["message"] for f in findings)


def tag_id_recorded(repo: Path) -> str:
    return git(repo, "show", "gitreg:models/plain/versions/1.0.0.tag").split("object: ")[1].strip()


def test_tag_deleted(signed):
    repo, base, head = signed
    git(repo, "tag", "-d", "plain@v1.0.0")
    refused(
        repo,
        base,
        head,
        verify_code="deleted",
        verify_says="does not exist",
        check_says="does not exist",
        check_rule="binding",
    )


def test_revoked_key(signed, card_file, keys):
    repo = signed[0]
    signers(repo, "revoke", "--ssh", f"{keys.ssh['alice']}.pub")
    revoked = branch(repo)
    # The key is revoked: what it signed before no longer verifies...
    code, versions = verify_json(repo)
    assert code == 1 and codes(versions) == ["revoked"]
    # ...and a registration it signs after is refused, whatever date the tagger claims.
    env = {"GIT_COMMITTER_DATE": "2001-01-01T00:00:00Z"}
    proc = gitreg(
        repo,
        "register",
        "plain",
        "--card",
        str(card_file),
        "--artifact",
        "model.bin",
        "--metrics",
        "metrics.json",
        "--allow-same-artifact",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    refused(
        repo,
        revoked,
        branch(repo),
        verify_code="revoked",
        verify_says="signed by a revoked key",
        check_says="signed by a revoked key",
        check_rule="signature",
    )


def test_tagger_is_not_the_signer(signed, card_file, monkeypatch):
    repo, _, head = signed
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "mallory@example.com")
    ok(register(repo, card_file))
    code, versions = verify_json(repo)
    assert code == 1 and codes(versions, "1.1.0") == ["tagger"]
    code, findings = check_json(repo, head, branch(repo))
    assert any(
        "names mallory@example.com as its tagger, but it was signed by author@example.com" in f["message"]
        for f in findings
    ), findings


# --- acceptance 4: a new signer and a version it signs, in one change ------------------------------


def test_adding_a_signer_and_using_it_in_the_same_change_is_refused(plain_repo, card_file, tmp_path, keys):
    init_required(plain_repo, tmp_path)
    base = branch(plain_repo)
    signers(plain_repo, "add", "--ssh", f"{keys.ssh['bob']}.pub", "--principal", SIGNER_EMAIL)
    use_ssh_key(plain_repo, keys.ssh["bob"])
    ok(register(plain_repo, card_file))
    head = branch(plain_repo)
    store = GitStore.discover(plain_repo)
    report = check.run(store, base, head)
    assert not report.ok
    rules = {f.rule for f in report.findings}
    # Judged by the base's signers, Bob is nobody; and the policy change did not land alone.
    assert any(
        f.rule == "signature" and "not in signers/allowed_signers" in f.message for f in report.findings
    ), report.findings
    assert "policy-alone" in rules
    # Landed one after the other, each passes.
    signers_commit = git(plain_repo, "rev-parse", f"{head}^")
    assert check.run(store, base, signers_commit).ok
    assert check.run(store, signers_commit, head).ok


# --- acceptance 5: the server's pre-receive hook -------------------------------------------------


def test_pre_receive_refuses_registration_tags_that_do_not_verify(plain_repo, card_file, tmp_path, keys):
    server = tmp_path / "server.git"
    git(tmp_path, "init", "-q", "--bare", str(server))
    proc = gitreg(server, "install-hooks", "--server")
    assert proc.returncode == 0, proc.stderr
    init_required(plain_repo, tmp_path)
    signers(plain_repo, "add", "--ssh", f"{keys.ssh['alice']}.pub", "--principal", SIGNER_EMAIL)
    git(plain_repo, "remote", "add", "origin", str(server))
    git(plain_repo, "push", "-q", "origin", "refs/heads/gitreg:refs/heads/gitreg")

    use_ssh_key(plain_repo, keys.ssh["bob"])  # not allowed
    ok(register(plain_repo, card_file))
    push = subprocess.run(
        ["git", "push", "--atomic", "--porcelain", "origin", "refs/heads/gitreg", "refs/tags/plain@v1.0.0"],
        cwd=plain_repo,
        capture_output=True,
        text=True,
    )
    assert push.returncode != 0
    assert "not in signers/allowed_signers" in push.stderr, push.stderr
    assert git(server, "tag", "-l") == ""
    assert git(server, "rev-parse", "gitreg") != branch(plain_repo)

    # Signed by Alice instead, the same push goes through.
    git(plain_repo, "tag", "-d", "plain@v1.0.0")
    git(plain_repo, "update-ref", "refs/heads/gitreg", "refs/heads/gitreg^")
    use_ssh_key(plain_repo, keys.ssh["alice"])
    ok(register(plain_repo, card_file))
    push = subprocess.run(
        ["git", "push", "--atomic", "origin", "refs/heads/gitreg", "refs/tags/plain@v1.0.0"],
        cwd=plain_repo,
        capture_output=True,
        text=True,
    )
    assert push.returncode == 0, push.stderr
    assert git(server, "tag", "-l") == "plain@v1.0.0"


# --- a stage that admits only signed versions ------------------------------------------------------


def test_a_signed_stage_admits_only_versions_that_verify(plain_repo, card_file, tmp_path, keys):
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nstages:\n  staging: {signed: true}\n")
    ok(gitreg(plain_repo, "init", "--policy", str(policy)))
    signers(plain_repo, "add", "--ssh", f"{keys.ssh['alice']}.pub", "--principal", SIGNER_EMAIL)
    ok(register(plain_repo, card_file, "--no-sign"))  # signing is optional at registration
    use_ssh_key(plain_repo, keys.ssh["alice"])
    ok(register(plain_repo, card_file, "--sign"))
    head = branch(plain_repo)
    store = GitStore.discover(plain_repo)
    for version, passes in (("1.0.0", False), ("1.1.0", True)):
        promoted = forge_file(
            plain_repo, head, head, "models/plain/stages.yaml", f"staging:\n- {version}\n".encode()
        )
        report = check.run(store, head, promoted)
        assert report.ok is passes, report.findings
        if not passes:
            [finding] = report.findings
            assert finding.rule == "signature" and finding.file == "models/plain/stages.yaml"
            assert "admits only versions with a verified signature" in finding.message
            assert "plain@v1.0.0 is not one (unsigned)" in finding.message


def test_expiry_is_judged_at_the_tagger_date_and_revocation_is_not(plain_repo, card_file, tmp_path, keys):
    """valid-before is judged at the date the signer writes (backdating dodges it, as in git);
    that is why revocation, which ignores dates, is how a key is withdrawn."""
    init_required(plain_repo, tmp_path)
    alice = keys.ssh["alice"]
    pub = (alice.parent / "alice.pub").read_text().split()
    head = branch(plain_repo)
    line = f'{SIGNER_EMAIL} namespaces="git",valid-before="20100101" {pub[0]} {pub[1]}\n'
    expiring = forge_file(plain_repo, head, head, "signers/allowed_signers", line.encode())
    set_branch(plain_repo, expiring)
    use_ssh_key(plain_repo, alice)
    ok(register(plain_repo, card_file))  # tagged now: after the key expired
    ok(
        gitreg(
            plain_repo,
            "register",
            "plain",
            "--card",
            str(card_file),
            "--artifact",
            "model.bin",
            "--metrics",
            "metrics.json",
            "--allow-same-artifact",
            env={"GIT_COMMITTER_DATE": "2005-01-01T00:00:00Z"},
        )
    )
    code, versions = verify_json(plain_repo)
    assert code == 1
    assert codes(versions, "1.0.0") == ["unknown-key"]
    assert "(or expired)" in versions[0]["problems"][0]["message"]
    assert codes(versions, "1.1.0") == []  # backdated into the key's validity
    signers(plain_repo, "revoke", "--principal", SIGNER_EMAIL)
    code, versions = verify_json(plain_repo)
    assert codes(versions, "1.1.0") == ["revoked"]
