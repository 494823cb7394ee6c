"""Immutability: a merged card and its tag record never change or disappear; a model.yaml is
created once. Only paths the change touches are looked at.
"""

from __future__ import annotations

from collections.abc import Iterator

from gitreg.check.change import Change, Finding
from gitreg.check.rules.schema import classify


def immutable(change: Change) -> Iterator[Finding]:
    for status, path in change.paths:
        if status == "A":
            continue
        what = classify(path)
        verb = "edits" if status == "M" else "deletes"
        if what.kind == "card":
            yield Finding(
                "immutable",
                path,
                f"the change {verb} the merged card of {what.model}@{what.version}; cards are "
                "immutable once merged.",
                f"Restore {path} as it is on the base and register a new version "
                f"(gitreg register {what.model} --bump patch) for the corrected card.",
                what.model,
                what.version,
            )
        elif what.kind == "tag-record":
            yield Finding(
                "immutable",
                path,
                f"the change {verb} the tag record of {what.model}@{what.version}; it binds the "
                "card to its registration tag and never changes.",
                f"Restore {path} as it is on the base.",
                what.model,
                what.version,
            )
        elif what.kind == "model":
            yield Finding(
                "immutable",
                path,
                f"the change {verb} {path}; a model.yaml is written once, when the model is "
                "first registered.",
                f"Restore {path} as it is on the base.",
                what.model,
            )
