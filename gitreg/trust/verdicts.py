"""Verdicts on registration tags: the result types of verification, and a cache of them keyed by
what they judged, so `show NAME@VERSION` runs (and imports) no signature tool for a version it has
verified before. The types live here, apart from the code that verifies (signatures.py,
verification.py re-export them), because a cached read must build them without that code.

A verdict depends only on git objects: the tag object, the card and its tag record, the
registry's signers/ and its policy. The key names all of them, so an entry is never stale.
Only verdicts that hold whatever the clock says are kept: a tag that verifies unsigned, or
verifies with an SSH signature (git and gitreg judge SSH keys at the tagger date). A GPG
verdict depends on today's date (key expiry), and a failing one is judged afresh each time.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from gitreg.model.view import RegistryView
from gitreg.results import to_data
from gitreg.store import cache, layout
from gitreg.store.gitstore import GitStore

VERIFIED = "verified"
UNSIGNED = "unsigned"
UNKNOWN_KEY = "unknown-key"  # signed by a key the registry does not list
BAD = "bad"  # the signature does not match the signed bytes: the tag was altered
REVOKED = "revoked"
EXPIRED = "expired"  # by a key expired (or revoked in its own key file) when it is checked
UNSUPPORTED = "unsupported"


@dataclass
class SignatureCheck:
    status: str  # VERIFIED, UNSIGNED, UNKNOWN_KEY, BAD, REVOKED, EXPIRED, UNSUPPORTED
    kind: str | None = None  # ssh, gpg, x509
    signer: str | None = None  # the matched principal (SSH) or the key's first user id (GPG)
    fingerprint: str | None = None  # SSH SHA256:... or GPG primary fingerprint
    identities: list[str] = field(default_factory=list)  # emails the signer may tag as
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == VERIFIED

    def to_dict(self) -> dict:
        return to_data(self)


BINDING, TAMPER, SIGNATURE = "binding", "tamper", "signature"


@dataclass(frozen=True)
class Problem:
    code: str
    rule: str  # binding | tamper | signature
    message: str
    fix: str

    def to_dict(self) -> dict:
        return to_data(self)


@dataclass
class VersionCheck:
    name: str
    version: str
    tag: str
    tag_id: str | None  # what the tag ref points at now
    recorded: str | None  # the tag object id recorded at registration
    signature: SignatureCheck | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def signed_by(self) -> str | None:
        """Who signed, as far as the registry's signers can tell (None when not verified)."""
        return self.signature.signer if self.signature and self.signature.ok else None

    def summary(self) -> str:
        """A few words for a table: 'ssh alice@example.com', 'unsigned', 'gpg unknown-key'."""
        sig = self.signature
        if sig is None:
            return "-"
        if sig.status == UNSIGNED:
            return "unsigned"
        if sig.ok:
            return f"{sig.kind} {sig.signer}"
        return f"{sig.kind} {sig.status}"

    json_properties = ("ok",)

    def to_dict(self) -> dict:
        return to_data(self)


# --- the cache ---------------------------------------------------------------------------------

_KIND = "verdicts"


def cached(
    store: GitStore, view: RegistryView, name: str, version: str, target: str | None
) -> VersionCheck | None:
    """The verdict on NAME@VERSION (tag ref at TARGET) against VIEW's signers and policy, if known."""
    key = _key(store, view, name, version, target)
    found = cache.value(store.common_dir, _KIND, key) if key else None
    if not isinstance(found, dict):
        return None
    try:
        sig = found.pop("signature")
        found.pop("ok", None)
        problems = [Problem(**p) for p in found.pop("problems")]
        return VersionCheck(**found, signature=SignatureCheck(**sig) if sig else None, problems=problems)
    except (KeyError, TypeError):
        return None  # another shape of verdict: judge again


def remember(store: GitStore, view: RegistryView, check: VersionCheck) -> None:
    """Keep CHECK when it holds whatever the date: it verifies, unsigned or SSH-signed."""
    sig = check.signature
    timeless = sig is not None and (sig.status == UNSIGNED or (sig.status == VERIFIED and sig.kind == "ssh"))
    key = _key(store, view, check.name, check.version, check.tag_id)
    if key is not None and check.ok and timeless and not check.warnings:
        cache.store_value(store.common_dir, _KIND, key, to_data(check))


def _key(store: GitStore, view: RegistryView, name: str, version: str, target: str | None) -> str | None:
    parts = [
        target,
        store.entry_id(view.tree, layout.card_path(name, version)),
        store.entry_id(view.tree, layout.tag_record_path(name, version)),
        store.entry_id(view.tree, layout.SIGNERS_DIR) or "-",
        store.entry_id(view.tree, layout.POLICY_PATH) or "-",
    ]
    if None in parts[:3]:
        return None  # nothing to remember: verification names what is missing
    return hashlib.sha256(json.dumps([name, version, *parts]).encode()).hexdigest()[:40]
