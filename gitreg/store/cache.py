"""A disposable cache of verdicts, keyed by git object ids, in `<git dir>/gitreg-cache/`.

A key names exactly what was judged (a blob id) and by what (a digest of the
schema), so an entry can never be stale; delete the folder at any time and
gitreg judges again. Writing is best effort: a read-only repository just
gets no cache.
"""

from __future__ import annotations

import contextlib
import os
from functools import cache
from pathlib import Path

# json is imported where it is used: `which` and `show NAME` only ask has().


def directory(common_dir: Path) -> Path:
    # Not "<git dir>/gitreg": hooks run inside the git dir, where a folder named
    # gitreg would shadow the package for `python -m gitreg`.
    return Path(common_dir) / "gitreg-cache"


def has(common_dir: Path, kind: str, key: str) -> bool:
    return (directory(common_dir) / kind / key).is_file()


def add(common_dir: Path, kind: str, key: str) -> None:
    folder = directory(common_dir) / kind
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{key}.{os.getpid()}"
        tmp.write_bytes(b"")
        os.replace(tmp, folder / key)
    except OSError:
        pass


@cache
def schema_digest(name: str) -> str:
    """A short digest of a shipped schema, so a changed schema judges again."""
    import hashlib
    import json

    from gitreg.store import schemas

    text = json.dumps(schemas.load(name), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- model summaries (what `list` shows), by model subtree id -----------------------------------

_SUMMARIES = "summaries.json"


def summaries(common_dir: Path) -> tuple[str | None, dict[str, dict]]:
    """(the models/ tree id the file was written for, 'NAME SUBTREE-ID' -> summary fields), as
    last written; (None, {}) when absent.

    A `list` of the same models/ tree is then one read and one json.loads; after a change, the
    summaries of the models whose subtree did not change are still good. A file of the wrong
    shape (another gitreg's, truncated, edited) is dropped: the caller rebuilds it, and nobody
    is told, since nothing was lost.
    """
    import json

    path = directory(common_dir) / _SUMMARIES
    try:
        value = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None, {}
    except (OSError, ValueError):
        value = None
    if _summaries_damage(value) is None:
        assert isinstance(value, dict)
        tree = value.get("tree")
        return (tree if isinstance(tree, str) else None), value["models"]
    with contextlib.suppress(OSError):
        path.unlink()
    return None, {}


def damage(common_dir: Path) -> str | None:
    """What is wrong with the cache, in words; None when it is sound (or absent)."""
    import json

    path = directory(common_dir) / _SUMMARIES
    if not directory(common_dir).is_dir():
        return f"{directory(common_dir).name} is not a folder"
    try:
        value = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return f"{_SUMMARIES} is unreadable: {exc}"
    return _summaries_damage(value)


_STRING = {str}
_STRING_OR_NONE = {str, type(None)}


def _summaries_damage(value: object) -> str | None:
    if not isinstance(value, dict) or not isinstance(value.get("models"), dict):
        return f"{_SUMMARIES} is not a mapping with 'models'"
    if value.get("format") != _format():
        return f"{_SUMMARIES} was written by another gitreg ({value.get('format')!r})"
    # Every field a list row reads, of the type it must have; one pass, no generators: a cached
    # list of 10,000 models checks them all on every call.
    for key, entry in value["models"].items():
        if type(key) is not str or type(entry) is not dict:
            return f"{_SUMMARIES} holds an entry of the wrong shape"
        stages, owners = entry.get("stages"), entry.get("owners")
        if (
            type(entry.get("name")) is not str
            or type(entry.get("versions")) is not int
            or type(entry.get("latest")) not in _STRING_OR_NONE
            or type(entry.get("error")) not in _STRING_OR_NONE
            or type(stages) is not dict
            or type(owners) is not list
            or not set(map(type, stages.values())) <= _STRING
            or not set(map(type, owners)) <= _STRING_OR_NONE
        ):
            return f"{_SUMMARIES} holds an entry of the wrong shape ({key.split()[0]})"
    return None


def store_summaries(common_dir: Path, tree: str | None, entries: dict[str, dict]) -> None:
    """Replace the summaries with ENTRIES (only the current models: the file never grows); TREE:
    the models/ tree id they are all of (None: some model is missing, as an unreadable one is)."""
    import json

    folder = directory(common_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{_SUMMARIES}.{os.getpid()}"
        body = {"format": _format(), "tree": tree, "models": entries}
        tmp.write_text(json.dumps(body, separators=(",", ":")))
        os.replace(tmp, folder / _SUMMARIES)
    except OSError:
        pass


def format_tag() -> str:
    """This gitreg's cache format, for keys whose meaning may change with gitreg's version."""
    return _format().replace("/", "-")


def _format() -> str:
    from gitreg.version import __version__

    return f"1/{__version__}"


# --- verdicts that carry a value (JSON), one file each ------------------------------------------


def value(common_dir: Path, kind: str, key: str) -> object:
    """What store_value wrote under KEY, or None."""
    import json

    try:
        found = json.loads((directory(common_dir) / kind / key).read_bytes())
    except (OSError, ValueError):
        return None
    return found.get("value") if isinstance(found, dict) and found.get("format") == _format() else None


def store_value(common_dir: Path, kind: str, key: str, found: object) -> None:
    import json

    folder = directory(common_dir) / kind
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{key}.{os.getpid()}"
        tmp.write_text(json.dumps({"format": _format(), "value": found}, separators=(",", ":")))
        os.replace(tmp, folder / key)
    except OSError:
        pass
