"""Registration: the registry branch's creation, and a version's card and tag written together.

Writes follow one order so that a crash at any point leaves a repairable
state and never a tag without its card: every object first (card blobs,
trees, the registry commit, the tag object), then a pending ref
(refs/gitreg/pending/...) that keeps the tag object from any gc, then one
`update-ref` transaction that moves the registry branch, creates the tag and
drops the pending ref, in that order. If the process dies in between, the
card records the tag object's id and `repair` (ops/repair.py, run by every
write first) creates the missing ref.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from gitreg.errors import ConcurrentUpdate, RegistryRefusal, UsageError
from gitreg.model import card as cards
from gitreg.model.branch import RegistryBranch
from gitreg.model.policy import DEFAULT_POLICY, Policy
from gitreg.model.view import RegistryView, artifact_digest
from gitreg.ops import repair
from gitreg.results import to_data
from gitreg.store import layout, yamlio
from gitreg.store.gitstore import GitStore, Ident, TagInfo

REGISTRY_README = """\
# The gitreg registry branch

This branch is a model registry, written by gitreg. Do not edit it by hand:
use `gitreg register` and `gitreg promote`, and let the check judge changes.

- registry.yaml: the policy (stages, transitions, gates, signing, lineage)
- signers/: who may sign registrations
- models/NAME/model.yaml: the model; versions/VERSION.yaml: its cards;
  stages.yaml: which versions each stage holds
"""
ALLOWED_SIGNERS_HEADER = (
    "# Keys allowed to sign registrations, in git's allowed_signers format:\n"
    '# PRINCIPAL namespaces="git" ssh-ed25519 AAAA...\n'
)
TAG_TRAILER = "gitreg-tag"
_RETRIES = 16  # each lost race means another writer won: progress is certain


@dataclass
class Registration:
    name: str
    version: str
    tag: str
    tag_id: str
    source_commit: str
    registry_commit: str
    card_path: str
    digest: str
    signed: bool
    card: dict = field(repr=False)
    proposal: str | None = None  # the proposal branch, when registered with propose=True
    warnings: list[str] = field(default_factory=list)  # e.g. uncommitted pipeline files ignored

    def to_dict(self) -> dict:
        return to_data(self)


@dataclass
class Initialized:
    branch: str
    commit: str
    created: bool
    maintainers: list[str] = field(default_factory=list)  # [] when the policy is unowned

    def to_dict(self) -> dict:
        return to_data(self)


def init_registry(reg: RegistryBranch, policy_file: str | os.PathLike | None = None) -> Initialized:
    """Create the registry branch; a no-op when it exists with the same policy."""
    policy_text = DEFAULT_POLICY
    if policy_file is not None:
        try:
            with open(policy_file, encoding="utf-8") as f:
                policy_text = f.read()
        except OSError as exc:
            raise UsageError(f"cannot read policy {policy_file}: {exc.strerror}.") from None
        Policy.parse(policy_text, str(policy_file))
    head = reg.head()
    if head is None and (remote := reg.remote_registry()) is not None:
        raise RegistryRefusal(
            f"{remote} exists: this clone's remote has a registry already.",
            hint="Run 'gitreg sync' to fetch it; 'gitreg init' would start a second registry.",
        )
    if head is not None:
        if policy_file is not None:
            current = reg.view().read(layout.POLICY_PATH) or b""
            if current.decode() != policy_text:
                raise RegistryRefusal(
                    f"the registry branch {reg.branch!r} exists already with another policy.",
                    hint="Change registry.yaml through a proposal; policy changes land alone.",
                )
        return Initialized(reg.branch, head, False)
    ident = reg.store.ident()
    files = {
        layout.POLICY_PATH: policy_text.encode(),
        layout.ALLOWED_SIGNERS_PATH: ALLOWED_SIGNERS_HEADER.encode(),
        "README.md": REGISTRY_README.encode(),
        f"{layout.MODELS_DIR}/.gitkeep": b"",
    }
    maintainers = Policy.parse(policy_text, "registry.yaml").maintainers
    # The first maintainer is whoever can sign here; without a key the policy is unowned.
    from gitreg.trust.signing import own_signer

    owner = own_signer(reg.store, ident)
    if owner is not None and (maintainers is None or maintainers.holds(owner[0])):
        principal, key_files = owner
        if maintainers is None:
            policy_text = policy_text.rstrip("\n") + (
                "\nmaintainers:                # who may change registry.yaml, signers/, checks/\n"
                f"  principals: [{principal}]\n"
                "  approvals: 1               # distinct maintainer signatures a policy change needs\n"
            )
            files[layout.POLICY_PATH] = policy_text.encode()
            maintainers = Policy.parse(policy_text, "registry.yaml").maintainers
        for path, data in key_files.items():
            header = ALLOWED_SIGNERS_HEADER.encode() if path == layout.ALLOWED_SIGNERS_PATH else b""
            files[path] = header + data
    tree = reg.store.write_tree(None, files)
    commit = reg.store.write_commit(
        tree,
        [],
        f"Initialize the gitreg registry\n\n{TAG_TRAILER}-format: {layout.FORMAT_VERSION}\n",
        ident,
    )
    reg.store.update_refs([(reg.branch_ref, commit, None)], "gitreg: init")
    return Initialized(reg.branch, commit, True, list(maintainers.principals) if maintainers else [])


# --- register ------------------------------------------------------------------


def register(
    reg: RegistryBranch,
    name: str,
    narrative: dict | str | os.PathLike,
    *,
    version: str | None = None,
    bump: str | None = None,
    rev: str = "HEAD",
    artifact: str | None = None,
    metrics: str | None = None,
    sign: bool | None = None,
    image: str | None = None,
    propose: bool = False,
    allow_same_artifact: bool = False,
    strict: bool = False,
) -> Registration:
    """Register NAME at source revision REV: write its card and create its tag, atomically.

    With PROPOSE the card lands on a proposal branch (gitreg-register/NAME/vVERSION), judged
    by the check first, instead of on the registry branch; the tag is created with it.
    An artifact some version of NAME has already is refused unless ALLOW_SAME_ARTIFACT (the
    card then names the newest such version). Uncommitted pipeline files in the work tree at REV are
    named in the warnings, or refused with STRICT (or the policy's lineage.strict).
    """
    layout.check_name(name)
    if version is not None and bump is not None:
        raise UsageError("give --version or --bump, not both.")
    if bump is not None and bump not in ("major", "minor", "patch"):
        raise UsageError(f"{bump!r} is not a version part.", hint="Use major, minor or patch.")
    if version is not None:
        version = str(layout.Version.parse(version))
    if image is not None and not _is_image_digest(image):
        raise UsageError(
            f"{image!r} is not a container image digest.",
            hint="Give IMAGE@sha256:<64 hex> or sha256:<64 hex>.",
        )
    repair.before_write(reg, [name])  # finish what a crash interrupted before starting another
    head = reg.require_head()
    source = reg.store.resolve_commit(rev)
    if not isinstance(narrative, dict):
        narrative = cards.read_narrative(narrative)
    view = RegistryView(reg.store, reg.store.commit_tree(head), head)
    policy = view.policy
    if policy.signing_required and sign is False:
        raise RegistryRefusal(
            "the policy requires signed registrations; --no-sign was given.",
            hint="Drop --no-sign: the tag is signed with your git signing key.",
        )
    sign = bool(sign) or policy.signing_required or (sign is None and reg.store.config_bool("tag.gpgSign"))
    ident = reg.store.ident()
    if sign:  # no key: refuse now, before anything is written
        from gitreg.trust.signing import require_signing_key

        require_signing_key(reg.store, ident, required_by_policy=policy.signing_required)
    version = _next_version(reg, view, name, version, bump)
    from gitreg.lineage import provenance  # here: the facade's other writes read no DVC files

    evidence = provenance.collect(
        reg.store,
        name,
        source,
        artifact=artifact,
        metrics_file=metrics,
        image=image,
        ident=ident,
        require_dvc=policy.dvc_required,
    )
    digest = artifact_digest({"provenance": evidence.provenance}) or ""
    same = view.versions_with_artifact(name, digest, newest_only=True)
    if same and not allow_same_artifact:
        raise RegistryRefusal(
            f"{name}@{same[-1]} has this artifact already "
            f"({evidence.provenance['artifact']['path']}, {digest}): "
            "the same bytes as a new version say nothing new.",
            hint=f"Promote {name}@{same[-1]} instead; to register the bytes again on purpose, "
            "pass --allow-same-artifact (the card records it).",
        )
    if same:
        evidence.provenance["same_artifact_as"] = same
    warnings = _worktree_warnings(reg.store, source, evidence.files, strict or policy.strict)
    card = cards.build(name, version, narrative, evidence)
    tag = layout.tag_name(name, version)
    adopted = None
    if reg.store.ref_target(layout.tag_ref(name, version)) is not None:
        info = adoptable(reg.store, name, version, source)
        if info is None:
            raise _taken(reg, name, version, source)
        # GTO's tag on this very commit becomes the registration tag, not a duplicate of it.
        adopted = info.id
        card["imported"] = {"from": "gto", "tag": tag, "object": adopted}
    cards.validate(card, source=f"the card of {tag}")
    digest = yamlio.digest(card)
    if adopted is not None:  # its ref holds the tag object already: no pending ref is needed
        commit, proposal = _land(reg, head, name, version, card, tag, adopted, ident, propose, adopted)
        return Registration(
            name, version, tag, adopted, source, commit, layout.card_path(name, version), digest,
            sign, card, proposal,
        )  # fmt: skip
    tag_id = reg.store.make_tag(tag, source, cards.tag_message(name, version, digest), sign=sign, ident=ident)
    # From here until its ref lands the tag object is held by a pending ref: no gc takes it.
    pending = layout.pending_ref(name, version, tag_id)
    try:
        reg.store.update_refs([(pending, tag_id, None)], f"gitreg: registering {tag}")
    except ConcurrentUpdate:  # the same tag object, made by another process in the same second
        raise RegistryRefusal(
            f"{tag} is being registered by another process right now, with the same card.",
            hint="Register the next version (drop --version or use --bump), or check with "
            f"'gitreg show {name}@{version}' once that process is done.",
        ) from None
    try:
        commit, proposal = _land(reg, head, name, version, card, tag, tag_id, ident, propose)
    except BaseException:
        # Refused, a lost race, a lock, a full disk: if nothing landed there is nothing to
        # keep. A failure halfway through the transaction keeps the pending ref for repair.
        with contextlib.suppress(Exception):
            if not _still_needed(reg, name, version, tag_id):
                reg.store.delete_ref(pending, tag_id)
        raise
    return Registration(
        name,
        version,
        tag,
        tag_id,
        source,
        commit,
        layout.card_path(name, version),
        digest,
        sign,
        card,
        proposal,
        warnings,
    )


def _land(
    reg: RegistryBranch,
    head: str,
    name: str,
    version: str,
    card: dict,
    tag: str,
    tag_id: str,
    ident: Ident,
    propose: bool,
    adopted: str | None = None,
) -> tuple[str, str | None]:
    """Move the registry branch (or create the proposal branch) and the tag ref, and drop the
    pending ref: one transaction, retried onto a new head when another writer won. An ADOPTED
    tag stays where it is: the transaction only checks that it did not move."""
    also = [] if adopted else [(layout.pending_ref(name, version, tag_id), None, None)]
    for _ in range(_RETRIES):
        try:
            commit = _commit_registration(reg, head, name, version, card, tag, tag_id, ident)
            if propose:
                from gitreg.ops import promotion

                branch = promotion.propose_registration(
                    reg, head, commit, name, version, tag_id, also=also, adopted=adopted
                ).branch
                return commit, branch
            reg.store.update_refs(
                [(reg.branch_ref, commit, head), (layout.tag_ref(name, version), tag_id, adopted), *also],
                f"gitreg: register {tag}",
            )
            return commit, None
        except ConcurrentUpdate:
            head = reg.require_head()
            view = RegistryView(reg.store, reg.store.commit_tree(head), head)
            moved = reg.store.ref_target(layout.tag_ref(name, version)) not in (None, adopted)
            if view.has_version(name, version) or moved:
                raise RegistryRefusal(
                    f"{tag} was registered by someone else while this ran.",
                    hint="Register the next version: drop --version or use --bump.",
                ) from None
    raise ConcurrentUpdate(
        "the registry kept changing; gave up after several tries.",
        hint="Nothing was written. Run the command again.",
    )


def _still_needed(reg: RegistryBranch, name: str, version: str, tag_id: str) -> bool:
    """Whether the pending ref must stay after a failure: a card recording TAG_ID landed (on the
    registry or the proposal branch) while its tag ref did not. Anything else (refused, lost a
    race to another registration, done) leaves nothing for the pending ref to protect."""
    if reg.store.ref_target(layout.tag_ref(name, version)) == tag_id:
        return False
    for ref in (reg.branch_ref, layout.branch_ref(layout.register_proposal_branch(name, version))):
        tip = reg.store.ref_target(ref)
        if tip is None:
            continue
        view = RegistryView(reg.store, reg.store.commit_tree(tip), tip)
        if view.has_version(name, version) and view.tag_record(name, version) == tag_id:
            return True
    return False


def adoptable(store: GitStore, name: str, version: str, commit: str) -> TagInfo | None:
    """The existing tag NAME@vVERSION when it may serve as the registration tag: an annotated tag
    on COMMIT, named as its ref, that binds no gitreg card (GTO's, or one written by hand)."""
    oid = store.ref_target(layout.tag_ref(name, version))
    info = store.tag_info(oid) if oid else None
    if info is None or info.target != commit or info.name != layout.tag_name(name, version):
        return None
    if cards.TAG_DIGEST in cards.parse_tag_message(info.message):
        return None
    return info


def _taken(reg: RegistryBranch, name: str, version: str, source: str) -> RegistryRefusal:
    """Why the tag of a version the registry (as this process read it) lacks exists already.

    Never "delete the tag" unless doctor proved it stray: another process may have just
    registered it, or it waits on a registration proposal.
    """
    tag = layout.tag_name(name, version)
    head = reg.require_head()
    if RegistryView(reg.store, reg.store.commit_tree(head), head).has_version(name, version):
        return RegistryRefusal(
            f"{tag} was registered by someone else while this ran.",
            hint="Register the next version: drop --version or use --bump.",
        )
    branch = layout.register_proposal_branch(name, version)
    if reg.store.ref_target(layout.branch_ref(branch)) is not None:
        return RegistryRefusal(
            f"{tag} is proposed already, on {branch}.",
            hint=f"Merge that proposal (gitreg merge {branch}) or register another version.",
        )
    return RegistryRefusal(
        f"tag {tag} exists already, but no card for it is on the registry branch or a proposal "
        f"branch, and it cannot be adopted: it is not an annotated tag on {source[:10]} (GTO's), "
        "or it binds another card.",
        hint=f"If it is GTO's tag on another commit, register that commit (--rev {tag}). Else "
        "register another version; run 'gitreg doctor': if it reports the tag as stray "
        "(nothing registers it), it tells you how to remove it.",
    )


def _worktree_warnings(
    store: GitStore, source: str, files: Callable[[], list[str]], strict: bool
) -> list[str]:
    """What the work tree changes in the FILES (or directories) a registration of SOURCE describes."""
    changed = store.uncommitted(source, files())
    if not changed:
        return []
    dirty = [f"{path} ({status})" for path, status in sorted(changed.items())]
    if strict:
        raise RegistryRefusal(
            f"the work tree has uncommitted changes to pipeline files, and the registration "
            f"would describe commit {source[:10]} without them:",
            details=dirty,
            hint="Commit them (after 'dvc repro' if the pipeline changed) or stash them, then register.",
        )
    return [f"uncommitted changes ignored (the card describes commit {source[:10]}): {', '.join(dirty)}"]


def _next_version(
    reg: RegistryBranch, view: RegistryView, name: str, version: str | None, bump: str | None
) -> str:
    existing = view.versions(name) if view.has_model(name) else []
    if version is None:
        latest = layout.latest(existing)
        if latest is None:
            return "1.0.0" if bump in (None, "major") else str(layout.Version(0, 0, 0).bump(bump))
        return str(layout.Version.parse(latest).bump(bump or "minor"))
    if version in existing:
        raise RegistryRefusal(
            f"{layout.tag_name(name, version)} is registered already; cards are immutable.",
            hint="Register a new version: --bump patch|minor|major, or another --version.",
        )
    return version


def _commit_registration(
    reg: RegistryBranch, head: str, name: str, version: str, card: dict, tag: str, tag_id: str, ident: Ident
) -> str:
    view = RegistryView(reg.store, reg.store.commit_tree(head), head)
    changes: dict[str, bytes | None] = {
        layout.card_path(name, version): yamlio.dump(card).encode(),
        layout.tag_record_path(name, version): yamlio.dump({"tag": tag, "object": tag_id}).encode(),
    }
    if not view.has_model(name):
        changes[layout.model_path(name)] = yamlio.dump(model_meta(name, card)).encode()
    tree = reg.store.write_tree(view.tree, changes)
    message = f"Register {tag}\n\n{TAG_TRAILER}: {tag} {tag_id}\n"
    return reg.store.write_commit(tree, [head], message, ident)


# --- reads -----------------------------------------------------------------------


def model_meta(name: str, card: dict) -> dict:
    """models/NAME/model.yaml of a model new to the registry, from its first card."""
    art = card["provenance"]["artifact"]
    return {
        "name": name,
        "description": card.get("overview"),
        "owners": card.get("owners", []),
        "labels": card.get("labels", []),
        "artifact": {"path": art["path"]},
        "created_at": card["provenance"]["registered_at"],
    }


def _is_image_digest(image: str) -> bool:
    return bool(re.fullmatch(r"(\S+@)?sha256:[0-9a-f]{64}", image))
