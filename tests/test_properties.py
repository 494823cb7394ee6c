"""Property tests (hypothesis) over what a user types: model names, versions and cards.

Whatever the input, `gitreg register` either registers it, and `gitreg show NAME@VERSION --json`
gives back exactly the card it registered (with the narrative exactly as written), or it fails
cleanly: exit 1 or 2, one error with a hint, no traceback, and refs, the registry branch, the
index and the work tree exactly as they were.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
import yaml
from helpers import gitreg, snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from registry_helpers import GOOD, make_project, train

from gitreg.store import layout

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
HOSTILE = [
    "no",
    "yes",
    "1.10",
    "0123",
    "~",
    "null",
    "- x",
    ": y",
    "&a",
    "*a",
    "!!python/object:os.system",
    "{}",
    "[]",
]


@pytest.fixture
def project(tmp_path) -> Path:
    reg = make_project(tmp_path / "work")
    train(reg, "churn", GOOD)
    return tmp_path / "work"


_versions = itertools.count(1)


def _register(project: Path, name: str, narrative: str | dict, version: str) -> tuple:
    card = project.parent / "narrative.yaml"
    card.write_text(
        narrative if isinstance(narrative, str) else yaml.safe_dump(narrative, allow_unicode=True)
    )
    args = ["register", name, "--card", str(card), "--artifact", "churn.bin"]
    before = snapshot(project)
    proc = gitreg(project, *args, "--metrics", "churn-metrics.json", "--version", version, "--json")
    return proc, before


def _fails_cleanly(project: Path, proc, before: dict) -> None:
    assert proc.returncode in (1, 2), proc.stdout + proc.stderr
    assert "error: " in proc.stderr, proc.stderr  # click's usage errors come after the usage line
    assert "bug in gitreg" not in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot(project) == before


def _round_trips(project: Path, proc, narrative: dict | None) -> None:
    registered = json.loads(proc.stdout)
    shown = gitreg(project, "show", f"{registered['name']}@{registered['version']}", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["card"] == registered["card"]
    if narrative is not None:
        for key, value in narrative.items():
            assert registered["card"][key] == value, key


names = st.one_of(
    st.from_regex(r"[a-z0-9][a-z0-9._-]{0,70}", fullmatch=True),
    st.text(min_size=0, max_size=80),
    st.sampled_from(
        ["-rf", "a..b", "x.lock", "churn/../../x", "Churn", "a@v1", "--upload-pack=x", "x\n", "."]
    ),
)


@SETTINGS
@given(name=names)
def test_any_model_name_registers_and_round_trips_or_fails_cleanly(project, name):
    proc, before = _register(project, name, _narrative(), f"1.0.{next(_versions)}")
    valid = _valid_name(name)
    if proc.returncode == 0:
        assert valid, f"{name!r} registered"
        _round_trips(project, proc, None)
    else:
        assert not valid, proc.stderr
        _fails_cleanly(project, proc, before)


def _valid_name(name: str) -> bool:
    try:
        layout.check_name(name)
    except Exception:
        return False
    return True


versions = st.one_of(
    st.builds(
        lambda a, b, c, pre: f"{a}.{b}.{c}" + (f"-{pre}" if pre else ""),
        st.integers(0, 10**6),
        st.integers(0, 10**6),
        st.integers(10**6, 10**9),  # above the counter used elsewhere: never taken
        st.one_of(st.none(), st.from_regex(r"(alpha|rc)(\.[0-9a-z]{1,5}){0,2}", fullmatch=True)),
    ),
    st.text(max_size=30),
    st.sampled_from(["v2.0.0", "01.2.3", "1.2", "1.2.3.4", "1.2.3-", "1.2.3+build", " 1.2.3", "1.2.3\n"]),
)


@SETTINGS
@given(version=versions)
def test_any_version_registers_and_round_trips_or_fails_cleanly(project, version):
    proc, before = _register(project, "churn", _narrative(), version)
    if proc.returncode == 0:
        assert layout.Version.is_valid(version), f"{version!r} registered"
        _round_trips(project, proc, None)
        assert json.loads(proc.stdout)["version"] == str(layout.Version.parse(version))
    else:
        _fails_cleanly(project, proc, before)


texts = st.one_of(st.text(max_size=200), st.sampled_from(HOSTILE))


def _narrative(**changes) -> dict:
    base = {
        "overview": "Churn classifier.",
        "owners": [{"name": "Data Science", "contact": "ds@example.com"}],
        "license": "proprietary",
        "intended_use": {"primary_uses": ["Rank accounts"]},
    }
    base.update(changes)
    return base


@SETTINGS
@given(
    overview=texts,
    owner=texts,
    license_=texts,
    uses=st.lists(texts, min_size=0, max_size=4),
    extra=st.dictionaries(st.text(max_size=12), texts, max_size=2),
)
def test_any_card_registers_and_round_trips_exactly_or_fails_cleanly(
    project, overview, owner, license_, uses, extra
):
    narrative = {
        **extra,
        **_narrative(
            overview=overview,
            owners=[{"name": owner}],
            license=license_,
            intended_use={"primary_uses": uses},
        ),
    }
    proc, before = _register(project, "churn", narrative, f"2.0.{next(_versions)}")
    if proc.returncode == 0:
        _round_trips(
            project, proc, {k: v for k, v in narrative.items() if k in ("overview", "license", "owners")}
        )
    else:
        _fails_cleanly(project, proc, before)


@SETTINGS
@given(text=st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1"))))
def test_any_card_file_registers_or_fails_cleanly(project, text):
    """Raw bytes as the card file: YAML bombs, tabs, BOMs, anchors, duplicate keys, garbage."""
    proc, before = _register(project, "churn", text, f"3.0.{next(_versions)}")
    if proc.returncode == 0:
        _round_trips(project, proc, None)
    else:
        _fails_cleanly(project, proc, before)
