"""A disposable cache of verdicts, keyed by git object ids, in `<git dir>/gitreg-cache/`.

A key names exactly what was judged (a blob id) and by what (a digest of the
schema), so an entry can never be stale; delete the folder at any time and
gitreg judges again. Writing is best effort: a read-only repository just
gets no cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import cache
from pathlib import Path


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
    from gitreg.store import schemas

    text = json.dumps(schemas.load(name), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- model summaries (what `list` shows), by model subtree id -----------------------------------

_SUMMARIES = "summaries.json"


def summaries(common_dir: Path) -> dict[str, dict]:
    """'NAME SUBTREE-ID' -> summary, as last written; {} when absent or unreadable."""
    try:
        value = json.loads((directory(common_dir) / _SUMMARIES).read_bytes())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) and value.get("format") == _format() else {}


def store_summaries(common_dir: Path, entries: dict[str, dict]) -> None:
    """Replace the summaries with ENTRIES (only the current models: the file never grows)."""
    folder = directory(common_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{_SUMMARIES}.{os.getpid()}"
        tmp.write_text(json.dumps({"format": _format(), "models": entries}, separators=(",", ":")))
        os.replace(tmp, folder / _SUMMARIES)
    except OSError:
        pass


def _format() -> str:
    from gitreg.version import __version__

    return f"1/{__version__}"
