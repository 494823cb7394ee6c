"""Git LFS as an artifact store, on a real LFS repository whose LFS remote is a local bare repo
(git-lfs's standalone file:// transfer): a model registers with its object's sha256 and size, never
the md5 of its pointer; the check verifies both; fetch gets the bytes through git lfs (local store,
then the remote), verifies the sha256 and never writes a pointer; a pointer .gitattributes does not
give to LFS is refused. The .gitattributes matching is held against `git check-attr`.
"""

from __future__ import annotations

import copy
import hashlib
import shutil
from pathlib import Path

import pytest
from helpers import CARD, git, gitreg, snapshot
from registry_helpers import forge, judge

from gitreg.lineage import lfs
from gitreg.registry import Registry

MODEL = bytes(range(256)) * 40

pytestmark = pytest.mark.skipif(
    shutil.which("git-lfs") is None, reason="git-lfs is not installed (.ci/run installs Debian's git-lfs)"
)


@pytest.fixture
def lfs_repo(tmp_path) -> Path:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "lfs", "install", "--local")
    git(repo, "lfs", "track", "*.bin")
    (repo / "model.bin").write_bytes(MODEL)
    (repo / "metrics.json").write_text('{"accuracy": 0.93}\n')
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "train")
    assert lfs.parse_pointer(git(repo, "cat-file", "-p", "HEAD:model.bin").encode() + b"\n")
    git(repo, "remote", "add", "origin", remote.as_uri())
    git(repo, "push", "-q", "origin", "main")  # git-lfs's pre-push hook uploads the object
    assert any((remote / "lfs" / "objects").rglob(hashlib.sha256(MODEL).hexdigest()))
    (tmp_path / "card.yaml").write_text(CARD)
    assert gitreg(repo, "init").returncode == 0
    return repo


def register(repo: Path, *extra: str):
    return gitreg(
        repo, "register", "model", "--card", str(repo.parent / "card.yaml"), "--artifact", "model.bin",
        "--metrics", "metrics.json", *extra,
    )  # fmt: skip


def artifact_findings(reg: Registry, head: str) -> list[str]:
    return [f.message for f in judge(reg, head).findings if f.rule == "lineage.artifact"]


def test_an_lfs_model_registers_its_object_and_the_check_verifies_it(lfs_repo):
    proc = register(lfs_repo)
    assert proc.returncode == 0, proc.stderr
    reg = Registry.open(lfs_repo)
    card = reg.view().card("model", "1.0.0")
    oid = hashlib.sha256(MODEL).hexdigest()
    assert card["provenance"]["artifact"] == {
        "path": "model.bin",
        "size": len(MODEL),
        "lfs": {"oid": oid, "size": len(MODEL)},
    }
    assert judge(reg, reg.require_head(), reg.store.commit_info(reg.require_head()).parents[0]).ok

    pointer = git(lfs_repo, "cat-file", "-p", "HEAD:model.bin").encode() + b"\n"
    old_bug = copy.deepcopy(card)  # what registering the pointer file used to record
    old_bug["provenance"]["artifact"] = {
        "path": "model.bin",
        "md5": hashlib.md5(pointer).hexdigest(),
        "hash": "md5",
        "size": len(pointer),
    }
    found = artifact_findings(reg, forge(reg, old_bug, "1.0.1"))
    assert any("records no lfs pointer" in f for f in found)
    assert any("Git holds only a Git LFS pointer" in f for f in found)

    wrong = copy.deepcopy(card)
    wrong["provenance"]["artifact"]["lfs"]["oid"] = "0" * 64
    found = artifact_findings(reg, forge(reg, wrong, "1.0.2"))
    at = card["provenance"]["source"]["commit"][:10]
    claim = f"the card claims Git LFS oid {'0' * 64}, the pointer at {at} has {oid}."
    assert found == [f"model@1.0.2: artifact model.bin: {claim}"]


def test_fetch_gets_the_object_through_git_lfs_and_never_writes_a_pointer(lfs_repo, tmp_path):
    assert register(lfs_repo).returncode == 0
    oid = hashlib.sha256(MODEL).hexdigest()
    out = tmp_path / "deploy" / "model.bin"
    proc = gitreg(lfs_repo, "fetch", "model@1.0.0", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == MODEL and f"Git LFS sha256 {oid}, verified" in proc.stdout

    shutil.rmtree(lfs_repo / ".git" / "lfs" / "objects")  # only the LFS remote has it now
    out.unlink()
    proc = gitreg(lfs_repo, "fetch", "model@1.0.0", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == MODEL

    for store in (lfs_repo / ".git" / "lfs" / "objects", lfs_repo.parent / "remote.git" / "lfs" / "objects"):
        shutil.rmtree(store)
    (lfs_repo / "model.bin").unlink()  # git-lfs would take the checked-out copy, its hash matching
    out.unlink()
    before = snapshot(lfs_repo)
    proc = gitreg(lfs_repo, "fetch", "model@1.0.0", "-o", str(out))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"Git LFS object {oid} (model.bin) is in neither the local LFS store nor the" in proc.stderr
    assert list(out.parent.iterdir()) == []  # no pointer, no temporary file
    assert snapshot(lfs_repo) == before


def test_a_pointer_that_gitattributes_does_not_track_is_refused(lfs_repo):
    pointer = git(lfs_repo, "cat-file", "-p", "HEAD:model.bin") + "\n"
    (lfs_repo / "model.pt").write_text(pointer)  # *.pt is not tracked: git stores the text itself
    git(lfs_repo, "add", "model.pt")
    git(lfs_repo, "commit", "-qm", "a pointer committed as a file")
    before = snapshot(lfs_repo)
    proc = gitreg(
        lfs_repo, "register", "model", "--card", str(lfs_repo.parent / "card.yaml"), "--artifact", "model.pt",
        "--metrics", "metrics.json",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "model.pt at" in proc.stderr and "is a Git LFS pointer, but .gitattributes there" in proc.stderr
    assert snapshot(lfs_repo) == before


ATTRIBUTES = {
    ".gitattributes": "*.bin filter=lfs\nmodels/**/*.pt filter=lfs\n/top.onnx filter=lfs\nkeep.bin -filter\n",
    "sub/.gitattributes": "*.ckpt filter=lfs\nnested.bin !filter\n",
}
PATHS = [
    "a.bin",
    "deep/dir/a.bin",
    "keep.bin",
    "sub/keep.bin",
    "models/x.pt",
    "models/a/b/x.pt",
    "other/models/x.pt",
    "top.onnx",
    "sub/top.onnx",
    "sub/w.ckpt",
    "sub/deeper/w.ckpt",
    "w.ckpt",
    "sub/nested.bin",
    "a.bin.txt",
]


def test_gitattributes_matching_agrees_with_git_check_attr(tmp_path):
    repo = tmp_path / "attrs"
    repo.mkdir()
    git(repo, "init", "-q")
    for path, text in ATTRIBUTES.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "attributes")
    reg = Registry.open(repo)
    tree = reg.store.commit_tree(git(repo, "rev-parse", "HEAD"))
    for path in PATHS:
        said = git(repo, "check-attr", "filter", "--", path).rsplit(": ", 1)[1]
        assert lfs.tracked(reg.store, tree, path) == (said == "lfs"), (path, said)
