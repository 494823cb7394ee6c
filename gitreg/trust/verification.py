"""Per-version verification: is a registered version's tag the one that was registered, and signed by
whom? One implementation, used by `gitreg verify`, `show NAME@V`, `history --verify` and the check's
binding rule (rules_binding.py: the binding problems) and signature rule (rules_signatures.py: the
tamper and signature problems).

For each version it checks, naming every problem with a code:

- binding   deleted (no tag ref), lightweight, target (not on the card's source commit),
            no-digest / digest (the tag message's card digest is not the card's; an imported
            card naming its adopted tag object needs none), no-record,
            moved (the ref holds another tag object than the one recorded at registration);
- tamper    replayed (the tag object's own `tag` header is another name: git never checks it);
- signature unsigned (where the policy requires a signature), unknown-key, bad-signature,
            revoked, tagger (the tagger's email is not an identity of the key that signed),
            unsupported.

The tagger check is a finding, not a warning: the registry names the tagger as the person who
registered a version, and a key that signs a tag naming someone else would make that claim a
forgery. A signature by a key the registry does not list is a finding where the policy requires
signatures, and a warning otherwise (many people sign every tag by habit). A signature that does
not match its tag, or by a revoked key, is always a finding.
"""

from __future__ import annotations

from collections.abc import Iterator

from gitreg.errors import GitregError
from gitreg.model.card import TAG_DIGEST, parse_tag_message
from gitreg.model.policy import Policy
from gitreg.model.view import RegistryView
from gitreg.store import layout, yamlio
from gitreg.store.gitstore import GitStore
from gitreg.trust.signatures import (
    BAD,
    EXPIRED,
    REVOKED,
    UNKNOWN_KEY,
    UNSIGNED,
    UNSUPPORTED,
    VERIFIED,
    SignatureCheck,
    Verifier,
    split_tag,
)
from gitreg.trust.signing import verifier_for
from gitreg.trust.verdicts import BINDING, SIGNATURE, TAMPER, Problem, VersionCheck


def verify_version(
    store: GitStore,
    view: RegistryView,
    verifier: Verifier | None,
    policy: Policy,
    name: str,
    version: str,
    target: str | None,
) -> VersionCheck:
    """Verify NAME@VERSION of VIEW whose tag ref points at TARGET (None: no such ref).

    The signature is judged against VERIFIER's signers and POLICY (the check passes the
    base's; `verify` the registry's current ones). Without a verifier the signature is not
    looked at (the check's binding rule wants the rest only).
    """
    tag = layout.tag_name(name, version)
    ref = layout.tag_ref(name, version)
    result = VersionCheck(name, version, tag, target, None)

    def problem(code: str, rule: str, message: str, fix: str) -> None:
        result.problems.append(Problem(code, rule, message, fix))

    try:
        card = view.card(name, version)
        result.recorded = view.tag_record(name, version)
    except GitregError as exc:
        problem("card", BINDING, exc.message, exc.hint or "Fix the card file.")
        return result
    source = ((card.get("provenance") or {}).get("source") or {}).get("commit")
    recorded = result.recorded
    restore = (
        f"Restore the registered tag: git update-ref {ref} {recorded} (then push it with "
        f"--force), or register a new version."
        if recorded and store.has_object(recorded)
        else "Register a new version; this one cannot be proven."
    )
    if recorded is None:
        problem(
            "no-record",
            BINDING,
            f"{tag} has no tag record: the registry recorded no tag "
            f"object for it ({layout.tag_record_path(name, version)} is missing).",
            "Register versions with 'gitreg register', which writes card and record together.",
        )
    if target is None:
        problem(
            "deleted",
            BINDING,
            f"the registration tag {tag} does not exist: it was deleted, or never pushed.",
            restore,
        )
        return result
    if store.tag_object(target) is None:
        problem(
            "lightweight",
            BINDING,
            f"{tag} is a lightweight tag (it points at {target[:12]} "
            "directly): a registration tag is an annotated tag carrying the card's digest.",
            restore,
        )
        return result
    if recorded is not None and target != recorded:
        problem(
            "moved",
            BINDING,
            f"{tag} is tag object {target[:12]}, but the registry recorded "
            f"{recorded[:12]} at registration: the tag was moved or replaced.",
            restore,
        )
    signed = split_tag(store.raw_object(target))
    header = signed.headers.get("tag")
    if header != tag:
        problem(
            "replayed",
            TAMPER,
            f"the tag object under {ref} names itself {header!r}: a tag "
            "made for another name was copied here (git does not check this).",
            restore,
        )
    if signed.headers.get("type") != "commit" or signed.headers.get("object") != source:
        problem(
            "target",
            BINDING,
            f"{tag} points at {str(signed.headers.get('object'))[:12]}, but "
            f"the card's source commit is {str(source)[:12]}.",
            "The tag must sit on the commit that produced the model: register again.",
        )
    carried = parse_tag_message(signed.message).get(TAG_DIGEST)
    digest = yamlio.digest(card)
    if carried is None and _adopted(card, tag, target):
        pass  # a GTO (or imported) tag made before the card: the reviewed merge binds the card
    elif carried is None:
        problem(
            "no-digest",
            BINDING,
            f"{tag}'s message carries no {TAG_DIGEST} trailer: it does not bind a card.",
            restore,
        )
    elif carried != digest:
        problem(
            "digest",
            BINDING,
            f"the card's digest is {digest[:16]}..., but {tag} carries "
            f"{carried[:16]}...: the card is not the one that was tagged.",
            "Restore the card that was registered, or register a new version.",
        )
    if verifier is not None:
        result.signature = sig = verifier.check(signed)
        _judge_signature(result, sig, signed.tagger_email, policy, problem)
    return result


def _adopted(card: dict, tag: str, target: str) -> bool:
    """A card marked imported, naming this very tag object: its tag predates it and carries no
    digest (GTO's tags never do). A tag that carries a digest is always held to it."""
    imported = card.get("imported")
    return isinstance(imported, dict) and imported.get("tag") == tag and imported.get("object") == target


def _judge_signature(
    result: VersionCheck, sig: SignatureCheck, tagger: str | None, policy: Policy, problem
) -> None:
    tag = result.tag
    add_signer = (
        "Add the signer through a policy change of its own: gitreg signers add --ssh "
        "KEY.pub --principal EMAIL (or --gpg FINGERPRINT), then register again."
    )
    if sig.status == UNSIGNED:
        if policy.signing_required:
            problem(
                "unsigned",
                SIGNATURE,
                f"{tag} is not signed, and the policy requires signed registrations.",
                "Set up git signing (user.signingKey, gpg.format) and register "
                "a new version: gitreg register NAME --sign.",
            )
    elif sig.status == VERIFIED:
        if (tagger or "").lower() not in sig.identities:
            problem(
                "tagger",
                SIGNATURE,
                f"{tag} names {tagger or 'nobody'} as its tagger, but it "
                f"was signed by {sig.signer} ({sig.fingerprint}).",
                "Register with user.email set to the signer's principal (or add the key for "
                "that email with 'gitreg signers add').",
            )
    elif sig.status == REVOKED:
        problem(
            "revoked",
            SIGNATURE,
            f"{tag} is signed by a revoked key: {sig.detail}.",
            "Register a new version signed by a key that is not revoked.",
        )
    elif sig.status == EXPIRED:
        problem(
            "expired",
            SIGNATURE,
            f"{tag} is signed by a key that is expired or revoked: {sig.detail}.",
            "Register a new version signed by a key that is valid now.",
        )
    elif sig.status == BAD:
        problem(
            "bad-signature",
            SIGNATURE,
            f"the signature of {tag} does not verify: {sig.detail}; the tag was edited after it was signed.",
            "Restore the registered tag, or register a new version.",
        )
    elif sig.status in (UNKNOWN_KEY, UNSUPPORTED):
        text = (
            f"{tag} is signed ({sig.kind}) by a key that is not an allowed signer: {sig.detail}."
            if sig.status == UNKNOWN_KEY
            else f"{tag}: {sig.detail}."
        )
        if policy.signing_required:
            problem(sig.status, SIGNATURE, text, add_signer)
        else:
            result.warnings.append(text)


# --- the whole registry ---------------------------------------------------------------


def verify(store: GitStore, view: RegistryView, ref: layout.ModelRef | None = None) -> Iterator[VersionCheck]:
    """Verify every version (or those of one model, or one version) against VIEW's own signers."""
    if ref is not None and (ref.version or ref.stage):
        targets = [(ref.name, view.resolve(ref))]
    elif ref is not None:
        view.require_model(ref.name)
        targets = [(ref.name, v) for v in view.versions(ref.name)]
    else:
        targets = [(n, v) for n in view.model_names() for v in view.versions(n)]
    policy = view.policy
    with verifier_for(view) as verifier:
        for name, version in targets:
            target = store.ref_target(layout.tag_ref(name, version))
            yield verify_version(store, view, verifier, policy, name, version, target)
