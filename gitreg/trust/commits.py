"""Signatures on commits (proposals, approvals, merges), split the way `git verify-commit` does.

A commit carries its signature in a `gpgsig` (or `gpgsig-sha256`) header whose continuation
lines start with a space; the signed payload is the commit without that header. The result is
judged by the same `Verifier` as registration tags, against the signers of the base.
"""

from __future__ import annotations

from gitreg.trust.signatures import _SIG_STARTS, SignatureCheck, SignedTag, Verifier

_SIG_HEADERS = (b"gpgsig", b"gpgsig-sha256")


def split_commit(raw: bytes) -> SignedTag:
    """Headers, message, signed payload and signature of a raw commit object."""
    head, sep, message = raw.partition(b"\n\n")
    kept: list[bytes] = []
    sig_lines: list[bytes] = []
    in_sig = False
    for line in head.split(b"\n"):
        key = line.split(b" ", 1)[0]
        if in_sig and line.startswith(b" "):
            sig_lines.append(line[1:])
            continue
        in_sig = key in _SIG_HEADERS and not sig_lines
        if in_sig:
            sig_lines.append(line.split(b" ", 1)[1] if b" " in line else b"")
            continue
        kept.append(line)
    payload = b"\n".join(kept) + sep + message
    signature = b"\n".join(sig_lines) + b"\n" if sig_lines else None
    kind = _SIG_STARTS.get(sig_lines[0].rstrip(b"\r")) if sig_lines else None
    headers: dict[str, str] = {}
    for line in kept:
        name, _, value = line.decode(errors="replace").partition(" ")
        headers.setdefault(name, value)
    # The verifier judges key validity at the "tagger" date: for a commit, its committer date.
    headers["tagger"] = headers.get("committer", "")
    return SignedTag(headers, message.decode(errors="replace"), payload, signature, kind)


def check_commit(verifier: Verifier, raw: bytes) -> SignatureCheck:
    return verifier.check(split_commit(raw))
