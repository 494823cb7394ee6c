"""`GitStore.changed_paths`: what a change touches, read side by side from both trees.

It descends only into subtrees whose ids differ (a registry of 10,000 models: 0.05 s where
libgit2's tree diff took 0.5 s, on every check and push). It must say exactly what libgit2's
diff says, in the same order, for any pair of trees: blobs, subtrees, a blob that becomes a
subtree and back, mode changes, symlinks, and names that sort differently as trees than as
blobs ("a/" after "a.b", "a" before it).
"""

from __future__ import annotations

import random

import pygit2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitreg.errors import GitregError
from gitreg.store.gitstore import GitStore, init_repo

BLOB, EXEC, LINK, TREE = (
    pygit2.GIT_FILEMODE_BLOB,
    pygit2.GIT_FILEMODE_BLOB_EXECUTABLE,
    pygit2.GIT_FILEMODE_LINK,
    pygit2.GIT_FILEMODE_TREE,
)
NAMES = ["a", "a-b", "a.b", "b", "models", "x.yaml", "x.tag", "versions"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> GitStore:
    path = tmp_path_factory.mktemp("diff")
    init_repo(path)
    return GitStore.discover(path)


def libgit2(store: GitStore, old: str, new: str) -> list[tuple[str, str]]:
    """What libgit2's tree diff says (the implementation changed_paths replaced)."""
    diff = store.repo[old].diff_to_tree(store.repo[new])
    out = []
    for delta in diff.deltas:
        status = delta.status_char()
        if status == "R":
            out += [("D", delta.old_file.path), ("A", delta.new_file.path)]
        else:
            path = delta.new_file.path if status != "D" else delta.old_file.path
            out.append((status if status in "ADM" else "M", path))
    return out


def write(store: GitStore, spec: dict) -> str:
    """A tree from {name: bytes | (mode, bytes) | dict}."""
    builder = store.repo.TreeBuilder()
    for name, value in spec.items():
        if isinstance(value, dict):
            builder.insert(name, pygit2.Oid(hex=write(store, value)), TREE)
        else:
            mode, data = value if isinstance(value, tuple) else (BLOB, value)
            builder.insert(name, store.repo.create_blob(data), mode)
    return str(builder.write())


def random_tree(rng: random.Random, depth: int = 0) -> dict:
    spec: dict = {}
    for name in rng.sample(NAMES, rng.randint(0, 5)):
        kind = rng.random()
        if kind < 0.35 and depth < 3:
            spec[name] = random_tree(rng, depth + 1)
        elif kind < 0.45:
            spec[name] = (rng.choice([EXEC, LINK]), rng.choice([b"1", b"2"]))
        else:
            spec[name] = rng.choice([b"1", b"2", b"3"])
    return spec


def mutate(rng: random.Random, spec: dict, depth: int = 0) -> dict:
    out = dict(spec)
    for name in rng.sample(NAMES, rng.randint(0, 3)):
        roll = rng.random()
        if roll < 0.3:
            out.pop(name, None)
        elif roll < 0.5 and isinstance(out.get(name), dict) and depth < 3:
            out[name] = mutate(rng, out[name], depth + 1)
        elif roll < 0.7:
            out[name] = random_tree(rng, depth + 1) if depth < 3 else b"4"  # a blob may become a tree
        else:
            out[name] = rng.choice([b"1", b"4", (EXEC, b"1"), (LINK, b"1")])  # a tree may become a blob
    return out


def test_the_cases_by_name(store):
    base = {"a": b"1", "a.b": b"1", "a-b": {"x": b"1"}, "models": {"m": {"versions": {"1.yaml": b"1"}}}}
    cases = [
        base,
        {**base, "models": {"m": {"versions": {"1.yaml": b"1", "2.yaml": b"2", "2.tag": b"t"}}}},
        {**base, "a": {"x": b"1", "y": {"z": b"2"}}},  # a blob becomes a tree
        {**base, "a-b": b"1"},  # a tree becomes a blob
        {**base, "a": (EXEC, b"1"), "a.b": (LINK, b"1")},  # modes alone
        {"b": b"1"},  # everything goes
    ]
    for old in cases:
        for new in cases:
            o, n = write(store, old), write(store, new)
            assert store.changed_paths(o, n) == libgit2(store, o, n), (old, new)
    assert store.changed_paths(write(store, base), write(store, base)) == []


def test_a_whole_tree_from_nothing(store):
    tree = write(store, {"a": b"1", "a-b": {"x": b"1", "y": {"z": b"2"}}, "a.b": b"3"})
    assert store.changed_paths(None, tree) == [("A", "a"), ("A", "a-b/x"), ("A", "a-b/y/z"), ("A", "a.b")]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_any_pair_of_trees_reads_as_libgit2_does(store, seed):
    rng = random.Random(seed)
    old = random_tree(rng)
    new = mutate(rng, old)
    o, n = write(store, old), write(store, new)
    assert store.changed_paths(o, n) == libgit2(store, o, n)
    assert store.changed_paths(n, o) == libgit2(store, n, o)


def test_a_tree_with_two_entries_of_one_name_is_refused(store):
    """A hostile change can write one (git fsck's duplicateEntries): a reader by path gets one
    entry, a diff may speak of the other. Refused, never read."""
    one, two = store.repo.create_blob(b"staging: [1.0.0]\n"), store.repo.create_blob(b"production: [1.0.0]\n")
    raw = b"".join(b"100644 stages.yaml\0" + oid.raw for oid in (one, two))
    twice = str(store.repo.odb.write(pygit2.enums.ObjectType.TREE, raw))
    old = write(store, {"models": {"churn": {"stages.yaml": b"staging: [1.0.0]\n"}}})
    builder = store.repo.TreeBuilder()
    builder.insert("churn", pygit2.Oid(hex=twice), TREE)
    top = store.repo.TreeBuilder()
    top.insert("models", builder.write(), TREE)
    new = str(top.write())
    with pytest.raises(GitregError, match="two entries of one name"):
        store.changed_paths(old, new)


def test_added_paths_from_git_log_are_the_tree_diffs_along_the_first_parent_chain(tmp_path):
    """What the MLflow numbering reads from one `git log` (GitStore.added_paths) is what diffing
    each first-parent step's trees gives, the root commit included; a partial clone, where git
    would fetch every tree, gets None and the numbering diffs here, to the same order."""
    from helpers import git
    from registry_helpers import GOOD, WEAK, advance, make_project, set_stages, train

    from gitreg.mlflow_plugin import numbering

    reg = make_project(tmp_path / "p")
    for name, metrics in (("churn", GOOD), ("fraud", WEAK), ("churn", WEAK), ("ranker", GOOD)):
        train(reg, name, metrics)
    advance(reg, set_stages(reg, "churn", {"staging": ["1.0.0"]}))
    root = reg.store.workdir
    train(reg, "fraud", GOOD)
    store = reg.store
    head = store.ref_target("refs/heads/gitreg")
    assert head is not None
    steps = list(reversed(list(store.walk(head))))
    expected = []
    for commit in steps:
        parents = store.commit_info(commit).parents
        old = store.commit_tree(parents[0]) if parents else None
        added = [p for s, p in store.changed_paths(old, store.commit_tree(commit)) if s == "A"]
        added = [p for p in added if p.startswith("models/")]
        if added:
            expected.append((commit, sorted(added)))
    found = store.added_paths(head, None, "models/")
    assert found is not None and [(c, sorted(ps)) for c, ps in found] == expected
    since = store.added_paths(head, steps[-3], "models/")
    assert since == [f for f in found if f[0] in steps[-2:]]
    by_git = numbering._advance(store, numbering.Numbering(), head)
    git(root, "config", "remote.origin.promisor", "true")  # as in a partial clone: the tree diff here
    partial = GitStore.discover(str(root))
    assert partial.added_paths(head, None, "models/") is None
    assert numbering._advance(partial, numbering.Numbering(), head).order == by_git.order
    assert by_git.order["churn"] == ["1.0.0", "1.1.0"] and by_git.order["fraud"] == ["1.0.0", "1.1.0"]
