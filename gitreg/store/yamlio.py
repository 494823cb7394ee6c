"""Strict YAML in, deterministic YAML out, and the canonical digest of a card.

Cards come from people and from merge requests, so the loader refuses what
PyYAML would silently accept: anchors and aliases (billion laughs), duplicate
keys (the last would win), tags (Python objects), and dates (turned into
objects that JSON cannot hold). It uses libyaml's parser where present.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import yaml

from gitreg.errors import InvalidCard
from gitreg.store.layout import MAX_CARD_BYTES

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _StrictLoader(_Base):  # type: ignore[misc, valid-type]
    """Safe loader without timestamps and with duplicate-key detection."""


# Timestamps stay strings: a date object is not JSON and changes the card's digest.
_StrictLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in _Base.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: yaml.constructor.SafeConstructor, node: yaml.MappingNode, deep: bool = False):
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


_StrictLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def _where(mark: Any) -> str:
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""


def _refuse_anchors(text: str | bytes, source: str) -> None:
    # An anchor needs '&' and an alias '*': text with neither needs no second parse.
    if isinstance(text, bytes):
        if b"&" not in text and b"*" not in text:
            return
    elif "&" not in text and "*" not in text:
        return
    for event in yaml.parse(text, Loader=_Base):
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
    try:
        _refuse_anchors(data, source)
        return yaml.load(data, Loader=_StrictLoader)  # strict and safe: see _StrictLoader
    except InvalidCard:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if "could not determine a constructor" in str(exc):
            problem = "YAML tags (such as !!python/object) are not allowed"
        raise InvalidCard(f"{source}: {problem}{_where(mark)}.", hint="Fix the YAML and try again.") from None


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
    return _StrictLoader("")


def dump(value: Any) -> str:
    """Deterministic YAML: the same value always gives the same bytes."""
    return yaml.dump(
        value,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )


def canonical(value: Any) -> bytes:
    """The canonical form of a card: compact JSON, sorted keys, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def digest(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()
