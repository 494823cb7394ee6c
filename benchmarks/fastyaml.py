"""yamlio.dump and yamlio.canonical, thousands of times over, for values that differ only in a
few leaves.

PyYAML's representer is pure Python (~2 ms for a card), and even the C JSON
encoder takes ~40 us for a card's canonical form (its digest). A benchmark
registry dumps the first value of each shape once with markers at the leaves
that vary, then fills the markers by string formatting. Callers check samples
against yamlio, so the bytes are exactly what gitreg writes.
"""

from __future__ import annotations

import copy
import json
import math
import re
from typing import Any, ClassVar

import yaml

from gitreg.store import yamlio

Path = tuple  # of keys and list indexes
_RESOLVER = yaml.resolver.Resolver()  # how YAML 1.1 would type a plain scalar
# Plain in YAML for sure (unless a word below): a word of letters first, or hex with a letter
# that no number has (0b... is a YAML 1.1 binary int).
_PLAIN = re.compile(r"[A-Za-z][\w.@/+-]*\Z|(?!0b)[0-9a-f]*[abcdf][0-9a-f]*\Z", re.ASCII)
_WORDS = frozenset(["yes", "no", "true", "false", "on", "off", "null", "y", "n", "inf", "nan", "infinity"])
_JSON_PLAIN = re.compile(r"[\w.@/+ :-]*\Z", re.ASCII)  # nothing json.dumps escapes


class NeedsFullDump(Exception):
    pass


def scalar(value: Any) -> str:
    """A leaf as PyYAML writes it, for the kinds of leaves the benchmark varies."""
    if type(value) is str and _PLAIN.match(value) and value.lower() not in _WORDS:
        return value
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
    if (
        not isinstance(value, str)
        or not value
        or value != value.strip()
        or not value.isprintable()
        or "'" in value
        or (" " in value and len(value) > 40)  # PyYAML may fold it over lines
    ):
        raise NeedsFullDump(value)
    if _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) != "tag:yaml.org,2002:str":
        return f"'{value}'"  # a string YAML would read as a number, date, bool...: quoted
    if value[0] in "-?:,[]{}#&*!|>'\"%@`=<" or ":" in value or " #" in value:
        raise NeedsFullDump(value)
    return value


def json_scalar(value: Any) -> str:
    """A leaf as yamlio.canonical (json.dumps) writes it."""
    if type(value) is str and _JSON_PLAIN.match(value):
        return f'"{value}"'
    if isinstance(value, bool) or value is None:
        raise NeedsFullDump(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NeedsFullDump(value)
        return repr(value)
    if not isinstance(value, str):
        raise NeedsFullDump(value)
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return json.dumps(value, ensure_ascii=False)


def get(value: Any, path: Path) -> Any:
    for key in path:
        value = value[key]
    return value


def _marker(i: int) -> str:
    return f"zqmark{i}zq"


class Template:
    """yamlio.dump of values shaped like SAMPLE that differ only at PATHS."""

    quote = ""  # around a marker in the dump
    # Leaf -> its text, shared by every template of a kind: most leaves repeat (a version, a
    # commit, a person) across cards.
    cache: ClassVar[dict[tuple[type, Any], bytes]] = {}

    def __init__(self, sample: Any, paths: list[Path]):
        self.paths = paths
        marked = copy.deepcopy(sample)
        for i, path in enumerate(paths):
            parent = get(marked, path[:-1])
            parent[path[-1]] = _marker(i)
        text = self.full(marked)
        markers = [self.quote + _marker(i) + self.quote for i in range(len(paths))]
        for i, marker in enumerate(markers):
            if text.count(marker) != 1:
                raise NeedsFullDump(paths[i])
        # The text cut at the markers, in the order they appear (JSON sorts keys).
        self.order = sorted(range(len(paths)), key=lambda i: text.index(markers[i]))
        self.parts: list[bytes] = []
        at = 0
        for i in self.order:
            cut = text.index(markers[i])
            self.parts.append(text[at:cut].encode())
            at = cut + len(markers[i])
        self.parts.append(text[at:].encode())

    @staticmethod
    def full(value: Any) -> str:
        return yamlio.dump(value)

    @staticmethod
    def scalar(value: Any) -> str:
        return scalar(value)

    def leaves(self, value: Any) -> list:
        return [get(value, p) for p in self.paths]

    def pieces(self, leaves: list) -> list[bytes]:
        """The dump of a value whose leaves at PATHS are LEAVES, as the text between the leaves and
        the leaves (NeedsFullDump if one cannot be written in place)."""
        cache = self.cache
        if len(cache) > 100_000:
            cache.clear()
        parts = self.parts
        out = [parts[0]]
        for n, i in enumerate(self.order, 1):
            leaf = leaves[i]
            key = (leaf.__class__, leaf)  # 1, 1.0 and True are equal keys otherwise
            text = cache.get(key)
            if text is None:
                text = cache[key] = self.scalar(leaf).encode()
            out.append(text)
            out.append(parts[n])
        return out

    def fill(self, leaves: list) -> str:
        return b"".join(self.pieces(leaves)).decode()

    def dump(self, value: Any) -> str:
        try:
            return self.fill(self.leaves(value))
        except NeedsFullDump:
            return self.full(value)


class CanonicalTemplate(Template):
    """yamlio.canonical (the JSON a card's digest is taken of), as text."""

    quote = '"'
    cache: ClassVar[dict[tuple[type, Any], bytes]] = {}

    @staticmethod
    def full(value: Any) -> str:
        return yamlio.canonical(value).decode()

    @staticmethod
    def scalar(value: Any) -> str:
        return json_scalar(value)
