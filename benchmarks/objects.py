"""Write many git objects fast: hash them in memory, then hand git one pack.

Writing 100,000+ loose objects through the file system costs far more than
building them; a benchmark registry is written here as one pack that
`git index-pack` indexes (git itself checks every object on the way in).
"""

from __future__ import annotations

import hashlib
import subprocess
import zlib
from pathlib import Path

TYPES = {"commit": 1, "tree": 2, "blob": 3, "tag": 4}
TREE_MODE = "40000"
BLOB_MODE = "100644"


class ObjectWriter:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[int, bytes]] = {}  # hex id -> (type, raw)

    def add(self, kind: str, raw: bytes) -> str:
        oid = hashlib.sha1(b"%s %d\0" % (kind.encode(), len(raw)) + raw).hexdigest()
        self.objects.setdefault(oid, (TYPES[kind], raw))
        return oid

    def blob(self, data: str | bytes) -> str:
        return self.add("blob", data.encode() if isinstance(data, str) else data)

    def tree(self, entries: dict[str, tuple[str, str]]) -> str:
        """ENTRIES: name -> (mode, hex id); sorted the way git sorts (a tree as 'name/')."""

        def key(item):
            name, (mode, _) = item
            return name.encode() + (b"/" if mode == TREE_MODE else b"")

        raw = b"".join(
            b"%s %s\0" % (mode.encode(), name.encode()) + bytes.fromhex(oid)
            for name, (mode, oid) in sorted(entries.items(), key=key)
        )
        return self.add("tree", raw)

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
        return self.add("commit", "\n".join(lines).encode())

    def tag(self, name: str, target: str, who: tuple[str, str], when: int, message: str) -> str:
        raw = (
            f"object {target}\ntype commit\ntag {name}\ntagger {who[0]} <{who[1]}> {when} +0000\n\n{message}"
        )
        return self.add("tag", raw.encode())

    def write_pack(self, git_dir: Path) -> None:
        """Send every object to git as one pack; git indexes and verifies it."""
        chunks = [b"PACK", (2).to_bytes(4, "big"), len(self.objects).to_bytes(4, "big")]
        for kind, raw in self.objects.values():
            size = len(raw)
            head = bytearray([(kind << 4) | (size & 0x0F)])
            size >>= 4
            while size:
                head[-1] |= 0x80
                head.append(size & 0x7F)
                size >>= 7
            chunks += [bytes(head), zlib.compress(raw, 1)]
        body = b"".join(chunks)
        pack = body + hashlib.sha1(body).digest()
        subprocess.run(
            ["git", f"--git-dir={git_dir}", "index-pack", "--stdin"],
            input=pack,
            check=True,
            capture_output=True,
        )
