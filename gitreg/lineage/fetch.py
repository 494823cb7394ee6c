"""Fetch a version's artifact: its bytes from the local DVC cache or the DVC remote, from Git LFS
(the local LFS store or the LFS remote, through `git lfs`; sha256 verified), or from Git for an
artifact committed without DVC; each file's md5 verified against the card.

Nothing is left half-written: bytes land in a hidden sibling of the destination and are
renamed into place only once every md5 matches.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from gitreg.errors import InvalidCard, UsageError
from gitreg.lineage import lfs as lfs_pointers
from gitreg.lineage import trace as lineage
from gitreg.lineage.dvcstore import CorruptObject, MissingObjects, Obj, Storage, matches
from gitreg.store.gitstore import GitStore


def fetch(store: GitStore, card: dict, dest: str | os.PathLike) -> Path:
    """Write the artifact of CARD to DEST (a file, or a directory for a directory out)."""
    prov = lineage.provenance_of(card)
    art = prov.get("artifact")
    lfs = art.get("lfs") if isinstance(art, dict) and isinstance(art.get("lfs"), dict) else None
    if not isinstance(art, dict) or not art.get("path") or not (art.get("md5") or lfs):
        raise InvalidCard(f"the card of {card.get('name')}@{card.get('version')} records no artifact.")
    obj = Obj(str(art["path"]), str(art.get("md5") or ""), str(art.get("hash") or "md5-dos2unix"))
    dest = Path(dest)
    if lfs is None and obj.is_dir:
        return _fetch_dir(store, obj, art.get("nfiles"), dest)
    target = dest / Path(obj.path).name if dest.is_dir() else dest
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".gitreg-tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if lfs is not None:  # Git holds a pointer; its object comes through git lfs, by its sha256
            _from_lfs(store, lineage.source_commit(card), obj, lfs, tmp)
        elif prov.get("pipeline"):
            storage = _storage(store)
            try:
                storage.materialize(obj, tmp)
            finally:
                storage.close()
        else:
            _from_git(store, lineage.source_commit(card), obj, tmp)
        _umask_mode(tmp, 0o666)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _umask_mode(path: Path, mode: int) -> None:
    """The mode a plain write would have given (mkstemp/mkdtemp make 0600/0700)."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod(mode & ~umask)


def _storage(store: GitStore) -> Storage:
    return Storage(store.workdir)


def _fetch_dir(store: GitStore, obj: Obj, nfiles: int | None, dest: Path) -> Path:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise UsageError(
            f"{dest} exists; the artifact {obj.path} is a directory.",
            hint="Give a new or empty directory with -o.",
        )
    storage = _storage(store)
    try:
        files = storage.listing(obj)
        if files is None:
            raise MissingObjects(
                f"the listing of directory out {obj.describe()} is in neither the local DVC cache "
                f"({storage.cache}) nor the {storage.remote_label}.",
                hint="Push it from a machine that has it: dvc push",
            )
        if nfiles is not None and len(files) != nfiles:
            raise CorruptObject(f"{obj.describe()} lists {len(files)} files; the card says {nfiles}.")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".gitreg-tmp", dir=dest.parent))
        try:
            for entry in files:
                rel = entry.path[len(obj.path) + 1 :]
                target = (tmp / rel).resolve()
                if not target.is_relative_to(tmp.resolve()):
                    raise CorruptObject(f"{obj.describe()} lists a path outside it: {rel!r}.")
                target.parent.mkdir(parents=True, exist_ok=True)
                storage.materialize(entry, target)
            for path in [tmp, *tmp.rglob("*")]:
                _umask_mode(path, 0o777 if path.is_dir() else 0o666)
            if dest.exists():
                dest.rmdir()
            os.replace(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        storage.close()
    return dest


def _from_git(store: GitStore, commit: str | None, obj: Obj, tmp: Path) -> None:
    if not commit or not store.has_object(commit):
        raise MissingObjects(
            f"source commit {commit} of {obj.path} is not in this repository.",
            hint="Fetch it: git fetch origin (a full clone, not a shallow one).",
        )
    data = store.read_blob(store.commit_tree(commit), obj.path)
    if data is None:
        raise MissingObjects(f"{obj.path} is not a file at commit {commit[:10]}.")
    found = hashlib.md5(data).hexdigest()
    if found != obj.md5:
        raise CorruptObject(f"{obj.describe()}: the file at commit {commit[:10]} has md5 {found}.")
    tmp.write_bytes(data)


def _from_lfs(store: GitStore, commit: str | None, obj: Obj, lfs: dict, tmp: Path) -> None:
    """The Git LFS object the card names, through `git lfs` (local store, then the LFS remote),
    its sha256 and size verified: a pointer, or any other bytes, is never the artifact."""
    if not commit or not store.has_object(commit):
        raise MissingObjects(
            f"source commit {commit} of {obj.path} is not in this repository.",
            hint="Fetch it: git fetch origin (a full clone, not a shallow one).",
        )
    pointer = store.read_blob(store.commit_tree(commit), obj.path, max_bytes=1024)
    parsed = lfs_pointers.parse_pointer(pointer or b"")
    if parsed is None or parsed.oid != lfs.get("oid") or parsed.size != lfs.get("size"):
        raise CorruptObject(
            f"{obj.path} at commit {commit[:10]} is not the Git LFS pointer the card records "
            f"(object {lfs.get('oid')}, {lfs.get('size')} bytes)."
        )
    failed = store.lfs_smudge(parsed.text(), obj.path, tmp)
    if failed:
        raise MissingObjects(
            f"Git LFS object {parsed.oid} ({obj.path}) is in neither the local LFS store nor the "
            f"LFS remote ({failed}).",
            hint="Push it from a clone that has it (git lfs push --all origin), or check the LFS remote.",
        )
    digest = hashlib.sha256()
    with open(tmp, "rb") as f:
        for chunk in iter(lambda: f.read(1024 * 1024), b""):
            digest.update(chunk)
    size = tmp.stat().st_size
    if digest.hexdigest() != parsed.oid or size != parsed.size:
        got = tmp.read_bytes()[:1024] if size < 1024 else b""
        if lfs_pointers.parse_pointer(got) is not None:
            raise MissingObjects(
                f"Git LFS object {parsed.oid} ({obj.path}) is in neither the local LFS store nor the "
                "LFS remote: git lfs returned the pointer, which is not the artifact.",
                hint="Push it from a clone that has it: git lfs push --all origin",
            )
        raise CorruptObject(
            f"{obj.path}: git lfs returned {size} bytes with sha256 {digest.hexdigest()}, the card "
            f"records {parsed.oid} ({parsed.size} bytes).",
            hint="The stored LFS object is damaged: remove it from .git/lfs/objects and fetch again.",
        )
    if obj.md5 and not matches(tmp, obj):
        raise CorruptObject(f"{obj.describe()}: the Git LFS object does not have the md5 dvc.lock records.")
