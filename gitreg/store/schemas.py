"""The JSON Schemas shipped in the package, and validation with errors that name their path.

jsonschema is imported on first use only: plain reads never pay for it.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

CARD = "model-card"
PRODUCTION_CARD = "model-card.production"
REGISTRY = "registry"

_CARD_SCHEMA_FOR = {"default": CARD, "production": PRODUCTION_CARD}


def _schema_dir():
    # Installed, the top-level schemas/ folder is the package gitreg.schema_files.
    try:
        packaged = resources.files("gitreg.schema_files")
        if (packaged / f"{CARD}.schema.json").is_file():
            return packaged
    except ModuleNotFoundError:
        pass
    # A source checkout that is not installed: the schemas sit at the top level.
    return Path(__file__).resolve().parents[2] / "schemas"


@cache
def load(name: str) -> dict:
    return json.loads((_schema_dir() / f"{name}.schema.json").read_text(encoding="utf-8"))


def names() -> list[str]:
    return [CARD, PRODUCTION_CARD, REGISTRY]


def card_schema_for(kind: str | None) -> str:
    return _CARD_SCHEMA_FOR.get(kind or "default", CARD)


@cache
def _validator(name: str):
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    resources_ = [(load(n)["$id"], Resource.from_contents(load(n))) for n in names()]
    registry = Registry().with_resources(resources_)
    return Draft202012Validator(load(name), registry=registry)


def errors(name: str, instance: Any) -> list[str]:
    """Every schema violation as 'path: message', in document order."""
    found = []
    for err in _validator(name).iter_errors(instance):
        leaves = _leaves(err)
        for leaf in leaves:
            path = "/".join(str(p) for p in leaf.absolute_path) or "(top level)"
            found.append((list(map(str, leaf.absolute_path)), f"{path}: {_say(leaf)}"))
    found.sort(key=lambda pair: pair[0])
    # dict keys keep insertion order: the first occurrence of each message wins
    return list(dict.fromkeys(m for _, m in found))


def _leaves(err) -> list:
    # allOf/$ref wrap the real cause: report the innermost errors.
    if err.context:
        out = []
        for sub in err.context:
            out.extend(_leaves(sub))
        return out
    return [err]


def _say(err) -> str:
    if err.validator == "additionalProperties":
        return err.message.replace("Additional properties are not allowed", "unknown field(s)")
    if err.validator == "required":
        return err.message.replace("is a required property", "is required")
    return err.message
