"""The one module that owns Git.

Reads go through pygit2 straight from the object store (no checkout). Writes
build blobs, trees and commits in the object store and move refs with
compare-and-swap through `git update-ref --stdin`, which locks every ref of
a transaction before moving any and commits them in the order given. Tags
are made by the git CLI so that the user's own signing set-up (gpg.format,
user.signingKey, gpg.program, ssh-agent) applies unchanged. Nothing here
touches the work tree, the index or HEAD.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pygit2

from gitreg.errors import ConcurrentUpdate, GitFailed, NotARepository, UsageError
from gitreg.store import faults

if TYPE_CHECKING:  # run only by writes and remotes: a read does not import them
    import subprocess

ZERO_OID = "0" * 40
# A fetch that writes objects only: no tags followed, no FETCH_HEAD, no gc, no submodules.
_FETCH = ("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-auto-gc", "--no-recurse-submodules")
_BLOB = pygit2.enums.ObjectType.BLOB
_TREE_MODE = pygit2.GIT_FILEMODE_TREE
_BLOB_MODE = pygit2.GIT_FILEMODE_BLOB
_EXEC_MODE = pygit2.GIT_FILEMODE_BLOB_EXECUTABLE

# libgit2 caches only trees up to 4 KiB; models/ holds ~45 bytes per model, so without this
# every path lookup re-inflated it from the pack (0.5 ms each at 1000 models).
pygit2.settings.cache_object_limit(pygit2.enums.ObjectType.TREE, 4 << 20)


class BlobTooLarge(Exception):
    def __init__(self, path: str, size: int):
        super().__init__(path)
        self.path, self.size = path, size


@dataclass(frozen=True)
class Ident:
    """Who does a write and when, as git itself resolves it (config and GIT_* env)."""

    name: str
    email: str
    time: int
    offset: int  # minutes east of UTC

    @property
    def signature(self) -> pygit2.Signature:
        return pygit2.Signature(self.name, self.email, self.time, self.offset)

    @property
    def iso_time(self) -> str:
        return format_time(self.time, self.offset)

    @property
    def git_date(self) -> str:
        sign = "+" if self.offset >= 0 else "-"
        return f"{self.time} {sign}{abs(self.offset) // 60:02d}{abs(self.offset) % 60:02d}"


def format_time(seconds: int, offset_minutes: int) -> str:
    tz = timezone(timedelta(minutes=offset_minutes))
    return datetime.fromtimestamp(seconds, tz).isoformat()


@dataclass(frozen=True)
class TagInfo:
    id: str
    name: str  # the tag object's own name header
    target: str
    target_type: str  # commit, tree, blob, tag
    tagger_name: str
    tagger_email: str
    time: int  # seconds since the epoch
    message: str


@dataclass(frozen=True)
class CommitInfo:
    id: str
    parents: tuple[str, ...]
    author: str
    email: str
    time: str
    message: str


class GitStore:
    def __init__(self, repo: pygit2.Repository):
        self.repo = repo
        self.common_dir = Path(_common_dir(repo))
        self.workdir = Path(repo.workdir) if repo.workdir else None
        _check_packed_refs(self.common_dir)
        # When set to a list, every blob read by path is appended (tests measure a check's cost).
        self.read_log: list[str] | None = None
        # Tree ids name their content: a diff of two of them never changes (the server hook and
        # the check it runs diff the same pair).
        self._diffs: dict[tuple[str | None, str], list[tuple[str, str]]] = {}
        # Inside a pre-receive hook the pushed objects sit in a quarantine directory.
        quarantine = os.environ.get("GIT_QUARANTINE_PATH")
        if quarantine and os.path.isdir(quarantine):
            repo.odb.add_disk_alternate(quarantine)

    @classmethod
    def discover(cls, path: str | os.PathLike = ".") -> GitStore:
        found = pygit2.discover_repository(str(path))
        if not found:
            raise NotARepository(
                f"{os.path.abspath(path)} is not inside a git repository.",
                hint="Run gitreg inside your project's repository, or 'git init' one first.",
            )
        return cls(pygit2.Repository(found))

    # --- config --------------------------------------------------------------

    def config(self, key: str) -> str | None:
        try:
            return self.repo.config[key]
        except (KeyError, ValueError):
            return None

    def config_bool(self, key: str) -> bool:
        try:
            return self.repo.config.get_bool(key)
        except (KeyError, ValueError, pygit2.GitError):
            return False

    # --- reads ---------------------------------------------------------------

    # pygit2 types every lookup as Object. These name the kind the caller's id
    # guarantees (a commit id, a tree id, a blob id); nothing is checked at run time.

    def _commit(self, oid: str | pygit2.Oid) -> pygit2.Commit:
        return cast(pygit2.Commit, self._object(oid))

    def _tree(self, oid: str | pygit2.Oid) -> pygit2.Tree:
        return cast(pygit2.Tree, self._object(oid))

    def _blob(self, oid: str | pygit2.Oid) -> pygit2.Blob:
        return cast(pygit2.Blob, self._object(oid))

    def ref_target(self, refname: str) -> str | None:
        try:
            ref = self.repo.references.get(refname)
        except (pygit2.InvalidSpecError, ValueError):
            return None
        except pygit2.GitError as exc:  # a damaged packed-refs, an unreadable loose ref
            raise faults.classify(exc) or GitFailed(f"cannot read ref {refname}: {exc}") from None
        if ref is None:
            return None
        return str(ref.target) if ref.type == pygit2.enums.ReferenceType.DIRECT else None

    def resolve_commit(self, rev: str) -> str:
        """Resolve a user-given revision to a commit id; never runs git with it.

        A short name that two refs answer to (a tag `gitreg` beside the branch `gitreg`) is
        refused: git would pick one silently, and not always the one the user means.
        """
        self.refuse_ambiguous(rev)
        try:
            obj = self.repo.revparse_single(rev)
            commit = obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            raise UsageError(
                f"revision {rev!r} does not resolve to a commit in this repository.",
                hint="Give a commit id, branch or tag that 'git rev-parse' knows.",
            ) from None
        return str(commit.id)

    def refuse_ambiguous(self, rev: str) -> None:
        name = re.split(r"[~^:]|@\{", rev, maxsplit=1)[0]
        if not name or name.startswith("refs/") or re.fullmatch(r"[0-9a-fA-F]{4,64}", name):
            return
        found = [r for r in short_name_candidates(name) if self.ref_target(r) is not None]
        if len(found) > 1:
            raise UsageError(
                f"{name!r} is ambiguous: it names both {found[0]} and {found[1]}.",
                hint=f"Give the full ref name ({found[0]}); and remove the one that should not "
                f"be there (git update-ref -d {found[0] if 'tags/' in found[1] else found[1]}).",
            )

    def first_parents_contain(self, head: str, old: str) -> bool:
        """Whether OLD is on HEAD's first-parent chain (the registry's history as the audit reads it)."""
        commit = self._commit(head)
        while True:
            if str(commit.id) == old:
                return True
            if not commit.parent_ids:
                return False
            commit = self._commit(commit.parent_ids[0])

    # --- partial clones: what is missing comes from the promisor remote, as git does ------

    @property
    def promisor(self) -> str | None:
        """The remote a partial clone fetches missing objects from; None in a full clone."""
        if not hasattr(self, "_promisor"):
            found = self.config("extensions.partialclone")
            if found is None:  # git also honours remote.NAME.promisor without the extension
                for entry in self.repo.config:
                    name = entry.name.lower()
                    if name.startswith("remote.") and name.endswith(".promisor") and entry.value == "true":
                        found = entry.name[len("remote.") : -len(".promisor")]
                        break
            self._promisor = found
        return self._promisor

    def prefetch(self, oids: list[str]) -> None:
        """In a partial clone, fetch those of OIDS that are missing, in one request."""
        promisor = self.promisor
        missing = [o for o in dict.fromkeys(oids) if not self.has_object(o)]
        if promisor is None or not missing:
            return
        self.git(
            "-c",
            "fetch.negotiationAlgorithm=noop",
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--no-auto-gc",
            "--no-recurse-submodules",
            f"--filter={self.config(f'remote.{promisor}.partialclonefilter') or 'blob:none'}",
            "--stdin",
            "--end-of-options",
            promisor,
            input="".join(f"{o}\n" for o in missing).encode(),
            check=False,
        )

    def _object(self, oid: str | pygit2.Oid) -> pygit2.Object:
        try:
            return self.repo[oid]
        except KeyError:
            if self.promisor is None:
                raise
        self.prefetch([str(oid)])
        return self.repo[oid]

    def commit_tree(self, commit_id: str) -> str:
        with _reading(commit_id):
            return str(self._commit(commit_id).tree_id)

    def commit_info(self, commit_id: str) -> CommitInfo:
        with _reading(commit_id):
            c = self._commit(commit_id)
        return CommitInfo(
            id=str(c.id),
            parents=tuple(str(p) for p in c.parent_ids),
            author=c.author.name,
            email=c.author.email,
            time=format_time(c.author.time, c.author.offset),
            message=c.message,
        )

    def commit_time(self, commit_id: str) -> int:
        """When the commit was made (committer date, seconds since the epoch): when it landed."""
        return int(self._commit(commit_id).commit_time)

    def merge_base(self, a: str, b: str) -> str | None:
        base = self.repo.merge_base(a, b)
        return str(base) if base is not None else None

    def entry(self, tree_id: str, path: str) -> pygit2.Object | None:
        # Step by step, so that a damaged tree on the way is named by its own id.
        with _reading(tree_id):
            obj: pygit2.Object = self.repo[tree_id]
        for part in path.split("/"):
            if not isinstance(obj, pygit2.Tree):
                return None
            with _reading(obj):
                try:
                    obj = obj[part]
                except KeyError:
                    return None
        return obj

    def entry_id(self, tree_id: str, path: str) -> str | None:
        entry = self.entry(tree_id, path)
        return str(entry.id) if entry is not None else None

    def read_blob(
        self, tree_id: str, path: str, max_bytes: int | None = None, shown_as: str | None = None
    ) -> bytes | None:
        """The bytes of PATH in a tree (or a commit's tree); None when absent. SHOWN_AS: the
        path as the registry names it, when TREE_ID is a folder's (for errors and the read log).

        The size is read from the object header first, so an oversized blob is
        refused before it is loaded.
        """
        entry = self.entry(tree_id, path)
        if entry is None or entry.type != _BLOB:
            return None
        path = shown_as or path
        if self.read_log is not None:
            self.read_log.append(path)
        if self.promisor is not None:
            self.prefetch([str(entry.id)])
        with _reading(entry):
            if max_bytes is not None:
                _, size = self.repo.odb.read_header(entry.id)
                if size > max_bytes:
                    raise BlobTooLarge(path, size)
            return self._blob(entry.id).data

    def read_blob_id(self, oid: str) -> bytes:
        with _reading(oid):
            return self._blob(oid).data

    def blob_size(self, oid: str) -> int:
        if self.promisor is not None:
            self.prefetch([oid])
        return self.repo.odb.read_header(pygit2.Oid(hex=oid))[1]

    def list_dir(self, tree_id: str, path: str) -> list[tuple[str, str, bool]]:
        """(name, object id, is_tree) of the entries under PATH; [] when absent."""
        with _reading(tree_id):
            tree = self.repo[tree_id] if not path else self.entry(tree_id, path)
        if tree is None or not isinstance(tree, pygit2.Tree):
            return []
        # a tree entry always has a name; the stub types Object.name as optional
        with _reading(tree):  # the listing is where a lazily read tree is inflated
            return [(e.name, str(e.id), e.type_str == "tree") for e in tree if e.name is not None]

    def file_names(self, tree_id: str, path: str) -> list[str]:
        """The names of the entries under PATH that are not folders; [] when absent. No object
        ids are formatted: the versions of 10,000 models are 500,000 entries."""
        with _reading(tree_id):
            tree = self.repo[tree_id] if not path else self.entry(tree_id, path)
        if tree is None or not isinstance(tree, pygit2.Tree):
            return []
        with _reading(tree):
            return [e.name for e in tree if e.name is not None and not isinstance(e, pygit2.Tree)]

    def blob_ids(self, tree_id: str, path: str) -> list[str]:
        """The ids of every blob under PATH of a tree (none when absent)."""
        top = self.entry(tree_id, path)
        found, stack = [], [top] if isinstance(top, pygit2.Tree) else []
        while stack:
            for e in stack.pop():
                if e.type_str == "tree":
                    stack.append(self._tree(e.id))
                elif e.type_str == "blob":
                    found.append(str(e.id))
        return found

    def export(self, tree_id: str, path: str, dest: str | os.PathLike) -> int:
        """Write the files under PATH of a tree into DEST (PATH kept); returns how many.

        Used to run trusted scripts (the base's checks/) from a scratch directory.
        """
        top = self.entry(tree_id, path) if path else self.repo[tree_id]
        if top is None:
            return 0
        count = 0
        stack = [(top, Path(dest, path), _BLOB_MODE)]
        while stack:
            obj, where, mode = stack.pop()
            if isinstance(obj, pygit2.Tree):
                where.mkdir(parents=True, exist_ok=True)
                stack += [
                    (self._object(e.id), where / e.name, e.filemode)
                    for e in obj
                    if e.name is not None and e.name not in ("", ".", "..", ".git") and "/" not in e.name
                ]
            elif isinstance(obj, pygit2.Blob) and mode in (_BLOB_MODE, _EXEC_MODE):
                where.write_bytes(obj.data)
                if mode == _EXEC_MODE:
                    where.chmod(0o755)
                count += 1
        return count

    def has_object(self, oid: str) -> bool:
        try:
            return pygit2.Oid(hex=oid) in self.repo.odb
        except ValueError:
            return False

    def tag_object(self, oid: str) -> pygit2.Tag | None:
        try:
            with _reading(oid):
                obj = self._object(oid)
        except (KeyError, ValueError):
            return None
        return obj if isinstance(obj, pygit2.Tag) else None

    def tag_info(self, oid: str) -> TagInfo | None:
        """The header of an annotated tag object (None for anything else): what GTO reads."""
        tag = self.tag_object(oid)
        if tag is None:
            return None
        tagger = tag.tagger
        target = self.repo[tag.target]
        return TagInfo(
            id=oid,
            name=tag.name,
            target=str(tag.target),
            target_type=target.type_str,
            tagger_name=tagger.name if tagger else "",
            tagger_email=tagger.email if tagger else "",
            time=tagger.time if tagger else 0,
            message=tag.message or "",
        )

    def raw_object(self, oid: str) -> bytes:
        if self.promisor is not None:
            self.prefetch([oid])
        with _reading(oid):
            return self.repo.odb.read(pygit2.Oid(hex=oid))[1]

    def walk(self, head: str, stop: str | None = None, first_parent: bool = True) -> Iterator[str]:
        """Commit ids reachable from HEAD, newest first, not those reachable from STOP.

        First-parent by default: on the registry branch a merge commit is the
        approved change, and the proposal commits behind it are not history.
        """
        walker = self.repo.walk(head, pygit2.enums.SortMode.TOPOLOGICAL | pygit2.enums.SortMode.TIME)
        if first_parent:
            walker.simplify_first_parent()
        if stop:
            walker.hide(stop)
        for commit in walker:
            yield str(commit.id)

    def walk_touching(self, head: str, paths: list[str], stop: str | None = None) -> Iterator[str] | None:
        """The commits of walk(HEAD, STOP) (first parent) that change any of PATHS against their
        first parent (a root commit: that holds any), newest first; None when git cannot say it
        cheaply here (a partial clone would fetch every tree on the way).

        git compares the trees in C (0.6 s along 441 commits of a 10,000-model registry, where
        reading each commit's models/ tree in Python took 3 s and 450 MB)."""
        if self.promisor is not None:
            return None
        # --no-show-signature: a user's log.showSignature would print gpg's words among the ids.
        args = ["log", "--first-parent", "--no-show-signature", "--format=%H", "--end-of-options", head]
        if stop:
            args.append(f"^{stop}")
        found = self.git(*args, "--", *paths).stdout.decode().split()
        if not all(re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", c) for c in found):
            return None  # not what was asked for: walk in Python
        return iter(found)

    def added_paths(self, head: str, stop: str | None, under: str) -> list[tuple[str, list[str]]] | None:
        """The first-parent commits of STOP..HEAD that add files under UNDER against their first
        parent (a root commit: every file), oldest first, each with those files; None where git
        cannot say it cheaply (a partial clone) or says what is not understood here.

        git diffs in C: along the 250 commits of a 10,000-model registry, each adding a thousand
        cards, reading every commit's models/ tree in Python took 48 s."""
        if self.promisor is not None:
            return None
        args = ["-c", "log.showRoot=true", "log", "-z", "--first-parent", "--no-show-signature"]
        args += ["--no-renames", "--no-relative", "--diff-filter=A", "--name-only", "--format=%H"]
        args += ["--end-of-options", head]
        if stop:
            args.append(f"^{stop}")
        out = self.git(*args, "--", under).stdout.decode("utf-8", "surrogateescape")
        found: list[tuple[str, list[str]]] = []
        for token in out.split("\0"):  # HASH NUL, then LF PATH NUL PATH NUL ... for each commit
            if re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", token):
                found.append((token, []))
            elif token:
                if not found or not token.removeprefix("\n").startswith(under):
                    return None
                found[-1][1].append(token.removeprefix("\n"))
        found.reverse()
        return found

    def changed_paths(self, old_tree: str | None, new_tree: str) -> list[tuple[str, str]]:
        """(status, path) of every blob that differs, in path order; A added, M modified, D deleted.

        Both trees are read side by side, descending only into subtrees whose ids differ, so the
        cost follows the change: one read of models/ per side for a registry of 10,000 models
        (0.05 s here, where libgit2's tree diff took 0.5 s, in every check and every push).
        """
        key = (old_tree, new_tree)
        if key not in self._diffs:
            out: list[tuple[str, str]] = []
            if old_tree is None:  # every blob is new: libgit2 lists a whole tree faster (0.8 s vs 1.3 s)
                out = [("A", d.new_file.path) for d in self._tree(new_tree).diff_to_tree(swap=True).deltas]
            else:
                self._changed(self._tree(old_tree), self._tree(new_tree), "", out)
                out.sort(key=lambda change: change[1])
            self._diffs[key] = out
        return list(self._diffs[key])

    def _changed(
        self, old: pygit2.Tree | None, new: pygit2.Tree | None, prefix: str, out: list[tuple[str, str]]
    ) -> None:
        before, after = self._entries(old), self._entries(new)
        for name in before.keys() | after.keys():
            was, now = before.get(name), after.get(name)
            if was is not None and now is not None and was.id == now.id and was.filemode == now.filemode:
                continue
            path = f"{prefix}{name}"
            was_tree = was is not None and was.filemode == _TREE_MODE
            now_tree = now is not None and now.filemode == _TREE_MODE
            if was_tree or now_tree:  # a subtree on either side: what differs under it
                self._changed(
                    self._tree(was.id) if was_tree and was is not None else None,
                    self._tree(now.id) if now_tree and now is not None else None,
                    path + "/",
                    out,
                )
            if was is not None and now is not None and not was_tree and not now_tree:
                if was.filemode & 0o170000 == now.filemode & 0o170000:  # a file stays a file
                    out.append(("M", path))
                else:  # a file becomes a symlink (or back): gone, and new, as libgit2 says
                    out += [("D", path), ("A", path)]
            elif was is not None and not was_tree:
                out.append(("D", path))
            elif now is not None and not now_tree:
                out.append(("A", path))

    def _entries(self, tree: pygit2.Tree | None) -> dict[str, pygit2.Object]:
        """name -> entry. A tree holding two entries of one name (git fsck's duplicateEntries,
        which a hostile change can craft) is refused: which of the two a reader gets by path
        is not what a diff of them says."""
        if tree is None:
            return {}
        entries = {e.name or "": e for e in tree}
        if len(entries) != len(tree):
            raise faults.corrupt_object(
                str(tree.id), "it holds two entries of one name (git fsck: duplicateEntries)"
            )
        return entries

    def merge_tree(self, ours: str, theirs: str) -> tuple[str | None, list[str]]:
        """The tree of merging commit THEIRS into OURS: (tree id, []) or (None, conflicting paths).

        Nothing is written but the merged tree's objects; (None, []) when no merge base exists.
        """
        base = self.repo.merge_base(ours, theirs)
        if base is None:
            return None, []
        index = self.repo.merge_trees(self.repo[base].tree, self.repo[ours].tree, self.repo[theirs].tree)
        if index.conflicts is not None:
            paths: set[str] = set()
            for entries in index.conflicts:
                paths.update(e.path for e in entries if e is not None)
            return None, sorted(paths)
        return str(index.write_tree(self.repo)), []

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return ancestor == descendant or self.repo.descendant_of(descendant, ancestor)

    # --- writes to the object store -------------------------------------------

    def write_blob(self, data: bytes) -> str:
        return str(self.repo.create_blob(data))

    def write_tree(self, base_tree: str | None, changes: Mapping[str, bytes | None]) -> str:
        """A new tree: BASE_TREE with each path set to its bytes (or removed, for None)."""
        nested: dict = {}
        for path, data in changes.items():
            parts = path.split("/")
            node = nested
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = data
        return self._build(self._tree(base_tree) if base_tree else None, nested)

    def _build(self, base: pygit2.Tree | None, changes: dict) -> str:
        builder = self.repo.TreeBuilder(base) if base is not None else self.repo.TreeBuilder()
        for name, change in changes.items():
            if isinstance(change, dict):
                sub = None
                if base is not None and name in base:
                    candidate = base[name]
                    sub = candidate if isinstance(candidate, pygit2.Tree) else None
                oid = self._build(sub, change)
                if len(self._tree(oid)) == 0:
                    if builder.get(name) is not None:
                        builder.remove(name)
                else:
                    builder.insert(name, pygit2.Oid(hex=oid), _TREE_MODE)
            elif change is None:
                if builder.get(name) is not None:
                    builder.remove(name)
            else:
                builder.insert(name, self.repo.create_blob(change), _BLOB_MODE)
        return str(builder.write())

    def write_commit(self, tree: str, parents: list[str], message: str, ident: Ident) -> str:
        sig = ident.signature
        oid = self.repo.create_commit(
            None, sig, sig, message, pygit2.Oid(hex=tree), [pygit2.Oid(hex=p) for p in parents]
        )
        return str(oid)

    # --- the git CLI ------------------------------------------------------------

    def git(
        self,
        *args: str,
        input: bytes | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        git_dir: str | None = None,
    ) -> subprocess.CompletedProcess:
        import subprocess

        cmd = ["git", f"--git-dir={git_dir or self.repo.path}", *args]
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_DIR")}
        full_env.update(env or {})
        try:
            proc = subprocess.run(
                cmd,
                input=input,
                capture_output=True,
                env=full_env,
                cwd=str(self.workdir or self.common_dir),
            )
        except FileNotFoundError:
            raise GitFailed("the git command is not installed.", hint="Install git.") from None
        if check and proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip()
            raise faults.from_message(err) or GitFailed(f"git {args[0]} failed: {err}")
        return proc

    def ident(self) -> Ident:
        """The committer identity git would use now (config, GIT_COMMITTER_* and its date)."""
        proc = self.git("var", "GIT_COMMITTER_IDENT", check=False)
        if proc.returncode != 0:
            raise GitFailed(
                "git does not know who you are.",
                hint="Set it with: git config --global user.name 'Your Name' && "
                "git config --global user.email you@example.com",
            )
        line = proc.stdout.decode().strip()
        head, _, tail = line.rpartition(">")
        name, _, email = head.partition("<")
        stamp, tz = tail.split()
        offset = (int(tz[1:3]) * 60 + int(tz[3:5])) * (-1 if tz[0] == "-" else 1)
        return Ident(name.strip(), email.strip(), int(stamp), offset)

    def make_signed_commit(self, tree: str, parents: list[str], message: str, ident: Ident) -> str:
        """A commit signed with the user's own git signing set-up (`git commit-tree -S`); no ref moves."""
        stamp = {"NAME": ident.name, "EMAIL": ident.email, "DATE": ident.git_date}
        env = {f"GIT_{who}_{k}": v for who in ("AUTHOR", "COMMITTER") for k, v in stamp.items()}
        args = ["commit-tree", "-S"]
        for parent in parents:
            args += ["-p", parent]
        proc = self.git(*args, "-F", "-", tree, input=message.encode(), env=env, check=False)
        oid = proc.stdout.decode().strip()
        hint = (
            "Set up git signing: git config gpg.format ssh && git config user.signingKey "
            "~/.ssh/id_ed25519.pub (or a GPG key: git config user.signingKey FINGERPRINT); "
            "'git commit -S' must work in this repository. Nothing was written."
        )
        if proc.returncode != 0 or not oid:
            raise GitFailed(
                f"could not sign a commit: {proc.stderr.decode(errors='replace').strip()}", hint=hint
            )
        if b"\ngpgsig" not in self.raw_object(oid).split(b"\n\n", 1)[0]:  # git 2.39 may sign nothing
            raise GitFailed("could not sign a commit: git made no signature.", hint=hint)
        return oid

    def set_config(self, key: str, value: str) -> None:
        self.git("config", key, value)

    def make_tag(self, name: str, target: str, message: str, *, sign: bool, ident: Ident) -> str:
        """Create an annotated (and maybe signed) tag object without creating its ref.

        git tag runs against a throw-away git dir that includes this repository's
        config and writes into this repository's object store: the tag object
        lands here, its ref lands in the throw-away dir.
        """
        import shutil
        import tempfile

        scratch = tempfile.mkdtemp(prefix="gitreg-tag-")
        try:
            Path(scratch, "refs").mkdir()
            Path(scratch, "HEAD").write_text("ref: refs/heads/main\n")
            config = str(self.common_dir / "config").replace("\\", "/")
            Path(scratch, "config").write_text(
                f'[core]\n\trepositoryformatversion = 0\n\tbare = true\n[include]\n\tpath = "{config}"\n'
            )
            env = {
                "GIT_OBJECT_DIRECTORY": str(self.common_dir / "objects"),
                "GIT_COMMITTER_NAME": ident.name,
                "GIT_COMMITTER_EMAIL": ident.email,
                "GIT_COMMITTER_DATE": ident.git_date,
            }
            proc = self.git(
                "tag",
                "-s" if sign else "--no-sign",
                "-a",
                "-F",
                "-",
                "--cleanup=verbatim",
                "--end-of-options",
                name,
                target,
                input=message.encode(),
                env=env,
                check=False,
                git_dir=scratch,
            )
            if proc.returncode != 0:
                err = proc.stderr.decode(errors="replace").strip()
                if (fault := faults.from_message(err)) is not None:
                    raise fault
                hint = None
                if sign:
                    hint = (
                        "Check your signing set-up: git config user.signingKey, gpg.format "
                        "(ssh or openpgp), and that 'git tag -s' works in this repository."
                    )
                raise GitFailed(f"could not create tag {name}: {err}", hint=hint)
            oid = (Path(scratch) / "refs" / "tags" / name).read_text().strip()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        # git 2.39 `tag -s` with an SSH key file ssh-keygen cannot load prints an error, exits 0
        # and writes an UNSIGNED tag: check that a signature is really there.
        if sign and b"\n-----BEGIN " not in self.raw_object(oid):
            err = proc.stderr.decode(errors="replace").strip()
            raise GitFailed(
                f"could not create tag {name}: git made no signature ({err or 'no error given'}).",
                hint="Check your signing set-up: git config user.signingKey must name a key "
                "ssh-keygen or gpg can use; 'git tag -s' must work in this repository.",
            )
        return oid

    def update_refs(self, updates: list[tuple[str, str | None, str | None]], reason: str) -> None:
        """Move refs all together or not at all, each only if it is still at its old value.

        Each update is (ref, new, old): new None deletes, old None means "must not exist".
        Refs are committed in the order given.
        """
        lines = ["start"]
        for ref, new, old in updates:
            if new is None:
                lines.append(f"delete {ref} {old or ''}".rstrip())
            elif old is None:
                lines.append(f"create {ref} {new}")
            else:
                lines.append(f"update {ref} {new} {old}")
        lines += ["prepare", "commit", ""]
        proc = self.git("update-ref", "-m", reason, "--stdin", input="\n".join(lines).encode(), check=False)
        if proc.returncode != 0:
            raise self._ref_failure(proc.stderr.decode(errors="replace").strip())

    def _ref_failure(self, err: str) -> Exception:
        """What a failed ref transaction means: a lock left behind, a fault, or a lost race."""
        locks = re.findall(r"Unable to create '([^']+\.lock)': File exists", err)
        if locks:
            from gitreg.store import locks as lockfiles

            found = lockfiles.find(self.common_dir)
            named = sorted({os.path.normpath(p) for p in (*locks, *(str(lock.path) for lock in found))})
            holders = found[0].holders if found else ()
            who = (
                "live git/gitreg process(es) in this repository: " + ", ".join(lockfiles.describe(holders))
                if holders
                else "no git process works in this repository now: a killed one left them"
            )
            return GitFailed(
                f"a ref is locked ({who}). Lock file(s):",
                details=named,
                hint="Run 'gitreg doctor' to see each lock's age and whether a git process holds it; "
                "'gitreg doctor --fix' removes the stale ones and finishes what the crash left. "
                "Nothing was written.",
            )
        if (fault := faults.from_message(err)) is not None:
            return fault
        if "expected" in err or "exists" in err or "cannot lock" in err:
            return ConcurrentUpdate(
                f"the registry changed while this command ran ({err.removeprefix('fatal: ')}).",
                hint="Nothing was written. Run the command again.",
            )
        return GitFailed(f"could not move refs: {err}")

    def delete_ref(self, refname: str, old: str) -> None:
        """Delete REFNAME if it is still at OLD (a lost race leaves it alone)."""
        with contextlib.suppress(ConcurrentUpdate):
            self.update_refs([(refname, None, old)], "gitreg: done with it")

    def fsck(self, tips: list[str]) -> tuple[bool, list[str]]:
        """`git fsck` of the objects TIPS reach: (ok, the problems git named)."""
        proc = self.git(
            "fsck", "--no-dangling", "--no-reflogs", "--no-progress", "--end-of-options", *tips, check=False
        )
        out = (proc.stdout + proc.stderr).decode(errors="replace").splitlines()
        problems = [line for line in out if line.strip() and not line.startswith("Checking")]
        return proc.returncode == 0, problems

    # --- remotes: the git CLI only (pygit2's push hides a server hook's refusal) ----------

    def remote_url(self, remote: str) -> str | None:
        return self.config(f"remote.{remote}.url")

    def refs(self, prefix: str) -> dict[str, str]:
        """refname -> object id of every direct ref under PREFIX (e.g. 'refs/tags/')."""
        found = {}
        for line in self._listed(prefix, " %(objectname) %(symref)"):
            ref, oid, symref = line.split(" ")
            if not symref:
                found[ref] = oid
        return found

    def ref_targets(self, pattern: str) -> dict[str, str]:
        """refname -> object id (unpeeled) of the refs matching PATTERN, a for-each-ref pattern
        (a prefix, or a glob such as refs/tags/*@v*)."""
        proc = self.git("for-each-ref", "--format=%(refname) %(objectname)", "--end-of-options", pattern)
        return dict(line.split(" ") for line in proc.stdout.decode(errors="replace").splitlines())

    def ref_names(self, prefix: str = "refs/") -> list[str]:
        """The names of every ref under PREFIX, sorted."""
        return self._listed(prefix, "")

    def _listed(self, prefix: str, fields: str) -> list[str]:
        """For each ref whose name starts with PREFIX, a line: its name, then FIELDS (for-each-ref
        format atoms, each after a space).

        git reads only the part of packed-refs under the prefix (a binary search) and the
        loose refs under it: among 543,000 refs, a prefix holding a few costs 3 ms, where
        listing every ref through pygit2 took 0.5-1 s (2.6 s with their targets), and every
        write lists the pending refs and registration proposals first.
        """
        folder = prefix[: prefix.rfind("/") + 1] or "refs/"  # git matches whole path components
        proc = self.git("for-each-ref", f"--format=%(refname){fields}", "--end-of-options", folder)
        lines = proc.stdout.decode(errors="replace").splitlines()
        return lines if folder == prefix else [line for line in lines if line.startswith(prefix)]

    def ls_remote(self, remote: str, patterns: list[str], *, heads: bool = False) -> dict[str, str]:
        """refname -> object id on REMOTE of the refs matching PATTERNS (unpeeled: tag objects).

        HEADS asks the remote for branches only (protocol v2 ref prefix refs/heads/): without
        it the remote advertises every ref it has, and git filters them here.
        """
        kind = ["-c", "protocol.version=2"], (["--heads"] if heads else [])
        proc = self.git(
            *kind[0], "ls-remote", "--refs", *kind[1], "--end-of-options", remote, *patterns, check=False
        )
        if proc.returncode != 0:
            raise GitFailed(
                f"cannot read the refs of remote {remote!r}: {proc.stderr.decode(errors='replace').strip()}",
                hint=f"Check the remote: git remote get-url {remote}",
            )
        out = {}
        for line in proc.stdout.decode().splitlines():
            oid, _, ref = line.partition("\t")
            if oid and ref:
                out[ref] = oid
        return out

    # Refs a fetch may name as what this repository has (its "haves"): branches, remote-tracking
    # refs and gitreg's records of remotes, never the tags.
    _LEAN_TIPS = ("refs/heads/", "refs/remotes/", "refs/gitreg/remotes/")

    @contextlib.contextmanager
    def _lean_git_dir(self) -> Iterator[tuple[str | None, dict[str, str]]]:
        """(git dir, environment) for a fetch that does not read every ref of this repository.

        git fetch reads every local ref twice: to mark what is already complete, and after
        the fetch to check that the new objects connect to them (rev-list --not --all). A
        registry of 10,000 models x 25 versions has 543,000 tags: 10 s per fetch here. So
        the fetch runs in a throwaway git dir that shares this repository's object store
        (GIT_OBJECT_DIRECTORY: what it brings lands here directly) and its config (remote
        names resolve as here), and holds as refs only the branches, remote-tracking refs and
        gitreg's records: the haves of the negotiation, and what the connectivity check
        stops at. They are this repository's own complete tips, so that check is as sound.

        (None, {}) (fetch in place) in a repository a plain git dir cannot stand in for: a
        partial clone, a newer repository format, or objects in quarantine (a server hook).
        """
        version = self.config("core.repositoryformatversion")
        if (
            version not in (None, "0")
            or self.promisor is not None
            or any(k in os.environ for k in ("GIT_OBJECT_DIRECTORY", "GIT_QUARANTINE_PATH"))
            or "\n" in str(self.common_dir)  # cannot be written into a config file
        ):
            yield None, {}
            return
        try:
            lean = self._make_lean_git_dir()
        except OSError:  # a repository this user cannot write to: fetch in place
            yield None, {}
            return
        try:
            env = {"GIT_OBJECT_DIRECTORY": str(self.common_dir / "objects")}
            tips = (
                self.git("for-each-ref", "--format=%(objectname)", "--end-of-options", *self._LEAN_TIPS)
                .stdout.decode()
                .split()
            )
            lines = [f"create refs/have/{i} {oid}" for i, oid in enumerate(dict.fromkeys(tips))]
            if lines:
                self.git(
                    "update-ref",
                    "--stdin",
                    input="\n".join([*lines, ""]).encode(),
                    env=env,
                    git_dir=str(lean),
                )
            yield str(lean), env
        finally:
            import shutil

            shutil.rmtree(lean, ignore_errors=True)

    def _make_lean_git_dir(self) -> Path:
        import shutil
        import tempfile

        parent = self.common_dir / "gitreg-tmp"
        parent.mkdir(exist_ok=True)
        for old in parent.glob("fetch-*"):  # left by a process killed mid-fetch a day ago or more
            with contextlib.suppress(OSError):
                if time.time() - old.stat().st_mtime > 86400:
                    shutil.rmtree(old, ignore_errors=True)
        lean = Path(tempfile.mkdtemp(prefix="fetch-", dir=parent))
        (lean / "refs").mkdir()
        (lean / "HEAD").write_text("ref: refs/heads/gitreg-lean\n")
        include = str(self.common_dir / "config").replace("\\", "\\\\").replace('"', '\\"')
        # Everything as the repository has it (core.bare and core.worktree too: a submodule's
        # git dir names its work tree), the format version read from this file itself.
        (lean / "config").write_text(
            f'[core]\n\trepositoryformatversion = 0\n[include]\n\tpath = "{include}"\n'
        )
        return lean

    def fetch(self, remote: str, oids: list[str]) -> None:
        """Fetch the objects reachable from OIDS (tips REMOTE advertises); no ref moves.

        Nothing but objects is written (no FETCH_HEAD, no remote-tracking ref), so
        a caller that refuses what it fetched leaves the repository as it was.
        """
        if not oids:
            return
        with self._lean_git_dir() as (lean, env):
            proc = self.git(
                *_FETCH,
                "--end-of-options",
                remote,
                *oids,
                check=False,
                env=env,
                git_dir=lean,
            )
        missing = [o for o in oids if not self.has_object(o)]
        if proc.returncode != 0 or missing:
            raise GitFailed(
                f"fetching from {remote!r} failed: "
                f"{proc.stderr.decode(errors='replace').strip() or 'objects missing'}",
                hint="If the remote changed meanwhile, run the command again.",
            )

    def fetch_refs(self, remote: str, refs: list[str]) -> dict[str, str]:
        """Fetch exactly REFS from REMOTE; their values there (a ref it lacks is left out).

        Each ref is asked for as a protocol v2 ref prefix, so the remote advertises these
        refs and no others (not every tag it holds). The refs land in a private namespace
        for the moment of reading them and are deleted before returning: only objects stay.
        """
        if not refs:
            return {}
        scratch = f"refs/gitreg/incoming/{os.getpid()}/"
        # A glob refspec matching nothing is no error (an exact one is); its prefix is the ref.
        spec = "".join(f"+{ref}*:{scratch}{ref}*\n" for ref in refs)
        with self._lean_git_dir() as (lean, env):
            proc = self.git(
                "-c",
                "protocol.version=2",
                *_FETCH,
                "--stdin",
                "--end-of-options",
                remote,
                input=spec.encode(),
                check=False,
                env=env,
                git_dir=lean,
            )
            listed = self.git(
                "for-each-ref", "--format=%(objectname) %(refname)", scratch, env=env, git_dir=lean
            ).stdout.decode()
        caught = {ref: oid for oid, _, ref in (line.partition(" ") for line in listed.splitlines())}
        if (
            caught and lean is None
        ):  # the exact refs, and any their prefix caught too (1.0.0-rc1 beside 1.0.0)
            self.update_refs([(ref, None, oid) for ref, oid in caught.items()], "gitreg: fetched")
        wanted = set(refs)
        landed = {ref[len(scratch) :]: oid for ref, oid in caught.items() if ref[len(scratch) :] in wanted}
        if proc.returncode != 0:
            raise GitFailed(
                f"fetching from {remote!r} failed: {proc.stderr.decode(errors='replace').strip()}",
                hint="If the remote changed meanwhile, run the command again.",
            )
        return landed

    def push(
        self,
        remote: str,
        refspecs: list[str],
        *,
        leases: Mapping[str, str | None] | None = None,
        push_options: tuple[str, ...] = (),
        atomic: bool = True,
    ) -> PushResult:
        """`git push --porcelain [--atomic]`: the exit status AND each ref's status line.

        LEASES maps a remote ref to the value it must still have (None: must not
        exist). A refusal (hook, lease, non-fast-forward) comes back as a result
        with ok False and the remote's messages; a push that could not run at
        all (no connection, push options unsupported) raises GitFailed.
        """
        args = ["push", "--porcelain"] + (["--atomic"] if atomic else [])
        args += [f"--force-with-lease={ref}:{old or ''}" for ref, old in (leases or {}).items()]
        for option in push_options:
            args += ["--push-option", option]
        proc = self.git(*args, "--end-of-options", remote, *refspecs, check=False)
        refs = _parse_porcelain(proc.stdout.decode(errors="replace"))
        stderr = proc.stderr.decode(errors="replace")
        messages = [
            line[len("remote: ") :].rstrip() for line in stderr.splitlines() if line.startswith("remote: ")
        ]
        rejected = [r for r in refs if r.flag == "!"]
        if proc.returncode != 0 and not rejected:
            raise GitFailed(f"git push to {remote!r} failed: {stderr.strip()}")
        ok = proc.returncode == 0 and not rejected and len(refs) >= len(refspecs)
        return PushResult(ok, refs, messages, stderr)

    def hooks_dir(self) -> Path:
        """Where git looks for this repository's hooks (core.hooksPath respected)."""
        out = self.git("rev-parse", "--git-path", "hooks").stdout.decode().strip()
        return Path(self.workdir or self.common_dir, out).resolve()

    # --- the user's work tree (read only) -------------------------------------------

    def uncommitted(self, commit: str, paths: list[str]) -> dict[str, str] | None:
        """Of PATHS (files or directories), those the index or the work tree changes against COMMIT
        (ignored files aside): path -> 'modified', 'untracked', 'deleted', ...; None when the work
        tree is not at COMMIT (then it says nothing about it). Only PATHS are looked at."""
        if self.workdir is None or self.repo.head_is_unborn or str(self.repo.head.target) != commit:
            return None
        if not paths:
            return {}
        out = self.git(  # --no-optional-locks: never take index.lock nor rewrite the user's index
            "--no-optional-locks",
            "--literal-pathspecs",
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--",
            *paths,
        ).stdout.decode(errors="replace")
        found: dict[str, str] = {}
        entries = iter(out.split("\0"))
        for entry in entries:
            if len(entry) < 4:
                continue
            code, path = entry[:2], entry[3:]
            if code[0] in "RC":
                next(entries, None)  # a rename's source path follows
            found[path] = _STATUS_WORDS.get(code.strip()[:1] if code != "??" else "?", "changed")
        return found

    # --- Git LFS ----------------------------------------------------------------------

    def lfs_smudge(self, pointer: bytes, path: str, dest: str | os.PathLike) -> str | None:
        """Write the object POINTER names to DEST through `git lfs smudge`: the local LFS store
        first, then the LFS remote. Returns None, or what git-lfs said when it could not get it.
        What lands in DEST is not verified here (the caller hashes it): git-lfs may write the
        pointer itself, or take a checked-out copy whose hash matches."""
        import subprocess

        if self.workdir is None:
            raise GitFailed("Git LFS objects are fetched in a work tree, and there is none here.")
        with open(dest, "wb") as out:
            try:
                proc = subprocess.run(
                    ["git", "lfs", "smudge", "--", path],
                    input=pointer,
                    stdout=out,
                    stderr=subprocess.PIPE,
                    cwd=str(self.workdir),
                    env={k: v for k, v in os.environ.items() if k != "GIT_LFS_SKIP_SMUDGE"},
                )
            except FileNotFoundError:
                raise GitFailed("git is not installed.", hint="Install git and git-lfs.") from None
        if proc.returncode == 0:
            return None
        err = proc.stderr.decode(errors="replace")
        if "is not a git command" in err:
            raise GitFailed("git-lfs is not installed.", hint="Install it: apt-get install git-lfs")
        said = [line for line in err.splitlines() if "rror" in line]
        return (said or err.strip().splitlines() or ["no message"])[-1].strip()

    # --- temporary worktrees (reproduce): the user's work tree, index and HEAD stay put ------

    def add_worktree(self, path: str | os.PathLike, commit: str) -> None:
        """Check COMMIT out, detached, into a new linked worktree at PATH.

        Hooks are off: a post-checkout hook (DVC installs one) must not run in it.
        """
        self.git(
            "-c",
            f"core.hooksPath={os.devnull}",
            "worktree",
            "add",
            "--detach",
            "--quiet",
            "--end-of-options",
            str(path),
            commit,
        )

    def remove_worktree(self, path: str | os.PathLike) -> None:
        """Remove a worktree made by add_worktree, files and registration, whatever its state."""
        import shutil

        proc = self.git("worktree", "remove", "--force", "--force", str(path), check=False)
        if proc.returncode != 0 or Path(path).exists():
            shutil.rmtree(path, ignore_errors=True)
            # Only a worktree whose directory is gone is pruned; ours is gone now.
            self.git("worktree", "prune", check=False)


@dataclass(frozen=True)
class RefStatus:
    """One line of `git push --porcelain`: flag, refs, and the summary git gave."""

    flag: str  # ' ' fast-forward, '+' forced, '-' deleted, '*' new, '=' up to date, '!' rejected
    src: str
    dst: str
    summary: str  # e.g. "[new tag]", "[remote rejected] (pre-receive hook declined)"

    @property
    def ok(self) -> bool:
        return self.flag != "!"


@dataclass(frozen=True)
class PushResult:
    ok: bool
    refs: list[RefStatus]
    messages: list[str]  # what the remote said (its hooks' output), without "remote: "
    stderr: str


def _parse_porcelain(out: str) -> list[RefStatus]:
    found = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and len(parts[0]) == 1:
            src, _, dst = parts[1].partition(":")
            found.append(RefStatus(parts[0], src, dst, parts[2]))
    return found


def short_name_candidates(name: str) -> list[str]:
    """The refs git tries for a short NAME, in its order (git rev-parse, 'dwim' rules)."""
    return [
        f"refs/{name}",
        f"refs/tags/{name}",
        f"refs/heads/{name}",
        f"refs/remotes/{name}",
        f"refs/remotes/{name}/HEAD",
    ]


class _reading:
    """Reads of an object (an id, or the object whose id it is) or of what it leads to:
    libgit2's words for a damaged object become the named fault. Its KeyError for an absent
    object stays what callers expect. A class, and the id formatted only on failure: a list of
    10,000 models enters this 100,000 times."""

    __slots__ = ("what",)

    def __init__(self, what: str | pygit2.Object):
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is not None and isinstance(exc, pygit2.GitError):
            what = self.what
            raise faults.corrupt_or(exc, what if isinstance(what, str) else str(what.id)) from None


def _check_packed_refs(common_dir: Path) -> None:
    """A packed-refs cut short (a full disk, a crash of another tool) loses its last refs without
    a word from libgit2, which then reads them as deleted: git always ends the file with a newline."""
    try:
        with open(common_dir / "packed-refs", "rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() == 0:
                return
            f.seek(-1, os.SEEK_END)
            last = f.read(1)
    except OSError:
        return  # absent; an unreadable one is reported by whatever reads it
    if last != b"\n":
        raise faults.broken_packed_refs(f"{common_dir / 'packed-refs'} ends in the middle of a line")


_STATUS_WORDS = {
    "M": "modified",
    "A": "added",
    "D": "deleted",
    "R": "renamed",
    "C": "copied",
    "?": "untracked",
}


def _common_dir(repo: pygit2.Repository) -> str:
    path = Path(repo.path)
    commondir = path / "commondir"
    if commondir.is_file():
        return str((path / commondir.read_text().strip()).resolve())
    return str(path)


def git_in(path: str | os.PathLike, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run git as a user would in a work tree (the demo builds projects this way)."""
    import subprocess

    proc = subprocess.run(
        ["git", *args], cwd=str(path), capture_output=True, text=True, env={**os.environ, **(env or {})}
    )
    if proc.returncode != 0:
        raise GitFailed(f"git {' '.join(args[:2])} failed: {proc.stderr.strip()}")
    return proc.stdout


def init_repo(path: str | os.PathLike, branch: str = "main") -> None:
    git_in(path, "init", "-q", "-b", branch)
