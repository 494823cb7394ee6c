"""`create_model_version` as `gitreg register --propose`: the card and its tag on a proposal branch
(`gitreg-register/NAME/vVERSION`), judged by the check, never merged here.

MLflow's call carries no card, so the narrative comes from the source commit itself: the tag
`gitreg.card` names its path there. The source is a commit of the registry's own repository
(`gitreg:///repo?rev=COMMIT&artifact=PATH`); an MLflow run or a bucket URI proves nothing
about the commit that produced a model and is refused.
"""

from __future__ import annotations

import os
from typing import Any, cast

from mlflow.entities.model_registry import ModelVersion, ModelVersionTag
from mlflow.entities.model_registry.model_version_status import ModelVersionStatus

from gitreg.errors import InvalidCard, UsageError
from gitreg.mlflow_plugin.entities import TAG_PREFIX, millis
from gitreg.mlflow_plugin.errors import refused
from gitreg.mlflow_plugin.numbering import Numbering
from gitreg.mlflow_plugin.uri import SCHEME, Proposed, Source
from gitreg.registry import Registry
from gitreg.store import layout, yamlio

# Tags create_model_version reads; anything else would be lost (tags are card labels).
OPTIONS = {f"{TAG_PREFIX}{k}" for k in ("card", "version", "bump", "metrics")}
COMMAND = "gitreg register {name} --card CARD --rev COMMIT --artifact PATH --propose"


def propose(
    registry: Registry, repo: str, numbers: Numbering, name: str, source: str, tags: list
) -> ModelVersion:
    given = {t.key: t.value for t in tags or []}
    if not str(source).startswith(f"{SCHEME}:"):
        raise refused(
            "register versions from this source",
            COMMAND.format(name=name),
            f"{source} is not a commit of the registry's repository: a registration is proven from "
            "the commit that produced the model (its dvc.lock, metrics and card).",
        )
    others = sorted(set(given) - OPTIONS)
    if others:
        raise refused(
            f"keep the tags {', '.join(others)}",
            COMMAND.format(name=name),
            "A version's tags are its card's labels: write them in the card.",
        )
    if f"{TAG_PREFIX}card" not in given:
        raise refused(
            "register a version without its card",
            COMMAND.format(name=name),
            f"Set the tag {TAG_PREFIX}card to the card's path at the source commit.",
        )
    proposed = Proposed.parse(source)
    if os.path.realpath(proposed.repo) != os.path.realpath(repo):
        raise UsageError(
            f"the source names {proposed.repo}; this registry is {repo}.",
            hint="Register a commit of the registry's own repository.",
        )
    store = registry.store
    commit = store.resolve_commit(proposed.rev)
    card_path = given[f"{TAG_PREFIX}card"]
    data = store.read_blob(store.commit_tree(commit), card_path, max_bytes=layout.MAX_CARD_BYTES)
    if data is None:
        raise InvalidCard(
            f"{card_path} is not a file at commit {commit[:10]}.",
            hint=f"Commit the card, or set {TAG_PREFIX}card to its path at that commit.",
        )
    narrative = yamlio.load_mapping(data, f"{card_path} at {commit[:10]}")
    done = registry.register(
        name,
        narrative,
        version=given.get(f"{TAG_PREFIX}version"),
        bump=given.get(f"{TAG_PREFIX}bump"),
        rev=commit,
        artifact=proposed.artifact,
        metrics=given.get(f"{TAG_PREFIX}metrics"),
        propose=True,
    )
    at = millis(done.card["provenance"]["registered_at"]) or 0
    provisional = len(numbers.order.get(name, [])) + 1
    return ModelVersion(
        name=name,
        # Its number is given when the proposal lands; this is the one it gets if it lands next.
        version=cast(Any, provisional),
        creation_timestamp=at,
        last_updated_timestamp=at,
        description=done.card.get("overview"),
        source=Source(repo, name, done.version, commit).uri(),
        status=ModelVersionStatus.to_string(ModelVersionStatus.PENDING_REGISTRATION),
        status_message=f"proposed on branch {done.proposal}; merge it with: gitreg merge {done.proposal}",
        tags=[
            ModelVersionTag(k, v)
            for k, v in {
                f"{TAG_PREFIX}version": done.version,
                f"{TAG_PREFIX}tag": done.tag,
                f"{TAG_PREFIX}commit": commit,
                f"{TAG_PREFIX}proposal": str(done.proposal),
                "mlflow.source.git.commit": commit,
            }.items()
        ],
    )
