"""Rules on the files a change adds or edits: each parses and matches its schema, and sits where the
layout allows. A file that does not parse is a finding, never a crash.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from gitreg.check.change import Change, Finding
from gitreg.errors import GitregError
from gitreg.model.policy import Policy
from gitreg.store import layout, schemas

_HEX40 = re.compile(r"[0-9a-f]{40}\Z")
TOP_LEVEL_FILES = ("README.md", layout.POLICY_PATH, f"{layout.MODELS_DIR}/.gitkeep")
CHECKS_DIR = "checks"  # validator scripts, run from the base's copy (see rules_validators)
POLICY_DIRS = (layout.SIGNERS_DIR + "/", CHECKS_DIR + "/")

MODEL_SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "description": {"type": ["string", "null"]},
        "owners": {"type": "array", "items": {"type": "object", "required": ["name"]}},
        "labels": {"type": "array", "items": {"type": "string"}},
        "artifact": {
            "type": "object",
            "required": ["path"],
            "properties": {"path": {"type": "string", "minLength": 1}},
        },
        "created_at": {"type": "string"},
    },
}


@dataclass(frozen=True)
class RegistryFile:
    """What a path on the registry branch is, by the layout's grammar."""

    kind: str  # card | tag-record | model | stages | policy | policy-dir | top | unknown
    model: str | None = None  # set for card, tag-record, model and stages (and some unknown)
    version: str | None = None  # set for card and tag-record


def classify(path: str) -> RegistryFile:
    if path in TOP_LEVEL_FILES:
        return RegistryFile("policy" if path == layout.POLICY_PATH else "top")
    if path.startswith(POLICY_DIRS):
        return RegistryFile("policy-dir")
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != layout.MODELS_DIR or not _valid_name(parts[1]):
        return RegistryFile("unknown")
    name = parts[1]
    if len(parts) == 3 and parts[2] in ("model.yaml", "stages.yaml"):
        return RegistryFile("model" if parts[2] == "model.yaml" else "stages", name)
    if len(parts) == 4 and parts[2] == "versions":
        stem, dot, ext = parts[3].rpartition(".")
        if dot and ext in ("yaml", "tag") and _canonical_version(stem):
            return RegistryFile("card" if ext == "yaml" else "tag-record", name, stem)
    return RegistryFile("unknown", name)


def is_policy_path(path: str) -> bool:
    return path == layout.POLICY_PATH or path.startswith(POLICY_DIRS)


def _valid_name(name: str) -> bool:
    try:
        layout.check_name(name)
    except GitregError:
        return False
    return True


def _canonical_version(text: str) -> bool:
    return (
        layout.Version.is_valid(text) and not text.startswith("v") and str(layout.Version.parse(text)) == text
    )


def schema(change: Change) -> Iterator[Finding]:
    for status, path in change.paths:
        what = classify(path)
        if status == "D":
            if what.kind == "policy":
                yield Finding(
                    "schema",
                    path,
                    "the change deletes the policy (registry.yaml).",
                    "Keep registry.yaml; change it in a policy change of its own.",
                )
            continue
        yield from _check_file(change, path, what)


def layout_rule(change: Change) -> Iterator[Finding]:
    new_models: set[str] = set()
    for status, path in change.paths:
        what = classify(path)
        if status == "A" and what.kind == "unknown":
            yield Finding(
                "layout",
                path,
                f"{path} has no place on the registry branch.",
                "Remove it: the registry branch holds registry.yaml, signers/, checks/ "
                "and models/NAME/{model.yaml,stages.yaml,versions/VERSION.yaml|.tag}.",
                what.model,
            )
        if status == "A" and what.kind in ("card", "tag-record", "stages") and what.model is not None:
            new_models.add(what.model)
    for name in sorted(new_models):
        if change.head.store.entry(change.head.tree, layout.model_path(name)) is None:
            yield Finding(
                "layout",
                layout.model_path(name),
                f"model {name} has versions or stages but no model.yaml.",
                "Register versions with 'gitreg register', which writes model.yaml.",
                name,
            )


def _check_file(change: Change, path: str, what: RegistryFile) -> Iterator[Finding]:
    if what.kind in ("top", "policy-dir", "unknown"):
        return  # signers/ is the signature rules' business; unknown files the layout rule's
    try:
        data = change.head.read(path)
        if what.kind == "policy":
            Policy.parse(data or b"", path)
            return
        from gitreg.store import yamlio

        value = yamlio.load(data or b"", path)
    except GitregError as exc:
        yield _finding(path, exc.message, exc.details, exc.hint, what)
        return
    if what.kind == "card":
        errs = (
            schemas.errors(schemas.CARD, value)
            if isinstance(value, dict)
            else ["(top level): a card must be a mapping"]
        )
        if isinstance(value, dict):
            for key, want in (("name", what.model), ("version", what.version)):
                if key in value and value[key] != want:
                    errs.append(f"{key}: is {value[key]!r}, but the card sits at {path}")
        if errs:
            yield _finding(
                path,
                f"{path} does not match the model card schema:",
                errs,
                "Cards are written by 'gitreg register'; register a new version instead "
                "of writing cards by hand.",
                what,
            )
    elif what.kind == "tag-record" and what.model is not None and what.version is not None:
        want = layout.tag_name(what.model, what.version)
        ok = (
            isinstance(value, dict)
            and value.get("tag") == want
            and isinstance(value.get("object"), str)
            and _HEX40.fullmatch(value["object"])
        )
        if not ok:
            yield _finding(
                path,
                f"{path} must be a mapping 'tag: {want}' and 'object: <40-hex tag object id>'.",
                [],
                "Let 'gitreg register' write it.",
                what,
            )
    elif what.kind == "model" and what.model is not None:
        errs = _model_errors(value, what.model)
        if errs:
            yield _finding(
                path,
                f"{path} does not have the shape of a model.yaml:",
                errs,
                "Let 'gitreg register' write model.yaml.",
                what,
            )
    elif what.kind == "stages":
        errs = _stages_errors(value)
        if errs:
            yield _finding(
                path,
                f"{path} must map each stage to a list of versions:",
                errs,
                "Change stages only with 'gitreg promote'.",
                what,
            )


def _finding(path: str, message: str, details: list[str], hint: str | None, what: RegistryFile) -> Finding:
    text = message + "".join(f"\n  {d}" for d in details)
    return Finding("schema", path, text, hint or "Fix the file.", what.model, what.version)


@cache
def _model_validator():
    from jsonschema import Draft202012Validator

    return Draft202012Validator(MODEL_SCHEMA)


def _model_errors(value, name: str) -> list[str]:
    if not isinstance(value, dict):
        return ["(top level): must be a mapping"]
    errs = [
        f"{'/'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}"
        for e in _model_validator().iter_errors(value)
    ]
    if value.get("name") not in (None, name):
        errs.append(f"name: is {value.get('name')!r}, but the file is that of model {name!r}")
    return errs


def _stages_errors(value) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, dict):
        return ["(top level): must be a mapping of stage to versions"]
    errs = []
    for stage, versions in value.items():
        if not isinstance(stage, str) or not re.fullmatch(r"[a-z][a-z0-9_-]*", stage):
            errs.append(f"{stage!r}: is not a stage name")
            continue
        if versions is None:
            continue
        if not isinstance(versions, list):
            errs.append(f"{stage}: must be a list of versions")
            continue
        for v in versions:
            if not isinstance(v, str) or not _canonical_version(v):
                errs.append(f"{stage}: {v!r} is not a version such as 1.2.0 (quote it in YAML)")
        if len(set(map(str, versions))) != len(versions):
            errs.append(f"{stage}: lists a version twice")
    return errs
