"""Strict YAML in, deterministic YAML out, and the canonical digest of a card.

Cards come from people and from merge requests, so the loader refuses what
PyYAML would silently accept: anchors and aliases (billion laughs), duplicate
keys (the last would win), tags (Python objects), and dates (turned into
objects that JSON cannot hold). It uses libyaml's parser where present.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from gitreg.errors import InvalidCard
from gitreg.store.layout import MAX_CARD_BYTES, SEMVER_PATTERN

if TYPE_CHECKING:
    import yaml


@functools.cache
def _yaml() -> tuple[Any, type, type, type]:
    """PyYAML and the strict loader, made on first use: a read whose files all have the plain
    shapes below never imports PyYAML (15 ms of a 130 ms `show NAME`)."""
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    class _StrictLoader(base):  # type: ignore[misc, valid-type]
        """Safe loader without timestamps and with duplicate-key detection."""

    # Timestamps stay strings: a date object is not JSON and changes the card's digest.
    _StrictLoader.yaml_implicit_resolvers = {
        ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for ch, resolvers in base.yaml_implicit_resolvers.items()
    }
    _StrictLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
    return yaml, base, _StrictLoader, dumper


def _construct_mapping(loader: yaml.constructor.SafeConstructor, node: yaml.MappingNode, deep: bool = False):
    import yaml

    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


def _where(mark: Any) -> str:
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""


def _refuse_anchors(text: str | bytes, source: str) -> None:
    # An anchor needs '&' and an alias '*': text with neither needs no second parse.
    if isinstance(text, bytes):
        if b"&" not in text and b"*" not in text:
            return
    elif "&" not in text and "*" not in text:
        return
    yaml, base, _, _ = _yaml()
    for event in yaml.parse(text, Loader=base):
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent) or anchor:
            raise InvalidCard(
                f"{source}: YAML anchors and aliases are not allowed{_where(event.start_mark)}.",
                hint="Write the repeated value out in full.",
            )


def load(data: str | bytes, source: str, *, max_bytes: int = MAX_CARD_BYTES) -> Any:
    """Parse untrusted YAML strictly. Raises InvalidCard naming SOURCE and the place."""
    size = len(data.encode() if isinstance(data, str) else data)
    if size > max_bytes:
        raise InvalidCard(
            f"{source} is {size} bytes, over the limit of {max_bytes} bytes.",
            hint="Cards hold metadata, not data: move large content to files referenced by path.",
        )
    yaml, _, strict, _ = _yaml()
    try:
        _refuse_anchors(data, source)
        return yaml.load(data, Loader=strict)  # strict and safe: see _yaml()
    except InvalidCard:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if "could not determine a constructor" in str(exc):
            problem = "YAML tags (such as !!python/object) are not allowed"
        raise InvalidCard(f"{source}: {problem}{_where(mark)}.", hint="Fix the YAML and try again.") from None


# The one shape a stages.yaml has (yamlio.dump of stage -> versions): "stage:" lines, each
# followed by "- VERSION" lines, or "stage: []". Such text is read without the YAML machinery
# (a list of 10,000 models reads 10,000 of them); anything else goes through load().
_STAGE_KEY = re.compile(r"([a-z][a-z0-9_-]*):( \[\])?")
_VERSION_ITEM = re.compile(SEMVER_PATTERN)
# The plain words YAML 1.1 reads as booleans or null, not as strings.
_NOT_STRINGS = frozenset({"yes", "no", "true", "false", "on", "off", "null"})


def load_stage_lists(data: bytes, source: str, *, max_bytes: int = MAX_CARD_BYTES) -> Any:
    """What load() gives for DATA, read directly when it has the plain shape of a stages file."""
    found = _stage_lists(data) if len(data) <= max_bytes else None
    return load(data, source, max_bytes=max_bytes) if found is None else found


def _stage_lists(data: bytes) -> dict[str, list[str] | None] | None:
    if not data.endswith(b"\n") or not data.isascii():
        return None
    found: dict[str, list[str] | None] = {}
    current = None  # the stage whose "- VERSION" lines follow
    for line in data.decode("ascii").split("\n")[:-1]:
        if line.startswith("- "):
            if current is None or not _VERSION_ITEM.fullmatch(line[2:]):
                return None
            items = found[current]
            if items is None:
                found[current] = items = []
            items.append(line[2:])
            continue
        m = _STAGE_KEY.fullmatch(line)
        if m is None or m[1] in found or m[1] in _NOT_STRINGS:
            return None  # another shape, a duplicate key (load() says so), a boolean key
        found[m[1]] = [] if m[2] else None  # "stage:" with no item is null, as in YAML
        current = None if m[2] else m[1]
    return found or None


# The plain shape yamlio.dump gives a small mapping such as model.yaml: top-level keys whose
# values are scalars, [] or {}, a mapping one level down, or a list of scalars or of flat
# mappings. Scalars: single-quoted, or plain words that YAML can only read as strings. Such
# text is read without the YAML machinery; anything else (a number, a nested list, a long
# folded line, a comment, a duplicate key) goes through load().
_KEY = r"[a-z_][a-z0-9_]*"
_SCALAR = r"'(?:[\x20-\x26\x28-\x7e]|'')*'|[A-Za-z](?:[A-Za-z0-9 ._@/,()+-]*[A-Za-z0-9._@/,()+-])?"
_TOP = re.compile(rf"({_KEY}):(?: ({_SCALAR}|\[\]|\{{\}}))?")
_CHILD = re.compile(rf"(- |  )(?:({_KEY}): ({_SCALAR}|\[\]|\{{\}})|({_SCALAR}))")


def load_simple(data: bytes, source: str, *, max_bytes: int = MAX_CARD_BYTES) -> Any:
    """What load() gives for DATA, read directly when it has the plain shape described above."""
    found = _simple(data) if len(data) <= max_bytes else None
    return load(data, source, max_bytes=max_bytes) if found is None else found


def _simple(data: bytes) -> dict[str, Any] | None:
    if not data.endswith(b"\n") or not data.isascii():
        return None
    top: dict[str, Any] = {}
    parent: str | None = None  # the top-level key a "KEY:" line opened, whose children follow
    item: dict[str, Any] | None = None  # the list item mapping "  KEY: VALUE" lines continue
    for line in data.decode("ascii").split("\n")[:-1]:
        if (m := _TOP.fullmatch(line)) is not None:
            if m[1] in top or not _strings(m[1], m[2]):
                return None
            top[m[1]] = None if m[2] is None else _value(m[2])  # "KEY:" alone is null, as in YAML
            parent, item = (m[1] if m[2] is None else None), None
            continue
        c = _CHILD.fullmatch(line)
        if c is None or parent is None or not _strings(c[2] or "", c[3] or c[4]):
            return None
        held = top[parent]
        if c[1] == "- ":
            if held is None:
                top[parent] = held = []
            if not isinstance(held, list):
                return None
            item = {c[2]: _value(c[3])} if c[2] else None
            held.append(_value(c[4]) if item is None else item)
            continue
        if c[2] is None:
            return None  # a scalar on its own line: a folded one, or something else
        into = item if isinstance(held, list) else held
        if held is None:
            top[parent] = into = {}
        if into is None or c[2] in into:
            return None
        into[c[2]] = _value(c[3])
    return top or None


def _strings(key: str, text: str | None) -> bool:
    """Whether KEY and a plain TEXT are strings to YAML (not a boolean or null word)."""
    return key not in _NOT_STRINGS and (text is None or text.lower() not in _NOT_STRINGS)


def _value(text: str) -> Any:
    if text == "[]":
        return []
    if text == "{}":
        return {}
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    return text


def load_mapping(data: str | bytes, source: str, *, max_bytes: int = MAX_CARD_BYTES) -> dict:
    value = load(data, source, max_bytes=max_bytes)
    if not isinstance(value, dict):
        kind = "empty" if value is None else f"a {type(value).__name__}"
        raise InvalidCard(
            f"{source} must hold a YAML mapping at the top level, but it is {kind}.",
            hint="Write the card as 'key: value' lines.",
        )
    return value


def resolver() -> Any:
    """What the strict loader makes of a plain scalar: `resolver().resolve(yaml.ScalarNode, text,
    (True, False))` is its tag (str, int, bool, null...)."""
    _, _, strict, _ = _yaml()
    return strict("")


def dump(value: Any) -> str:
    """Deterministic YAML: the same value always gives the same bytes."""
    yaml, _, _, dumper = _yaml()
    return yaml.dump(
        value,
        Dumper=dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )


def canonical(value: Any) -> bytes:
    """The canonical form of a card: compact JSON, sorted keys, UTF-8."""
    import json  # writes and the check only: a read does not import it

    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def digest(value: Any) -> str:
    import hashlib

    return hashlib.sha256(canonical(value)).hexdigest()
