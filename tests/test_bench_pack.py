"""The benchmark's registry builder writes its own pack, deltas and index: git must find nothing
wrong with them, and its fast YAML/JSON must be byte for byte what gitreg writes.

A corrupt pack would not fail loudly: a benchmark would time reads of a broken repository. So
every pack written here goes through `git fsck --full --strict` (each object inflated, each
delta applied, each id hashed again), and its .idx is compared with the one `git index-pack`
writes for the same pack.
"""

from __future__ import annotations

import hashlib
import math
import random
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import git

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import make_registry  # noqa: E402
import objects  # noqa: E402
from fastyaml import CanonicalTemplate, NeedsFullDump, Template  # noqa: E402

from gitreg.store import yamlio  # noqa: E402


def pack_of(repo: Path) -> Path:
    (pack,) = (repo / ".git" / "objects" / "pack").glob("pack-*.pack")
    return pack


def assert_git_agrees(repo: Path) -> list[str]:
    """fsck finds nothing, git's own index of the pack is ours; returns `verify-pack -v` lines."""
    proc = subprocess.run(["git", "fsck", "--full", "--strict"], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0 and "error" not in proc.stderr, proc.stderr
    pack = pack_of(repo)
    theirs = repo.parent / "git-index-pack.idx"
    git(repo, "index-pack", "-o", str(theirs), str(pack))
    assert theirs.read_bytes() == pack.with_suffix(".idx").read_bytes()
    theirs.unlink()
    return git(repo, "verify-pack", "-v", str(pack.with_suffix(".idx"))).splitlines()


def test_a_built_registry_is_one_sound_pack_with_deltas_in_gits_order(tmp_path):
    repo = tmp_path / "reg"
    make_registry.build(12, 4, repo, say=lambda _: None)
    counts = dict(line.split(": ") for line in git(repo, "count-objects", "-v").splitlines())
    assert counts["count"] == "0" and counts["packs"] == "1"  # nothing loose: one pack
    lines = assert_git_agrees(repo)
    entries = [line.split() for line in lines if len(line.split()) >= 5 and len(line.split()[0]) == 40]
    deltas = [e for e in entries if len(e) == 7]
    assert len(deltas) > len(entries) // 10  # cards, versions/ and models/ trees, dvc.lock
    # Commits, then tags, then trees, then blobs, as git writes a pack.
    by_offset = sorted(entries, key=lambda e: int(e[4]))
    kinds = [e[1] for e in by_offset]
    assert kinds == sorted(kinds, key=["commit", "tag", "tree", "blob"].index)
    # Every ref's object is in it, and a card reads back as text.
    assert git(repo, "cat-file", "-p", "gitreg:models/churn-0000/versions/1.3.0.yaml").startswith(
        "name: churn-0000\n"
    )
    git(repo, "fsck", "--connectivity-only")


def big_text(seed: int, lines: int) -> bytes:
    rnd = random.Random(seed)
    return b"".join(b"line %d %032x\n" % (i, rnd.getrandbits(128)) for i in range(lines))


def test_deltas_at_their_limits_are_what_git_reads(tmp_path):
    """Copies over 64 KiB and at offsets past 16 MiB, inserts over 127 bytes, repeated and empty
    pieces, a version identical but for one byte, one with nothing in common, chains longer than
    the depth limits: git applies each delta to exactly the bytes that were meant."""
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", str(repo))
    w = objects.ObjectWriter(repo / ".git" / "objects" / "pack")
    written: dict[str, bytes] = {}

    def blob(data: bytes, chain: str) -> None:
        written[w.blob(data, chain=chain)] = data

    huge = big_text(1, 400_000)  # ~19 MB: copies from past 16 MiB need a 4-byte offset
    blob(huge, "huge")
    tail = b"changed tail, and a line longer than one insert carries: " + b"x" * 300 + b"\n"
    blob(huge[:-100] + tail, "huge")
    blob(huge.replace(b"line 7 ", b"LINE 7 ", 1), "huge")
    blob(b"same\n" * 5000, "repeats")
    blob(b"same\n" * 2500 + b"other\n" + b"same\n" * 2500, "repeats")
    blob(b"", "repeats")
    blob(b"", "empty-first")
    blob(b"now something\n" * 20, "empty-first")
    blob(big_text(2, 200), "unrelated")
    blob(big_text(3, 200), "unrelated")  # nothing in common: stored whole
    small = big_text(4, 50)
    for i in range(objects.MAX_DEPTH + 5):  # past the depth limit: a whole copy again
        blob(small + b"version %d\n" % i, "long")
    big = big_text(5, 3000)  # over objects.BIG: shorter chains
    for i in range(objects.BIG_DEPTH + 3):
        blob(big + b"version %d\n" % i, "long-big")
    tree = objects.Tree({"b.txt": ("100644", next(iter(written)))})
    w.tree(tree, chain="tree")
    tree.set("a", "40000", w.tree({"f": ("100644", next(iter(written)))}))
    written_tree = w.tree(tree, chain="tree")
    assert len(w) == len(written) + 3
    w.finish()

    lines = assert_git_agrees(repo)
    for oid, data in written.items():
        assert subprocess.run(["git", "cat-file", "blob", oid], cwd=repo, capture_output=True).stdout == data
    assert git(repo, "ls-tree", written_tree).splitlines()[0].endswith("\ta")  # 'a' (a tree) sorts first
    depths = [int(line.split()[5]) for line in lines if len(line.split()) == 7]
    assert w.deltas > 0 and max(depths) < objects.MAX_DEPTH


def test_an_unfinished_pack_is_invisible_to_git(tmp_path):
    """A build killed before `finish` leaves temporary files, never a pack git would read."""
    repo = tmp_path / "repo"
    git(tmp_path, "init", "-q", str(repo))
    w = objects.ObjectWriter(repo / ".git" / "objects" / "pack")
    oid = w.blob(b"written, never sealed\n")
    for group in w.groups.values():
        group.file.flush()
    assert git(repo, "cat-file", "-t", oid, check=False) == ""
    assert "packs: 0" in git(repo, "count-objects", "-v")
    for group in w.groups.values():
        group.file.close()


# Leaves a value can take that YAML 1.1 or JSON would write otherwise than plain: each must come
# out of a template exactly as yamlio writes it (or make the template fall back to yamlio).
TRICKY = [
    "plain",
    "churn-0001",
    "models/churn-0001.json",
    "ada@example.com",
    "Ada Data",
    "deadbeef",
    "0b101",
    "0x1f",
    "0o17",
    "1e5",
    "1234e567",
    "e5",
    "12",
    "007",
    "1_000",
    "1.10",
    ".5",
    "1:20",
    "True",
    "yes",
    "No",
    "ON",
    "null",
    "Null",
    "~",
    "inf",
    ".inf",
    "NaN",
    "Infinity",
    "2023-11-14",
    "2023-11-14T22:13:20+00:00",
    "a: b",
    "a #b",
    "#x",
    "-x",
    "- x",
    "*x",
    "&x",
    "!x",
    "%x",
    "@x",
    "`x",
    "'x'",
    '"x"',
    "x'",
    "x\\y",
    "tab\there",
    "new\nline",
    "ünïcode",
    "\u2028",
    " lead",
    "trail ",
    "",
    "=",
    "<<",
    "y" * 120,
    ("two words " * 15).strip(),
    0,
    -1,
    10**20,
    0.1,
    1e-07,
    1e16,
    -0.0,
    math.inf,
    math.nan,
    True,
    None,
    hashlib.sha256(b"x").hexdigest(),
]


@pytest.mark.parametrize("value", TRICKY, ids=repr)
def test_templates_write_every_leaf_as_yamlio_does(value):
    sample = {"name": "m", "nested": {"list": [{"leaf": "x"}]}, "after": 1}
    paths = [("nested", "list", 0, "leaf")]
    card = {"name": "m", "nested": {"list": [{"leaf": value}]}, "after": 1}
    for template, write in ((Template, yamlio.dump), (CanonicalTemplate, canonical)):
        tpl = template(sample, paths)
        assert outcome(lambda: tpl.dump(card)) == write(card)  # noqa: B023 (called at once)
        try:
            text = tpl.fill([value])
        except NeedsFullDump:
            continue
        assert text == write(card)


def outcome(dump) -> str:
    try:
        return dump()
    except ValueError:  # NaN and infinities are no JSON: the template must refuse them too
        return "refused"


def canonical(value) -> str:
    return outcome(lambda: yamlio.canonical(value).decode())


def test_the_card_template_matches_register_for_a_whole_small_registry(tmp_path):
    """`--validate`: every card read back from a built registry is valid, and the samples it
    checks against yamlio (text and digest) include cards from the middle and the last round."""
    repo = tmp_path / "reg"
    make_registry.build(7, 12, repo, batch=3, validate=True, verify_pack=True, say=lambda _: None)
    assert_git_agrees(repo)


def test_verify_pack_catches_an_index_git_would_not_write(tmp_path, monkeypatch):
    """`--verify-pack` is the check to run when objects.py changes: an index off by one CRC
    (git would read the objects, and only `index-pack --verify` would notice) stops the build."""
    index = objects.ObjectWriter.index

    def off_by_one(self, checksum, starts):
        data = bytearray(index(self, checksum, starts))
        data[8 + 1024 + 20 * len(self.ids)] ^= 1  # the first CRC32
        return bytes(data)

    monkeypatch.setattr(objects.ObjectWriter, "index", off_by_one)
    with pytest.raises(SystemExit, match="another index"):
        make_registry.build(3, 2, tmp_path / "reg", verify_pack=True, say=lambda _: None)
