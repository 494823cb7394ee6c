"""The name and version grammar: strict, and never fooled by newlines or option-like names."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitreg.errors import UsageError
from gitreg.store import layout

BAD_NAMES = [
    "Churn",
    "a..b",
    "a/b",
    "-rf",
    "--output=x",
    "x\n",
    "churn\n",
    "a" * 65,
    "model.lock",
    "",
    "churn.",
    ".churn",
    "_churn",
    "ch urn",
    "chürn",
    "a@b",
    "a#b",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_refused(name):
    with pytest.raises(UsageError) as err:
        layout.check_name(name)
    assert "not a valid model name" in err.value.message
    assert err.value.hint


@pytest.mark.parametrize("name", ["churn", "fraud-detector", "a", "0model", "x.y_z-1", "a" * 64])
def test_good_names_pass(name):
    assert layout.check_name(name) == name


@given(st.text(max_size=80))
def test_a_name_passes_only_if_it_is_in_the_grammar(name):
    ok = (
        re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", name) is not None
        and ".." not in name
        and not name.endswith((".lock", "."))
    )
    try:
        layout.check_name(name)
        accepted = True
    except UsageError:
        accepted = False
    assert accepted == ok


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("1.2.3", "1.2.3"),
        ("v1.2.3", "1.2.3"),
        ("0.0.1-rc.1", "0.0.1-rc.1"),
        ("10.20.30", "10.20.30"),
    ],
)
def test_versions_parse(text, expect):
    assert str(layout.Version.parse(text)) == expect


@pytest.mark.parametrize("text", ["1.2", "01.2.3", "1.2.3.4", "1.2.x", "v", "", "1.2.3\n", "1.2.3-"])
def test_bad_versions_are_refused(text):
    with pytest.raises(UsageError):
        layout.Version.parse(text)


def test_version_order_and_bumps():
    assert layout.sort_versions(["1.10.0", "1.2.0", "1.2.0-rc.1", "0.9.9"]) == [
        "0.9.9",
        "1.2.0-rc.1",
        "1.2.0",
        "1.10.0",
    ]
    v = layout.Version.parse("1.2.3")
    assert [str(v.bump(p)) for p in ("major", "minor", "patch")] == ["2.0.0", "1.3.0", "1.2.4"]


def test_model_refs():
    assert layout.ModelRef.parse("churn@1.2.0") == layout.ModelRef("churn", version="1.2.0")
    assert layout.ModelRef.parse("churn@v1.2.0") == layout.ModelRef("churn", version="1.2.0")
    assert layout.ModelRef.parse("churn@production") == layout.ModelRef("churn", stage="production")
    assert layout.ModelRef.parse("churn") == layout.ModelRef("churn")
    for bad in ("churn@", "churn@Prod", "Churn@1.0.0", "churn@1.0"):
        with pytest.raises(UsageError):
            layout.ModelRef.parse(bad)


def test_tag_names_round_trip():
    assert layout.tag_name("churn", "1.2.0") == "churn@v1.2.0"
    assert layout.parse_tag_name("churn@v1.2.0") == ("churn", "1.2.0")
    assert layout.parse_tag_name("churn#prod#1") is None
    assert layout.parse_tag_name("churn@vx") is None
