"""DVC storage: a project's local DVC cache, read as plain files, and its DVC remote, reached
through DVC's own API so that cloud remotes and their credentials work as `dvc push` set them up.

This is the one module that imports DVC in-process, and only when the remote is actually
needed: a version whose objects all sit in the local cache never pays for the import.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitreg.errors import GitregError, RegistryRefusal, UsageError
from gitreg.lineage import extra, pipeline

MAX_DIR_LISTING = 64 * 1024 * 1024
_CHUNK = 1024 * 1024


class MissingObjects(GitregError):
    """Objects a version needs are in neither the local DVC cache nor the DVC remote (exit 2)."""


class CorruptObject(RegistryRefusal):
    """An object's bytes do not hash to the md5 the card and dvc.lock record."""


class RemoteUnavailable(GitregError):
    """The DVC remote is not configured or cannot be reached."""


@dataclass(frozen=True)
class Obj:
    """One DVC object: the workspace path it stands for, its md5, and the hash kind."""

    path: str
    md5: str
    hash: str = "md5"

    @property
    def is_dir(self) -> bool:
        return self.md5.endswith(".dir")

    def describe(self) -> str:
        return f"{self.path} (md5 {self.md5})"


def objects_of(entries: Iterable[object]) -> list[Obj]:
    """Obj for each card or dvc.lock entry ({path, md5, hash}); anything else is skipped."""
    return [
        Obj(str(e["path"]), str(e["md5"]), str(e.get("hash") or "md5-dos2unix"))
        for e in entries
        if isinstance(e, dict) and e.get("path") and e.get("md5")
    ]


def file_md5(path: Path, hash_name: str = "md5") -> str:
    """The md5 DVC would record for a file (DVC 2's md5-dos2unix normalises CRLF in text)."""
    if hash_name != "md5":
        data = path.read_bytes()
        if b"\x00" not in data[:8192]:
            data = data.replace(b"\r\n", b"\n")
        return hashlib.md5(data).hexdigest()
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def matches(path: Path, obj: Obj) -> bool:
    want = obj.md5.removesuffix(".dir")
    if file_md5(path) == want:
        return True
    return obj.hash != "md5" and file_md5(path, obj.hash) == want


class Storage:
    """The local cache and the remote of the DVC project at WORKDIR."""

    def __init__(self, workdir: Path | None, remote: str | None = None):
        if workdir is None or not (Path(workdir) / ".dvc").is_dir():
            raise UsageError(
                "this needs the DVC project's work tree (a checkout with .dvc/config), "
                "and there is none here.",
                hint="Run the command in a clone of the project, not in a bare repository.",
            )
        self.workdir = Path(workdir)
        self.cache = pipeline.dvc_cache_dir(self.workdir)
        self.remote_name = remote
        self._repo: Any = None
        self._odbs: dict[str, Any] = {}
        self._listings: dict[str, list[Obj] | None] = {}

    # --- the local cache ---------------------------------------------------------------

    def cached(self, obj: Obj) -> Path | None:
        path = pipeline.cache_file(self.cache, obj.md5, obj.hash)
        return path if path.is_file() else None

    # --- the remote, through DVC ---------------------------------------------------------

    def _odb(self, hash_name: str):
        kind = "md5" if hash_name == "md5" else "md5-dos2unix"
        if kind not in self._odbs:
            extra.require_dvc("reading the DVC remote")
            from dvc.exceptions import DvcException
            from dvc.repo import Repo

            try:
                if self._repo is None:
                    self._repo = Repo(str(self.workdir))
                self._odbs[kind] = self._repo.cloud.get_remote_odb(
                    self.remote_name, command="gitreg", hash_name=kind
                )
            except DvcException as exc:
                raise RemoteUnavailable(
                    f"cannot open the DVC remote: {exc}",
                    hint="Configure one with 'dvc remote add -d NAME URL' (and its credentials "
                    "with 'dvc remote modify --local').",
                ) from None
        return self._odbs[kind]

    @property
    def remote_label(self) -> str:
        """'DVC remote 'NAME' (URL)', or why there is none, for messages."""
        try:
            odb = self._odb("md5")
        except RemoteUnavailable as exc:
            return f"DVC remote ({exc.message})"
        name = self.remote_name or self._repo.config["core"].get("remote")
        return f"DVC remote {name!r} ({odb.fs.unstrip_protocol(odb.path)})"

    def remote_has(self, objs: Iterable[Obj]) -> set[Obj]:
        """The objects among OBJS that the remote holds."""
        by_hash: dict[str, list[Obj]] = {}
        for obj in objs:
            by_hash.setdefault("md5" if obj.hash == "md5" else "md5-dos2unix", []).append(obj)
        found: set[Obj] = set()
        for kind, group in by_hash.items():
            odb = self._odb(kind)
            try:
                present = set(odb.oids_exist(sorted({o.md5 for o in group})))
            except Exception as exc:  # a cloud SDK's own errors: auth, network
                raise RemoteUnavailable(f"cannot read the DVC remote: {exc}") from None
            found.update(o for o in group if o.md5 in present)
        return found

    def download(self, obj: Obj, dest: Path) -> None:
        odb = self._odb(obj.hash)
        try:
            odb.fs.get_file(odb.oid_to_path(obj.md5), str(dest))
        except FileNotFoundError:
            raise MissingObjects(f"{obj.describe()} is not in the {self.remote_label}.") from None
        except Exception as exc:
            raise RemoteUnavailable(f"cannot download {obj.describe()}: {exc}") from None

    # --- directory outs -------------------------------------------------------------------

    def listing(self, obj: Obj, *, remote_first: bool = False) -> list[Obj] | None:
        """The files of a directory out (from its .dir object); None when it is nowhere."""
        if obj.md5 not in self._listings:
            data = None
            local = self.cached(obj)
            if local is not None and not remote_first:
                data = local.read_bytes()
            elif self._remote_has_quiet(obj):
                odb = self._odb(obj.hash)
                data = odb.fs.cat_file(odb.oid_to_path(obj.md5))
            elif local is not None:
                data = local.read_bytes()
            self._listings[obj.md5] = None if data is None else _parse_listing(obj, data)
        return self._listings[obj.md5]

    def _remote_has_quiet(self, obj: Obj) -> bool:
        try:
            return bool(self.remote_has([obj]))
        except RemoteUnavailable:
            return False

    def expand(self, objs: Iterable[Obj], *, remote_first: bool = False) -> list[Obj]:
        """OBJS with, for each directory out, its .dir object and every file it lists."""
        found: list[Obj] = []
        for obj in objs:
            found.append(obj)
            if obj.is_dir:
                found += self.listing(obj, remote_first=remote_first) or []
        return list(dict.fromkeys(found))

    def missing(self, objs: Iterable[Obj]) -> list[Obj]:
        """Objects (files inside directory outs included) in neither the cache nor the remote.

        The remote is asked only about what the cache lacks.
        """
        wanted = self.expand(objs)
        absent = [o for o in wanted if self.cached(o) is None]
        if not absent:
            return []
        try:
            present = self.remote_has(absent)
        except RemoteUnavailable:
            return absent  # remote_label then says why
        return [o for o in absent if o not in present]

    def missing_from_remote(self, objs: Iterable[Obj]) -> list[Obj]:
        """Objects the remote lacks, reading directory listings from the remote first."""
        wanted = self.expand(objs, remote_first=True)
        present = self.remote_has(wanted)
        return [o for o in wanted if o not in present]

    # --- bytes out ----------------------------------------------------------------------------

    def materialize(self, obj: Obj, dest: Path) -> str:
        """Write OBJ's bytes to DEST, from the cache or else the remote; verify the md5.

        Returns where the bytes came from ('cache' or 'remote').
        """
        local = self.cached(obj)
        if local is not None:
            shutil.copyfile(local, dest)
            origin = "cache"
        else:
            if not self._remote_has_quiet(obj):
                raise MissingObjects(
                    f"{obj.describe()} is in neither the local DVC cache ({self.cache}) nor the "
                    f"{self.remote_label}.",
                    hint="Push it from a machine that has it: dvc push",
                )
            self.download(obj, dest)
            origin = "remote"
        if not matches(dest, obj):
            found = file_md5(dest)
            dest.unlink(missing_ok=True)
            raise CorruptObject(
                f"{obj.describe()}: the bytes in the DVC {origin} hash to md5 {found}.",
                hint="The stored object is damaged: remove it from the cache/remote and push it again.",
            )
        return origin

    def close(self) -> None:
        if self._repo is not None:
            self._repo.close()
            self._repo = None


def _parse_listing(obj: Obj, data: bytes) -> list[Obj]:
    if len(data) > MAX_DIR_LISTING:
        raise RegistryRefusal(f"the listing of {obj.describe()} is too large to read.")
    if hashlib.md5(data).hexdigest() != obj.md5.removesuffix(".dir"):
        raise CorruptObject(
            f"the listing of directory out {obj.describe()} does not hash to its md5.",
            hint="Remove the damaged .dir object and push it again.",
        )
    try:
        entries = json.loads(data)
        return [
            Obj(f"{obj.path}/{pipeline.norm(str(e['relpath']))}", str(e["md5"]), obj.hash) for e in entries
        ]
    except (ValueError, KeyError, TypeError):
        raise CorruptObject(
            f"the listing of directory out {obj.describe()} is not DVC's JSON.",
            hint="Remove the damaged .dir object and push it again.",
        ) from None
