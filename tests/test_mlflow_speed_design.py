"""The plugin's speed by design, asserted without a clock (issue 16, acceptance 4 holds in the
benchmark; this keeps its cause): a warm `get_model_version_by_alias` reads what `gitreg which`
reads, one small file, whatever the registry's size, and the version numbering is not redone."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from mlflow_helpers import client

from gitreg.mlflow_plugin import numbering
from gitreg.registry import Registry

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import make_registry  # noqa: E402

NAME = "churn-0000"


@pytest.fixture(scope="module")
def registries(tmp_path_factory):
    root = tmp_path_factory.mktemp("plugin-speed")
    found = {}
    for models, versions in [(3, 4), (40, 4), (3, 9)]:
        path = root / f"{models}x{versions}"
        make_registry.build(models, versions, path, repack=False, say=lambda _: None)
        found[(models, versions)] = path
    return found


def plugin_reads(path: Path) -> tuple[list[str], str]:
    c = client(path)
    first = c.get_model_version_by_alias(NAME, "production")  # numbers, reads the card once
    store = c._get_registry_client().store.registry.store
    store.read_log = []
    again = c.get_model_version_by_alias(NAME, "production")
    assert again.tags == first.tags and again.version == first.version
    return store.read_log, again.tags["gitreg.version"]


@pytest.mark.parametrize("size", [(3, 4), (40, 4), (3, 9)])
def test_a_warm_alias_lookup_reads_only_the_stage_file(registries, size):
    path = registries[size]
    got, version = plugin_reads(path)
    assert got == [f"models/{NAME}/stages.yaml"]  # what `gitreg which` reads
    assert version == Registry.open(path).which(NAME, "production")


def test_numbering_comes_from_memory_then_from_the_cache_file(registries, tmp_path):
    path = tmp_path / "copy"
    shutil.copytree(registries[(40, 4)], path, symlinks=True)
    reg = Registry.open(path)
    head = reg.require_head()
    first = numbering.at(reg.store, head)
    assert numbering.at(reg.store, head) is first  # same head: nothing walked
    numbering._memo.clear()
    walked: list = []
    real = reg.store.added_paths
    reg.store.added_paths = lambda *a: walked.append(a) or real(*a)  # type: ignore[method-assign]
    again = numbering.at(reg.store, head)
    assert walked == [] and again.order == first.order  # read back from .git/gitreg-cache
    # One more registry commit: only it is asked of git (the commits since the one kept).
    stages = f"models/{NAME}/stages.yaml"
    tree = reg.store.write_tree(reg.store.commit_tree(head), {stages: b"production:\n- 1.0.0\n"})
    commit = reg.store.write_commit(tree, [head], "promote", reg.store.ident())
    assert numbering.at(reg.store, commit).order == first.order
    assert walked == [(commit, head, "models/")]
