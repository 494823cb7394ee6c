"""Governance on a real bare remote with gitreg's server hook: a maintainer (alice), an approver
(bob), a second maintainer (carol) and an insider (eve: a registered signer with push access,
neither maintainer nor approver). Each attack of issue 9 is a push the server refuses, naming the
rule, with the remote's refs unchanged; the legitimate paths land end to end, and the audit names
people from signatures only.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from governance_helpers import (
    POLICY,
    as_,
    build,
    copy,
    email,
    ident,
    ok,
    refused,
    remote_refs,
    run,
    store,
)
from helpers import git, gitreg
from registry_helpers import GOOD, train
from remote_helpers import git_push

from gitreg.registry import Registry
from gitreg.store import layout

pytestmark = pytest.mark.slow  # end to end: a team of clones around a bare remote with the hook


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return build(tmp_path_factory.mktemp("governed"))


@pytest.fixture
def team(template, tmp_path):
    root = copy(template, tmp_path / "team")
    for person in ("eve", "bob", "carol"):
        ok(run(root, person, "sync"))
    return root


def head(root, person="eve") -> str:
    return git(root / person, "rev-parse", "refs/heads/gitreg")


def hand_commit(root, person, files: dict[str, bytes | None], *, parent=None, sign=True, who=None) -> str:
    """A registry commit PERSON makes by hand (signed with their own key when SIGN)."""
    s = store(root, person)
    parent = parent or head(root, person)
    tree = s.write_tree(s.commit_tree(parent), files)
    author = ident(who or person)
    if sign:
        return s.make_signed_commit(tree, [parent], "hand-made change\n", author)
    return s.write_commit(tree, [parent], "hand-made change\n", author)


def policy_text(root, person="eve") -> str:
    return git(root / person, "show", "refs/heads/gitreg:registry.yaml")


# --- 1. every attack of the issue, by the insider, refused by the server ------------------


def test_a_gate_lowered_alone_is_refused(team):
    lowered = policy_text(team).replace("min: 0.9", "min: 0.5")
    commit = hand_commit(team, "eve", {"registry.yaml": lowered.encode()})
    proc = refused(team, "eve", f"{commit}:refs/heads/gitreg", rule="[maintainers]")
    assert "needs 1 distinct maintainer signature(s); it has 0" in proc.stderr
    assert "alice@example.com, carol@example.com" in proc.stderr  # who may still sign


def test_a_validator_and_checks_script_pushed_alone_are_refused(team):
    evil = b"#!/bin/sh\ncp /dev/null hooks/pre-receive\n"
    policy = policy_text(team) + "validators:\n  - {run: sh checks/evil.sh}\n"
    commit = hand_commit(team, "eve", {"checks/evil.sh": evil, "registry.yaml": policy.encode()})
    refused(team, "eve", f"{commit}:refs/heads/gitreg", rule="[maintainers]")


def test_a_key_under_another_persons_principal_is_refused(team):
    pub = (team / "keys" / "eve.pub").read_text().split()
    signers = git(team / "eve", "show", "refs/heads/gitreg:signers/allowed_signers")
    forged = signers + f'\nalice@example.com namespaces="git" {pub[0]} {pub[1]}\n'
    commit = hand_commit(team, "eve", {"signers/allowed_signers": forged.encode()})
    refused(team, "eve", f"{commit}:refs/heads/gitreg", rule="[maintainers]")


def test_approval_by_author_field_is_refused_locally_and_by_the_server(team):
    # GIT_AUTHOR_NAME=bob gitreg merge: the merge commit claims bob, nobody signed an approval.
    proposal = ok(run(team, "eve", "promote", "churn@1.1.0", "production", "--json"))
    branch = json.loads(proposal.stdout)["branch"]
    merge = gitreg(
        team / "eve",
        "merge",
        branch,
        env={**as_("eve"), "GIT_AUTHOR_NAME": "bob", "GIT_AUTHOR_EMAIL": email("bob")},
    )
    assert merge.returncode == 1, merge.stdout + merge.stderr
    assert (
        "[approval]" in merge.stderr
        and "May still approve: alice@example.com, bob@example.com" in merge.stderr
    )
    # The same promotion as a hand-made commit straight onto the registry branch, claiming bob.
    stages = b"staging: [1.0.0]\nproduction: [1.1.0]\n"
    commit = hand_commit(team, "eve", {layout.stages_path("churn"): stages}, sign=False, who="bob")
    proc = refused(team, "eve", f"{commit}:refs/heads/gitreg", rule="[approval]")
    assert "unsigned (claims Bob <bob@example.com>)" in proc.stderr


def test_a_self_approval_does_not_count(team):
    # alice may approve production, but never her own proposal.
    ok(run(team, "alice", "sync"))
    proposal = json.loads(ok(run(team, "alice", "promote", "churn@1.1.0", "production", "--json")).stdout)
    ok(run(team, "alice", "approve", proposal["branch"]))
    merge = run(team, "alice", "merge", proposal["branch"])
    assert merge.returncode == 1 and "it has 0" in merge.stderr
    assert "Proposed by alice@example.com" in merge.stderr


def test_replace_refs_and_shadowing_names_are_refused(team):
    blob = git(team / "eve", "rev-parse", "refs/heads/gitreg:registry.yaml")
    fake = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"],
        cwd=team / "eve",
        input="version: 1\nstages: {production: {}}\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    git(team / "eve", "replace", blob, fake)
    refused(team, "eve", f"refs/replace/{blob}", rule="[ref-replace]")
    main = git(team / "eve", "rev-parse", "HEAD")
    for ref in ("refs/tags/gitreg", "refs/tags/origin/gitreg", "refs/gitreg", "refs/heads/origin/gitreg"):
        refused(team, "eve", f"{main}:{ref}", rule="[ref-shadow]")
    refused(team, "eve", f"{main}:refs/notes/commits", rule="[ref-notes]")


def test_gto_stage_tags_and_gitreg_refs_are_not_shadowing(team):
    main = git(team / "eve", "rev-parse", "HEAD")
    proc = git_push(team / "eve", f"{main}:refs/tags/churn#production#1", f"{main}:refs/gitreg/pending/x")
    assert proc.returncode == 0, proc.stderr


def test_a_tree_with_two_stages_entries_is_refused_by_fsck(team):
    assert git(team / "remote.git", "config", "receive.fsckObjects") == "true"
    assert git(team / "remote.git", "config", "transfer.fsckObjects") == "true"
    s = store(team, "eve")
    base = head(team)
    models = s.entry(s.commit_tree(base), "models/churn")
    listing = subprocess.run(
        ["git", "ls-tree", str(models.id)], cwd=team / "eve", capture_output=True, text=True, check=True
    ).stdout
    stages = next(line for line in listing.splitlines() if line.endswith("\tstages.yaml"))
    evil_stages = s.write_blob(b"staging: [1.0.0]\nproduction: [1.0.0]\n")
    dup = stages.replace(stages.split()[2], evil_stages)
    raw = b""
    for line in sorted([*listing.splitlines(), dup], key=lambda x: x.split("\t")[1]):
        meta, name = line.split("\t")
        mode, _, oid = meta.split()
        raw += f"{mode} {name}".encode() + b"\0" + bytes.fromhex(oid)
    bad_models = (
        subprocess.run(
            ["git", "hash-object", "-t", "tree", "-w", "--literally", "--stdin"],
            cwd=team / "eve",
            input=raw,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    top = s.repo[s.commit_tree(base)]
    builder = s.repo.TreeBuilder(top)
    models_dir = s.repo.TreeBuilder(s.repo[top["models"].id])
    import pygit2

    models_dir.insert("churn", pygit2.Oid(hex=bad_models), pygit2.GIT_FILEMODE_TREE)
    builder.insert("models", models_dir.write(), pygit2.GIT_FILEMODE_TREE)
    commit = s.write_commit(str(builder.write()), [base], "two stages.yaml\n", ident("eve"))
    refused(team, "eve", f"{commit}:refs/heads/gitreg", rule="duplicateEntries")


def test_a_new_root_with_the_old_head_as_second_parent_is_refused(team):
    s = store(team, "eve")
    old = head(team)
    root_commit = s.write_commit(s.commit_tree(old), [], "a new story\n", ident("eve"))
    merge = s.write_commit(s.commit_tree(old), [root_commit, old], "merge\n", ident("eve"))
    proc = refused(team, "eve", f"{merge}:refs/heads/gitreg", rule="[first-parent]")
    assert old[:12] in proc.stderr


def test_an_evil_merge_carrying_its_own_change_is_refused(team):
    # The approved proposal merged, but the merge commit also promotes 1.0.0 (never approved).
    proposal = json.loads(ok(run(team, "eve", "promote", "churn@1.1.0", "production", "--json")).stdout)
    git(team / "bob", "fetch", "-q", "origin")
    ok(git_push(team / "eve", proposal["branch"]))
    git(team / "bob", "fetch", "-q", "origin", f"{proposal['branch']}:{proposal['branch']}")
    ok(run(team, "bob", "approve", proposal["branch"], "--push"))
    git(team / "eve", "fetch", "-q", "origin", f"+{proposal['branch']}:{proposal['branch']}")
    s = store(team, "eve")
    tip = git(team / "eve", "rev-parse", proposal["branch"])
    old = head(team)
    tree = s.write_tree(
        s.commit_tree(tip), {layout.stages_path("churn"): b"staging: [1.1.0]\nproduction: [1.0.0]\n"}
    )
    merge = s.write_commit(tree, [old, tip], "Merge\n", ident("eve"))
    refused(team, "eve", f"{merge}:refs/heads/gitreg", rule="[merge]")


def test_ambiguous_short_names_are_refused(team):
    git(team / "eve", "tag", "gitreg", "HEAD")
    proc = run(team, "eve", "check", "--head", "gitreg")
    assert proc.returncode == 2
    assert "'gitreg' is ambiguous" in proc.stderr and "refs/tags/gitreg" in proc.stderr
    assert run(team, "eve", "list").returncode == 0  # the registry branch is read by its full name


def test_fresh_clone_is_told_to_sync_and_init_refuses(team, tmp_path):
    git(tmp_path, "clone", "-q", str(team / "remote.git"), "fresh")
    fresh = tmp_path / "fresh"
    before = git(fresh, "for-each-ref")
    for args in (("list",), ("history", "churn")):
        proc = run(tmp_path, "fresh", *args)
        assert proc.returncode == 2 and "gitreg sync" in proc.stderr and "origin/gitreg" in proc.stderr
    proc = run(tmp_path, "fresh", "init")
    assert proc.returncode == 1 and "gitreg sync" in proc.stderr
    assert git(fresh, "for-each-ref") == before


# --- 2 and 3. the legitimate paths, end to end, and the audit of that history ------------


def test_legitimate_paths_land_and_the_audit_names_signers(team, tmp_path):
    # A maintainer changes the gate: policy set (signed by her: 1 of 1), merge, push.
    new_policy = tmp_path / "policy.yaml"
    new_policy.write_text(POLICY.replace("min: 0.9", "min: 0.92"))
    ok(run(team, "alice", "sync"))
    proposal = json.loads(ok(run(team, "alice", "policy", "set", str(new_policy), "--json")).stdout)
    assert proposal["branch"].startswith("gitreg-policy/policy-set-") and proposal["signed"]
    ok(run(team, "alice", "merge", proposal["branch"]))
    ok(run(team, "alice", "push"))

    # The insider registers and proposes; the approver approves; a forge merges (unsigned).
    ok(run(team, "eve", "sync"))
    ok(git_push(team / "eve", "main"))  # nothing registered yet rides on main
    eve = Registry.open(team / "eve")
    train(eve, "churn", GOOD, version="1.2.0")
    ok(run(team, "eve", "push"))
    staged = json.loads(ok(run(team, "eve", "promote", "churn@1.2.0", "staging", "--json")).stdout)
    ok(run(team, "eve", "merge", staged["branch"]))
    ok(run(team, "eve", "push"))
    prod = json.loads(ok(run(team, "eve", "promote", "churn@1.2.0", "production", "--push", "--json")).stdout)
    assert prod["pending"] and "May still approve: alice@example.com, bob@example.com" in prod["pending"][0]
    ok(run(team, "bob", "sync"))
    git(team / "bob", "fetch", "-q", "origin", f"{prod['branch']}:{prod['branch']}")
    approval = json.loads(ok(run(team, "bob", "approve", prod["branch"], "--push", "--json")).stdout)
    assert approval["pending"] == []
    # The forge: a merge commit by someone else, unsigned, pushed onto the registry branch.
    git(team / "carol", "fetch", "-q", "origin", "gitreg", f"+{prod['branch']}:{prod['branch']}")
    s = store(team, "carol")
    old = git(team / "carol", "ls-remote", "origin", "refs/heads/gitreg").split()[0]
    tip = git(team / "carol", "rev-parse", prod["branch"])
    tree, _ = s.merge_tree(old, tip)
    forge = s.write_commit(tree, [old, tip], f"Merge pull request #7 from {prod['branch']}\n", ident("alice"))
    proc = git_push(team / "carol", f"{forge}:refs/heads/gitreg")
    assert proc.returncode == 0, proc.stderr

    # 2-of-3 maintainers: set by alice (1 of 1), then a change by carol lands only after alice signs.
    two = POLICY.replace("min: 0.9", "min: 0.92").replace(
        "  principals: [alice@example.com, carol@example.com]\n  approvals: 1",
        "  principals: [alice@example.com, carol@example.com, bob@example.com]\n  approvals: 2",
    )
    new_policy.write_text(two)
    ok(run(team, "alice", "sync"))
    p2 = json.loads(ok(run(team, "alice", "policy", "set", str(new_policy), "--json")).stdout)
    ok(run(team, "alice", "merge", p2["branch"]))
    ok(run(team, "alice", "push"))
    ok(run(team, "carol", "sync"))
    new_policy.write_text(two.replace("min: 0.92", "min: 0.93"))
    p3 = json.loads(ok(run(team, "carol", "policy", "set", str(new_policy), "--json")).stdout)
    assert "it has 1 (carol@example.com)" in p3["pending"][0]
    early = run(team, "carol", "merge", p3["branch"])
    assert early.returncode == 1 and "May still sign: alice@example.com, bob@example.com" in early.stderr
    # Pushed straight onto the registry branch with one signature: the server refuses too.
    refused(team, "carol", f"{p3['commit']}:refs/heads/gitreg", rule="[maintainers]")
    ok(git_push(team / "carol", p3["branch"]))
    ok(run(team, "alice", "sync"))
    git(team / "alice", "fetch", "-q", "origin", f"{p3['branch']}:{p3['branch']}")
    ok(run(team, "alice", "approve", p3["branch"], "--push"))
    git(team / "carol", "fetch", "-q", "origin", f"+{p3['branch']}:{p3['branch']}")
    ok(run(team, "carol", "merge", p3["branch"]))
    ok(run(team, "carol", "push"))
    assert "min: 0.93" in git(team / "remote.git", "show", "gitreg:registry.yaml")

    # 3. The audit names proposer, approver and policy changes from signatures.
    ok(run(team, "bob", "sync"))
    report = json.loads(run(team, "bob", "audit", "churn", "--json").stdout)
    promoted = [e for e in report["trail"] if e["kind"] == "promoted" and e["to_stage"] == "production"]
    assert promoted[-1]["proposed_by"] == "eve@example.com"
    assert promoted[-1]["approved_by"] == "bob@example.com"
    assert promoted[-1]["merged_by"] == "unsigned (claims Alice <alice@example.com>)"  # a forged author
    policy = [e for e in report["trail"] if e["kind"] == "policy"]
    assert [e["paths"] for e in policy][-3:] == [["registry.yaml"]] * 3
    assert (
        policy[-1]["proposed_by"] == "carol@example.com" and policy[-1]["approved_by"] == "alice@example.com"
    )
    markdown = run(team, "bob", "audit", "churn").stdout
    assert (
        "| eve@example.com | bob@example.com; merged by unsigned (claims Alice \\<alice@example.com\\>) |"
        in markdown
    )
    history = json.loads(ok(run(team, "bob", "history", "churn", "--json")).stdout)
    assert sum(e["kind"] == "policy" for e in history) >= 3
    assert remote_refs(team)  # the remote still answers


def test_push_publishes_policy_and_content_as_consecutive_pushes(team, tmp_path):
    # alice merges a policy change, then registers and stages a version: one `gitreg push`.
    new_policy = tmp_path / "policy.yaml"
    new_policy.write_text(POLICY.replace("min: 0.9", "min: 0.91"))
    ok(run(team, "alice", "sync"))
    proposal = json.loads(ok(run(team, "alice", "policy", "set", str(new_policy), "--json")).stdout)
    ok(run(team, "alice", "merge", proposal["branch"]))
    alice = Registry.open(team / "alice")
    train(alice, "churn", GOOD, version="1.3.0")
    ok(git_push(team / "alice", "main"))
    before = git(team / "remote.git", "rev-parse", "gitreg")
    # Pushed as one range, the server refuses the mix...
    mixed = git_push(team / "alice", "gitreg", "--tags")
    assert mixed.returncode != 0 and "[policy-alone]" in mixed.stderr
    # ...and gitreg push publishes it as two pushes, policy first.
    pushed = json.loads(ok(run(team, "alice", "push", "--json")).stdout)
    assert len(pushed["steps"]) == 2 and pushed["tags"] == ["churn@v1.3.0"]
    first = pushed["steps"][0]
    assert git(team / "remote.git", "rev-parse", f"{first}^") == before
    assert git(team / "remote.git", "rev-parse", "gitreg") == pushed["new"]
    assert git(team / "remote.git", "rev-parse", "refs/tags/churn@v1.3.0")


def test_a_merge_inside_the_proposal_after_the_approval_outdates_it(team):
    # bob approved the promotion; eve then merges into the branch a commit of her own that also
    # promotes 1.0.0: the approval came before that change and no longer counts.
    proposal = json.loads(ok(run(team, "eve", "promote", "churn@1.1.0", "production", "--json")).stdout)
    ok(git_push(team / "eve", proposal["branch"]))
    git(team / "bob", "fetch", "-q", "origin", f"{proposal['branch']}:{proposal['branch']}")
    ok(run(team, "bob", "approve", proposal["branch"], "--push"))
    git(team / "eve", "fetch", "-q", "origin", f"+{proposal['branch']}:{proposal['branch']}")
    s = store(team, "eve")
    old = head(team)
    approved = git(team / "eve", "rev-parse", proposal["branch"])
    extra = {layout.stages_path("churn"): b"staging: [1.1.0]\nproduction: [1.0.0, 1.1.0]\n"}
    sneaky = s.write_tree(s.commit_tree(approved), extra)
    inner = s.write_commit(sneaky, [approved, old], "Merge registry into the proposal\n", ident("eve"))
    forge_tree, _ = s.merge_tree(old, inner)
    outer = s.write_commit(forge_tree, [old, inner], "Merge pull request\n", ident("eve"))
    proc = refused(team, "eve", f"{outer}:refs/heads/gitreg", rule="[approval]")
    assert "predate a later change" in proc.stderr
