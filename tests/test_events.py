"""`gitreg events OLD NEW`: what a push changed, for deploy jobs."""

from __future__ import annotations

import json

from helpers import gitreg
from registry_helpers import GOOD, make_project, train


def kinds(found) -> list[tuple]:
    return [(e.kind, e.model, e.version, e.from_stage, e.to_stage) for e in found]


def test_events_of_registrations_promotions_and_archivals(tmp_path):
    reg = make_project(tmp_path / "p")
    start = reg.require_head()
    train(reg, "churn", GOOD)
    reg.merge(reg.promote("churn@1.0.0", "staging").branch)
    reg.merge(reg.promote("churn@1.0.0", "production").branch)
    middle = reg.require_head()
    train(reg, "churn", GOOD)
    reg.merge(reg.promote("churn@1.1.0", "staging").branch)
    reg.merge(reg.promote("churn@1.1.0", "production").branch)
    assert kinds(reg.events(start, middle)) == [
        ("registered", "churn", "1.0.0", None, None),
        ("promoted", "churn", "1.0.0", None, "staging"),
        ("promoted", "churn", "1.0.0", "staging", "production"),
    ]
    later = reg.events(middle, "gitreg")
    assert kinds(later) == [
        ("registered", "churn", "1.1.0", None, None),
        ("promoted", "churn", "1.1.0", None, "staging"),
        ("archived", "churn", "1.0.0", "production", "archived"),
        ("promoted", "churn", "1.1.0", "staging", "production"),
    ]
    assert later[-1].commit == reg.require_head()
    # All zeros: from the registry's beginning (a first push).
    assert len(reg.events("0" * 40, "gitreg")) == 7


def test_events_through_a_merge_commit_are_the_merged_change(tmp_path):
    reg = make_project(tmp_path / "p")
    train(reg, "churn", GOOD)
    train(reg, "fraud", GOOD)
    before = reg.require_head()
    one, two = reg.promote("churn@1.0.0", "staging"), reg.promote("fraud@1.0.0", "staging")
    reg.merge(one.branch)
    result = reg.merge(two.branch)
    assert not result.fast_forward
    found = reg.events(before, "gitreg")
    assert kinds(found) == [
        ("promoted", "churn", "1.0.0", None, "staging"),
        ("promoted", "fraud", "1.0.0", None, "staging"),
    ]
    assert found[-1].commit == result.commit  # the merge commit is the approved change


def test_events_cli(tmp_path):
    reg = make_project(tmp_path / "p")
    start = reg.require_head()
    train(reg, "churn", GOOD)
    reg.merge(reg.promote("churn@1.0.0", "staging").branch)
    root = reg.store.workdir
    proc = gitreg(root, "events", start, "gitreg", "--json")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert [(e["kind"], e["model"], e["version"], e["from_stage"], e["to_stage"]) for e in got] == [
        ("registered", "churn", "1.0.0", None, None),
        ("promoted", "churn", "1.0.0", None, "staging"),
    ]
    for e in got:
        assert e["commit"] and e["author"] == "Test Author" and e["time"]
    text = gitreg(root, "events", start, "gitreg")
    assert "promoted     churn@1.0.0 - -> staging" in text.stdout
