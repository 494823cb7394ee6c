"""The shipped schemas are valid draft 2020-12, and the cards in tests/cards say what they must.

Each bad card is named for the rule it breaks and starts with '# expect: TEXT', a
fragment of the error the validator must report for it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from gitreg.errors import InvalidCard
from gitreg.model.card import validate
from gitreg.model.policy import DEFAULT_POLICY, Policy
from gitreg.store import schemas

CARDS = Path(__file__).parent / "cards"


def _expect(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must say what it expects"
    return first.removeprefix("# expect: ")


@pytest.mark.parametrize("name", schemas.names())
def test_schema_is_valid_against_the_metaschema(name):
    schema = schemas.load(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schemas_ship_inside_the_installed_package():
    from importlib import resources

    packaged = resources.files("gitreg.schema_files")
    assert all((packaged / f"{n}.schema.json").is_file() for n in schemas.names())


@pytest.mark.parametrize("path", sorted((CARDS / "good").glob("*.yaml")), ids=lambda p: p.stem)
def test_good_cards_pass(path):
    validate(yaml.safe_load(path.read_text()))


@pytest.mark.parametrize("path", sorted((CARDS / "bad").glob("*.yaml")), ids=lambda p: p.stem)
def test_bad_cards_fail_with_their_reason(path):
    with pytest.raises(InvalidCard) as err:
        validate(yaml.safe_load(path.read_text()))
    assert any(_expect(path) in d for d in err.value.details), err.value.details


def test_production_schema_extends_the_card_schema():
    good = yaml.safe_load((CARDS / "good" / "churn-1.1.0.yaml").read_text())
    validate(good, "production")
    relaxed = yaml.safe_load((CARDS / "good" / "no-dvc-0.1.0-rc.1.yaml").read_text())
    validate(relaxed)  # fine for registration
    with pytest.raises(InvalidCard):
        validate(relaxed, "production")
    for path in (CARDS / "bad").glob("*.yaml"):  # what the base schema refuses, production does too
        with pytest.raises(InvalidCard):
            validate(yaml.safe_load(path.read_text()), "production")


@pytest.mark.parametrize("path", sorted((CARDS / "production-bad").glob("*.yaml")), ids=lambda p: p.stem)
def test_production_bad_cards(path):
    card = yaml.safe_load(path.read_text())
    validate(card)  # registrable
    with pytest.raises(InvalidCard) as err:
        validate(card, "production")
    assert any(_expect(path) in d for d in err.value.details), err.value.details


ISSUE_POLICY = (Path(__file__).parent.parent / "examples" / "registry.yaml").read_text()


def test_policies_parse():
    default = Policy.parse(DEFAULT_POLICY)
    assert default.stages["production"].sources == ("staging",)
    assert default.stages["staging"].sources is None
    policy = Policy.parse(ISSUE_POLICY)
    assert [g.describe() for g in policy.stages["production"].gates] == [
        "accuracy >= 0.9",
        "fairness.demographic_parity_gap <= 0.05",
    ]
    assert policy.dvc_required and not policy.signing_required
    assert policy.validators[0]["timeout"] == 120


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("version: one\nstages: {a: {}}\n", "version"),
        ("version: 1\nstages: {}\n", "stages"),
        ("version: 1\nstages: {prod: {from: [nowhere]}}\n", "unknown stage"),
        ("version: 1\nstages: {prod: {gates: [{metric: acc}]}}\n", "gates/0"),
        ("version: 1\nstages: {prod: {max_versions: 0}}\n", "max_versions"),
        ("version: 1\nstages: {Prod: {}}\n", "stages"),
        ("version: 1\nstages: {prod: {}}\nsigning: {registration: maybe}\n", "signing/registration"),
        ("version: 1\nstages: {prod: {}}\nextra: 1\n", "unknown field"),
    ],
)
def test_bad_policies_are_refused(text, expect):
    with pytest.raises(InvalidCard) as err:
        Policy.parse(text)
    assert expect in str(err.value)


def test_a_policy_of_a_newer_format_says_upgrade_not_invalid():
    from gitreg.errors import FormatMismatch

    with pytest.raises(FormatMismatch) as err:
        Policy.parse("version: 2\nstages: {a: {}}\nfeature_of_format_2: yes\n")
    assert "written by a newer gitreg (format 2)" in str(err.value) and err.value.exit_code == 2
