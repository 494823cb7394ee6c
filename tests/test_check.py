"""The check's rules, each positive and negative, judged by the base's policy."""

from __future__ import annotations

import pytest
from registry_helpers import (
    GOOD,
    POLICY,
    THIN_CARD,
    WEAK,
    advance,
    commit,
    judge,
    make_project,
    rules_hit,
    set_stages,
    train,
)

from gitreg.model.card import tag_message
from gitreg.store import layout, yamlio


@pytest.fixture
def reg(tmp_path):
    """churn 1.0.0 (passes the production gates) and 1.1.0 (fails accuracy), both registered."""
    reg = make_project(tmp_path / "p")
    train(reg, "churn", GOOD)
    train(reg, "churn", WEAK)
    return reg


def only(report, rule):
    return [f for f in report.findings if f.rule == rule]


# --- a valid change ------------------------------------------------------------------------


def test_a_registration_passes_every_rule(reg):
    before = reg.require_head()
    train(reg, "fraud", GOOD)
    report = judge(reg, reg.require_head(), before)
    assert report.ok, report.findings
    assert {
        "schema",
        "immutable",
        "binding",
        "transition",
        "gate",
        "validator",
        "policy-alone",
        "capacity",
        "registered",
    } <= set(report.rules)


def test_check_of_the_whole_registry_from_nothing_passes(reg):
    assert reg.check(base="0" * 40).ok


# --- schema ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, content, says",
    [
        ("models/churn/versions/2.0.0.yaml", "name: [unclosed", "models/churn/versions/2.0.0.yaml"),
        ("models/churn/versions/2.0.0.yaml", "a: &x 1\nb: *x\n", "anchors"),
        ("models/churn/versions/2.0.0.yaml", "name: churn\nname: churn\n", "duplicate key"),
        ("models/churn/versions/2.0.0.yaml", "- a list\n", "mapping"),
        ("models/churn/versions/2.0.0.yaml", "name: churn\nversion: 2.0.0\n", "overview"),
        ("models/churn/versions/2.0.0.tag", "tag: churn@v9.9.9\nobject: 123\n", "40-hex"),
        ("models/churn/stages.yaml", "staging: 1.0.0\n", "list of versions"),
        ("models/churn/stages.yaml", "staging: [1.0]\n", "not a version"),
        ("models/churn/stages.yaml", "staging: [1.0.0, 1.0.0]\n", "twice"),
        ("models/churn/stages.yaml", "[staging]\n", "mapping"),
    ],
)
def test_a_broken_file_is_a_schema_finding_not_a_crash(reg, path, content, says):
    report = judge(reg, commit(reg, {path: content}))
    found = [f for f in only(report, "schema") if f.file == path]
    assert found and says in found[0].message, report.findings
    assert found[0].fix


def test_a_card_whose_name_does_not_match_its_path_fails(reg):
    card = reg.view().card("churn", "1.0.0")
    report = judge(reg, commit(reg, {"models/churn/versions/3.0.0.yaml": card}))
    assert any("version: is '1.0.0'" in f.message for f in only(report, "schema"))


def test_a_new_model_yaml_of_the_wrong_shape_fails(reg):
    report = judge(reg, commit(reg, {"models/other/model.yaml": {"name": "churn", "owners": "nobody"}}))
    messages = " ".join(f.message for f in only(report, "schema"))
    assert "owners" in messages and "model 'other'" in messages


def test_a_policy_change_that_breaks_the_policy_schema_fails(reg):
    report = judge(reg, commit(reg, {"registry.yaml": "version: 1\nstages: {}\n"}))
    assert [f.file for f in only(report, "schema")] == ["registry.yaml"]


def test_deleting_the_policy_fails(reg):
    report = judge(reg, commit(reg, {"registry.yaml": None}))
    assert any("deletes the policy" in f.message for f in only(report, "schema"))


def test_a_valid_policy_change_alone_passes(reg):
    lowered = POLICY.replace("min: 0.9", "min: 0.85")
    assert judge(reg, commit(reg, {"registry.yaml": lowered})).ok


# --- layout ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["notes.txt", "models/churn/extra.yaml", "models/churn/versions/v1.0.0.yaml", "models/Bad/model.yaml"],
)
def test_files_outside_the_layout_fail(reg, path):
    report = judge(reg, commit(reg, {path: "x: 1\n"}))
    assert [f.file for f in only(report, "layout")] == [path]


def test_a_model_without_model_yaml_fails(reg):
    report = judge(reg, set_stages(reg, "ghost", {"staging": ["1.0.0"]}))
    assert any(f.file == "models/ghost/model.yaml" for f in only(report, "layout"))
    assert only(report, "registered")


# --- immutability ----------------------------------------------------------------------------


def test_editing_a_merged_card_fails(reg):
    card = reg.view().card("churn", "1.0.0")
    card["overview"] = "Better words, same version."
    report = judge(reg, commit(reg, {layout.card_path("churn", "1.0.0"): card}))
    found = only(report, "immutable")
    assert found and found[0].file == "models/churn/versions/1.0.0.yaml"
    assert "register a new version" in found[0].fix


@pytest.mark.parametrize(
    "path", ["models/churn/versions/1.0.0.yaml", "models/churn/versions/1.0.0.tag", "models/churn/model.yaml"]
)
def test_deleting_or_editing_merged_files_fails(reg, path):
    deleted = judge(reg, commit(reg, {path: None}))
    assert [f.file for f in only(deleted, "immutable")] == [path]
    edited = judge(reg, commit(reg, {path: reg.view().read(path) + b"# touched\n"}))
    assert [f.file for f in only(edited, "immutable")] == [path]


# --- binding ---------------------------------------------------------------------------------


def _card_and_record(reg, name, version):
    view = reg.view()
    return view.card(name, version), view.read(layout.tag_record_path(name, version))


def test_a_new_card_without_its_tag_fails(reg):
    head = reg.require_head()  # the registration of 1.1.0
    base = reg.store.commit_info(head).parents[0]
    assert judge(reg, head, base).ok
    report = judge(reg, head, base, refs={layout.tag_ref("churn", "1.1.0"): None})
    assert any("does not exist" in f.message for f in only(report, "binding"))


def test_a_lightweight_tag_fails(reg):
    base = reg.store.commit_info(reg.require_head()).parents[0]
    source = reg.view().card("churn", "1.1.0")["provenance"]["source"]["commit"]
    report = judge(reg, reg.require_head(), base, refs={layout.tag_ref("churn", "1.1.0"): source})
    assert any("lightweight" in f.message for f in only(report, "binding"))


def test_a_tag_on_another_commit_or_with_another_digest_fails(reg):
    base = reg.store.commit_info(reg.require_head()).parents[0]
    card = reg.view().card("churn", "1.1.0")
    other_commit = reg.view().card("churn", "1.0.0")["provenance"]["source"]["commit"]
    ident = reg.store.ident()
    wrong_place = reg.store.make_tag(
        "churn@v1.1.0",
        other_commit,
        tag_message("churn", "1.1.0", yamlio.digest(card)),
        sign=False,
        ident=ident,
    )
    report = judge(reg, reg.require_head(), base, refs={layout.tag_ref("churn", "1.1.0"): wrong_place})
    messages = [f.message for f in only(report, "binding")]
    assert any("source commit is" in m for m in messages)
    assert any("recorded" in m for m in messages)  # and it is not the tag object registered
    wrong_digest = reg.store.make_tag(
        "churn@v1.1.0",
        card["provenance"]["source"]["commit"],
        tag_message("churn", "1.1.0", "0" * 64),
        sign=False,
        ident=ident,
    )
    report = judge(reg, reg.require_head(), base, refs={layout.tag_ref("churn", "1.1.0"): wrong_digest})
    assert any("not the one that was tagged" in f.message for f in only(report, "binding"))


def test_a_card_without_its_tag_record_fails(reg):
    base = reg.store.commit_info(reg.require_head()).parents[0]
    head = commit(reg, {layout.tag_record_path("churn", "1.1.0"): None}, parent=reg.require_head())
    # Judged from the base, the change adds the card but no record.
    report = judge(reg, head, base)
    assert any("no tag record" in f.message for f in only(report, "binding"))


def test_a_tag_record_without_a_card_fails(reg):
    _, record = _card_and_record(reg, "churn", "1.0.0")
    report = judge(reg, commit(reg, {"models/churn/versions/4.0.0.tag": record}))
    assert any("no card" in f.message for f in only(report, "binding"))


# --- stages: transition, registered, capacity --------------------------------------------------


def test_entering_production_without_staging_fails(reg):
    report = judge(reg, set_stages(reg, "churn", {"production": ["1.0.0"]}))
    found = only(report, "transition")
    assert found and "only from staging" in found[0].message
    assert "gitreg promote churn@1.0.0 staging" in found[0].fix


def test_a_new_version_may_enter_a_stage_without_from(reg):
    assert judge(reg, set_stages(reg, "churn", {"staging": ["1.0.0", "1.1.0"]})).ok


def test_entering_from_an_allowed_stage_passes(reg):
    advance(reg, set_stages(reg, "churn", {"staging": ["1.0.0"]}))
    assert judge(reg, set_stages(reg, "churn", {"production": ["1.0.0"]})).ok


def test_an_unknown_stage_fails(reg):
    report = judge(reg, set_stages(reg, "churn", {"canary": ["1.0.0"]}))
    assert any("no stage 'canary'" in f.message for f in only(report, "transition"))


def test_an_unregistered_version_in_a_stage_fails(reg):
    report = judge(reg, set_stages(reg, "churn", {"staging": ["9.9.9"]}))
    assert [f.version for f in only(report, "registered")] == ["9.9.9"]


def test_a_second_production_version_beyond_capacity_fails(reg):
    advance(reg, set_stages(reg, "churn", {"staging": ["1.0.0", "1.1.0"]}))
    advance(reg, set_stages(reg, "churn", {"staging": ["1.1.0"], "production": ["1.0.0"]}))
    # 1.1.0 fails the gates, so lower them by a policy change landed alone first.
    advance(reg, commit(reg, {"registry.yaml": POLICY.replace("min: 0.9", "min: 0.5")}))
    report = judge(reg, set_stages(reg, "churn", {"production": ["1.0.0", "1.1.0"]}))
    assert rules_hit(report) == {"capacity"}
    assert "archive" in report.findings[0].fix.lower()
    archived = set_stages(reg, "churn", {"production": ["1.1.0"], "archived": ["1.0.0"]})
    assert judge(reg, archived).ok


# --- gates and the stage's card ----------------------------------------------------------------


def _in_staging(reg):
    advance(reg, set_stages(reg, "churn", {"staging": ["1.0.0", "1.1.0"]}))


def test_a_gate_min_failure_names_the_gate_and_the_value(reg):
    _in_staging(reg)
    report = judge(reg, set_stages(reg, "churn", {"staging": ["1.0.0"], "production": ["1.1.0"]}))
    found = only(report, "gate")
    assert len(found) == 1 and "accuracy = 0.8" in found[0].message
    assert "accuracy >= 0.9" in found[0].message and "base policy" in found[0].message
    assert found[0].file == "models/churn/versions/1.1.0.yaml"


def test_a_dotted_fairness_gate_max_failure(tmp_path):
    reg = make_project(tmp_path / "p")
    train(reg, "churn", {"accuracy": 0.95, "fairness": {"demographic_parity_gap": 0.08}})
    advance(reg, set_stages(reg, "churn", {"staging": ["1.0.0"]}))
    report = judge(reg, set_stages(reg, "churn", {"production": ["1.0.0"]}))
    found = only(report, "gate")
    assert len(found) == 1
    assert "fairness.demographic_parity_gap = 0.08 fails" in found[0].message
    assert "<= 0.05" in found[0].message


def test_a_missing_gated_metric_fails(tmp_path):
    reg = make_project(tmp_path / "p")
    train(reg, "churn", {"accuracy": 0.95})
    advance(reg, set_stages(reg, "churn", {"staging": ["1.0.0"]}))
    report = judge(reg, set_stages(reg, "churn", {"production": ["1.0.0"]}))
    found = only(report, "gate")
    assert len(found) == 1 and "no metric 'fairness.demographic_parity_gap'" in found[0].message


def test_passing_gates_pass(reg):
    _in_staging(reg)
    assert judge(reg, set_stages(reg, "churn", {"staging": ["1.1.0"], "production": ["1.0.0"]})).ok


def test_a_gate_on_a_dataset_slice(tmp_path):
    policy = POLICY.replace(
        "- {metric: accuracy, min: 0.9}", "- {metric: accuracy, min: 0.9, dataset: holdout}"
    )
    reg = make_project(tmp_path / "p", policy)
    train(reg, "churn", GOOD)
    advance(reg, set_stages(reg, "churn", {"staging": ["1.0.0"]}))
    report = judge(reg, set_stages(reg, "churn", {"production": ["1.0.0"]}))
    assert any("no metric 'accuracy' on holdout" in f.message for f in only(report, "gate"))


def test_a_thin_card_cannot_enter_a_production_card_stage(tmp_path):
    reg = make_project(tmp_path / "p")
    train(reg, "churn", GOOD, card=THIN_CARD)
    report = judge(reg, set_stages(reg, "churn", {"staging": ["1.0.0"]}))
    assert report.ok  # staging asks for the default card only
    advance(reg, set_stages(reg, "churn", {"staging": ["1.0.0"]}))
    report = judge(reg, set_stages(reg, "churn", {"production": ["1.0.0"]}))
    found = only(report, "stage-card")
    assert len(found) == 1 and "users" in found[0].message and "considerations" in found[0].message


# --- policy changes land alone ---------------------------------------------------------------


def test_a_policy_change_with_anything_else_fails(reg):
    head = commit(
        reg,
        {
            "registry.yaml": POLICY.replace("min: 0.9", "min: 0.85"),
            layout.stages_path("churn"): {"staging": ["1.0.0"]},
        },
    )
    found = only(judge(reg, head), "policy-alone")
    assert len(found) == 1 and found[0].file == "registry.yaml"
    assert "models/churn/stages.yaml" in found[0].message


def test_a_signers_change_with_anything_else_fails(reg):
    head = commit(
        reg,
        {
            "signers/allowed_signers": "a@example.com ssh-ed25519 AAAA\n",
            layout.stages_path("churn"): {"staging": ["1.0.0"]},
        },
    )
    assert [f.file for f in only(judge(reg, head), "policy-alone")] == ["signers/allowed_signers"]


def test_lowering_a_gate_and_promoting_in_one_change_fails_by_the_base_gate(reg):
    """Acceptance 2: the change lowers the threshold that the promoted version only passes when
    lowered; the check judges by the base's gate and names it."""
    _in_staging(reg)
    head = commit(
        reg,
        {
            "registry.yaml": POLICY.replace("min: 0.9", "min: 0.75"),
            layout.stages_path("churn"): {"staging": ["1.0.0"], "production": ["1.1.0"]},
        },
    )
    report = judge(reg, head)
    assert not report.ok
    gate = only(report, "gate")
    assert len(gate) == 1 and "accuracy >= 0.9 of the base policy" in gate[0].message
    assert "0.75" not in gate[0].message
    assert only(report, "policy-alone")
    # Landed alone first, the lowered gate then lets the same promotion through.
    advance(reg, commit(reg, {"registry.yaml": POLICY.replace("min: 0.9", "min: 0.75")}))
    assert judge(reg, set_stages(reg, "churn", {"staging": ["1.0.0"], "production": ["1.1.0"]})).ok
