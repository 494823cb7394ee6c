"""The registry seen as MLflow's entities: a model is a RegisteredModel, a version's card a
ModelVersion, each stage an alias (and a legacy stage), card labels tags.

What is derived from a card is kept by the card's blob id: cards are immutable and a blob id
names its content, so the memo is never stale and a repeated read costs a dictionary look-up.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from mlflow.entities import Metric
from mlflow.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)

from gitreg.mlflow_plugin.numbering import Numbering
from gitreg.mlflow_plugin.uri import Source
from gitreg.model.card import metric_values
from gitreg.model.view import RegistryView
from gitreg.store import layout

NO_STAGE = "None"  # MLflow's current_stage of a version in no stage
_MLFLOW_STAGES = {"staging": "Staging", "production": "Production", "archived": "Archived"}
TAG_PREFIX = "gitreg."


def mlflow_stage(stage: str) -> str:
    """How MLflow spells a gitreg stage: its legacy names capitalised, any other as it is."""
    return _MLFLOW_STAGES.get(stage, stage)


def label_tags(labels: Any) -> dict[str, str]:
    """Card labels as tags: 'key=value' gives key -> value, a plain label gives label -> 'true'."""
    tags: dict[str, str] = {}
    for label in labels if isinstance(labels, list) else []:
        key, sep, value = str(label).partition("=")
        if key.strip():
            tags[key.strip()] = value.strip() if sep else "true"
    return tags


def millis(stamp: Any) -> int | None:
    try:
        return int(datetime.fromisoformat(str(stamp)).timestamp() * 1000)
    except ValueError:
        return None


@dataclass(frozen=True)
class CardFacts:
    """What a ModelVersion shows of one card."""

    registered_at: int | None
    overview: str | None
    user: str | None
    commit: str
    tags: dict[str, str]
    metrics: dict[str, float]


@dataclass(frozen=True)
class ModelFacts:
    created_at: int | None
    description: str | None
    tags: dict[str, str]


class Catalog:
    """Builds MLflow entities from registry views; one per store, shared by its threads."""

    def __init__(self, repo: str, run_link_base: str | None):
        self.repo = repo
        self.run_link_base = run_link_base  # e.g. https://github.com/org/repo/commit/
        self._cards: dict[str, CardFacts] = {}
        self._models: dict[str, ModelFacts] = {}
        self._lock = threading.Lock()

    # --- facts, memoized by blob id -------------------------------------------------------

    def card_facts(self, view: RegistryView, name: str, version: str) -> CardFacts:
        oid = view.store.entry_id(view.tree, layout.card_path(name, version)) or ""
        facts = self._cards.get(oid)
        if facts is None:
            facts = _card_facts(view.card(name, version))
            with self._lock:
                self._cards[oid] = facts
        return facts

    def model_facts(self, view: RegistryView, name: str) -> ModelFacts:
        oid = view.store.entry_id(view.tree, layout.model_path(name)) or ""
        facts = self._models.get(oid)
        if facts is None:
            meta = view.model_meta(name)
            desc = meta.get("description")
            facts = ModelFacts(
                millis(meta.get("created_at")), str(desc) if desc else None, label_tags(meta.get("labels"))
            )
            with self._lock:
                self._models[oid] = facts
        return facts

    # --- entities ---------------------------------------------------------------------------

    def source(self, name: str, version: str, facts: CardFacts) -> str:
        return Source(self.repo, name, version, facts.commit).uri()

    def model_version(
        self,
        view: RegistryView,
        numbers: Numbering,
        name: str,
        version: str,
        extra_tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        facts = self.card_facts(view, name, version)
        number = numbers.number(name, version)
        in_stages = view.stages_of(name, version)
        serves = [s for s, vs in view.stages(name).items() if vs and vs[-1] == version]
        source = self.source(name, version, facts)
        tags = {
            **facts.tags,
            f"{TAG_PREFIX}version": version,
            f"{TAG_PREFIX}tag": layout.tag_name(name, version),
            f"{TAG_PREFIX}commit": facts.commit,
            "mlflow.source.git.commit": facts.commit,
            **(extra_tags or {}),
        }
        return ModelVersion(
            name=name,
            # An int, as MLflow's own local stores give it: search compares and sorts it as a number.
            version=cast(Any, number if number is not None else version),
            creation_timestamp=facts.registered_at or 0,
            last_updated_timestamp=facts.registered_at,
            description=facts.overview,
            user_id=facts.user,
            current_stage=current_stage(view, name, in_stages),
            source=source,
            run_link=f"{self.run_link_base}{facts.commit}" if self.run_link_base else source,
            tags=[ModelVersionTag(k, v) for k, v in tags.items()],
            aliases=serves,
            metrics=[Metric(k, v, facts.registered_at or 0, 0) for k, v in facts.metrics.items()],
        )

    def registered_model(
        self, view: RegistryView, numbers: Numbering, name: str, latest: list[ModelVersion]
    ) -> RegisteredModel:
        facts = self.model_facts(view, name)
        order = numbers.order.get(name, [])
        updated = self.card_facts(view, name, order[-1]).registered_at if order else facts.created_at
        aliases = [
            RegisteredModelAlias(stage, numbers.number(name, vs[-1]) or vs[-1])
            for stage, vs in view.stages(name).items()
            if vs
        ]
        return RegisteredModel(
            name=name,
            creation_timestamp=facts.created_at,
            last_updated_timestamp=updated,
            description=facts.description,
            latest_versions=latest,
            tags=[RegisteredModelTag(k, v) for k, v in facts.tags.items()],
            aliases=aliases,
        )


def current_stage(view: RegistryView, name: str, in_stages: list[str]) -> str:
    """A version in several stages shows the last of them in the policy's order, `archived`
    only when it is in no other."""
    if not in_stages:
        return NO_STAGE
    if len(in_stages) == 1:
        return mlflow_stage(in_stages[0])
    order = list(view.policy.stages)
    ranked = sorted(in_stages, key=lambda s: (s == "archived", -order.index(s) if s in order else 1))
    return mlflow_stage(ranked[0])


def _card_facts(card: dict) -> CardFacts:
    prov = _mapping(card.get("provenance"))
    source, by = _mapping(prov.get("source")), _mapping(prov.get("registered_by"))
    metrics = {k: float(v) for k, v in metric_values(card).items() if isinstance(v, (int, float))}
    overview = card.get("overview")
    return CardFacts(
        registered_at=millis(prov.get("registered_at")),
        overview=str(overview) if overview else None,
        user=str(by.get("email") or by.get("name") or "") or None,
        commit=str(source.get("commit") or ""),
        tags=label_tags(card.get("labels")),
        metrics=metrics,
    )


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}
