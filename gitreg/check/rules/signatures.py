"""Signatures and tag tampering of the versions a change registers, judged by the BASE's signers and
the BASE's policy: a change that adds a signer and a version signed by it fails here (and in
policy-alone), because the signer is not allowed yet where the change lands.

The per-version work is gitreg.trust.verification.verify_version, the same code `gitreg verify` and the
binding rule run. The binding rule (rules_binding.py) reports a missing, lightweight, misplaced or
moved tag and a digest mismatch; this module reports the rest: a tag replayed under another name,
and every signature problem (unsigned where required, unknown or revoked key, a signature that
does not match, a tagger who is not the signer), and a version entering a stage with `signed: true`
whose tag does not verify with a signature. Warnings (a signature by an unknown key where
signing is optional) are not findings.
"""

from __future__ import annotations

from collections.abc import Iterator

from gitreg.check.change import Change, Finding
from gitreg.store import layout
from gitreg.trust.keys import is_fingerprint, parse_allowed_signers, parse_public_key
from gitreg.trust.signing import list_signers, verifier_for
from gitreg.trust.verification import BINDING, TAMPER, verify_version


def signature(change: Change) -> Iterator[Finding]:
    if not change.new_versions and not change.entries:
        return
    judge = change.judge
    with verifier_for(judge, now=True) as verifier:  # judged now, not at the date a tag claims
        for name, version in change.new_versions:
            result = verify_version(
                change.store,
                change.head,
                verifier,
                change.policy,
                name,
                version,
                change.tag_target(name, version),
            )
            for p in result.problems:
                if p.rule == BINDING:  # the binding rule reports those
                    continue
                file = layout.tag_ref(name, version) if p.rule == TAMPER else layout.card_path(name, version)
                yield Finding("signature", file, p.message, p.fix, name, version)
        # A stage with `signed: true` admits only versions whose tag verifies, signature included.
        for entry in change.entries:
            stage = change.policy.stages.get(entry.stage)
            if stage is None or not stage.signed:
                continue
            result = verify_version(
                change.store,
                change.head,
                verifier,
                change.policy,
                entry.model,
                entry.version,
                change.tag_target(entry.model, entry.version),
            )
            if result.ok and result.signature is not None and result.signature.ok:
                continue
            why = "; ".join(p.code for p in result.problems) or result.summary()
            yield Finding(
                "signature",
                layout.stages_path(entry.model),
                f"stage {entry.stage!r} admits only versions with a verified signature, "
                f"and {result.tag} is not one ({why}).",
                f"Register a new version signed by an allowed signer and promote that; "
                f"'gitreg verify {entry.model}@{entry.version}' says what is wrong.",
                entry.model,
                entry.version,
            )


def signers(change: Change) -> Iterator[Finding]:
    """Files a change puts under signers/ must hold what their names say, or they silently do nothing."""
    touched = [p for status, p in change.paths if status != "D" and p.startswith(layout.SIGNERS_DIR + "/")]
    if not touched:
        return
    fix = "Write signers/ with 'gitreg signers add' and 'gitreg signers revoke'."
    for path in touched:
        text = (change.head.read(path) or b"").decode(errors="replace")
        if path == layout.ALLOWED_SIGNERS_PATH:
            parsed = {s.line for s in parse_allowed_signers(text)}
            for number, line in enumerate(text.splitlines(), 1):
                if line.strip() and not line.lstrip().startswith("#") and number not in parsed:
                    yield Finding(
                        "signers",
                        f"{path}:{number}",
                        f"line {number} of {path} is not "
                        "'PRINCIPAL [OPTIONS] KEYTYPE BASE64'; ssh-keygen ignores it.",
                        fix,
                    )
        elif path == layout.REVOKED_SIGNERS_PATH:
            for number, line in enumerate(text.splitlines(), 1):
                entry = line.split("#")[0].strip()
                if entry and parse_public_key(entry) is None and not is_fingerprint(entry):
                    yield Finding(
                        "signers",
                        f"{path}:{number}",
                        f"line {number} of {path} is neither an SSH public key nor a GPG fingerprint.",
                        fix,
                    )
        elif not (
            path.startswith(layout.GPG_KEYS_DIR + "/") and path.endswith(".asc") and path.count("/") == 2
        ):
            yield Finding("signers", path, f"{path} is not a file gitreg reads under signers/.", fix)
    if any(p.startswith(layout.GPG_KEYS_DIR + "/") for p in touched):
        for signer in list_signers(change.head):
            if signer.problem and signer.file in touched:
                yield Finding("signers", signer.file, f"{signer.file} {signer.problem}.", fix)
