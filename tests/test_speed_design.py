"""Speed by design, asserted without a clock: what a read costs must not grow with the registry.

Registries come from benchmarks/make_registry.py (the benchmark's own builder, whose
cards are checked against what `register` writes). That DVC stays out of plain
reads and check is asserted in test_lineage.py; this file covers the read counts.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gitreg.registry import Registry
from gitreg.store.cache import directory

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import make_registry  # noqa: E402

NAME = "churn-0000"  # in every synthetic registry, with a version in production


@pytest.fixture(scope="module")
def registries(tmp_path_factory):
    """A small and a larger registry of the same shape: (models, versions) -> path."""
    root = tmp_path_factory.mktemp("speed")
    found = {}
    for models, versions in [(3, 4), (40, 4), (3, 9)]:
        path = root / f"{models}x{versions}"
        make_registry.build(models, versions, path, repack=False, say=lambda _: None)
        found[(models, versions)] = path
    return found


def reads(path: Path, op) -> list[str]:
    reg = Registry.open(path)
    reg.store.read_log = []
    op(reg)
    return reg.store.read_log


@pytest.mark.parametrize(
    "op",
    [
        pytest.param(lambda reg: reg.which(NAME, "production"), id="which"),
        pytest.param(lambda reg: reg.resolve(f"{NAME}@production"), id="resolve-stage"),
        pytest.param(lambda reg: reg.card(f"{NAME}@1.0.0"), id="card"),
        pytest.param(lambda reg: reg.show(f"{NAME}@1.0.0"), id="show-version"),
        pytest.param(lambda reg: reg.show(NAME), id="show-model"),
    ],
)
def test_one_model_reads_do_not_grow_with_the_registry(registries, op):
    small = reads(registries[(3, 4)], op)
    more_models = reads(registries[(40, 4)], op)
    more_versions = reads(registries[(3, 9)], op)
    assert small, "the operation reads the files it answers from"
    assert small == more_models == more_versions
    assert not [p for p in small if p.startswith("models/") and not p.startswith(f"models/{NAME}/")]


def test_which_reads_one_small_file(registries):
    reads(registries[(40, 4)], lambda reg: reg.which(NAME, "production"))  # the format verdict is cached
    got = reads(registries[(40, 4)], lambda reg: reg.which(NAME, "production"))
    assert got == [f"models/{NAME}/stages.yaml"]


def test_a_cold_command_reads_the_policy_once_for_the_format(registries, tmp_path):
    path = tmp_path / "copy"
    shutil.copytree(registries[(3, 4)], path, symlinks=True)
    shutil.rmtree(directory(path / ".git"), ignore_errors=True)
    assert reads(path, lambda reg: reg.which(NAME, "production")) == [
        "registry.yaml",
        f"models/{NAME}/stages.yaml",
    ]
    assert reads(path, lambda reg: reg.which(NAME, "production")) == [f"models/{NAME}/stages.yaml"]


@pytest.mark.parametrize("size", [(3, 4), (40, 4), (3, 9)])
def test_list_reads_two_files_per_model_and_no_card(registries, size):
    models, _ = size
    shutil.rmtree(directory(registries[size] / ".git"), ignore_errors=True)
    got = reads(registries[size], lambda reg: reg.list())
    assert got[0] == "registry.yaml"  # the format verdict, cached with the rest
    assert len(got) == 1 + 2 * models
    assert {p.rsplit("/", 1)[1] for p in got[1:]} == {"model.yaml", "stages.yaml"}


def test_list_rereads_only_the_models_a_change_touched(registries, tmp_path):
    path = tmp_path / "copy"
    shutil.copytree(registries[(40, 4)], path, symlinks=True)
    cache = directory(path / ".git")
    shutil.rmtree(cache, ignore_errors=True)
    first: list = []
    assert len(reads(path, lambda reg: first.extend(reg.list()))) == 1 + 80
    again: list = []
    assert reads(path, lambda reg: again.extend(reg.list())) == []  # known by subtree ids
    assert again == first
    # Promote one model: only its files are read again, and the answer follows the change.
    reg = Registry.open(path)
    head = reg.require_head()
    stages = f"models/{NAME}/stages.yaml"
    tree = reg.store.write_tree(reg.store.commit_tree(head), {stages: b"production:\n- 1.3.0\n"})
    commit = reg.store.write_commit(tree, [head], "promote", reg.store.ident())
    reg.store.update_refs([(reg.branch_ref, commit, head)], "test")
    after: list = []
    assert sorted(reads(path, lambda reg: after.extend(reg.list()))) == [f"models/{NAME}/model.yaml", stages]
    assert [m.stages for m in after if m.name == NAME] == [{"production": "1.3.0"}]
    assert [m for m in after if m.name != NAME] == [m for m in first if m.name != NAME]
    shutil.rmtree(cache)  # disposable: the same answer without it
    fresh: list = []
    assert len(reads(path, lambda reg: fresh.extend(reg.list()))) == 1 + 80 and fresh == after


def test_the_synthetic_registry_is_what_gto_reads(registries):
    """The benchmark compares like with like: GTO sees the stage gitreg serves."""
    gto = Path(sys.executable).parent / "gto"
    if not gto.exists():
        pytest.skip("GTO is not installed next to this interpreter")
    path = registries[(3, 4)]
    expected = Registry.open(path).which(NAME, "production")
    proc = subprocess.run(
        [str(gto), "show", f"{NAME}#production", "--ref"],
        cwd=path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{NAME}@v{expected}"


def test_help_imports_neither_git_nor_yaml_nor_schemas():
    """`gitreg --help` pays for Typer and the command modules only (every core import is lazy)."""
    script = (
        "import sys\n"
        "from gitreg.cli import main\n"
        "sys.argv = ['gitreg', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('pygit2', 'yaml', 'jsonschema', 'dvc', 'rich', 'pydantic')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "[]"


def _show_imports_jsonschema(path: Path) -> bool:
    script = (
        "import sys\n"
        "from gitreg.registry import Registry\n"
        f"Registry.open({str(path)!r}).show({NAME + '@1.0.0'!r})\n"
        "print('jsonschema' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip() == "True"


def test_the_policy_schema_verdict_is_cached_by_blob_id(registries, tmp_path):
    from gitreg.errors import InvalidCard
    from gitreg.model.view import RegistryView

    path = tmp_path / "copy"
    shutil.copytree(registries[(3, 4)], path, symlinks=True)
    cache = directory(path / ".git")
    shutil.rmtree(cache, ignore_errors=True)
    assert _show_imports_jsonschema(path)  # judged once...
    assert not _show_imports_jsonschema(path)  # ...then known by the blob id
    shutil.rmtree(cache)
    assert _show_imports_jsonschema(path)  # the cache is disposable
    # A verdict belongs to one blob: other bytes are judged, and refused when wrong.
    reg = Registry.open(path)
    bad = reg.store.write_tree(
        reg.store.commit_tree(reg.require_head()), {"registry.yaml": b"version: 1\nstages: {}\n"}
    )
    with pytest.raises(InvalidCard):
        _ = RegistryView(reg.store, bad).policy
