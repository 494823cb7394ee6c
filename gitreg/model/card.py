"""Model cards: the narrative people write, merged with the evidence `register` collects.

The card's digest (sha256 of its canonical JSON form) binds it to the
registration tag: the tag message carries it, so a card cannot be swapped
or edited after the fact without the check noticing.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
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
    for i, result in enumerate(results):
        for j, metric in enumerate((result or {}).get("metrics") or []):
            if not isinstance(metric, dict) or "type" not in metric:
                continue
            key = (metric.get("source") or {}).get("key") or metric["type"]
            proven = found.get(key)
            where = f"evaluation/{i}/metrics/{j}"
            if proven is None:
                known = ", ".join(sorted(found)) or "none"
                problems.append(
                    f"{where}: metric {key!r} is in no metrics file of the source commit (found: {known})"
                )
                continue
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
            hint="Leave metric values out: register reads them from the metrics files.",
        )
    return results


def validate(card: dict, kind: str | None = None, source: str = "card") -> None:
    errs = schemas.errors(schemas.card_schema_for(kind), card)
    if errs:
        raise InvalidCard(
            f"{source} does not match the {schemas.card_schema_for(kind)} schema:",
            details=errs,
            hint="Fix the fields named above and run the command again.",
        )


def metric_values(card: dict) -> dict[str, Any]:
    """type -> value for every metric of a card (first result wins on repeats).

    The value is what the card holds: a number in a card that passed its schema.
    """
    values: dict[str, Any] = {}
    for result in card.get("evaluation") or []:
        for metric in (result or {}).get("metrics") or []:
            if isinstance(metric, dict) and "type" in metric:
                values.setdefault(str(metric["type"]), metric.get("value"))
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
