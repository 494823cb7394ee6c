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

import base64
import hashlib
import os
import re
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from gitreg.errors import GitFailed, UsageError

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
_SSH_KEY_TYPE = re.compile(r"(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-\S+)(-cert-v01@openssh\.com)?\Z")
_FPR_RE = re.compile(r"[0-9A-F]{40}\Z")
_TIMEOUT = 30

# Verdicts of a signature check.
VERIFIED = "verified"
UNSIGNED = "unsigned"
UNKNOWN_KEY = "unknown-key"  # signed by a key the registry does not list
BAD = "bad"  # the signature does not match the signed bytes: the tag was altered
REVOKED = "revoked"
UNSUPPORTED = "unsupported"


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
    def tagger_email(self) -> str | None:
        m = re.search(r"<([^<>]*)>", self.headers.get("tagger", ""))
        return m.group(1) if m else None

    @property
    def tagger_time(self) -> int | None:
        m = re.search(r">\s+(\d+)\s+[+-]\d{4}\Z", self.headers.get("tagger", ""))
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
    for line in head.decode(errors="replace").splitlines():
        key, _, value = line.partition(" ")
        headers.setdefault(key, value)
    return SignedTag(headers, message.decode(errors="replace"), payload, signature, kind)


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
    (size,) = struct.unpack(">I", data[at:at + 4])
    return data[at + 4:at + 4 + size], at + 4 + size


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
        opts = [t for t in tokens[1:] if t != key.type and not _SSH_KEY_TYPE.fullmatch(t)]
        options = opts[0] if opts and "=" in opts[0] else ""
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
        proc = _run(["gpg", "--homedir", home, "--batch", "--no-tty", "--no-autostart",
                     "--with-colons", "--show-keys"], input=data, check=False)
    return _parse_colons(proc.stdout.decode(errors="replace"), "pub")


def _parse_colons(text: str, primary: str) -> list[GpgKey]:
    keys: list[dict] = []
    last = None
    for line in text.splitlines():
        fields = line.split(":")
        if fields[0] in (primary, "sub", "ssb"):
            last = fields[0]
            if fields[0] == primary:
                keys.append({"fpr": "", "uids": [], "subs": []})
        elif fields[0] == "fpr" and keys and len(fields) > 9:
            if last == primary and not keys[-1]["fpr"]:
                keys[-1]["fpr"] = fields[9].upper()
            elif last in ("sub", "ssb"):
                keys[-1]["subs"].append(fields[9].upper())
        elif fields[0] == "uid" and keys and len(fields) > 9:
            keys[-1]["uids"].append(fields[9])
    return [GpgKey(k["fpr"], tuple(k["uids"]), tuple(k["subs"])) for k in keys if k["fpr"]]


def export_gpg_key(spec: str, program: str = "gpg", env: Mapping[str, str] | None = None
                   ) -> tuple[GpgKey, bytes]:
    """Export one public key from the user's own keyring: (key, armored bytes)."""
    listed = _run([program, "--batch", "--no-tty", "--with-colons", "--fingerprint", "--", spec],
                  env=env, check=False)
    keys = _parse_colons(listed.stdout.decode(errors="replace"), "pub")
    if listed.returncode != 0 or not keys:
        raise UsageError(f"no GPG public key {spec!r} in your keyring.",
                         hint="List your keys with: gpg --list-keys --fingerprint")
    if len(keys) > 1:
        raise UsageError(f"{spec!r} matches {len(keys)} GPG keys.",
                         hint="Give the full 40-character fingerprint of the primary key.")
    key = keys[0]
    proc = _run([program, "--batch", "--no-tty", "--armor", "--export-options", "export-minimal",
                 "--export", "--", key.fingerprint], env=env)
    exported = show_gpg_keys(proc.stdout)
    if [k.fingerprint for k in exported] != [key.fingerprint]:
        raise GitFailed(f"gpg exported something other than key {key.fingerprint}.")
    return exported[0], proc.stdout


def has_secret_key(spec: str, program: str = "gpg") -> bool:
    proc = _run([program, "--batch", "--no-tty", "--with-colons", "--list-secret-keys", "--", spec],
                check=False)
    return proc.returncode == 0 and b"\nsec:" in b"\n" + proc.stdout


# --- verdicts -------------------------------------------------------------------

@dataclass
class SignatureCheck:
    status: str  # VERIFIED, UNSIGNED, UNKNOWN_KEY, BAD, REVOKED, UNSUPPORTED
    kind: str | None = None  # ssh, gpg, x509
    signer: str | None = None  # the matched principal (SSH) or the key's first user id (GPG)
    fingerprint: str | None = None  # SSH SHA256:... or GPG primary fingerprint
    identities: list[str] = field(default_factory=list)  # emails the signer may tag as
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == VERIFIED

    def to_dict(self) -> dict:
        return asdict(self)


class Verifier:
    """Verifies signatures against one set of signers (a registry tree's signers/).

    Files (allowed_signers, revoked keys, the GPG keyring) are written once into a
    temporary directory and reused for every tag; use it as a context manager.
    """

    def __init__(self, allowed_signers: str, gpg_keys: Mapping[str, bytes], revoked: str):
        self.allowed = parse_allowed_signers(allowed_signers)
        self._allowed_text = allowed_signers
        self._gpg_files = dict(gpg_keys)
        self.revoked_ssh, self.revoked_gpg = parse_revoked(revoked)
        self._dir: str | None = None
        self._gpg: dict[str, GpgKey] | None = None

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
                "".join(f"{a.key.line}\n" for a in self.allowed if a.key.fingerprint in self.revoked_ssh))
        when = []
        if tag.tagger_time is not None:
            stamp = datetime.fromtimestamp(tag.tagger_time, timezone.utc).strftime("%Y%m%d%H%M%S")
            when = [f"-Overify-time={stamp}Z"]
        found = _run(["ssh-keygen", "-Y", "find-principals", "-s", str(sig), "-f", str(allowed),
                      *when], check=False)
        principals = [p for p in found.stdout.decode(errors="replace").splitlines() if p.strip()]
        if found.returncode != 0 or not principals:
            # Is the signature itself sound? Then the only problem is the key.
            sound = _run(["ssh-keygen", "-Y", "check-novalidate", "-n", "git", "-s", str(sig)],
                         input=tag.payload, check=False)
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
            proc = _run(["ssh-keygen", "-Y", "verify", "-n", "git", "-f", str(allowed), "-I", principal,
                         "-s", str(sig), "-r", str(self._path("revoked")), *when],
                        input=tag.payload, check=False)
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
                    proc = _run(["gpg", "--homedir", str(home), "--batch", "--no-tty",
                                 "--no-autostart", "--dearmor"], input=armored, check=False)
                    data += proc.stdout if proc.returncode == 0 else b""
            keyring.write_bytes(data)
        sig = self._path("tag.asc")
        sig.write_bytes(tag.signature or b"")
        payload = self._path("tag.payload")
        payload.write_bytes(tag.payload)
        home = self._path("gpgv-home")
        home.mkdir(mode=0o700, exist_ok=True)
        proc = _run(["gpgv", "--homedir", str(home), "--status-fd", "1", "--keyring", str(keyring),
                     str(sig), str(payload)], check=False)
        status = [line.split()[1:] for line in proc.stdout.decode(errors="replace").splitlines()
                  if line.startswith("[GNUPG:] ") and len(line.split()) > 1]
        kinds = [s[0] for s in status]
        valid = [s for s in status if s[0] == "VALIDSIG" and len(s) >= 11]
        errsig = [s for s in status if s[0] == "ERRSIG"]
        issuer = errsig[0][7].upper() if errsig and len(errsig[0]) > 7 else (
            errsig[0][1].upper() if errsig else None)
        if issuer and any(issuer == f or f.endswith(issuer) for f in self.revoked_gpg):
            return SignatureCheck(REVOKED, GPG, fingerprint=issuer,
                                  detail=f"key {issuer} is in signers/revoked")
        if proc.returncode == 0 and len(valid) == 1 and kinds.count("NEWSIG") <= 1 \
                and "BADSIG" not in kinds and not errsig:
            primary = valid[0][10].upper()
            if primary in self.revoked_gpg:
                return SignatureCheck(REVOKED, GPG, fingerprint=primary,
                                      detail=f"key {primary} is in signers/revoked")
            key = self.gpg_keys.get(primary)
            if key is None:  # cannot happen with a keyring built from gpg_keys; be strict anyway
                return SignatureCheck(UNKNOWN_KEY, GPG, fingerprint=primary,
                                      detail=f"key {primary} is not in signers/gpg")
            return SignatureCheck(VERIFIED, GPG, signer=key.uids[0] if key.uids else primary,
                                  fingerprint=primary, identities=list(key.emails))
        if errsig and len(errsig[0]) > 6 and errsig[0][6] == "9":
            return SignatureCheck(UNKNOWN_KEY, GPG, fingerprint=issuer,
                                  detail=f"key {issuer} is not in signers/gpg")
        if "BADSIG" in kinds:
            return SignatureCheck(BAD, GPG, fingerprint=issuer,
                                  detail="the signature does not match the tag's contents")
        said = proc.stderr.decode(errors="replace").strip().splitlines()
        return SignatureCheck(BAD, GPG, fingerprint=issuer,
                              detail="gpgv could not verify the signature"
                              + (f" ({said[-1]})" if said else ""))


def _run(cmd: list[str], *, input: bytes | None = None, env: Mapping[str, str] | None = None,
         check: bool = True) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    try:
        proc = subprocess.run(cmd, input=input, capture_output=True, env=full_env, timeout=_TIMEOUT)
    except FileNotFoundError:
        raise GitFailed(f"{cmd[0]} is not installed.",
                        hint=f"Install {'OpenSSH' if cmd[0] == 'ssh-keygen' else 'GnuPG'}.") from None
    except subprocess.TimeoutExpired:
        raise GitFailed(f"{cmd[0]} did not answer within {_TIMEOUT} s.") from None
    if check and proc.returncode != 0:
        raise GitFailed(f"{cmd[0]} failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc
