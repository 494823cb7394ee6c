"""dvc.lock and dvc.yaml read a stage at a time, so a monorepo's 10,000-stage lock costs what one model needs.

A big DVC file in the plain block form DVC writes is split by the text of its `stages:` and
`artifacts:` mappings: each key's block is parsed (strictly, as a YAML document of its own) only
when asked for, and `having()` finds the few blocks whose `outs:` or `deps:` mention a path
without parsing the rest. A file in any other form (flow style, quoted keys, anchors, block
scalars, multi-line quoted strings, duplicate keys, tabs) is parsed whole, as before, so the
split is only ever taken where it gives what the whole parse gives: a block is bounded by the
next line indented two spaces, and nothing allowed inside a block can reach past that line.

A block nobody asks for is never parsed, so a syntax error there is not reported here (DVC
itself reports it when it runs that stage).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Iterator, Mapping
from typing import Any

from gitreg.errors import InvalidCard
from gitreg.store import yamlio

LAZY_MIN_BYTES = 64 * 1024  # smaller files are parsed whole: it costs nothing and reports every error
SPLIT_KEYS = ("stages", "artifacts")

_TOP = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):(?: .*)?")
# Line patterns start at the newline before the line: re finds a literal first character fast,
# where '^' with re.M is tried at every position (7x slower on a 6 MB lock).
_COLUMN0 = re.compile(r"\n([^ #\n][^\n]*)")  # lines at column 0, comments aside
_INDENT2 = re.compile(r"\n  (?! )")  # lines indented two spaces: a mapping's keys
_COMMENT2 = re.compile(r"\n  #")
_KEY = re.compile(r"\n  ([A-Za-z0-9_][A-Za-z0-9_.@/+-]*):(?=\n)")
# A key YAML might read as other than a string starts like a number, '~', '=' or '<<', or is a short
# word (yes, No, ON, null...): only those are put to the resolver.
_MAYBE_NOT_STR = re.compile(r"\n(?:[-+0-9.~=<][^\n]*|[A-Za-z]{1,5})(?=\n)")
_CONTENT = re.compile(r"\n *[^ #\n]")  # a line that is neither blank nor a comment
_ODD = r"\n(?: | {3})[^ \n]"  # indented one or three spaces
# a block whose mapping is not at indent 4 (blank and comment lines may come first)
_DEEP = r"\n  [^ #\n][^\n]*(?:\n *(?:#[^\n]*)?(?=\n))*\n {5}"
_ODD_OR_DEEP = re.compile(f"{_ODD}|{_DEEP}")  # one pass over the text for both
# What could open a value that spans lines or reaches outside its block: flow collections,
# double quotes, anchors, aliases, tags, block scalars, reserved and complex-key indicators, and
# a single-quoted string that does not close on its own line.
_OPENER = re.compile(
    r"(?:^[ ]*(?:-[ ]+)*|:[ ]+)"
    r"(?:[\[{\"&*!|>%@`?]|'(?!(?:[^'\n]|'')*'[ ]*(?:#[^\n]*)?$))",
    re.M,
)
_OPENERS = "[{\"&*!|>%@`?'"  # what _OPENER looks for: most locks hold none of them


def load(data: bytes, source: str, *, max_bytes: int) -> dict:
    """DVC file DATA as a mapping; big `stages:`/`artifacts:` mappings come back as lazy Sections."""
    if len(data) >= LAZY_MIN_BYTES and len(data) <= max_bytes:
        try:
            text = data.decode()
        except UnicodeDecodeError:
            text = ""
        split = _split(text, source) if text else None
        if split is not None:
            return split
    return yamlio.load_mapping(data, source, max_bytes=max_bytes)


class Section(Mapping[str, Any]):
    """One top-level mapping of a DVC file, split by its keys: a key's value is parsed when read."""

    def __init__(self, text: str, source: str, spans: dict[str, tuple[int, int]]):
        self._text, self._source, self._spans = text, source, spans  # key -> (start, end) of its block
        self._values: dict[str, Any] = {}
        self._regions: dict[str, tuple[str, list[int], list[int]]] = {}
        self._names, self._starts = list(spans), [start for start, _ in spans.values()]

    def __getitem__(self, key: str) -> Any:
        if key not in self._values:
            start, end = self._spans[key]
            line = self._text.count("\n", 0, start)  # errors name the line in the whole file
            doc = yamlio.load("\n" * line + self._text[start:end], self._source, max_bytes=end - start + line)
            if not isinstance(doc, dict) or list(doc) != [key]:  # _split admits no other shape
                raise InvalidCard(f"{self._source}: cannot read {key!r} (line {line + 1}).")
            self._values[key] = doc[key]
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._spans)

    def __len__(self) -> int:
        return len(self._spans)

    def __contains__(self, key: object) -> bool:
        return key in self._spans

    def having(self, needle: str, under: str) -> Iterator[str]:
        """The keys whose `UNDER:` entry (outs, deps) holds NEEDLE in its text, in file order: every
        key whose parsed value could hold it, and maybe a few more (callers parse and compare).
        Lazily: a caller after the first match (every model's stage reads data/prepared) stops."""
        if under not in self._regions:
            self._regions[under] = self._index(under)
        joined, starts, origins = self._regions[under]
        last = None
        at = joined.find(needle)
        while at >= 0:  # str.find over one string of every region: C speed, a hit at a time
            origin = origins[bisect.bisect_right(starts, at) - 1]
            key = self._names[bisect.bisect_right(self._starts, origin) - 1]
            if key != last:
                last = key
                yield key
            at = joined.find(needle, at + 1)

    def _index(self, under: str) -> tuple[str, list[int], list[int]]:
        """Every UNDER region of the mapping in one string (NUL between regions, so no needle spans
        two), where each region starts in it, and where in the file."""
        lines = r"(?:(?:    -| {5,}|[ ]*#)[^\n]*\n|[ ]*\n)*"  # its list: items, deeper lines, comments
        region = re.compile(rf"\n    {re.escape(under)} *:[^\n]*\n" + lines)
        # This mapping only; each block follows a newline.
        begin, end = self._starts[0] - 1, self._spans[self._names[-1]][1]
        found = [(m.start(), m.group(0)) for m in region.finditer(self._text, begin, end)]
        texts = [text for _, text in found]
        starts = list(itertools.accumulate((len(text) + 1 for text in texts), initial=0))[:-1]
        return "\0".join(texts), starts, [at for at, _ in found]


def _split(text: str, source: str) -> dict | None:
    """TEXT with its big mappings as Sections, or None when it is not in the plain form (see above).
    Regular expressions do the line work: a 6 MB lock is not walked line by line in Python."""
    # PyYAML also breaks lines at \r, NEL, LS and PS: a "line" here would be two there.
    if not text.endswith("\n") or any(c in text for c in "\t\r\x85\u2028\u2029"):
        return None
    tops = [(m.start() + 1, m.end(), m.group(1)) for m in _COLUMN0.finditer(text)]
    if text[0] not in " #\n":
        first = text.index("\n")
        tops.insert(0, (0, first, text[:first]))
    if not tops or _CONTENT.search("\n" + text[: tops[0][0]]):
        return None  # indented content before the first key
    sections: dict[str, tuple[int, int]] = {}
    for k, (_start, end, line) in enumerate(tops):
        top = _TOP.fullmatch(line)
        if top is None and not line.startswith("- "):  # DVC writes a top-level list unindented
            return None  # '---', '...', a directive, a quoted or flow key: not the plain form
        if top is not None and top.group(1) in SPLIT_KEYS and line == f"{top.group(1)}:":
            if top.group(1) in sections:
                return None  # a duplicate key: the whole parse reports it
            sections[top.group(1)] = (end + 1, tops[k + 1][0] if k + 1 < len(tops) else len(text))
    split: dict[str, Section | None] = {}
    pieces, last = [], 0
    for key, (start, end) in sections.items():
        spans = _blocks(text, start, end)
        if spans is None:
            return None
        split[key] = Section(text, source, spans) if spans else None
        pieces += [text[last:start], "\n" * text.count("\n", start, end)]  # line numbers stay
        last = end
    try:
        top_doc = yamlio.load("".join([*pieces, text[last:]]), source, max_bytes=len(text) + 1)
    except InvalidCard:
        return None  # the whole parse says what is wrong, and where
    if not isinstance(top_doc, dict):
        return None
    for key, section in split.items():
        if top_doc.get(key, "missing") is not None:
            return None  # the key was also written elsewhere: the whole parse says what is wrong
        top_doc[key] = section
    return top_doc


def _blocks(text: str, start: int, end: int) -> dict[str, tuple[int, int]] | None:
    """The keys of the mapping in TEXT[START:END] (indent 2) -> (start, end) of their blocks."""
    # START follows a newline: the patterns below start at it
    if _ODD_OR_DEEP.search(text, start - 1, end):
        return None
    if any(text.find(c, start, end) >= 0 for c in _OPENERS) and _OPENER.search(text, start, end):
        return None
    found = [(m.group(1), m.start() + 1) for m in _KEY.finditer(text, start - 1, end)]
    if len(found) != len(_INDENT2.findall(text, start - 1, end)) - len(
        _COMMENT2.findall(text, start - 1, end)
    ):
        return None  # a line at indent 2 that is no plain `key:`: a value on its line, a quoted key, a list
    if _CONTENT.search(text, start - 1, found[0][1] - 1 if found else end):
        return None  # content before the first key
    names = [name for name, _ in found]
    if len(set(names)) != len(names):
        return None  # a duplicate key: the whole parse reports it
    if _MAYBE_NOT_STR.search("\n".join(["", *names, ""])) and not all(map(plain_str, names)):
        return None  # a key YAML reads as a number, a bool or null
    ends = [at for _, at in found[1:]] + [end]
    return {name: (at, stop) for (name, at), stop in zip(found, ends, strict=True)}


def plain_str(key: str) -> bool:
    """Does KEY, written plain, read as a string (not a number, a bool or null)?"""
    import yaml  # a plain key is rare: most locks never load PyYAML's resolver here

    return _resolver().resolve(yaml.ScalarNode, key, (True, False)) == "tag:yaml.org,2002:str"


@functools.cache
def _resolver() -> Any:
    return yamlio.resolver()
