"""Split a raw tag (or commit) object the way git splits it for verify-tag: headers, message,
signed payload and signature. Light on purpose: `show NAME` names each version's signature
kind from this alone, without the signature tools (signatures.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SSH = "ssh"
GPG = "gpg"
X509 = "x509"

# The lines git treats as the start of a signature (gpg-interface.c); the last one wins.
_SIG_STARTS = {
    b"-----BEGIN PGP SIGNATURE-----": GPG,
    b"-----BEGIN PGP MESSAGE-----": GPG,
    b"-----BEGIN SIGNED MESSAGE-----": X509,
    b"-----BEGIN SSH SIGNATURE-----": SSH,
}

# --- tag objects ----------------------------------------------------------------


@dataclass(frozen=True)
class SignedTag:
    """A raw tag object split the way git splits it for verify-tag."""

    headers: dict[str, str]  # object, type, tag, tagger (first value of each)
    message: str  # the message, signature excluded
    payload: bytes  # the signed bytes
    signature: bytes | None
    kind: str | None  # ssh, gpg, x509 or None when unsigned

    @property
    def _signer_line(self) -> str:
        # A tag names its tagger; a commit (split_commit) its committer.
        return self.headers.get("tagger") or self.headers.get("committer") or ""

    @property
    def tagger_email(self) -> str | None:
        m = re.search(r"<([^<>]*)>", self._signer_line)
        return m.group(1) if m else None

    @property
    def tagger_name(self) -> str:
        return self._signer_line.partition("<")[0].strip()

    @property
    def tagger_time(self) -> int | None:
        m = re.search(r">\s+(\d+)\s+[+-]\d{4}\Z", self._signer_line)
        return int(m.group(1)) if m else None


def split_tag(raw: bytes) -> SignedTag:
    """Headers, message, signed payload and signature of a raw tag object."""
    start = len(raw)
    kind = None
    pos = 0
    while pos < len(raw):
        end = raw.find(b"\n", pos)
        end = len(raw) if end < 0 else end + 1
        line = raw[pos:end].rstrip(b"\r\n")
        if line in _SIG_STARTS:
            start, kind = pos, _SIG_STARTS[line]
        pos = end
    payload, signature = raw[:start], (raw[start:] if kind else None)
    head, _, message = payload.partition(b"\n\n")
    headers: dict[str, str] = {}
    for header in head.decode(errors="replace").splitlines():
        key, _, value = header.partition(" ")
        headers.setdefault(key, value)
    return SignedTag(headers, message.decode(errors="replace"), payload, signature, kind)


def split_commit(raw: bytes) -> SignedTag:
    """A raw commit object split the way git verifies it: the signed payload is the object
    without its `gpgsig` header (continuation lines start with a space)."""
    head, sep, message = raw.partition(b"\n\n")
    kept: list[bytes] = []
    sig_lines: list[bytes] = []
    in_sig = False
    for line in head.split(b"\n"):
        if line.startswith(b"gpgsig ") and not sig_lines:
            in_sig = True
            sig_lines.append(line[len(b"gpgsig ") :])
        elif in_sig and line.startswith(b" "):
            sig_lines.append(line[1:])
        else:
            in_sig = False
            kept.append(line)
    payload = b"\n".join(kept) + sep + message
    signature = b"\n".join(sig_lines) + b"\n" if sig_lines else None
    kind = None
    if signature is not None:
        first = signature.split(b"\n", 1)[0].rstrip(b"\r")
        kind = _SIG_STARTS.get(first, X509)
    headers: dict[str, str] = {}
    for line in kept:
        key, _, value = line.decode(errors="replace").partition(" ")
        headers.setdefault(key, value)
    return SignedTag(headers, message.decode(errors="replace"), payload, signature, kind)
