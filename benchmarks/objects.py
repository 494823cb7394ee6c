"""Write many git objects fast: straight into one pack, deltas included, with its index.

A benchmark registry has 1.7 million objects at 10,000 models x 25 versions.
Writing them loose, or handing git an undeltified pack to index and then
`repack -adf`, costs minutes. The objects are made here in order, so the
writer knows what each one is a new version of (a "chain": one model's
card, its versions/ tree, the models/ tree, dvc.lock), and stores it the way
a gc'ed repository does: the newest version whole, each older one as a delta
against the version after it. What a read of the registry branch touches is
then whole objects, side by side at the end of their group (pages of a
pack come into a process's memory a large folio at a time here: a chain
walked back through history cost `show` 100 MB of resident memory).

The pack and its version 2 index are written at the end; tests compare the
index with `git index-pack`'s byte for byte and run `git fsck --full` over it.
"""

from __future__ import annotations

import hashlib
import os
import struct
import sys
import zlib
from array import array
from bisect import insort
from itertools import accumulate, chain
from pathlib import Path
from typing import NamedTuple

TYPES = {"commit": 1, "tree": 2, "blob": 3, "tag": 4}
HEADERS = {kind: kind.encode() + b" %d\0" for kind in TYPES}  # of the object hashed
GROUP_ORDER = ("commit", "tag", "tree", "blob")
GROUP_INDEX = {kind: i for i, kind in enumerate(GROUP_ORDER)}
REF_DELTA = 7  # the base named by its id: it is written after the delta, as a newer version
TREE_MODE = "40000"
BLOB_MODE = "100644"
MAX_DEPTH = 50  # git's default (pack.depth)
BIG = 1 << 16  # objects this large (the models/ tree, dvc.lock) get short chains:
BIG_DEPTH = 10  # reading an old version applies at most this many deltas
# Files are written CHUNK bytes at a time, as git writes a pack: the kernel here caches a file in
# folios as large as the writes that made it, and a process that maps the file counts a whole
# folio as resident for one byte it reads (4 MB writes made `show` 60 MB bigger than on a pack
# written by git; evicted and read again from disk, the two were the same).
CHUNK = 128 * 1024
MAX_COPY = 0x10000  # bytes per copy instruction, as git's own deltas
MAX_INSERT = 0x7F


def write_file(path: Path, data: bytes) -> None:
    with open(path, "wb", buffering=0) as f:
        view = memoryview(data)
        for i in range(0, len(view), CHUNK):
            f.write(view[i : i + CHUNK])


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    out.append(n)
    return bytes(out)


def _entry_head(kind: int, size: int) -> bytes:
    head = bytearray([(kind << 4) | (size & 0x0F)])
    size >>= 4
    while size:
        head[-1] |= 0x80
        head.append(size & 0x7F)
        size >>= 7
    return bytes(head)


def _copy(out: bytearray, start: int, end: int) -> None:
    """Copy instructions for base[start:end]: a command byte, then the nonzero bytes of the
    offset and the size, least significant first (unrolled: a card's delta has a dozen)."""
    while start < end:
        size = min(end - start, MAX_COPY)
        at = len(out)
        out.append(0x80)
        cmd = 0x80
        if start & 0xFF:
            cmd |= 0x01
            out.append(start & 0xFF)
        if start & 0xFF00:
            cmd |= 0x02
            out.append((start >> 8) & 0xFF)
        if start & 0xFF0000:
            cmd |= 0x04
            out.append((start >> 16) & 0xFF)
        if start & 0xFF000000:
            cmd |= 0x08
            out.append(start >> 24)
        if size & 0xFF:
            cmd |= 0x10
            out.append(size & 0xFF)
        if size & 0xFF00:
            cmd |= 0x20
            out.append((size >> 8) & 0xFF)
        if size & 0xFF0000:
            cmd |= 0x40
            out.append(size >> 16)
        out[at] = cmd
        start += size


def _insert(out: bytearray, data: bytes | bytearray) -> None:
    for i in range(0, len(data), MAX_INSERT):
        part = data[i : i + MAX_INSERT]
        out.append(len(part))
        out += part


class Base:
    """An object a delta is made against, as pieces."""

    __slots__ = ("_index", "pieces", "size", "starts")

    def __init__(self, pieces: list[bytes], size: int):
        self.pieces, self.size = pieces, size
        self.starts = list(accumulate(map(len, pieces), initial=0))
        self._index: dict[bytes, int] | None = None

    def index(self) -> dict[bytes, int]:
        """piece -> where it first occurs."""
        if self._index is None:
            n = len(self.pieces)
            self._index = dict(zip(reversed(self.pieces), range(n - 1, -1, -1), strict=True))
        return self._index


def delta(base: Base, pieces: list[bytes], size: int) -> bytearray | None:
    """A git delta that makes PIECES (joined: SIZE bytes) from BASE, or None when it would not
    save half. Pieces are lines of a text, the entries of a tree, or the text between a card's
    leaves and the leaves: the target is walked piece by piece along the base, copying what the
    base has and inserting the rest."""
    out = bytearray(_varint(base.size) + _varint(size))
    limit = size // 2
    bp, starts = base.pieces, base.starts
    nb = len(bp)
    j = 0  # the base piece expected next
    misses = 0  # in a row
    run_start = run_end = -1  # a pending copy of base[run_start:run_end]
    lit = bytearray()  # pending inserted bytes
    for p in pieces:
        if j < nb and bp[j] == p:
            k = j
            misses = 0
        else:
            misses += 1
            # One miss is a changed piece: insert it and stay aligned. Two in a row may be
            # pieces added or moved: look the piece up in the whole base.
            found = base.index().get(p) if misses > 1 and len(p) >= 8 else None
            if found is None:
                if run_end >= 0:
                    _copy(out, run_start, run_end)
                    run_start = run_end = -1
                lit += p
                j += 1
                if len(out) + len(lit) > limit:
                    return None
                continue
            k = found
        if lit:
            if len(lit) <= MAX_INSERT:
                out.append(len(lit))
                out += lit
            else:
                _insert(out, lit)
            lit = bytearray()
        if run_end != starts[k]:
            if run_end >= 0:
                _copy(out, run_start, run_end)
            run_start = starts[k]
        run_end = starts[k + 1]
        j = k + 1
    if run_end >= 0:
        _copy(out, run_start, run_end)
    if lit:
        _insert(out, lit)
    return out if len(out) <= limit else None


def _compress(data: bytes | bytearray) -> bytes:
    # A small window for small objects: zlib sets up its tables in a third of the time, and
    # git inflates any window size.
    wbits = min(15, max(9, (len(data) - 1).bit_length()))
    z = zlib.compressobj(1, zlib.DEFLATED, wbits)
    return z.compress(data) + z.flush()


class Tree:
    """A tree being edited: entries kept encoded and in git's order, so that a 10,000-entry tree
    is written again after each change without sorting or encoding it again."""

    def __init__(self, entries: dict[str, tuple[str, str]] | None = None):
        self.keys: list[bytes] = []  # git's order: a tree sorts as 'name/'
        self.entries: dict[bytes, tuple[bytes, bytes]] = {}  # key -> ('mode name\0', id)
        self.flat: list[bytes] | None = None  # the entries' pieces in order, while unchanged
        self.at: dict[bytes, int] = {}  # key -> where its id is in flat
        for name, (mode, oid) in (entries or {}).items():
            self.set(name, mode, oid)

    def set(self, name: str, mode: str, oid: str) -> None:
        key = name.encode() + (b"/" if mode == TREE_MODE else b"")
        old = self.entries.get(key)
        if old is not None and self.flat is not None and old[0].startswith(mode.encode()):
            sha = bytes.fromhex(oid)
            self.entries[key] = (old[0], sha)
            self.flat[self.at[key]] = sha
            return
        if old is None:
            insort(self.keys, key)
            self.flat = None
        self.entries[key] = (b"%s %s\0" % (mode.encode(), name.encode()), bytes.fromhex(oid))

    def pieces(self) -> list[bytes]:
        if self.flat is None:
            self.flat = list(chain.from_iterable(map(self.entries.__getitem__, self.keys)))
            self.at = {key: 2 * i + 1 for i, key in enumerate(self.keys)}
        return self.flat.copy()


class Pending(NamedTuple):
    """The newest version of a chain: written once the next one comes, or at the end."""

    at: int
    oid: bytes
    kind: str
    pieces: list[bytes]
    size: int
    n: int  # its place in the chain


class Group:
    """The pack entries of one object type, in a file of their own until the pack is sealed."""

    def __init__(self, path: Path):
        self.path = path
        self.file = open(path, "w+b", buffering=CHUNK)  # noqa: SIM115 (closed in finish)
        self.offset = 0  # from the group's start


class ObjectWriter:
    """Objects go into objects/pack/ as they are made; `finish` writes the pack and its index.

    Entries are grouped by type, commits first and blobs last, as git writes a pack, and the
    groups are put together at the end."""

    def __init__(self, pack_dir: Path):
        self.pack_dir = pack_dir
        self.groups = {k: Group(pack_dir / f"tmp_pack_{os.getpid()}_{k}") for k in GROUP_ORDER}
        self.seen: dict[bytes, int] = {}  # binary id -> position in the lists below
        self.ids: list[bytes] = []
        self.offsets = array("Q")  # from the start of the object's group
        self.kinds = array("B")  # its group: an index into GROUP_ORDER
        self.crcs = array("I")
        self.pending: dict[str, Pending] = {}  # chain -> its newest version, not written yet
        self.deltas = 0
        self.heads: dict[tuple[str, int], bytes] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, kind: str, pieces: list[bytes], chain: str | None = None) -> str:
        """Object KIND made of PIECES; CHAIN names what it is a version of, if anything."""
        raw = b"".join(pieces)
        h = hashlib.sha1(HEADERS[kind] % len(raw))
        h.update(raw)
        oid = h.digest()
        if oid in self.seen:
            return oid.hex()
        at = self.seen[oid] = len(self.ids)  # its place in the index; written now or later
        self.ids.append(oid)
        self.offsets.append(0)
        self.kinds.append(GROUP_INDEX[kind])
        self.crcs.append(0)
        if chain is None:
            self.write(at, kind, raw)
            return oid.hex()
        older = self.pending.get(chain)
        newer = self.pending[chain] = Pending(at, oid, kind, pieces, len(raw), older.n + 1 if older else 0)
        if older is not None:  # now that its next version is known
            depth = BIG_DEPTH if older.size >= BIG else MAX_DEPTH
            data = None
            if older.n % depth != depth - 1:  # every depth-th whole: chains stay short
                data = delta(Base(newer.pieces, newer.size), older.pieces, older.size)
            if data is None:
                self.write(older.at, older.kind, b"".join(older.pieces))
            else:
                self.write(older.at, older.kind, data, base=newer.oid)
        return oid.hex()

    def write(self, at: int, kind: str, data: bytes | bytearray, base: bytes | None = None) -> None:
        """The entry of object number AT: whole, or a delta against BASE."""
        if base is None:
            head = self.heads.get((kind, len(data)))
            if head is None:
                head = self.heads[kind, len(data)] = _entry_head(TYPES[kind], len(data))
        else:
            head = _entry_head(REF_DELTA, len(data)) + base
            self.deltas += 1
        body = _compress(data)
        group = self.groups[kind]
        self.offsets[at] = group.offset
        self.crcs[at] = zlib.crc32(body, zlib.crc32(head))
        group.file.write(head)
        group.file.write(body)
        group.offset += len(head) + len(body)

    def blob(self, data: str | bytes, chain: str | None = None) -> str:
        raw = data.encode() if isinstance(data, str) else data
        return self.add("blob", raw.splitlines(keepends=True) if chain else [raw], chain)

    def tree(self, entries: dict[str, tuple[str, str]] | Tree, chain: str | None = None) -> str:
        """ENTRIES: name -> (mode, hex id), or a Tree."""
        tree = entries if isinstance(entries, Tree) else Tree(entries)
        return self.add("tree", tree.pieces(), chain)

    def commit(self, tree: str, parents: list[str], who: tuple[str, str], when: int, message: str) -> str:
        ident = f"{who[0]} <{who[1]}> {when} +0000"
        lines = [
            f"tree {tree}",
            *(f"parent {p}" for p in parents),
            f"author {ident}",
            f"committer {ident}",
            "",
            message,
        ]
        return self.add("commit", ["\n".join(lines).encode()])

    def tag(self, name: str, target: str, who: tuple[str, str], when: int, message: str) -> str:
        raw = (
            f"object {target}\ntype commit\ntag {name}\ntagger {who[0]} <{who[1]}> {when} +0000\n\n{message}"
        )
        return self.add("tag", [raw.encode()])

    def finish(self) -> Path:
        """Put the groups together into one pack, and write its index; returns the .pack path."""
        for newest in self.pending.values():
            self.write(newest.at, newest.kind, b"".join(newest.pieces))
        self.pending.clear()
        tmp = self.pack_dir / f"tmp_pack_{os.getpid()}"
        h = hashlib.sha1()
        starts = []
        with open(tmp, "wb") as out:
            header = b"PACK" + struct.pack(">II", 2, len(self.ids))
            out.write(header)
            h.update(header)
            at = len(header)
            for kind in GROUP_ORDER:
                group = self.groups[kind]
                starts.append(at)
                at += group.offset
                group.file.flush()
                group.file.seek(0)
                while block := group.file.read(CHUNK):
                    out.write(block)
                    h.update(block)
                group.file.close()
                group.path.unlink()
            checksum = h.digest()
            out.write(checksum)
        name = self.pack_dir / f"pack-{checksum.hex()}"
        os.rename(tmp, name.with_suffix(".pack"))
        tmp_idx = self.pack_dir / f"tmp_idx_{os.getpid()}"
        write_file(tmp_idx, self.index(checksum, starts))
        os.rename(tmp_idx, name.with_suffix(".idx"))  # git sees the pack once its index is there
        return name.with_suffix(".pack")

    def index(self, pack_checksum: bytes, starts: list[int]) -> bytes:
        """The pack's .idx, version 2: fan-out, sorted ids, CRC32s, offsets, checksums."""
        order = sorted(range(len(self.ids)), key=self.ids.__getitem__)
        ids = [self.ids[i] for i in order]
        fanout = array("I", bytes(1024))
        for oid in ids:
            fanout[oid[0]] += 1
        fanout = array("I", accumulate(fanout))
        crcs = array("I", (self.crcs[i] for i in order))
        small, large = array("I"), array("Q")
        for i in order:
            offset = self.offsets[i] + starts[self.kinds[i]]
            if offset < 0x80000000:
                small.append(offset)
            else:
                small.append(0x80000000 | len(large))
                large.append(offset)
        for table in (fanout, crcs, small, large):
            if sys.byteorder == "little":
                table.byteswap()  # big-endian on disk
        body = b"".join(
            [
                b"\377tOc\0\0\0\2",
                fanout.tobytes(),
                *ids,
                crcs.tobytes(),
                small.tobytes(),
                large.tobytes(),
                pack_checksum,
            ]
        )
        return body + hashlib.sha1(body).digest()
