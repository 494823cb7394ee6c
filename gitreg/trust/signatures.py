"""Signature tools: split a tag object, verify SSH and GPG signatures against the registry's signers.

This module owns ssh-keygen, gpg and gpgv (they are not git; gitstore.py owns git).
Every verdict is taken from exit statuses, the principal ssh-keygen matched and
the primary-key fingerprint gpgv reports in VALIDSIG, never from the words
"Good signature": git prints "Good" and exits 1 for an SSH key that matches no
principal, and gpg accepts any key of the verifier's keyring. So:

- SSH: `ssh-keygen -Y find-principals` then `-Y verify -I PRINCIPAL -n git`
  with an allowed_signers file written from the registry's `signers/` only, at
  the tagger's date (as git does) and with the revoked keys (`-r`).
- GPG: `gpgv --keyring FILE` where FILE is built from `signers/gpg/*.asc` only
  (each file must hold exactly the key its name says), then the VALIDSIG
  primary fingerprint must be one of those files' names.
- Revocation is checked first, by the signing key's own fingerprint, so it
  beats expiry (which a signer can dodge by backdating the tagger date).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

from gitreg.errors import GitFailed
from gitreg.trust.keys import (
    GpgKey,
    normalize_fingerprint,
    parse_allowed_signers,
    parse_revoked,
    show_gpg_keys,
    signature_key,
)
from gitreg.trust.keys import run as _run
from gitreg.trust.tagsplit import GPG, SSH, X509, SignedTag, split_commit, split_tag  # noqa: F401

# Verdicts of a signature check.
# The verdicts' values and SignatureCheck live in verdicts.py (light, for cached reads).
from gitreg.trust.verdicts import (
    BAD,
    EXPIRED,
    REVOKED,
    UNKNOWN_KEY,
    UNSIGNED,
    UNSUPPORTED,
    VERIFIED,
    SignatureCheck,
)

# --- verdicts -------------------------------------------------------------------


class Verifier:
    """Verifies signatures against one set of signers (a registry tree's signers/).

    Files (allowed_signers, revoked keys, the GPG keyring) are written once into a
    temporary directory and reused for every tag; use it as a context manager.
    """

    def __init__(
        self, allowed_signers: str, gpg_keys: Mapping[str, bytes], revoked: str, *, now: bool = False
    ):
        # NOW: judge SSH key validity at the time of the check, not at the date the signer
        # wrote (a back-dated signature by an expired key must not pass the gate).
        self.now = now
        self.allowed = parse_allowed_signers(allowed_signers)
        self._allowed_text = allowed_signers
        self._gpg_files = dict(gpg_keys)
        self.revoked_ssh, self.revoked_gpg = parse_revoked(revoked)
        self._dir: str | None = None
        self._gpg: dict[str, GpgKey] | None = None
        # fingerprint -> principals, for keys whose entries do not depend on the date
        self._principals: dict[str, list[str]] = {}

    def __enter__(self) -> Verifier:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def _path(self, name: str) -> Path:
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="gitreg-verify-")
        return Path(self._dir) / name

    # GPG keys whose file holds exactly the key its name says; the rest are ignored.
    @property
    def gpg_keys(self) -> dict[str, GpgKey]:
        if self._gpg is None:
            self._gpg = {}
            for fpr, data in self._gpg_files.items():
                keys = show_gpg_keys(data)
                if len(keys) == 1 and keys[0].fingerprint == normalize_fingerprint(fpr):
                    self._gpg[keys[0].fingerprint] = keys[0]
        return self._gpg

    def check(self, tag: SignedTag) -> SignatureCheck:
        if tag.signature is None:
            return SignatureCheck(UNSIGNED)
        try:
            if tag.kind == SSH:
                return self._check_ssh(tag)
            if tag.kind == GPG:
                return self._check_gpg(tag)
        except GitFailed as exc:  # the tool is missing or hung: cannot tell, so not verified
            return SignatureCheck(UNSUPPORTED, tag.kind, detail=exc.message)
        return SignatureCheck(UNSUPPORTED, tag.kind, detail=f"{tag.kind} signatures are not supported")

    # --- SSH ---------------------------------------------------------------------

    def _check_ssh(self, tag: SignedTag) -> SignatureCheck:
        key = signature_key(tag.signature or b"")
        if key is None:
            return SignatureCheck(BAD, SSH, detail="the SSH signature block is malformed")
        result = SignatureCheck(BAD, SSH, fingerprint=key.fingerprint)
        if key.fingerprint in self.revoked_ssh:
            result.status, result.detail = REVOKED, f"key {key.fingerprint} is in signers/revoked"
            return result
        sig = self._path("tag.sig")
        sig.write_bytes(tag.signature or b"")
        allowed = self._path("allowed_signers")
        if not allowed.exists():
            allowed.write_text(self._allowed_text)
            self._path("revoked").write_text(
                "".join(f"{a.key.line}\n" for a in self.allowed if a.key.fingerprint in self.revoked_ssh)
            )
        when = []
        if tag.tagger_time is not None and not self.now:
            stamp = datetime.fromtimestamp(tag.tagger_time, timezone.utc).strftime("%Y%m%d%H%M%S")
            when = [f"-Overify-time={stamp}Z"]
        principals = self._principals.get(key.fingerprint)
        if principals is None:
            found = _run(
                ["ssh-keygen", "-Y", "find-principals", "-s", str(sig), "-f", str(allowed), *when],
                check=False,
            )
            principals = (
                [p for p in found.stdout.decode(errors="replace").splitlines() if p.strip()]
                if found.returncode == 0
                else []
            )
            # The answer holds for every tag of this key unless an entry of it is time-limited
            # (valid-before/after, judged at each tagger date) or a certificate (which expires).
            timed = any(a.key.fingerprint == key.fingerprint and "valid-" in a.options for a in self.allowed)
            if not timed and "-cert-" not in key.type:
                self._principals[key.fingerprint] = principals
        if not principals:
            # Is the signature itself sound? Then the only problem is the key.
            sound = _run(
                ["ssh-keygen", "-Y", "check-novalidate", "-n", "git", "-s", str(sig)],
                input=tag.payload,
                check=False,
            )
            if sound.returncode != 0:
                result.detail = "the signature does not match the tag's contents"
                return result
            result.status = UNKNOWN_KEY
            result.detail = f"key {key.fingerprint} is not in signers/allowed_signers (or expired)"
            return result
        # Prefer the principal that is the tagger (git's -I would pick the first).
        email = (tag.tagger_email or "").lower()
        principals.sort(key=lambda p: p.lower() != email)
        for principal in principals:
            proc = _run(
                [
                    "ssh-keygen",
                    "-Y",
                    "verify",
                    "-n",
                    "git",
                    "-f",
                    str(allowed),
                    "-I",
                    principal,
                    "-s",
                    str(sig),
                    "-r",
                    str(self._path("revoked")),
                    *when,
                ],
                input=tag.payload,
                check=False,
            )
            if proc.returncode == 0:
                result.status, result.signer = VERIFIED, principal
                result.identities = [p.lower() for p in principals]
                return result
        result.detail = "the signature does not match the tag's contents"
        return result

    # --- GPG ---------------------------------------------------------------------

    def _check_gpg(self, tag: SignedTag) -> SignatureCheck:
        keyring = self._path("keyring.gpg")
        if not keyring.exists():
            # A keyring is a sequence of key packets: the dearmored files, concatenated.
            home = self._path("gpg-home")
            home.mkdir(mode=0o700, exist_ok=True)
            data = b""
            for name, armored in self._gpg_files.items():
                if normalize_fingerprint(name) in self.gpg_keys:
                    proc = _run(
                        ["gpg", "--homedir", str(home), "--batch", "--no-tty", "--no-autostart", "--dearmor"],
                        input=armored,
                        check=False,
                    )
                    data += proc.stdout if proc.returncode == 0 else b""
            keyring.write_bytes(data)
        sig = self._path("tag.asc")
        sig.write_bytes(tag.signature or b"")
        payload = self._path("tag.payload")
        payload.write_bytes(tag.payload)
        home = self._path("gpgv-home")
        home.mkdir(mode=0o700, exist_ok=True)
        proc = _run(
            [
                "gpgv",
                "--homedir",
                str(home),
                "--status-fd",
                "1",
                "--keyring",
                str(keyring),
                str(sig),
                str(payload),
            ],
            check=False,
        )
        status = [
            line.split()[1:]
            for line in proc.stdout.decode(errors="replace").splitlines()
            if line.startswith("[GNUPG:] ") and len(line.split()) > 1
        ]
        kinds = [s[0] for s in status]
        valid = [s for s in status if s[0] == "VALIDSIG" and len(s) >= 11]
        errsig = [s for s in status if s[0] == "ERRSIG"]
        issuer = (
            errsig[0][7].upper()
            if errsig and len(errsig[0]) > 7
            else (errsig[0][1].upper() if errsig else None)
        )
        if issuer and any(issuer == f or f.endswith(issuer) for f in self.revoked_gpg):
            return SignatureCheck(
                REVOKED, GPG, fingerprint=issuer, detail=f"key {issuer} is in signers/revoked"
            )
        # git treats a signature by an expired or revoked key as bad (gpg-interface.c); gpgv
        # reports them with EXPKEYSIG / REVKEYSIG / EXPSIG and may still exit 0.
        lapsed = [k for k in kinds if k in ("EXPKEYSIG", "REVKEYSIG", "EXPSIG")]
        if lapsed:
            what = {"EXPKEYSIG": "expired", "REVKEYSIG": "revoked", "EXPSIG": "an expired signature"}
            fpr = valid[0][10].upper() if valid else issuer
            return SignatureCheck(
                EXPIRED,
                GPG,
                fingerprint=fpr,
                detail=f"gpgv reports {lapsed[0]}: the key {fpr} is {what[lapsed[0]]}"
                if lapsed[0] != "EXPSIG"
                else f"gpgv reports EXPSIG: {what['EXPSIG']}",
            )
        if (
            proc.returncode == 0
            and "GOODSIG" in kinds
            and len(valid) == 1
            and kinds.count("NEWSIG") <= 1
            and "BADSIG" not in kinds
            and not errsig
        ):
            primary = valid[0][10].upper()
            if primary in self.revoked_gpg:
                return SignatureCheck(
                    REVOKED, GPG, fingerprint=primary, detail=f"key {primary} is in signers/revoked"
                )
            key = self.gpg_keys.get(primary)
            if key is None:  # cannot happen with a keyring built from gpg_keys; be strict anyway
                return SignatureCheck(
                    UNKNOWN_KEY, GPG, fingerprint=primary, detail=f"key {primary} is not in signers/gpg"
                )
            return SignatureCheck(
                VERIFIED,
                GPG,
                signer=key.uids[0] if key.uids else primary,
                fingerprint=primary,
                identities=list(key.emails),
            )
        if errsig and len(errsig[0]) > 6 and errsig[0][6] == "9":
            return SignatureCheck(
                UNKNOWN_KEY, GPG, fingerprint=issuer, detail=f"key {issuer} is not in signers/gpg"
            )
        if "BADSIG" in kinds:
            return SignatureCheck(
                BAD, GPG, fingerprint=issuer, detail="the signature does not match the tag's contents"
            )
        said = proc.stderr.decode(errors="replace").strip().splitlines()
        return SignatureCheck(
            BAD,
            GPG,
            fingerprint=issuer,
            detail="gpgv could not verify the signature" + (f" ({said[-1]})" if said else ""),
        )
