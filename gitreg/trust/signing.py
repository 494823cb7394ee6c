"""Who may sign: the registry's `signers/`, and whether this user can sign at all.

    signers/allowed_signers       SSH keys, git's allowed_signers format (PRINCIPAL namespaces="git" KEY)
    signers/gpg/FINGERPRINT.asc   one armored GPG public key each, named by its primary fingerprint
    signers/revoked               revoked keys: an SSH public key (TYPE BASE64) or a GPG primary
                                  fingerprint a line; nothing they signed verifies, whatever its date

A change to signers/ is a policy change: it lands alone (the check's policy-alone rule), only
with the maintainers' signatures, and a registration is judged by the signers of its base.
`add_ssh`, `add_gpg` and `revoke` each make a gitreg-policy/... proposal branch.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gitreg.errors import GitregError, RegistryRefusal, UsageError
from gitreg.model.view import RegistryView
from gitreg.results import to_data
from gitreg.store import layout
from gitreg.store.gitstore import GitStore, Ident
from gitreg.trust.keys import (
    export_gpg_key,
    has_secret_key,
    is_fingerprint,
    normalize_fingerprint,
    parse_allowed_signers,
    parse_public_key,
    parse_revoked,
    show_gpg_keys,
)
from gitreg.trust.signatures import Verifier


class PolicyProposer(Protocol):
    """What the signers commands write through: a policy proposal maker (ops/governance.py's
    Proposer; trust may not import ops)."""

    store: GitStore

    def propose_policy(self, edit: Any, slug: str) -> Any: ...


REVOKED_HEADER = (
    "# Revoked signing keys: nothing they signed verifies, whatever its date.\n"
    "# One SSH public key (TYPE BASE64) or GPG primary fingerprint (40 hex) a line.\n"
)
_PRINCIPAL_RE = re.compile(r"[^\s,\"*?!@]+@[^\s,\"*?!@]+\Z")


# --- reading signers/ -----------------------------------------------------------------


def _text(view: RegistryView, path: str) -> str:
    data = view.read(path)
    return data.decode(errors="replace") if data else ""


def gpg_files(view: RegistryView) -> dict[str, bytes]:
    """FINGERPRINT -> armored key, for every signers/gpg/*.asc."""
    found = {}
    for name, oid, is_tree in view.store.list_dir(view.tree, layout.GPG_KEYS_DIR):
        if not is_tree and name.endswith(".asc"):
            found[name[:-4]] = view.store.read_blob_id(oid)
    return found


def verifier_for(view: RegistryView, *, now: bool = False) -> Verifier:
    """A verifier that trusts exactly the signers of VIEW's tree (NOW: key validity judged at
    the time of the call, not at the date a signature claims)."""
    return Verifier(
        _text(view, layout.ALLOWED_SIGNERS_PATH),
        gpg_files(view),
        _text(view, layout.REVOKED_SIGNERS_PATH),
        now=now,
    )


@dataclass
class Signer:
    kind: str  # ssh | gpg
    fingerprint: str
    identities: list[str]  # SSH principals or GPG user ids
    revoked: bool
    file: str
    problem: str | None = None  # e.g. a .asc that does not hold the key its name says

    def to_dict(self) -> dict:
        return to_data(self)


@dataclass
class SignerChange:
    """A proposed change to signers/ (a gitreg-policy/... branch): what it allows or revokes."""

    commit: str
    message: str
    kind: str | None = None  # ssh | gpg, for an added key
    fingerprint: str | None = None
    identities: list[str] = field(default_factory=list)
    revoked: str | None = None  # the principal or fingerprint revoked
    branch: str = ""  # the proposal branch
    signed: bool = False  # whether the change commit carries the proposer's signature
    pending: list[str] = field(default_factory=list)  # maintainer signatures it still needs

    def to_dict(self) -> dict:
        return to_data(self)


def list_signers(view: RegistryView) -> list[Signer]:
    revoked_text = _text(view, layout.REVOKED_SIGNERS_PATH)
    revoked_ssh, revoked_gpg = parse_revoked(revoked_text)
    found = [
        Signer(
            "ssh",
            s.key.fingerprint,
            list(s.principals),
            s.key.fingerprint in revoked_ssh,
            f"{layout.ALLOWED_SIGNERS_PATH}:{s.line}",
        )
        for s in parse_allowed_signers(_text(view, layout.ALLOWED_SIGNERS_PATH))
    ]
    for name, data in sorted(gpg_files(view).items()):
        keys = show_gpg_keys(data)
        fpr = normalize_fingerprint(name)
        problem = None
        if len(keys) != 1 or keys[0].fingerprint != fpr:
            held = ", ".join(k.fingerprint for k in keys) or "no key"
            problem = f"holds {held}, not the key its name says; it is ignored"
        elif keys[0].lapsed:
            problem = f"holds a key that is {keys[0].lapsed}: nothing it signs verifies"
        uids = list(keys[0].uids) if len(keys) == 1 else []
        found.append(
            Signer("gpg", fpr, uids, fpr in revoked_gpg, f"{layout.GPG_KEYS_DIR}/{name}.asc", problem)
        )
    return found


# --- changing signers/ -----------------------------------------------------------------


def add(
    registry: PolicyProposer,
    *,
    ssh_key: str | os.PathLike | None = None,
    principal: str | None = None,
    gpg: str | None = None,
) -> SignerChange:
    """Allow an SSH key (as PRINCIPAL) or a GPG key to sign."""
    if (ssh_key is None) == (gpg is None) or (ssh_key is not None and not principal):
        raise UsageError("give either --ssh KEY.pub --principal EMAIL, or --gpg FINGERPRINT.")
    if ssh_key is not None:
        return add_ssh(registry, ssh_key, principal or "")
    return add_gpg(registry, gpg or "")


def add_ssh(registry: PolicyProposer, key_file: str | os.PathLike, principal: str) -> SignerChange:
    """Allow the SSH key in KEY_FILE (a .pub) to sign as PRINCIPAL."""
    if not _PRINCIPAL_RE.fullmatch(principal or ""):
        raise UsageError(
            f"{principal!r} is not a principal gitreg accepts.",
            hint="Use the signer's email, the one in their git user.email.",
        )
    key = _read_public_key(key_file)

    def edit(view: RegistryView) -> tuple[dict[str, bytes | None], str]:
        revoked = parse_revoked(_text(view, layout.REVOKED_SIGNERS_PATH))[0]
        if key.fingerprint in revoked:
            raise RegistryRefusal(
                f"SSH key {key.fingerprint} is revoked; it cannot be allowed again.",
                hint="Make a new key and add that one.",
            )
        text = _text(view, layout.ALLOWED_SIGNERS_PATH)
        for signer in parse_allowed_signers(text):
            if signer.key.fingerprint == key.fingerprint:
                raise RegistryRefusal(
                    f"SSH key {key.fingerprint} is already allowed (as {', '.join(signer.principals)}).",
                    hint="Nothing to do; see 'gitreg signers list'.",
                )
        if text and not text.endswith("\n"):
            text += "\n"
        text += f'{principal} namespaces="git" {key.line}\n'
        return (
            {layout.ALLOWED_SIGNERS_PATH: text.encode()},
            f"Allow {principal} to sign registrations (ssh {key.fingerprint})",
        )

    commit, message, branch, signed, pending = _commit(registry, edit, "signers-add")
    return SignerChange(commit, message, "ssh", key.fingerprint, [principal], None, branch, signed, pending)


def add_gpg(registry: PolicyProposer, spec: str) -> SignerChange:
    """Allow the GPG key SPEC, exported from the user's own keyring."""
    key, armored = export_gpg_key(spec, _gpg_program(registry.store))
    if key.lapsed:  # gpgv would report EXPKEYSIG/REVKEYSIG for everything it signs
        raise RegistryRefusal(
            f"GPG key {key.fingerprint} is {key.lapsed}; it cannot sign anything that verifies.",
            hint="Add a key that is valid now (gpg --quick-set-expire extends an expired one).",
        )
    path = f"{layout.GPG_KEYS_DIR}/{key.fingerprint}.asc"

    def edit(view: RegistryView) -> tuple[dict[str, bytes | None], str]:
        if key.fingerprint in parse_revoked(_text(view, layout.REVOKED_SIGNERS_PATH))[1]:
            raise RegistryRefusal(
                f"GPG key {key.fingerprint} is revoked; it cannot be allowed again.",
                hint="Make a new key and add that one.",
            )
        if view.read(path) is not None:
            raise RegistryRefusal(
                f"GPG key {key.fingerprint} is already allowed ({path}).",
                hint="Nothing to do; see 'gitreg signers list'.",
            )
        who = key.uids[0] if key.uids else key.fingerprint
        return {path: armored}, f"Allow {who} to sign registrations (gpg {key.fingerprint})"

    commit, message, branch, signed, pending = _commit(registry, edit, "signers-add")
    return SignerChange(
        commit, message, "gpg", key.fingerprint, list(key.uids), None, branch, signed, pending
    )


def revoke(
    registry: PolicyProposer,
    *,
    ssh_key: str | os.PathLike | None = None,
    gpg: str | None = None,
    principal: str | None = None,
) -> SignerChange:
    """Revoke an SSH key (its .pub), every SSH key of a principal, or a GPG key (fingerprint)."""
    if sum(x is not None for x in (ssh_key, gpg, principal)) != 1:
        raise UsageError("give exactly one of --ssh KEY.pub, --principal EMAIL, --gpg FINGERPRINT.")
    pub = _read_public_key(ssh_key) if ssh_key is not None else None
    if gpg is not None and not is_fingerprint(gpg):
        raise UsageError(
            f"{gpg!r} is not a GPG fingerprint.",
            hint="Give the 40-character primary fingerprint ('gitreg signers list').",
        )

    def edit(view: RegistryView) -> tuple[dict[str, bytes | None], str]:
        text = _text(view, layout.REVOKED_SIGNERS_PATH) or REVOKED_HEADER
        revoked_ssh, revoked_gpg = parse_revoked(text)
        lines: list[str] = []
        if pub is not None:
            lines = [pub.line] if pub.fingerprint not in revoked_ssh else []
        elif principal is not None:
            keys = [
                s.key
                for s in parse_allowed_signers(_text(view, layout.ALLOWED_SIGNERS_PATH))
                if principal in s.principals
            ]
            if not keys:
                raise RegistryRefusal(
                    f"no SSH key is allowed for {principal!r}.", hint="See 'gitreg signers list'."
                )
            lines = [k.line for k in keys if k.fingerprint not in revoked_ssh]
        elif gpg is not None:
            fpr = normalize_fingerprint(gpg)
            lines = [fpr] if fpr not in revoked_gpg else []
        if not lines:
            raise RegistryRefusal("that key is revoked already.", hint="Nothing to do.")
        if not text.endswith("\n"):
            text += "\n"
        text += "".join(f"{line}\n" for line in lines)
        what = principal or (pub.fingerprint if pub else normalize_fingerprint(gpg or ""))
        return {layout.REVOKED_SIGNERS_PATH: text.encode()}, f"Revoke signing key(s) of {what}"

    revoked = principal or (pub.fingerprint if pub else normalize_fingerprint(gpg or ""))
    commit, message, branch, signed, pending = _commit(registry, edit, "signers-revoke")
    return SignerChange(commit, message, revoked=revoked, branch=branch, signed=signed, pending=pending)


def _read_public_key(path: str | os.PathLike):
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as exc:
        raise UsageError(
            f"cannot read {path}: {exc.strerror}.",
            hint="Give the public key file, such as ~/.ssh/id_ed25519.pub.",
        ) from None
    if "PRIVATE KEY" in text:
        raise UsageError(
            f"{path} is a private key.", hint="Give the public key: the same path ending in .pub."
        )
    keys = [k for k in (parse_public_key(line) for line in text.splitlines()) if k]
    if len(keys) != 1:
        raise UsageError(
            f"{path} holds {len(keys)} SSH public keys, not one.",
            hint="Give one public key file, such as ~/.ssh/id_ed25519.pub.",
        )
    if "-cert-" in keys[0].type:
        raise UsageError(f"{path} is an SSH certificate.", hint="Give the plain public key.")
    return keys[0]


def _commit(registry: PolicyProposer, edit, slug: str) -> tuple[str, str, str, bool, list[str]]:
    """A policy proposal (a gitreg-policy/... branch) made by EDIT(view) -> (changes, message):
    a change to signers/ lands only as the maintainers sign it."""
    p = registry.propose_policy(edit, slug)
    return p.commit, p.message, p.branch, p.signed, p.pending


# --- can this user sign? -----------------------------------------------------------------


def _gpg_program(store: GitStore) -> str:
    return store.config("gpg.openpgp.program") or store.config("gpg.program") or "gpg"


def own_signer(store: GitStore, ident: Ident) -> tuple[str, dict[str, bytes]] | None:
    """(principal, signers/ files) for the key git signs with here, or None when there is none:
    what `gitreg init` writes so that its user is the first maintainer."""
    if not can_sign(store, ident):
        return None
    principal = ident.email.lower()
    fmt = (store.config("gpg.format") or "openpgp").lower()
    key_spec = store.config("user.signingKey") or ""
    if fmt == "ssh":
        if key_spec.startswith("key::"):
            key = parse_public_key(key_spec[len("key::") :])
        else:
            path = Path(os.path.expanduser(key_spec))
            if not path.is_absolute() and store.workdir is not None:
                path = store.workdir / path
            pub = path if path.suffix == ".pub" else path.with_name(path.name + ".pub")
            try:
                key = parse_public_key(pub.read_text(errors="replace"))
            except OSError:
                key = None
        if key is None or not _PRINCIPAL_RE.fullmatch(principal):
            return None
        line = f'{principal} namespaces="git" {key.line}\n'
        return principal, {layout.ALLOWED_SIGNERS_PATH: line.encode()}
    if fmt == "openpgp":
        try:
            gpg_key, armored = export_gpg_key(key_spec or ident.email, _gpg_program(store))
        except GitregError:
            return None
        if gpg_key.lapsed or principal not in gpg_key.emails:
            return None
        return principal, {f"{layout.GPG_KEYS_DIR}/{gpg_key.fingerprint}.asc": armored}
    return None


def can_sign(store: GitStore, ident: Ident) -> bool:
    """Whether git has a key to sign with here (see require_signing_key)."""
    try:
        require_signing_key(store, ident, required_by_policy=False)
    except UsageError:
        return False
    return True


def require_signing_key(store: GitStore, ident: Ident, *, required_by_policy: bool) -> None:
    """Refuse up front when git has no key to sign with, so nothing gets written.

    Mirrors how git picks the key: gpg.format (openpgp by default), user.signingKey,
    for SSH gpg.ssh.defaultKeyCommand, for OpenPGP the committer identity.
    """
    fmt = (store.config("gpg.format") or "openpgp").lower()
    key = store.config("user.signingKey") or store.config("user.signingkey")
    why = None
    if fmt == "ssh":
        if not key and not store.config("gpg.ssh.defaultKeyCommand"):
            why = "gpg.format is ssh, but user.signingKey is not set"
        elif key and not key.startswith(("key::", "ssh-", "ecdsa-", "sk-")):
            path = Path(os.path.expanduser(key))
            if not path.is_absolute() and store.workdir is not None:
                path = store.workdir / path
            if not path.is_file():
                why = f"user.signingKey is {key}, which does not exist"
    elif fmt == "openpgp":
        spec = key or f"{ident.name} <{ident.email}>"
        if not has_secret_key(spec, _gpg_program(store)):
            why = (
                f"no GPG secret key matches {spec!r}"
                if key
                else "no signing key is configured (user.signingKey is not set, and GPG has no "
                f"secret key for {spec!r})"
            )
    if why is None:
        return
    message = (
        (
            "the policy requires signed registrations, but "
            if required_by_policy
            else "cannot sign the registration tag: "
        )
        + why
        + "."
    )
    hint = (
        "Set up git signing, then run the command again. SSH: git config gpg.format ssh && "
        "git config user.signingKey ~/.ssh/id_ed25519.pub. GPG: git config user.signingKey "
        "FINGERPRINT. Nothing was written."
    )
    raise (RegistryRefusal if required_by_policy else UsageError)(message, hint=hint)
