"""Who may sign: the registry's `signers/`, and whether this user can sign at all.

    signers/allowed_signers       SSH keys, git's allowed_signers format (PRINCIPAL namespaces="git" KEY)
    signers/gpg/FINGERPRINT.asc   one armored GPG public key each, named by its primary fingerprint
    signers/revoked               revoked keys: an SSH public key (TYPE BASE64) or a GPG primary
                                  fingerprint a line; nothing they signed verifies, whatever its date

A change to signers/ is a policy change: it lands alone (the check's policy-alone rule) and a
registration is judged by the signers of its base. `add_ssh`, `add_gpg` and `revoke` write one
commit on the registry branch each, with compare-and-swap on the branch.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gitreg.errors import ConcurrentUpdate, RegistryRefusal, UsageError
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

if TYPE_CHECKING:
    from gitreg.model.branch import RegistryBranch

REVOKED_HEADER = (
    "# Revoked signing keys: nothing they signed verifies, whatever its date.\n"
    "# One SSH public key (TYPE BASE64) or GPG primary fingerprint (40 hex) a line.\n"
)
_PRINCIPAL_RE = re.compile(r"[^\s,\"*?!@]+@[^\s,\"*?!@]+\Z")
_RETRIES = 5


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


def verifier_for(view: RegistryView) -> Verifier:
    """A verifier that trusts exactly the signers of VIEW's tree."""
    return Verifier(
        _text(view, layout.ALLOWED_SIGNERS_PATH), gpg_files(view), _text(view, layout.REVOKED_SIGNERS_PATH)
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
    """A commit that changed signers/: what it allowed or revoked."""

    commit: str
    message: str
    kind: str | None = None  # ssh | gpg, for an added key
    fingerprint: str | None = None
    identities: list[str] = field(default_factory=list)
    revoked: str | None = None  # the principal or fingerprint revoked

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
        uids = list(keys[0].uids) if len(keys) == 1 else []
        found.append(
            Signer("gpg", fpr, uids, fpr in revoked_gpg, f"{layout.GPG_KEYS_DIR}/{name}.asc", problem)
        )
    return found


# --- changing signers/ -----------------------------------------------------------------


def add(
    registry: RegistryBranch,
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


def add_ssh(registry: RegistryBranch, key_file: str | os.PathLike, principal: str) -> SignerChange:
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

    return SignerChange(*_commit(registry, edit), "ssh", key.fingerprint, [principal])


def add_gpg(registry: RegistryBranch, spec: str) -> SignerChange:
    """Allow the GPG key SPEC, exported from the user's own keyring."""
    key, armored = export_gpg_key(spec, _gpg_program(registry.store))
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

    return SignerChange(*_commit(registry, edit), "gpg", key.fingerprint, list(key.uids))


def revoke(
    registry: RegistryBranch,
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
    return SignerChange(*_commit(registry, edit), revoked=revoked)


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


def _commit(registry: RegistryBranch, edit) -> tuple[str, str]:
    """One commit on the registry branch made by EDIT(view) -> (changes, message), with CAS."""
    store = registry.store
    ident = store.ident()
    for _ in range(_RETRIES):
        head = registry.require_head()
        view = RegistryView(store, store.commit_tree(head), head)
        changes, message = edit(view)
        tree = store.write_tree(view.tree, changes)
        commit = store.write_commit(tree, [head], message + "\n", ident)
        try:
            store.update_refs([(registry.branch_ref, commit, head)], f"gitreg: {message}")
        except ConcurrentUpdate:
            continue
        return commit, message
    raise ConcurrentUpdate(
        "the registry kept changing; gave up after several tries.",
        hint="Nothing was written. Run the command again.",
    )


# --- can this user sign? -----------------------------------------------------------------


def _gpg_program(store: GitStore) -> str:
    return store.config("gpg.openpgp.program") or store.config("gpg.program") or "gpg"


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
