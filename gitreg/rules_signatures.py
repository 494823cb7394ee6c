"""Signatures and tag tampering of the versions a change registers, judged by the BASE's signers and
the BASE's policy: a change that adds a signer and a version signed by it fails here (and in
policy-alone), because the signer is not allowed yet where the change lands.

The per-version work is gitreg.verification.verify_version, the same code `gitreg verify` runs.
The binding rule (rules_binding.py) reports a missing, lightweight, misplaced or moved tag and a
digest mismatch; this module reports what it does not: a tag replayed under another name and every
signature problem (unsigned where required, unknown or revoked key, a signature that does not
match, a tagger who is not the signer). Warnings (a signature by an unknown key where signing is
optional) are not findings.
"""

from __future__ import annotations

from collections.abc import Iterator

from gitreg import layout
from gitreg.check import Change, Finding, rule
from gitreg.signing import verifier_for
from gitreg.verification import BINDING, SIGNATURE, TAMPER, verify_version

# Reported by rules_binding.py; when it is not loaded this rule reports them itself.
_BINDING_CODES = {"card", "no-record", "deleted", "lightweight", "target", "no-digest", "digest", "moved"}


@rule("signature")
def signature(change: Change) -> Iterator[Finding]:
    if not change.new_versions:
        return
    from gitreg.check import rules

    binding_elsewhere = "binding" in rules()
    judge = change.base or change.head
    with verifier_for(judge) as verifier:
        for name, version in change.new_versions:
            result = verify_version(change.store, change.head, verifier, change.policy, name, version,
                                    change.tag_target(name, version))
            for p in result.problems:
                if binding_elsewhere and p.code in _BINDING_CODES:
                    continue
                file = (layout.tag_ref(name, version) if p.rule == TAMPER
                        else layout.card_path(name, version))
                yield Finding(BINDING if p.rule == BINDING else SIGNATURE, file, p.message, p.fix,
                              name, version)
