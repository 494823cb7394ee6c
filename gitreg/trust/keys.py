"""Signing keys as the registry stores them, and the GnuPG calls that read or export them.

SSH public keys and git's allowed_signers lines are parsed here (fingerprints are computed from
the key blob, as ssh-keygen prints them); GPG keys are listed with `gpg --show-keys` in a
throw-away GnuPG home, so the user's keyring never decides what a key file holds. This module and
signatures.py own ssh-keygen, gpg and gpgv (they are not git; gitstore.py owns git).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import struct
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass

from gitreg.errors import GitFailed, UsageError

_SSH_KEY_TYPE = re.compile(r"(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-\S+)(-cert-v01@openssh\.com)?\Z")
_FPR_RE = re.compile(r"[0-9A-F]{40}\Z")
_TIMEOUT = 30


# --- SSH keys -------------------------------------------------------------------


@dataclass(frozen=True)
class SshKey:
    type: str
    blob: bytes

    @property
    def fingerprint(self) -> str:
        return "SHA256:" + base64.b64encode(hashlib.sha256(self.blob).digest()).decode().rstrip("=")

    @property
    def line(self) -> str:
        return f"{self.type} {base64.b64encode(self.blob).decode()}"


def parse_public_key(text: str) -> SshKey | None:
    """The key of a line holding 'TYPE BASE64' somewhere (a .pub, allowed_signers or revoked line)."""
    tokens = _tokens(text)
    for i, token in enumerate(tokens[:-1]):
        if _SSH_KEY_TYPE.fullmatch(token):
            try:
                blob = base64.b64decode(tokens[i + 1], validate=True)
            except ValueError:
                continue
            if _ssh_string(blob, 0)[0] == token.encode():
                return SshKey(token, blob)
    return None


def _tokens(line: str) -> list[str]:
    # allowed_signers options may quote values: namespaces="git,file".
    return re.findall(r'(?:[^\s"]|"[^"]*")+', line)


def _ssh_string(data: bytes, at: int) -> tuple[bytes, int]:
    if at + 4 > len(data):
        return b"", len(data) + 1
    (size,) = struct.unpack(">I", data[at : at + 4])
    return data[at + 4 : at + 4 + size], at + 4 + size


def signature_key(signature: bytes) -> SshKey | None:
    """The public key inside an armored SSHSIG blob (PROTOCOL.sshsig), or None when malformed."""
    lines = signature.decode(errors="replace").strip().splitlines()
    if len(lines) < 3 or not lines[-1].startswith("-----END SSH SIGNATURE-----"):
        return None
    try:
        blob = base64.b64decode("".join(lines[1:-1]), validate=True)
    except ValueError:
        return None
    if not blob.startswith(b"SSHSIG"):
        return None
    key, end = _ssh_string(blob, 10)
    key_type, _ = _ssh_string(key, 0)
    if end > len(blob) or not key_type:
        return None
    return SshKey(key_type.decode(errors="replace"), key)


@dataclass(frozen=True)
class AllowedSigner:
    principals: tuple[str, ...]
    key: SshKey
    options: str
    line: int


def parse_allowed_signers(text: str) -> list[AllowedSigner]:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key = parse_public_key(line)
        tokens = _tokens(line)
        if key is None or not tokens:
            continue
        at = next(i for i, t in enumerate(tokens) if t == key.type)
        options = " ".join(tokens[1:at])  # e.g. namespaces="git",valid-before="20300101"
        found.append(AllowedSigner(tuple(tokens[0].split(",")), key, options, number))
    return found


def parse_revoked(text: str) -> tuple[set[str], set[str]]:
    """(SSH key fingerprints, GPG primary fingerprints) listed in a signers/revoked file."""
    ssh, gpg = set(), set()
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        key = parse_public_key(line) if line else None
        if key is not None:
            ssh.add(key.fingerprint)
        elif is_fingerprint(line):
            gpg.add(normalize_fingerprint(line))
    return ssh, gpg


# --- GPG keys -------------------------------------------------------------------


@dataclass(frozen=True)
class GpgKey:
    fingerprint: str  # primary key, 40 upper-case hex
    uids: tuple[str, ...]
    subkeys: tuple[str, ...] = ()
    validity: str = ""  # gpg's field 2 of the pub line: "e" expired, "r" revoked

    @property
    def lapsed(self) -> str | None:
        """'expired' or 'revoked' when the key can no longer sign, else None."""
        return {"e": "expired", "r": "revoked"}.get(self.validity)

    @property
    def emails(self) -> tuple[str, ...]:
        return tuple(m.group(1).lower() for u in self.uids for m in [re.search(r"<([^<>]+)>", u)] if m)


def is_fingerprint(text: str) -> bool:
    return bool(_FPR_RE.fullmatch(text.replace(" ", "").upper()))


def normalize_fingerprint(text: str) -> str:
    return text.replace(" ", "").upper()


def show_gpg_keys(data: bytes) -> list[GpgKey]:
    """The keys held in KEY DATA (armored or binary), read in a throw-away GnuPG home."""
    with tempfile.TemporaryDirectory(prefix="gitreg-gpg-") as home:
        proc = run(
            [
                "gpg",
                "--homedir",
                home,
                "--batch",
                "--no-tty",
                "--no-autostart",
                "--with-colons",
                "--show-keys",
            ],
            input=data,
            check=False,
        )
    return _parse_colons(proc.stdout.decode(errors="replace"), "pub")


def _parse_colons(text: str, primary: str) -> list[GpgKey]:
    keys: list[dict] = []
    last = None
    for line in text.splitlines():
        fields = line.split(":")
        if fields[0] in (primary, "sub", "ssb"):
            last = fields[0]
            if fields[0] == primary:
                keys.append(
                    {"fpr": "", "uids": [], "subs": [], "validity": fields[1] if len(fields) > 1 else ""}
                )
        elif fields[0] == "fpr" and keys and len(fields) > 9:
            if last == primary and not keys[-1]["fpr"]:
                keys[-1]["fpr"] = fields[9].upper()
            elif last in ("sub", "ssb"):
                keys[-1]["subs"].append(fields[9].upper())
        elif fields[0] == "uid" and keys and len(fields) > 9:
            keys[-1]["uids"].append(fields[9])
    return [GpgKey(k["fpr"], tuple(k["uids"]), tuple(k["subs"]), k["validity"]) for k in keys if k["fpr"]]


def export_gpg_key(
    spec: str, program: str = "gpg", env: Mapping[str, str] | None = None
) -> tuple[GpgKey, bytes]:
    """Export one public key from the user's own keyring: (key, armored bytes)."""
    listed = run(
        [program, "--batch", "--no-tty", "--with-colons", "--fingerprint", "--", spec], env=env, check=False
    )
    keys = _parse_colons(listed.stdout.decode(errors="replace"), "pub")
    if listed.returncode != 0 or not keys:
        raise UsageError(
            f"no GPG public key {spec!r} in your keyring.",
            hint="List your keys with: gpg --list-keys --fingerprint",
        )
    if len(keys) > 1:
        raise UsageError(
            f"{spec!r} matches {len(keys)} GPG keys.",
            hint="Give the full 40-character fingerprint of the primary key.",
        )
    key = keys[0]
    proc = run(
        [
            program,
            "--batch",
            "--no-tty",
            "--armor",
            "--export-options",
            "export-minimal",
            "--export",
            "--",
            key.fingerprint,
        ],
        env=env,
    )
    exported = show_gpg_keys(proc.stdout)
    if [k.fingerprint for k in exported] != [key.fingerprint]:
        raise GitFailed(f"gpg exported something other than key {key.fingerprint}.")
    return exported[0], proc.stdout


def has_secret_key(spec: str, program: str = "gpg") -> bool:
    proc = run(
        [program, "--batch", "--no-tty", "--with-colons", "--list-secret-keys", "--", spec], check=False
    )
    return proc.returncode == 0 and b"\nsec:" in b"\n" + proc.stdout


def run(
    cmd: list[str], *, input: bytes | None = None, env: Mapping[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    try:
        proc = subprocess.run(cmd, input=input, capture_output=True, env=full_env, timeout=_TIMEOUT)
    except FileNotFoundError:
        raise GitFailed(
            f"{cmd[0]} is not installed.", hint=f"Install {'OpenSSH' if cmd[0] == 'ssh-keygen' else 'GnuPG'}."
        ) from None
    except subprocess.TimeoutExpired:
        raise GitFailed(f"{cmd[0]} did not answer within {_TIMEOUT} s.") from None
    if check and proc.returncode != 0:
        raise GitFailed(f"{cmd[0]} failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc
