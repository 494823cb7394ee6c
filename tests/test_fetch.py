"""`fetch`: a version's artifact from the DVC cache or remote, md5 verified, for a version and
for a stage reference; directory outs file by file; nothing written when a check fails."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from helpers import gitreg
from registry_helpers import advance, set_stages

from gitreg.lineage import pipeline
from gitreg.registry import Registry


@pytest.fixture
def reg(registry_repo, card_file) -> Registry:
    reg = Registry.open(registry_repo)
    reg.register("churn", card_file)
    return reg


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def stores(reg: Registry) -> tuple[Path, Path]:
    project = reg.store.workdir
    return project / ".dvc" / "cache", project.parent / "dvc-remote"


def test_fetch_a_version_from_the_cache_and_from_the_remote(reg, tmp_path):
    art = reg.card("churn@1.0.0")["provenance"]["artifact"]
    proc = gitreg(reg.store.workdir, "fetch", "churn@1.0.0", "-o", str(tmp_path / "a" / "model.json"))
    assert proc.returncode == 0, proc.stderr
    assert md5(tmp_path / "a" / "model.json") == art["md5"]
    assert f"md5 {art['md5']}, verified" in proc.stdout
    umask = os.umask(0)
    os.umask(umask)
    # Readable as any plain write would make it (not the 0600 of a temporary file).
    assert (tmp_path / "a" / "model.json").stat().st_mode & 0o777 == 0o666 & ~umask

    cache, _ = stores(reg)
    pipeline.cache_file(cache, art["md5"]).unlink()  # a deploy job's fresh clone: remote only
    out = tmp_path / "deploy"
    out.mkdir()
    got = reg.fetch("churn@1.0.0", out)  # into a directory: the artifact's own name
    assert got == out / "churn.json" and md5(got) == art["md5"]


def test_fetch_a_stage_reference(reg, tmp_path):
    advance(reg, set_stages(reg, "churn", {"production": ["1.0.0"]}))
    art = reg.card("churn@1.0.0")["provenance"]["artifact"]
    proc = gitreg(reg.store.workdir, "fetch", "churn@production", "-o", str(tmp_path / "prod.json"), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["version"] == "1.0.0"
    assert md5(tmp_path / "prod.json") == art["md5"]


def test_fetch_a_directory_out_file_by_file(reg, card_file, tmp_path):
    reg.register("prepared", card_file, artifact="data/prepared")
    art = reg.card("prepared@1.0.0")["provenance"]["artifact"]
    got = reg.fetch("prepared@1.0.0", tmp_path / "prepared")
    cache, _ = stores(reg)
    listing = json.loads(pipeline.cache_file(cache, art["md5"]).read_text())
    assert sorted(p.name for p in got.iterdir()) == sorted(e["relpath"] for e in listing)
    assert {e["relpath"]: md5(got / e["relpath"]) for e in listing} == {
        e["relpath"]: e["md5"] for e in listing
    }


def test_damaged_or_missing_bytes_write_nothing(reg, tmp_path):
    out = tmp_path / "deploy"
    out.mkdir()
    art = reg.card("churn@1.0.0")["provenance"]["artifact"]
    cache, remote = stores(reg)
    damaged = pipeline.cache_file(cache, art["md5"])
    damaged.chmod(0o644)
    damaged.write_text("{}")
    proc = gitreg(reg.store.workdir, "fetch", "churn@1.0.0", "-o", str(out / "m.json"))
    assert proc.returncode == 1 and art["md5"] in proc.stderr and "hash to md5" in proc.stderr
    damaged.unlink()
    pipeline.cache_file(remote, art["md5"]).unlink()
    proc = gitreg(reg.store.workdir, "fetch", "churn@1.0.0", "-o", str(out / "m.json"))
    assert proc.returncode == 2 and f"models/churn.json (md5 {art['md5']})" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(out.iterdir()) == []
