"""Git LFS as an artifact store: which paths LFS tracks at a commit (its .gitattributes, read from
Git objects) and what a pointer file says (the object's sha256 and size).

A file tracked by LFS is a pointer in Git: its md5 is the md5 of ~130 bytes of text, never of the
model. The pointer's oid is the sha256 of the real bytes, so that is what a card records.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from gitreg.store.gitstore import GitStore

SPEC = b"version https://git-lfs.github.com/spec/v1\n"
MAX_POINTER = 1024  # the spec: a pointer file is under 1024 bytes
_OID = re.compile(rb"^oid sha256:([0-9a-f]{64})$", re.M)
_SIZE = re.compile(rb"^size (0|[1-9][0-9]*)$", re.M)


@dataclass(frozen=True)
class Pointer:
    oid: str  # sha256 of the object's bytes
    size: int

    def text(self) -> bytes:
        return SPEC + f"oid sha256:{self.oid}\nsize {self.size}\n".encode()

    def as_card(self) -> dict:
        return {"oid": self.oid, "size": self.size}


def parse_pointer(data: bytes) -> Pointer | None:
    """The pointer DATA is, or None when DATA is not a Git LFS pointer file."""
    if len(data) >= MAX_POINTER or not data.startswith(SPEC):
        return None
    oid, size = _OID.search(data), _SIZE.search(data)
    if not oid or not size:
        return None
    return Pointer(oid[1].decode(), int(size[1]))


def tracked(store: GitStore, tree: str, path: str) -> bool:
    """Whether the .gitattributes files of TREE give PATH `filter=lfs` (the last match wins,
    a deeper .gitattributes over a shallower one, as git reads them)."""
    state = None
    parts = path.split("/")
    for depth in range(len(parts)):
        base = "/".join(parts[:depth])
        data = store.read_blob(tree, posixpath.join(base, ".gitattributes") if base else ".gitattributes")
        if data is None:
            continue
        rel = "/".join(parts[depth:])
        for line in data.decode(errors="replace").splitlines():
            fields = line.split()
            if not fields or fields[0].startswith("#") or not _matches(fields[0], rel):
                continue
            for attr in fields[1:]:
                if attr == "filter=lfs":
                    state = True
                elif attr.startswith(("filter=", "-filter", "!filter")):
                    state = False
    return bool(state)


def _matches(pattern: str, rel: str) -> bool:
    """git's attribute pattern rules: no slash matches the base name at any depth; otherwise the
    path relative to the .gitattributes file, with `**` spanning directories."""
    if "/" not in pattern.rstrip("/"):
        return _glob(pattern).fullmatch(rel.rsplit("/", 1)[-1]) is not None
    return _glob(pattern.lstrip("/")).fullmatch(rel) is not None


def _glob(pattern: str) -> re.Pattern:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out, i = out + "/.*", i + 3
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            out, i = out + "[" + ("^" + body[1:] if body.startswith("!") else body) + "]", end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)
