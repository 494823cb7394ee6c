"""Strict YAML: what PyYAML silently accepts, a card refuses with the place and the reason."""

from __future__ import annotations

import pytest

from gitreg.errors import InvalidCard
from gitreg.store import yamlio

LAUGHS = "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c]\n"


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        (LAUGHS, "anchors and aliases are not allowed"),
        ("a: &x 1\nb: 2\n", "anchors and aliases are not allowed"),
        ("a: 1\na: 2\n", "duplicate key 'a'"),
        ("a: !!python/object/apply:os.system [echo hi]\n", "YAML tags"),
        ("a: [1, 2\n", "line"),
        ("a:\n\tb: 1\n", "line"),
    ],
)
def test_refused(text, expect):
    with pytest.raises(InvalidCard) as err:
        yamlio.load(text, "card.yaml")
    assert expect in err.value.message
    assert err.value.message.startswith("card.yaml")


@pytest.mark.parametrize(
    ("text", "kind"), [("- a\n- b\n", "a list"), ("", "empty"), ("just text\n", "a str"), ("42\n", "a int")]
)
def test_top_level_must_be_a_mapping(text, kind):
    with pytest.raises(InvalidCard) as err:
        yamlio.load_mapping(text, "card.yaml")
    assert kind in err.value.message


def test_size_limit_is_checked_before_parsing():
    with pytest.raises(InvalidCard) as err:
        yamlio.load("a: " + "x" * 300_000, "big.yaml")
    assert "over the limit" in err.value.message


def test_dates_stay_strings_and_digest_is_stable():
    value = yamlio.load("when: 2024-01-02\nver: '1.10'\n", "c")
    assert value == {"when": "2024-01-02", "ver": "1.10"}
    again = yamlio.load(yamlio.dump(value), "c")
    assert yamlio.digest(again) == yamlio.digest(value)
    assert yamlio.digest({"b": 1, "a": 2}) == yamlio.digest({"a": 2, "b": 1})
