"""Binding: each new card has its registration tag NAME@vVERSION, annotated, on the card's source
commit, whose message carries the card's digest, and whose object id the registry recorded.

Signatures and signer lists are judged by the signature rules; this rule makes sure the card, the
tag record and the tag name one and the same registration.
"""

from __future__ import annotations

from collections.abc import Iterator

from gitreg import layout, yamlio
from gitreg.card import TAG_DIGEST, parse_tag_message
from gitreg.check import Change, Finding, rule
from gitreg.errors import GitregError
from gitreg.rules_schema import classify


@rule("binding")
def binding(change: Change) -> Iterator[Finding]:
    new = set(change.new_versions)
    for status, path in change.paths:
        what = classify(path)
        if status == "A" and what.kind == "tag-record" and (what.model, what.version) not in new \
                and not change.head.has_version(what.model, what.version):
            yield Finding("binding", path, f"{path} records a tag for a version that has no card.",
                          "Remove it: 'gitreg register' writes the card and the record together.",
                          what.model, what.version)
    for name, version in change.new_versions:
        yield from _bound(change, name, version)


def _bound(change: Change, name: str, version: str) -> Iterator[Finding]:
    path = layout.card_path(name, version)
    tag = layout.tag_name(name, version)
    try:
        card = change.head.card(name, version)
        record = change.head.tag_record(name, version)
    except GitregError:
        return  # the schema rule reports the unreadable file
    source = ((card.get("provenance") or {}).get("source") or {}).get("commit")

    def finding(message: str, fix: str, file: str = path) -> Finding:
        return Finding("binding", file, message, fix, name, version)

    if record is None:
        yield finding(f"{name}@{version} has no tag record ({layout.tag_record_path(name, version)}).",
                      "Register versions with 'gitreg register', which writes card and record together.",
                      layout.tag_record_path(name, version))
    target = change.tag_target(name, version)
    if target is None:
        yield finding(f"the registration tag {tag} of this new card does not exist.",
                      f"Push the tag together with the registry branch (git push --atomic origin "
                      f"{layout.tag_ref(name, version)} ...), or register the version again.")
        return
    obj = change.store.tag_object(target)
    if obj is None:
        yield finding(f"{tag} is a lightweight tag; a registration tag is annotated and carries the "
                      "card's digest.",
                      f"Delete {tag} and register the version with 'gitreg register'.")
        return
    if str(obj.target) != source:
        yield finding(f"{tag} points at {str(obj.target)[:12]}, but the card's source commit is "
                      f"{str(source)[:12]}.",
                      "The tag must sit on the commit that produced the model: register again.")
    carried = parse_tag_message(obj.message or "").get(TAG_DIGEST)
    digest = yamlio.digest(card)
    if carried != digest:
        yield finding(f"the card's digest is {digest[:16]}..., but {tag} carries "
                      f"{(carried or 'no digest')[:16]}...: the card is not the one that was tagged.",
                      "Restore the card that was registered, or register a new version.")
    if record is not None and record != target:
        yield finding(f"{tag} is tag object {target[:12]}, but the registry recorded {record[:12]}.",
                      f"Restore the tag that was registered (git push origin {record}:refs/tags/{tag}"
                      ") or register a new version.", layout.tag_record_path(name, version))
