"""Model cards: the narrative people write, merged with the evidence `register` collects.

The card's digest (sha256 of its canonical JSON form) binds it to the
registration tag: the tag message carries it, so a card cannot be swapped
or edited after the fact without the check noticing.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitreg.errors import InvalidCard, UsageError
from gitreg.store import layout, schemas, yamlio


@dataclass
class Evidence:
    """Provenance and the metrics found, before they are merged into a card."""

    provenance: dict
    metrics: dict[str, dict[str, Any]]  # dotted key -> {value, source: {file, key}}
    artifact_type: str | None = None
    by_file: dict[str, dict[str, float]] = field(default_factory=dict)  # the metrics files read
    # every key of every metrics file of the commit -> its file, read only when a label needs it
    key_index: Callable[[], dict[str, str]] = field(default=lambda: {}, repr=False)
    # the pipeline files the evidence rests on (asked of git status when the work tree is at the commit)
    files: Callable[[], list[str]] = field(default=lambda: [], repr=False)


WRITTEN_BY_REGISTER = ("name", "version", "provenance")

TAG_HEADER = "gitreg-card"
TAG_DIGEST = "gitreg-card-sha256"
TAG_FORMAT = "gitreg-format"


def read_narrative(path: str | os.PathLike) -> dict:
    """Read the human-written part of a card from a file, strictly."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > layout.MAX_CARD_BYTES:
            raise InvalidCard(
                f"{p} is {size} bytes, over the card limit of {layout.MAX_CARD_BYTES} bytes.",
                hint="Cards hold metadata: keep long documents in the repository and link them.",
            )
        data = p.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"cannot read card {p}: {exc.strerror}.", hint="Pass the path of a YAML card with --card."
        ) from None
    return yamlio.load_mapping(data, str(p))


def build(name: str, version: str, narrative: dict, evidence: Evidence) -> dict:
    """The full card: narrative + evaluation with proven values + provenance."""
    for key in WRITTEN_BY_REGISTER:
        if key in narrative and not (
            key in ("name", "version") and str(narrative[key]) == {"name": name, "version": version}[key]
        ):
            raise InvalidCard(
                f"the card sets '{key}', which register writes itself.",
                hint=f"Remove '{key}' from the card; register fills it from the source commit.",
            )
    card: dict[str, Any] = {"name": name, "version": version}
    for key, value in narrative.items():
        if key not in WRITTEN_BY_REGISTER:
            card[key] = copy.deepcopy(value)
    card["evaluation"] = _evaluation(narrative.get("evaluation"), evidence)
    card["provenance"] = evidence.provenance
    return card


def _evaluation(claimed: Any, evidence: Evidence) -> list:
    found = evidence.metrics
    if claimed is None:
        if not found:
            return []  # the schema then says a metric is required
        result: dict[str, Any] = {}
        if evidence.artifact_type:
            result["task"] = {"type": str(evidence.artifact_type)}
        result["metrics"] = [{"type": key, **entry} for key, entry in found.items()]
        return [result]
    if not isinstance(claimed, list):
        return claimed  # the schema reports it
    results = copy.deepcopy(claimed)
    problems = []
    index: dict[str, str] | None = None
    for i, result in enumerate(results):
        for j, metric in enumerate((result or {}).get("metrics") or []):
            if not isinstance(metric, dict) or "type" not in metric:
                continue
            raw = metric.get("source")
            source: dict = raw if isinstance(raw, dict) else {}
            key = str(source.get("key") or metric["type"])
            where = f"evaluation/{i}/metrics/{j}"
            proven = _proven(evidence, key, source.get("file"))
            if proven is None:
                known = ", ".join(sorted(found)) or "none"
                in_file = f" of {source['file']}" if source.get("file") else ""
                problems.append(
                    f"{where}: metric {key!r} is in no metrics file{in_file} of the source commit "
                    f"(found: {known})"
                )
                continue
            for label in ("type", "name"):
                text = metric.get(label)
                if not isinstance(text, str) or text == key:
                    continue
                index = evidence.key_index() if index is None else index
                if text in index:
                    problems.append(
                        f"{where}: its {label} {text!r} names the key {text!r} of {index[text]}, but its "
                        f"value is key {key!r} of {proven['source']['file']}: a metric is named by its key"
                    )
            if "value" in metric and metric["value"] != proven["value"]:
                problems.append(
                    f"{where}: the card says {metric['type']} = {metric['value']}, "
                    f"but {proven['source']['file']} holds {proven['value']}"
                )
            metric["value"] = proven["value"]
            metric["source"] = proven["source"]
    if problems:
        raise InvalidCard(
            "the card's metrics do not match the source commit:",
            details=problems,
            hint="Leave metric values out (register reads them from the metrics files), and use labels "
            "(type, name) that name no other metric: or drop source and let type be the key.",
        )
    return results


def _proven(evidence: Evidence, key: str, file: Any) -> dict[str, Any] | None:
    """The value at KEY (in FILE when the card names one) among the metrics files read."""
    if not file:
        return evidence.metrics.get(key)
    file = str(file).removeprefix("./")
    values = evidence.by_file.get(file)
    if values is None or key not in values:
        return None
    return {"value": values[key], "source": {"file": file, "key": key}}


def metric_identity(metric: dict) -> str:
    """What a metric is: its dotted key in its metrics file. `type` and `name` are labels (the key
    itself when the card gives no source), so a gate or a diff never matches a label."""
    source = metric.get("source")
    if isinstance(source, dict) and source.get("key"):
        return str(source["key"])
    return str(metric.get("type"))


def validate(card: dict, kind: str | None = None, source: str = "card") -> None:
    errs = schemas.errors(schemas.card_schema_for(kind), card)
    if errs:
        raise InvalidCard(
            f"{source} does not match the {schemas.card_schema_for(kind)} schema:",
            details=errs,
            hint="Fix the fields named above and run the command again.",
        )


def metric_values(card: dict) -> dict[str, Any]:
    """metric key (its identity) -> value for every metric of a card (first result wins on repeats).

    The value is what the card holds: a number in a card that passed its schema.
    """
    values: dict[str, Any] = {}
    for result in card.get("evaluation") or []:
        for metric in (result or {}).get("metrics") or []:
            if isinstance(metric, dict) and "type" in metric:
                values.setdefault(metric_identity(metric), metric.get("value"))
    return values


def tag_message(name: str, version: str, digest: str) -> str:
    return (
        f"Register {layout.tag_name(name, version)}\n\n"
        f"{TAG_HEADER}: {layout.card_path(name, version)}\n"
        f"{TAG_DIGEST}: {digest}\n"
        f"{TAG_FORMAT}: {layout.FORMAT_VERSION}\n"
    )


def parse_tag_message(message: str) -> dict[str, str]:
    """The gitreg trailers of a registration tag's message (signature excluded)."""
    fields = {}
    for line in message.splitlines():
        if line.startswith("-----BEGIN "):
            break
        key, sep, value = line.partition(": ")
        if sep and key in (TAG_HEADER, TAG_DIGEST, TAG_FORMAT):
            fields[key] = value.strip()
    return fields
