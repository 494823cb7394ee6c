"""MLflow version numbers: version N of a model is its Nth registration.

Registrations are counted in the order their cards landed on the registry branch's
first-parent history (a merged `register --propose` counts at its merge), ties within one
commit broken by semver. That history only grows, so a number, once given, never changes
and is never reused, even if a version were removed.

One walk of the history numbers every model; the result is kept in memory and in
`<git dir>/gitreg-cache/mlflow-numbers.json`, keyed by the registry commit it was computed
at, so a later call walks only the commits added since.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gitreg.store import cache, layout
from gitreg.store.gitstore import GitStore

_CARD_RE = re.compile(rf"{layout.MODELS_DIR}/([^/]+)/versions/([^/]+)\.yaml\Z")
_FILE = "mlflow-numbers.json"
_FORMAT = 1


@dataclass
class Numbering:
    commit: str | None = None  # the registry commit this numbering is of
    order: dict[str, list[str]] = field(default_factory=dict)  # name -> semvers, registration order
    _index: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)

    def number(self, name: str, version: str) -> int | None:
        index = self._index.get(name)
        if index is None:
            index = self._index[name] = {v: i + 1 for i, v in enumerate(self.order.get(name, []))}
        return index.get(version)

    def version(self, name: str, number: int) -> str | None:
        versions = self.order.get(name, [])
        return versions[number - 1] if 0 < number <= len(versions) else None


_memo: dict[str, Numbering] = {}
_lock = threading.Lock()


def at(store: GitStore, head: str) -> Numbering:
    """The numbering of every model at registry commit HEAD."""
    key = str(store.common_dir)
    with _lock:
        known = _memo.get(key)
        if known is None or known.commit != head:
            known = _advance(store, known or _load(store.common_dir), head)
            _memo[key] = known
        return known


def _advance(store: GitStore, known: Numbering, head: str) -> Numbering:
    if known.commit == head:
        return known
    stop = known.commit if known.commit and store.has_object(known.commit) else None
    new = list(store.walk(head, stop))
    new.reverse()
    if stop is not None and (not new or _first_parent(store, new[0]) != stop):
        # The saved commit is not on this history's first-parent chain: count from the start.
        stop, new = None, list(reversed(list(store.walk(head))))
    order = {n: list(vs) for n, vs in known.order.items()} if stop else {}
    for paths in _added(store, head, stop, new):
        added: dict[str, list[str]] = {}
        for path in paths:
            m = _CARD_RE.match(path)
            if m and layout.Version.is_valid(m[2]):
                added.setdefault(m[1], []).append(m[2])
        for name, versions in added.items():
            seen = order.setdefault(name, [])
            seen += [v for v in layout.sort_versions(versions) if v not in seen]
    result = Numbering(head, order)
    _save(store.common_dir, result)
    return result


def _added(store: GitStore, head: str, stop: str | None, new: list[str]) -> Iterator[list[str]]:
    """The files each commit of NEW (STOP..HEAD, oldest first) adds against its first parent:
    from one `git log` where git can say it, else by diffing the trees here."""
    by_git = store.added_paths(head, stop, f"{layout.MODELS_DIR}/")
    if by_git is not None:
        yield from (paths for _, paths in by_git)
        return
    # Oldest first along the first-parent chain: each commit's parent is the one before it.
    old_tree = store.commit_tree(stop) if stop else _parent_tree(store, new[0]) if new else None
    for commit in new:
        tree = store.commit_tree(commit)
        yield [path for status, path in store.changed_paths(old_tree, tree) if status == "A"]
        old_tree = tree


def _first_parent(store: GitStore, commit: str) -> str | None:
    parents = store.commit_info(commit).parents
    return parents[0] if parents else None


def _parent_tree(store: GitStore, commit: str) -> str | None:
    parent = _first_parent(store, commit)
    return store.commit_tree(parent) if parent else None


def _load(common_dir: Path) -> Numbering:
    try:
        raw = json.loads((cache.directory(common_dir) / _FILE).read_bytes())
        if raw.get("format") == _FORMAT and isinstance(raw.get("order"), dict):
            return Numbering(str(raw["commit"]), {str(k): list(v) for k, v in raw["order"].items()})
    except (OSError, ValueError, TypeError, AttributeError, KeyError):
        pass
    return Numbering()


def _save(common_dir: Path, numbering: Numbering) -> None:
    folder = cache.directory(common_dir)
    try:  # best effort, like every gitreg cache: a read-only repository just gets none
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{_FILE}.{os.getpid()}.{threading.get_ident()}"
        payload = {"format": _FORMAT, "commit": numbering.commit, "order": numbering.order}
        tmp.write_text(json.dumps(payload, separators=(",", ":")))
        os.replace(tmp, folder / _FILE)
    except OSError:
        pass
