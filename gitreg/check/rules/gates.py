"""Gates: a version entering a stage meets the stage's metric gates and card schema, both as the
base's policy states them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gitreg.check.change import Change, Finding
from gitreg.errors import GitregError
from gitreg.model.card import metric_identity
from gitreg.model.policy import Gate
from gitreg.store import layout, schemas


def metric_value(card: dict, gate: Gate) -> tuple[bool, Any]:
    """(found, value) of the gate's metric, by the metric's identity (its key in the metrics file;
    type and name are labels that never match), on the gate's dataset/slice."""
    for result in card.get("evaluation") or []:
        if not isinstance(result, dict):
            continue
        dataset = result.get("dataset")
        if not isinstance(dataset, dict):
            dataset = {}
        if gate.dataset is not None and dataset.get("name") != gate.dataset:
            continue
        if gate.slice is not None and dataset.get("slice") != gate.slice:
            continue
        for metric in result.get("metrics") or []:
            if not isinstance(metric, dict):
                continue
            if gate.metric == metric_identity(metric):
                return True, metric.get("value")
    return False, None


def _where(change: Change) -> str:
    judge = change.judge.commit
    return f"{layout.POLICY_PATH} at {judge[:10]}" if judge else layout.POLICY_PATH


def _cards(change: Change):
    """(entry, stage spec, card) of every version entering a stage that has gates or a card kind."""
    for e in change.entries:
        spec = change.policy.stages.get(e.stage)
        if spec is None or (not spec.gates and spec.card == "default"):
            continue
        try:
            card = change.head.card(e.model, e.version)
        except GitregError:
            continue  # the registered/schema rules report it
        yield e, spec, card


def gate(change: Change) -> Iterator[Finding]:
    for e, spec, card in _cards(change):
        path = layout.card_path(e.model, e.version)
        for g in spec.gates:
            where = f" on {g.dataset}" if g.dataset else ""
            where += f" slice {g.slice}" if g.slice else ""
            found, value = metric_value(card, g)
            rule_text = f"the {e.stage} gate {g.describe()}{where} of the base policy ({_where(change)})"
            if not found:
                yield Finding(
                    "gate",
                    path,
                    f"{e.label}: the card has no metric {g.metric!r}{where}, required by {rule_text}.",
                    f"Record {g.metric} in the metrics file of the training pipeline and "
                    "register a new version.",
                    e.model,
                    e.version,
                )
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                yield Finding(
                    "gate",
                    path,
                    f"{e.label}: metric {g.metric} is {value!r}, not a number ({rule_text}).",
                    "Register a version whose metric is a number.",
                    e.model,
                    e.version,
                )
                continue
            if (g.min is not None and value < g.min) or (g.max is not None and value > g.max):
                yield Finding(
                    "gate",
                    path,
                    f"{e.label}: {g.metric} = {value} fails {rule_text}.",
                    f"Promote a version that meets {g.describe()}; a gate is lowered only "
                    "by a policy change of its own.",
                    e.model,
                    e.version,
                )


def stage_card(change: Change) -> Iterator[Finding]:
    for e, spec, card in _cards(change):
        if spec.card == "default":
            continue
        errs = schemas.errors(schemas.card_schema_for(spec.card), card)
        if errs:
            yield Finding(
                "stage-card",
                layout.card_path(e.model, e.version),
                f"{e.label}: the card lacks what the {spec.card} card schema requires:"
                + "".join(f"\n  {x}" for x in errs),
                "Complete the card's narrative (intended_use.users, out_of_scope, "
                "considerations) and register a new version.",
                e.model,
                e.version,
            )
