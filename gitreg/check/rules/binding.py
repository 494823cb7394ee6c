"""Binding: each new card has its registration tag NAME@vVERSION, annotated, on the card's source
commit, whose message carries the card's digest, and whose object id the registry recorded.

Signatures and signer lists are judged by the signature rules; this rule makes sure the card, the
tag record and the tag name one and the same registration.
"""

from __future__ import annotations

from collections.abc import Iterator

from gitreg.check.change import Change, Finding
from gitreg.check.rules.schema import classify
from gitreg.store import layout
from gitreg.trust.verification import BINDING, verify_version


def binding(change: Change) -> Iterator[Finding]:
    new = set(change.new_versions)
    for status, path in change.paths:
        what = classify(path)
        if (
            status == "A"
            and what.kind == "tag-record"
            and what.model is not None  # classify() sets both for a tag record
            and what.version is not None
            and (what.model, what.version) not in new
            and not change.head.has_version(what.model, what.version)
        ):
            yield Finding(
                "binding",
                path,
                f"{path} records a tag for a version that has no card.",
                "Remove it: 'gitreg register' writes the card and the record together.",
                what.model,
                what.version,
            )
    for name, version in change.new_versions:
        yield from _bound(change, name, version)


def _bound(change: Change, name: str, version: str) -> Iterator[Finding]:
    # The per-version work is gitreg.trust.verification.verify_version, shared with `gitreg verify`
    # and the signature rule; without a verifier it leaves signatures to that rule.
    result = verify_version(
        change.store, change.head, None, change.policy, name, version, change.tag_target(name, version)
    )
    for p in result.problems:
        if p.rule != BINDING or p.code == "card":  # an unreadable card is the schema rule's
            continue
        file = (
            layout.tag_record_path(name, version)
            if p.code in ("no-record", "moved")
            else layout.card_path(name, version)
        )
        yield Finding("binding", file, p.message, p.fix, name, version)
