"""What the reads and the repair before a write do at scale (issue 14), asserted without a clock.

- The two plain-shape readers (stages.yaml, model.yaml) give what the strict YAML loader gives,
  or hand the text to it: whatever the text, the answer or the refusal is the same.
- `history NAME` (git finds the commits that touch the model) gives the events of the full walk.
- The repair before a write settles every crash leftover whatever model it names, checks the
  cards of the models the write touches, and leaves the rest to `gitreg repair`.
- A cached list trusts no entry of the wrong type; a list of another models/ tree re-reads.
- `show NAME` and `which` import neither PyYAML (plain files) nor the signature tools.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import git, gitreg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from registry_helpers import GOOD, WEAK, advance, commit, make_project, train

from gitreg.errors import InvalidCard
from gitreg.model import events
from gitreg.registry import Registry
from gitreg.store import cache, layout, yamlio

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import make_registry  # noqa: E402

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- the plain-shape readers ----------------------------------------------------------------

WORDS = ["yes", "No", "ON", "off", "true", "False", "null", "Null", "~", "y", "n", "0123", "1.10", "1e3"]
# Mostly what the fast readers take (letter-first plain words, semantic versions, lower-case
# keys), mixed with what YAML reads otherwise (booleans, numbers, indicators, any character).
PLAIN = st.from_regex(r"[A-Za-z][A-Za-z0-9 ._@/,()+-]{0,24}", fullmatch=True)
TEXT = st.one_of(
    PLAIN,
    PLAIN,
    st.sampled_from([*WORDS, "Data Science", "a: b", "x #y", "it's", "'q'", "-a", "- a", "&a", "*a", ""]),
    st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=0x2FF), max_size=30),
    st.text(alphabet="abcXYZ019 .,@/()+-_:#'\"&*!%|>{}[]\t\\", max_size=120),
)
KEY = st.one_of(
    st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True),
    st.sampled_from(["name", "owners", "on", "yes", "null", "No", "a-b", "1"]),
    TEXT,
)
FLAT = st.dictionaries(KEY, TEXT, max_size=3)
MODEL_VALUE = st.one_of(
    TEXT,
    st.just([]),
    st.just({}),
    st.lists(TEXT, max_size=3),
    st.lists(FLAT, max_size=3),
    FLAT,
    st.integers(),
    st.none(),
    st.booleans(),
)
NAME = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
PLAIN_MAP = st.dictionaries(NAME, PLAIN, min_size=1, max_size=3)
MODEL = st.one_of(
    # the shape gitreg writes (read fast; the mutations below take it out of that shape)
    st.dictionaries(
        NAME,
        st.one_of(PLAIN, st.lists(PLAIN, max_size=3), PLAIN_MAP, st.lists(PLAIN_MAP, max_size=3)),
        max_size=5,
    ),
    st.dictionaries(KEY, MODEL_VALUE, max_size=6),
)
NUMBER = st.integers(min_value=0, max_value=120).map(str)
PRE = st.from_regex(r"(0|[1-9][0-9]?|[a-z][a-z0-9-]{0,4})(\.(0|[1-9]|[a-z]{1,3})){0,2}", fullmatch=True)
SEMVER = st.builds(lambda a, b, c, pre: f"{a}.{b}.{c}" + (f"-{pre}" if pre else ""), NUMBER, NUMBER, NUMBER,
                   st.one_of(st.none(), PRE))  # fmt: skip
VERSION = st.one_of(
    SEMVER,
    SEMVER,
    st.sampled_from(["v1.0.0", "1.10", "01.0.0", "1.0.0+b", "1.0", "1_000"]),
    TEXT,
)
STAGE = st.one_of(
    st.from_regex(r"[a-z][a-z0-9_-]{0,12}", fullmatch=True),
    st.sampled_from(["production", "on", "yes", "null", "off", "true"]),
    TEXT,
)
STAGES = st.one_of(
    st.dictionaries(st.from_regex(r"[a-z][a-z0-9_-]{0,12}", fullmatch=True), st.lists(SEMVER, max_size=4)),
    st.dictionaries(STAGE, st.one_of(st.lists(VERSION, max_size=4), st.none()), max_size=4),
)


def _same(fast, data: bytes) -> None:
    """FAST(data) is what the strict loader gives, or the same refusal."""
    try:
        expected = yamlio.load(data, "models/m/x.yaml")
    except InvalidCard as exc:
        with pytest.raises(InvalidCard) as got:
            fast(data, "models/m/x.yaml")
        assert got.value.message == exc.message
        return
    assert fast(data, "models/m/x.yaml") == expected


def _mutations(text: str) -> list[bytes]:
    """The text, and the text changed line by line the ways a hand edit or an attacker might."""
    lines = text.split("\n")
    out = [text]
    for i in range(len(lines) - 1):
        for change in (
            lambda s: s + " ",
            lambda s: s + " # c",
            lambda s: " " + s,
            lambda s: s.replace("- ", "-", 1),
            lambda s: s.replace(": ", ":", 1),
            lambda s: s + ": x",
            lambda s: s.replace(" ", ": ", 1),
            lambda s: "  " + s,
            lambda s: s.upper(),
        ):
            out.append("\n".join([*lines[:i], change(lines[i]), *lines[i + 1 :]]))
        out.append("\n".join([*lines[: i + 1], lines[i], *lines[i + 1 :]]))  # a line twice
    return [t.encode() for t in out]


@PROPERTY
@given(MODEL)
def test_a_plain_model_file_reads_as_the_strict_loader_reads_it(value):
    for data in _mutations(yamlio.dump(value)):
        _same(yamlio.load_simple, data)


@PROPERTY
@given(STAGES)
def test_a_plain_stages_file_reads_as_the_strict_loader_reads_it(value):
    for data in _mutations(yamlio.dump(value)):
        _same(yamlio.load_stage_lists, data)


@pytest.mark.parametrize(
    "data",
    [
        b"staging:\n- 1.0.0\nproduction:\n- 1.1.0\n",
        b"a: []\n",
        b"a:\nb:\n- 1.0.0\n",
        b"name: churn\nowners:\n- name: Data Science\n  contact: ds@example.com\nlabels: []\n"
        b"artifact:\n  path: models/churn.json\ncreated_at: '2023-11-14T23:13:25+00:00'\n",
    ],
)
def test_the_shapes_gitreg_writes_take_the_fast_path(data):
    """Not a correctness claim (the properties above are): the speed claim, that the files
    `register` and `promote` write are read without PyYAML."""
    assert yamlio._stage_lists(data) is not None or yamlio._simple(data) is not None
    _same(yamlio.load_simple, data)


def test_a_fast_read_refuses_what_the_strict_loader_refuses():
    for data in (b"a:\n- 1.0.0\na:\n", b"on:\n- 1.0.0\n", b"name: x\nname: y\n", b"a: &x b\nc: *x\n"):
        _same(yamlio.load_simple, data)
        _same(yamlio.load_stage_lists, data)


# --- history ----------------------------------------------------------------------------------


def test_history_of_a_model_is_the_full_walk_filtered(tmp_path):
    """git picks the commits; the events are those of walking every commit: registrations,
    merged promotions (a merge whose second parent already holds the model's new files),
    policy changes, and nothing of the other models."""
    reg = make_project(tmp_path / "work")
    train(reg, "churn", GOOD)
    train(reg, "fraud", GOOD)
    train(reg, "churn", WEAK)
    reg.promote("churn@1.0.0", "staging")
    reg.merge("gitreg-promote/churn/v1.0.0/staging")
    reg.promote("fraud@1.0.0", "staging")
    reg.merge("gitreg-promote/fraud/v1.0.0/staging")
    head = reg.require_head()
    policy = reg.store.read_blob(reg.store.commit_tree(head), layout.POLICY_PATH) or b""
    advance(reg, commit(reg, {layout.POLICY_PATH: policy + b"# reviewed\n"}))
    reg.promote("churn@1.1.0", "staging")
    reg.merge("gitreg-promote/churn/v1.1.0/staging", ff=True)
    head = reg.require_head()
    everything = events.history(reg.store, head)
    for name in ("churn", "fraud"):
        mine = events.history(reg.store, head, name)
        assert mine == [e for e in everything if e.model in (name, "")]
        assert {e.kind for e in mine} >= {"registered", "promoted", "policy"}


# --- repair before a write --------------------------------------------------------------------


def _project(tmp_path: Path) -> Registry:
    reg = make_project(tmp_path / "work")
    for name in ("churn", "fraud"):
        train(reg, name, GOOD)
    return reg


def test_a_crash_leftover_of_another_model_is_settled_by_any_write(tmp_path):
    """A registration of churn killed between its ref moves: card landed, tag ref not, the
    pending ref holding the tag object. A promotion of fraud finishes it first."""
    reg = _project(tmp_path)
    work = tmp_path / "work"
    tag = git(work, "rev-parse", "refs/tags/churn@v1.0.0")
    git(work, "update-ref", "-d", "refs/tags/churn@v1.0.0")
    git(work, "update-ref", layout.pending_ref("churn", "1.0.0", tag), tag)
    proc = gitreg(work, "promote", "fraud@1.0.0", "staging")
    assert proc.returncode == 0, proc.stderr
    assert git(work, "rev-parse", "refs/tags/churn@v1.0.0") == tag
    assert git(work, "for-each-ref", layout.PENDING_PREFIX) == ""
    assert reg.repair().changed is False


def test_a_write_checks_the_cards_it_touches_and_repair_checks_them_all(tmp_path):
    """A tag deleted by hand (no crash, no pending ref): the write that touches its model
    restores it; a write of another model does not look (its cost follows what it touches);
    `gitreg repair` looks at every card."""
    _project(tmp_path)
    work = tmp_path / "work"
    churn, fraud = (git(work, "rev-parse", f"refs/tags/{m}@v1.0.0") for m in ("churn", "fraud"))
    git(work, "update-ref", "-d", "refs/tags/churn@v1.0.0")
    git(work, "update-ref", "-d", "refs/tags/fraud@v1.0.0")
    assert gitreg(work, "promote", "churn@1.0.0", "staging").returncode == 0
    assert git(work, "rev-parse", "refs/tags/churn@v1.0.0") == churn
    assert git(work, "rev-parse", "-q", "--verify", "refs/tags/fraud@v1.0.0", check=False) == ""
    proc = gitreg(work, "repair", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["tags_made"] == ["fraud@v1.0.0"]
    assert git(work, "rev-parse", "refs/tags/fraud@v1.0.0") == fraud


def test_push_checks_every_card_it_would_publish(tmp_path):
    """The remote holds the registry as it was; a new registration whose tag is then lost (its
    object pruned) is in what push would publish: refused, nothing pushed."""
    reg = _project(tmp_path)
    work = tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", "remote.git")
    git(work, "remote", "add", "origin", "../remote.git")
    assert gitreg(work, "push").returncode == 0
    before = git(tmp_path / "remote.git", "for-each-ref")
    train(reg, "fraud", WEAK)
    git(work, "update-ref", "-d", "refs/tags/fraud@v1.1.0")
    git(work, "prune", "--expire=now")
    proc = gitreg(work, "push")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "fraud@v1.1.0" in proc.stderr
    assert git(tmp_path / "remote.git", "for-each-ref") == before


# --- the cached list --------------------------------------------------------------------------


@pytest.fixture
def synthetic(tmp_path) -> Path:
    path = tmp_path / "reg"
    make_registry.build(3, 4, path, repack=False, say=lambda _: None)
    return path


@pytest.mark.parametrize(
    "field, bad",
    [("latest", 7), ("error", ["x"]), ("owners", [1]), ("stages", {"production": 3}), ("versions", "4")],
)
def test_a_cached_entry_of_the_wrong_type_is_not_trusted(synthetic, field, bad):
    reg = Registry.open(synthetic)
    first = [m.to_dict() for m in reg.list()]
    path = cache.directory(reg.store.common_dir) / "summaries.json"
    body = json.loads(path.read_text())
    assert body["tree"] == reg.store.entry_id(reg.store.commit_tree(reg.require_head()), "models")
    entry = next(iter(body["models"].values()))
    entry[field] = bad
    path.write_text(json.dumps(body))
    assert [m.to_dict() for m in Registry.open(synthetic).list()] == first
    assert cache.damage(reg.store.common_dir) is None  # rebuilt


def test_a_cache_written_for_another_models_tree_is_read_entry_by_entry(synthetic):
    """A cache file that claims other content for the current tree's models is only believed
    where the model's own subtree id matches."""
    reg = Registry.open(synthetic)
    first = [m.to_dict() for m in reg.list()]
    path = cache.directory(reg.store.common_dir) / "summaries.json"
    body = json.loads(path.read_text())
    body["tree"] = "0" * 40
    body["models"] = {
        f"{k.split()[0]} {'1' * 40}": {**v, "latest": "9.9.9"} for k, v in body["models"].items()
    }
    path.write_text(json.dumps(body))
    assert [m.to_dict() for m in Registry.open(synthetic).list()] == first


# --- what the hot reads import ----------------------------------------------------------------

PROBE = """
import sys
from gitreg.cli import fast
sys.stdout = open("{out}", "w", encoding="utf-8")
code = fast.run({argv!r})
sys.stdout.close()
print(code, ",".join(m for m in ("yaml", "gitreg.trust.signatures", "gitreg.trust.keys", "jsonschema")
                   if m in sys.modules), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["show", "churn-0000"], ["which", "churn-0000", "production"]])
def test_show_model_and_which_import_neither_yaml_nor_the_signature_tools(synthetic, tmp_path, argv):
    """On a registry this clone has read before (the policy's format verdict is cached)."""
    found = []
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-c", PROBE.format(out=tmp_path / "out.txt", argv=argv)],
            cwd=synthetic,
            capture_output=True,
            text=True,
        )
        code, _, loaded = proc.stderr.strip().rpartition("\n")[2].partition(" ")
        assert code == "0", proc.stderr
        found.append(loaded)
    assert found[0] == "yaml"  # the first command read the policy's format
    assert found[1] == "", f"{argv} imported {found[1]}"
    assert (tmp_path / "out.txt").read_text().strip()
