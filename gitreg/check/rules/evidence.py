"""Evidence rules: the lock a new card rests on is fresh, its metric labels name no other metric, its
artifact bytes are not another version's unless it says so, and a stage that requires a pinned
environment gets one.

Like the lineage rules they judge only what the change adds, read from the source commit's Git
objects (see gitreg.lineage.freshness), and the lock of a commit is judged once per check.
"""

from __future__ import annotations

from collections.abc import Iterator

from gitreg.check.change import Change, Finding
from gitreg.check.rules.lineage import Subject, subjects
from gitreg.errors import GitregError
from gitreg.lineage import environment, freshness, pipeline
from gitreg.model.view import artifact_digest
from gitreg.store import layout

STALE_FIX = "Run `dvc repro` and commit dvc.lock, then register that commit."


def fresh(change: Change) -> Iterator[Finding]:
    judged: dict[tuple[str, tuple[str, ...] | None], list[freshness.Staleness]] = {}
    for s in subjects(change):
        if s.problem or s.pipe is None or not s.pipe.has_dvc:
            continue
        commit = s.pipe.commit
        scope = s.card_stages() or None  # the card's stages, as register judged
        key = (commit, tuple(scope) if scope else None)
        if key not in judged:
            judged[key] = freshness.check(change.store, s.pipe, scope)
        for stale in judged[key]:
            yield s.finding("lineage.fresh", f"{stale} (at {commit[:10]}).", STALE_FIX)


def metric_labels(change: Change) -> Iterator[Finding]:
    """A metric's type/name may not be the key of another metric of the source commit."""
    for s in subjects(change):
        if s.problem or s.pipe is None:
            continue
        index: dict[str, str] | None = None
        for i, result in enumerate(s.card.get("evaluation") or []):
            metrics = result.get("metrics") if isinstance(result, dict) else None
            for j, metric in enumerate(metrics or []):
                source = metric.get("source") if isinstance(metric, dict) else None
                if not isinstance(source, dict) or not source.get("key"):
                    continue
                key = str(source["key"])
                for label in ("type", "name"):
                    text = metric.get(label)
                    if not isinstance(text, str) or text == key:
                        continue
                    index = _key_index(change, s, source.get("file")) if index is None else index
                    if text in index:
                        yield s.finding(
                            "lineage.labels",
                            f"evaluation/{i}/metrics/{j}: its {label} {text!r} names the key {text!r} of "
                            f"{index[text]}, but its value is key {key!r} of {source.get('file')}: a "
                            "metric is named by its key, and a label may not name another one.",
                        )


def _key_index(change: Change, s: Subject, file: object) -> dict[str, str]:
    """Every key of the metrics files the card speaks for (dvc.yaml's for its stages, and the card's)
    -> its file: what register indexed when it wrote the card."""
    files = list(s.pipe.metrics_files(s.card_stages())) if s.pipe else []
    for metric in (m for r in s.card.get("evaluation") or [] for m in (r or {}).get("metrics") or []):
        src = metric.get("source") if isinstance(metric, dict) else None
        if isinstance(src, dict) and src.get("file"):
            files.append(pipeline.norm(str(src["file"])))
    index: dict[str, str] = {}
    for path in dict.fromkeys(files):
        values = s.metrics(change.store, path)
        if isinstance(values, dict):
            for key in values:
                index.setdefault(key, path)
    return index


def same_artifact(change: Change) -> Iterator[Finding]:
    """A new card whose artifact bytes another version of the model has must say so."""
    for name, version in change.new_versions:
        try:
            card = change.head.card(name, version)
        except GitregError:
            continue
        digest = artifact_digest(card)
        if not digest:
            continue
        same = change.head.versions_with_artifact(name, digest, skip=version)
        raw = card.get("provenance")
        prov: dict = raw if isinstance(raw, dict) else {}
        declared = prov.get("same_artifact_as") or []
        if same and not declared:
            yield Finding(
                "same-artifact",
                layout.card_path(name, version),
                f"{name}@{version}: its artifact ({digest}) is the artifact of {name}@{same[-1]}, "
                "and the card does not say so (same_artifact_as).",
                "Promote the existing version, or register with --allow-same-artifact.",
                name,
                version,
            )
        for other in (v for v in declared if v not in same):
            yield Finding(
                "same-artifact",
                layout.card_path(name, version),
                f"{name}@{version}: same_artifact_as names {name}@{other}, whose artifact is not {digest}.",
                "Register again: --allow-same-artifact records the versions that share the bytes.",
                name,
                version,
            )


def requirements(change: Change) -> Iterator[Finding]:
    """What a stage's `require:` asks of the cards entering it (environment: pinned)."""
    for e in change.entries:
        spec = change.policy.stages.get(e.stage)
        if spec is None or "environment" not in spec.require:
            continue
        try:
            card = change.head.card(e.model, e.version)
        except GitregError:
            continue
        raw = card.get("provenance")
        prov: dict = raw if isinstance(raw, dict) else {}
        if not environment.pinned(prov.get("environment")):
            yield Finding(
                "require",
                layout.card_path(e.model, e.version),
                f"{e.label}: stage {e.stage} requires a pinned environment (require: [environment]), "
                "and the card records no lock or requirements file and no image digest.",
                "Commit a lock file (uv.lock, poetry.lock, requirements.txt, environment.yml) or a "
                "Dockerfile with base images by digest, then register that commit (or pass --image).",
                e.model,
                e.version,
            )
