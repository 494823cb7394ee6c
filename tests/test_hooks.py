"""The server's pre-receive hook and the client's pre-push hook (issue 3, acceptance 1).

A real bare repository is the remote, gitreg's hook is installed in it with
`gitreg install-hooks --server`, and every push goes through the git CLI with a PATH that does
not hold gitreg. Each refused push must print the reason to the pusher and leave the remote as
it was.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from helpers import git, gitreg
from registry_helpers import GOOD, POLICY, advance, commit, set_stages, train
from remote_helpers import build_team, copy_team, git_push, path_without_gitreg, registry, remote_refs

from gitreg.ops import hooks
from gitreg.store import layout

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def _team_template(tmp_path_factory) -> Path:
    return build_team(tmp_path_factory.mktemp("team"))


@pytest.fixture
def team(_team_template, tmp_path) -> tuple[Path, Path]:
    return copy_team(_team_template, tmp_path / "team")


@pytest.fixture(scope="module")
def _bare_template(tmp_path_factory) -> Path:
    """The same team, but the remote has no hook."""
    return build_team(tmp_path_factory.mktemp("bare-team"), server_hook=False)


@pytest.fixture
def unguarded(_bare_template, tmp_path) -> tuple[Path, Path]:
    return copy_team(_bare_template, tmp_path / "team")


def push_refused(work: Path, remote: Path, *args: str, expect: list[str]) -> str:
    """Push ARGS; assert the hook refused it, printed EXPECT, and the remote did not change."""
    before = remote_refs(remote)
    proc = git_push(work, *args)
    assert proc.returncode != 0, proc.stderr
    assert "pre-receive hook declined" in proc.stderr
    assert "gitreg: push refused" in proc.stderr
    for text in expect:
        assert text in proc.stderr, proc.stderr
    assert remote_refs(remote) == before
    return proc.stderr


def test_the_initial_push_was_judged_and_accepted(team):
    work, remote = team
    reg = registry(work)
    assert git(remote, "rev-parse", "refs/heads/gitreg") == reg.require_head()
    assert git(remote, "rev-parse", "refs/tags/churn@v1.1.0") == git(
        work, "rev-parse", "refs/tags/churn@v1.1.0"
    )


def test_a_valid_proposal_merged_and_pushed_is_accepted(team):
    work, remote = team
    proc = gitreg(work, "promote", "churn@1.1.0", "production")
    assert proc.returncode == 0, proc.stderr
    proc = gitreg(work, "merge", layout.proposal_branch("churn", "1.1.0", "production"))
    assert proc.returncode == 0, proc.stderr
    head = registry(work).require_head()
    proc = git_push(work, "gitreg")
    assert proc.returncode == 0, proc.stderr
    assert "gitreg: registry change" in proc.stderr and "passed" in proc.stderr
    assert git(remote, "rev-parse", "refs/heads/gitreg") == head
    assert "1.1.0" in git(remote, "show", "gitreg:models/churn/stages.yaml")


def test_a_promotion_skipping_staging_is_refused(team):
    work, remote = team
    reg = registry(work)
    train(reg, "churn", GOOD)  # 1.3.0: registered, never staged
    assert git_push(work, "gitreg", "refs/tags/churn@v1.3.0").returncode == 0
    bad = set_stages(reg, "churn", {"staging": ["1.0.0", "1.1.0", "1.2.0"], "production": ["1.3.0"]})
    advance(reg, bad)
    push_refused(work, remote, "gitreg", expect=["[transition]", "1.3.0"])


def test_a_production_gate_failure_is_refused(team):
    work, remote = team
    reg = registry(work)
    bad = set_stages(reg, "churn", {"staging": ["1.1.0", "1.2.0"], "production": ["1.0.0"]})
    err = push_refused(work, remote, f"{bad}:refs/heads/gitreg", expect=["[gate]", "accuracy"])
    assert "0.9" in err


def test_a_second_production_version_beyond_capacity_is_refused(team):
    work, remote = team
    reg = registry(work)
    first = set_stages(reg, "churn", {"staging": ["1.0.0", "1.2.0"], "production": ["1.1.0"]})
    assert git_push(work, f"{first}:refs/heads/gitreg").returncode == 0
    second = set_stages(reg, "churn", {"staging": ["1.0.0"], "production": ["1.1.0", "1.2.0"]}, parent=first)
    push_refused(work, remote, f"{second}:refs/heads/gitreg", expect=["[capacity]"])


def test_an_edited_merged_card_is_refused(team):
    work, remote = team
    reg = registry(work)
    path = layout.card_path("churn", "1.0.0")
    card = reg.view().read(path).decode()
    assert "value: 0.8\n" in card
    edited = commit(reg, {path: card.replace("value: 0.8\n", "value: 0.93\n")})
    push_refused(work, remote, f"{edited}:refs/heads/gitreg", expect=["[immutable]", path])


def test_deleting_a_registration_tag_is_refused(team):
    work, remote = team
    push_refused(
        work,
        remote,
        ":refs/tags/churn@v1.0.0",
        expect=["[tag-immutable]", "deletes the registration tag churn@v1.0.0"],
    )


def test_moving_a_registration_tag_is_refused(team):
    work, remote = team
    git(work, "tag", "-f", "-a", "-m", "moved", "churn@v1.0.0", "HEAD")
    push_refused(
        work,
        remote,
        "--force",
        "refs/tags/churn@v1.0.0",
        expect=["[tag-immutable]", "moves the registration tag churn@v1.0.0"],
    )


def test_a_force_push_of_the_registry_branch_is_refused(team):
    work, remote = team
    reg = registry(work)
    head = reg.require_head()
    rewritten = git(work, "commit-tree", f"{head}^{{tree}}", "-p", f"{head}~2", "-m", "rewritten")
    push_refused(
        work,
        remote,
        "--force",
        f"{rewritten}:refs/heads/gitreg",
        expect=["[force-push]", "does not descend from"],
    )


def test_deleting_the_registry_branch_is_refused(team):
    work, remote = team
    push_refused(work, remote, ":refs/heads/gitreg", expect=["[registry-branch]", "deletes"])


def test_lowering_a_gate_and_promoting_in_one_push_is_refused(team):
    work, remote = team
    reg = registry(work)
    lowered = commit(
        reg, {layout.POLICY_PATH: POLICY.replace("min: 0.9", "min: 0.7")}, message="lower the accuracy gate"
    )
    promote = set_stages(
        reg, "churn", {"staging": ["1.1.0", "1.2.0"], "production": ["1.0.0"]}, parent=lowered
    )
    # Two commits, one push: judged as one change by the policy of the remote's old value.
    err = push_refused(work, remote, f"{promote}:refs/heads/gitreg", expect=["[gate]", "0.9"])
    assert "[policy-alone]" in err
    # The policy change alone is accepted; then the promotion is judged by the new policy.
    assert git_push(work, f"{lowered}:refs/heads/gitreg").returncode == 0


def test_several_merged_steps_in_one_push_are_judged_step_by_step(team):
    """Staging, then production, then the next staging, pushed together: each step passes on
    its own, although the range as a whole moves a version from no stage to production."""
    work, remote = team
    reg = registry(work)
    train(reg, "churn", GOOD)  # 1.3.0, registered after the last push
    staged = set_stages(reg, "churn", {"staging": ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]})
    promoted = set_stages(
        reg, "churn", {"staging": ["1.0.0", "1.1.0", "1.2.0"], "production": ["1.3.0"]}, parent=staged
    )
    proc = git_push(work, "--atomic", f"{promoted}:refs/heads/gitreg", "refs/tags/churn@v1.3.0")
    assert proc.returncode == 0, proc.stderr
    assert "3 step(s)" in proc.stderr and "passed" in proc.stderr
    assert git(remote, "rev-parse", "refs/heads/gitreg") == promoted


def test_a_gate_lowered_used_and_restored_in_one_push_is_refused(team):
    """Judging each step by its parent's policy would let the middle step through."""
    work, remote = team
    reg = registry(work)
    lowered = commit(
        reg, {layout.POLICY_PATH: POLICY.replace("min: 0.9", "min: 0.7")}, message="lower the accuracy gate"
    )
    promote = set_stages(
        reg, "churn", {"staging": ["1.1.0", "1.2.0"], "production": ["1.0.0"]}, parent=lowered
    )
    restored = commit(reg, {layout.POLICY_PATH: POLICY}, parent=promote, message="restore it")
    push_refused(
        work, remote, f"{restored}:refs/heads/gitreg", expect=["[gate]", "accuracy >= 0.9", "[policy-alone]"]
    )


def test_a_registration_tag_pushed_without_its_card_is_refused(team):
    work, remote = team
    git(work, "tag", "-a", "-m", "stray", "churn@v9.9.9", "HEAD")
    push_refused(work, remote, "refs/tags/churn@v9.9.9", expect=["[tag-without-card]", "churn@v9.9.9"])


def test_a_new_card_pushed_without_its_tag_is_refused(team):
    work, remote = team
    reg = registry(work)
    train(reg, "churn", GOOD)  # 1.3.0 and its tag, locally
    push_refused(work, remote, "gitreg", expect=["[binding]", "churn@v1.3.0"])
    # With its tag, in the same push, it is accepted (the hook sees the pushed tag).
    proc = git_push(work, "--atomic", "gitreg", "refs/tags/churn@v1.3.0")
    assert proc.returncode == 0, proc.stderr


def test_other_refs_pass_untouched(team):
    work, remote = team
    git(work, "tag", "release-1", "HEAD")
    proc = git_push(work, "HEAD:refs/heads/main", "refs/tags/release-1")
    assert proc.returncode == 0, proc.stderr
    assert "refs/heads/main" in remote_refs(remote) and "refs/tags/release-1" in remote_refs(remote)


# --- installing ----------------------------------------------------------------------------


def test_the_shims_in_hooks_are_what_install_hooks_writes():
    for name in hooks.HOOKS:
        path = ROOT / "hooks" / name
        assert path.read_text() == hooks.shim(name)
        assert path.stat().st_mode & stat.S_IXUSR
        assert f'exec gitreg hook {name} "$@"' in path.read_text()


def test_install_hooks_chains_an_existing_hook_and_is_idempotent(unguarded, tmp_path):
    work, remote = unguarded
    legacy = remote / "hooks" / "pre-receive"
    log = tmp_path / "legacy.log"
    legacy.write_text(f"#!/bin/sh\necho \"legacy saw: $(cat)\" > '{log}'\necho legacy-ok >&2\n")
    legacy.chmod(0o755)
    first = gitreg(remote, "install-hooks", "--server", "--json")
    assert first.returncode == 0, first.stderr
    assert (remote / "hooks" / "pre-receive.local").read_text().startswith('#!/bin/sh\necho "legacy')
    again = gitreg(remote, "install-hooks", "--server")
    assert again.returncode == 0 and "runs after" not in again.stdout
    assert hooks.MARKER in legacy.read_text()
    # The legacy hook runs (same stdin) after gitreg's check passes...
    reg = registry(work)
    ok = set_stages(reg, "churn", {"staging": ["1.0.0", "1.2.0"], "production": ["1.1.0"]})
    proc = git_push(work, f"{ok}:refs/heads/gitreg")
    assert proc.returncode == 0, proc.stderr
    assert "legacy-ok" in proc.stderr and f"{ok} refs/heads/gitreg" in log.read_text()
    # ...and not when gitreg refuses.
    log.unlink()
    push_refused(work, remote, ":refs/tags/churn@v1.0.0", expect=["[tag-immutable]"])
    assert not log.exists()


def test_install_hooks_refuses_to_lose_a_chained_hook(tmp_path):
    bare = tmp_path / "r.git"
    git(tmp_path, "init", "-q", "--bare", "r.git")
    (bare / "hooks" / "pre-receive").write_text("#!/bin/sh\nexit 0\n")
    (bare / "hooks" / "pre-receive.local").write_text("#!/bin/sh\nexit 0\n")
    proc = gitreg(bare, "install-hooks", "--server")
    assert proc.returncode == 2
    assert "both" in proc.stderr and (bare / "hooks" / "pre-receive").read_text() == "#!/bin/sh\nexit 0\n"


def test_server_hooks_list_the_refs_once_per_push_unless_the_repository_borrows_objects(tmp_path):
    """A push's connectivity check lists the remote's refs, then again as those of the quarantine's
    "alternate" (the repository itself): 0.7-1.7 s per push at 543,000 refs. install-hooks skips
    the second listing (core.alternateRefsCommand), but not where real alternates exist."""
    git(tmp_path, "init", "-q", "--bare", "plain.git")
    assert gitreg(tmp_path / "plain.git", "install-hooks", "--server").returncode == 0
    assert git(tmp_path / "plain.git", "config", "core.alternateRefsCommand") == "true"
    git(tmp_path, "init", "-q", "--bare", "borrower.git")
    (tmp_path / "borrower.git" / "objects" / "info" / "alternates").write_text(
        str(tmp_path / "plain.git" / "objects") + "\n"
    )
    assert gitreg(tmp_path / "borrower.git", "install-hooks", "--server").returncode == 0
    assert git(tmp_path / "borrower.git", "config", "core.alternateRefsCommand", check=False) == ""
    # An admin's own setting is kept.
    git(tmp_path, "init", "-q", "--bare", "own.git")
    git(tmp_path / "own.git", "config", "core.alternateRefsCommand", "mine")
    assert gitreg(tmp_path / "own.git", "install-hooks", "--server").returncode == 0
    assert git(tmp_path / "own.git", "config", "core.alternateRefsCommand") == "mine"


def test_files_in_the_git_dir_cannot_shadow_the_gitreg_package(team):
    """A hook runs with the git dir as its working directory, which holds gitreg/ (its cache)."""
    work, remote = team
    (remote / "gitreg").mkdir(exist_ok=True)
    (remote / "gitreg" / "__init__.py").write_text("raise SystemExit('shadowed')\n")
    reg = registry(work)
    ok = set_stages(reg, "churn", {"staging": ["1.0.0", "1.2.0"], "production": ["1.1.0"]})
    proc = git_push(work, f"{ok}:refs/heads/gitreg")
    assert proc.returncode == 0, proc.stderr
    assert "shadowed" not in proc.stderr


def test_a_shim_that_cannot_find_gitreg_refuses_the_push(unguarded):
    work, remote = unguarded
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(hooks.shim("pre-receive"))  # no interpreter baked in, none on PATH
    hook.chmod(0o755)
    before = remote_refs(remote)
    proc = git_push(work, "HEAD:refs/heads/topic")
    assert proc.returncode != 0 and "cannot find gitreg" in proc.stderr
    assert remote_refs(remote) == before


# --- the client's pre-push hook --------------------------------------------------------------


@pytest.fixture
def client(unguarded) -> tuple[Path, Path]:
    """A team whose remote has NO server hook, and whose clone has gitreg's pre-push hook."""
    work, remote = unguarded
    proc = gitreg(work, "install-hooks")
    assert proc.returncode == 0, proc.stderr
    assert (work / ".git" / "hooks" / "pre-push").read_text().startswith("#!/bin/sh")
    return work, remote


def push_refused_locally(work: Path, remote: Path, *args: str, expect: list[str]) -> None:
    before = remote_refs(remote)
    proc = git_push(work, *args)
    assert proc.returncode != 0
    assert "failed to push" in proc.stderr and "nothing was pushed" in proc.stderr
    for text in expect:
        assert text in proc.stderr, proc.stderr
    assert remote_refs(remote) == before


def test_pre_push_refuses_what_the_check_rejects(client):
    work, remote = client
    reg = registry(work)
    bad = set_stages(reg, "churn", {"staging": ["1.1.0", "1.2.0"], "production": ["1.0.0"]})
    push_refused_locally(work, remote, f"{bad}:refs/heads/gitreg", expect=["[gate]"])


def test_pre_push_refuses_force_pushes_and_tag_moves(client):
    work, remote = client
    reg = registry(work)
    head = reg.require_head()
    rewritten = git(work, "commit-tree", f"{head}^{{tree}}", "-m", "rewritten")
    push_refused_locally(work, remote, "--force", f"{rewritten}:refs/heads/gitreg", expect=["[force-push]"])
    push_refused_locally(work, remote, ":refs/tags/churn@v1.1.0", expect=["[tag-immutable]"])


def test_pre_push_lets_a_valid_promotion_through(client):
    work, remote = client
    reg = registry(work)
    ok = set_stages(reg, "churn", {"staging": ["1.0.0", "1.2.0"], "production": ["1.1.0"]})
    proc = git_push(work, f"{ok}:refs/heads/gitreg")
    assert proc.returncode == 0, proc.stderr
    assert git(remote, "rev-parse", "refs/heads/gitreg") == ok


def test_pre_push_under_the_pre_commit_framework_reads_its_variables(client):
    work, _ = client
    reg = registry(work)
    bad = set_stages(reg, "churn", {"staging": ["1.1.0", "1.2.0"], "production": ["1.0.0"]})
    env = {
        "PRE_COMMIT_REMOTE_NAME": "origin",
        "PRE_COMMIT_REMOTE_BRANCH": "refs/heads/gitreg",
        "PRE_COMMIT_TO_REF": bad,
        "PRE_COMMIT_FROM_REF": reg.require_head(),
        "PRE_COMMIT_LOCAL_BRANCH": "refs/heads/gitreg",
    }
    proc = gitreg(work, "hook", "pre-push", "origin", "../remote.git", env=env)
    assert proc.returncode == 1 and "[gate]" in proc.stderr
    env["PRE_COMMIT_TO_REF"] = reg.require_head()
    assert gitreg(work, "hook", "pre-push", "origin", "../remote.git", env=env).returncode == 0


def test_the_hook_command_refuses_an_unknown_hook(client):
    work, _ = client
    proc = gitreg(work, "hook", "post-merge")
    assert proc.returncode == 2 and "not a gitreg hook" in proc.stderr


def test_the_installed_shim_bakes_in_the_interpreter(client):
    work, _ = client
    text = (work / ".git" / "hooks" / "pre-push").read_text()
    assert f"GITREG_PYTHON='{sys.executable}'" in text
    assert os.path.dirname(sys.executable) not in path_without_gitreg().split(os.pathsep)
