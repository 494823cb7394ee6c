"""yamlio.dump, thousands of times over, for values that differ only in a few leaves.

PyYAML's representer is pure Python (~2 ms for a card). A benchmark registry
dumps the first value of each shape once with markers at the leaves that vary,
then fills the markers by string formatting. Callers check samples against
yamlio.dump, so the bytes are exactly what gitreg writes.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from gitreg.store import yamlio

Path = tuple  # of keys and list indexes
_TIMESTAMP = re.compile(r"\d{4}-\d\d?-\d\d?([Tt ]|$)")


class NeedsFullDump(Exception):
    pass


def scalar(value: Any) -> str:
    """A leaf as PyYAML writes it, for the kinds of leaves the benchmark varies."""
    if isinstance(value, bool) or value is None:
        raise NeedsFullDump(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value).lower()
        if "." not in text and "e" in text:
            text = text.replace("e", ".0e")
        if "nan" in text or "inf" in text:
            raise NeedsFullDump(value)
        return text
    if not isinstance(value, str) or not value or value != value.strip() or _number(value):
        raise NeedsFullDump(value)
    if _TIMESTAMP.match(value):
        return f"'{value}'"
    if (
        value[0] in "-?:,[]{}#&*!|>'\"%@`"
        or ": " in value
        or " #" in value
        or value in ("yes", "no", "true", "false", "on", "off", "null", "~", "y", "n")
    ):
        raise NeedsFullDump(value)
    return value


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text.isdigit()
    return True


def get(value: Any, path: Path) -> Any:
    for key in path:
        value = value[key]
    return value


def _marker(i: int) -> str:
    return f"zqmark{i}zq"


class Template:
    def __init__(self, sample: Any, paths: list[Path]):
        self.paths = paths
        marked = copy.deepcopy(sample)
        for i, path in enumerate(paths):
            parent = get(marked, path[:-1])
            parent[path[-1]] = _marker(i)
        text = yamlio.dump(marked).replace("{", "{{").replace("}", "}}")
        for i in range(len(paths)):
            if text.count(_marker(i)) != 1:
                raise NeedsFullDump(paths[i])
            text = text.replace(_marker(i), f"{{{i}}}")
        self.fmt = text

    def dump(self, value: Any) -> str:
        try:
            return self.fmt.format(*(scalar(get(value, p)) for p in self.paths))
        except NeedsFullDump:
            return yamlio.dump(value)
