"""Who owns the policy from the start: `gitreg init` makes a user who can sign the first
maintainer (their key in signers/); without a key it says the policy is unowned, and every check
warns about it (a warning, not a failure) until maintainers are set."""

from __future__ import annotations

import subprocess

from helpers import git, gitreg
from registry_helpers import commit

from gitreg.registry import Registry


def _project(tmp_path):
    repo = tmp_path / "p"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "README.md").write_text("x\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "start")
    return repo


def test_init_without_a_key_says_unowned_and_check_warns(tmp_path):
    repo = _project(tmp_path)
    init = gitreg(repo, "init", env={"GNUPGHOME": str(tmp_path / "no-gnupg")})
    assert init.returncode == 0 and "The policy is unowned" in init.stdout
    assert "maintainers" not in git(repo, "show", "gitreg:registry.yaml")
    reg = Registry.open(repo)
    head = commit(reg, {"README.md": "the registry\n"})  # any change: judged by the unowned policy
    proc = gitreg(repo, "check", "--base", "refs/heads/gitreg", "--head", head)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning: [owners] the policy is unowned" in proc.stdout


def test_init_with_a_key_makes_its_user_the_first_maintainer(tmp_path):
    repo = _project(tmp_path)
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    git(repo, "config", "gpg.format", "ssh")
    git(repo, "config", "user.signingKey", str(key))
    init = gitreg(repo, "init")
    assert init.returncode == 0, init.stderr
    assert "Maintainers (may change the policy): author@example.com." in init.stdout
    policy = git(repo, "show", "gitreg:registry.yaml")
    assert "maintainers:" in policy and "principals: [author@example.com]" in policy
    signers = git(repo, "show", "gitreg:signers/allowed_signers")
    kind, blob = key.with_name("id.pub").read_text().split()[:2]
    assert f'author@example.com namespaces="git" {kind} {blob}' in signers
    assert gitreg(repo, "check").stdout.count("[owners]") == 0
