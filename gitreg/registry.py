"""The Python API: `Registry` offers every operation the CLI has. It never prints.

Writes follow one order so that a crash at any point leaves a repairable
state and never a tag without its card: every object first (card blobs,
trees, the registry commit, the tag object), then one `update-ref`
transaction that moves the registry branch and creates the tag, branch
first. If the process dies between the two, the card records the tag
object's id and `repair` (run by every write) creates the missing ref.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitreg.errors import ConcurrentUpdate, NotInitialized, RegistryRefusal, UsageError
from gitreg.lineage import provenance
from gitreg.model import card as cards
from gitreg.model import events
from gitreg.model.policy import DEFAULT_POLICY, Policy
from gitreg.model.view import RegistryView
from gitreg.store import layout, yamlio
from gitreg.store.gitstore import GitStore, Ident

if TYPE_CHECKING:
    from pathlib import Path

    from gitreg.check import engine as check
    from gitreg.ops import promotion

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

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class ModelSummary:
    name: str
    latest: str | None
    versions: int
    stages: dict[str, str]  # stage -> version it serves
    owners: list[str]
    description: str | None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class Registry:
    """A gitreg registry in a git repository."""

    def __init__(self, store: GitStore):
        self.store = store
        self.branch = store.config(layout.BRANCH_CONFIG_KEY) or layout.DEFAULT_BRANCH
        self.branch_ref = layout.branch_ref(self.branch)

    @classmethod
    def open(cls, path: str | os.PathLike = ".") -> Registry:
        return cls(GitStore.discover(path))

    # --- state ---------------------------------------------------------------------

    def head(self) -> str | None:
        return self.store.ref_target(self.branch_ref)

    def require_head(self) -> str:
        head = self.head()
        if head is None:
            raise NotInitialized(
                f"this repository has no registry yet (no branch {self.branch!r}).",
                hint="Run 'gitreg init' first.",
            )
        return head

    def view(self, rev: str | None = None) -> RegistryView:
        commit = self.require_head() if rev is None else self.store.resolve_commit(rev)
        return RegistryView(self.store, self.store.commit_tree(commit), commit)

    # --- init ----------------------------------------------------------------------

    def init(self, policy_file: str | os.PathLike | None = None) -> dict:
        """Create the registry branch; a no-op when it exists with the same policy."""
        policy_text = DEFAULT_POLICY
        if policy_file is not None:
            try:
                with open(policy_file, encoding="utf-8") as f:
                    policy_text = f.read()
            except OSError as exc:
                raise UsageError(f"cannot read policy {policy_file}: {exc.strerror}.") from None
            Policy.parse(policy_text, str(policy_file))
        head = self.head()
        if head is not None:
            if policy_file is not None:
                current = self.view().read(layout.POLICY_PATH) or b""
                if current.decode() != policy_text:
                    raise RegistryRefusal(
                        f"the registry branch {self.branch!r} exists already with another policy.",
                        hint="Change registry.yaml through a proposal; policy changes land alone.",
                    )
            return {"branch": self.branch, "commit": head, "created": False}
        ident = self.store.ident()
        tree = self.store.write_tree(
            None,
            {
                layout.POLICY_PATH: policy_text.encode(),
                layout.ALLOWED_SIGNERS_PATH: ALLOWED_SIGNERS_HEADER.encode(),
                "README.md": REGISTRY_README.encode(),
                f"{layout.MODELS_DIR}/.gitkeep": b"",
            },
        )
        commit = self.store.write_commit(
            tree,
            [],
            f"Initialize the gitreg registry\n\n{TAG_TRAILER}-format: {layout.FORMAT_VERSION}\n",
            ident,
        )
        self.store.update_refs([(self.branch_ref, commit, None)], "gitreg: init")
        return {"branch": self.branch, "commit": commit, "created": True}

    # --- register ------------------------------------------------------------------

    def register(
        self,
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
    ) -> Registration:
        """Register NAME at source revision REV: write its card and create its tag, atomically.

        With PROPOSE the card lands on a proposal branch (gitreg-register/NAME/vVERSION), judged
        by the check first, instead of on the registry branch; the tag is created with it.
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
        self.repair()  # finish a registration a crash interrupted before starting another
        head = self.require_head()
        source = self.store.resolve_commit(rev)
        if not isinstance(narrative, dict):
            narrative = cards.read_narrative(narrative)
        view = RegistryView(self.store, self.store.commit_tree(head), head)
        policy = view.policy
        if policy.signing_required and sign is False:
            raise RegistryRefusal(
                "the policy requires signed registrations; --no-sign was given.",
                hint="Drop --no-sign: the tag is signed with your git signing key.",
            )
        sign = (
            bool(sign) or policy.signing_required or (sign is None and self.store.config_bool("tag.gpgSign"))
        )
        ident = self.store.ident()
        if sign:  # no key: refuse now, before anything is written
            from gitreg.trust.signing import require_signing_key

            require_signing_key(self.store, ident, required_by_policy=policy.signing_required)
        version = self._next_version(view, name, version, bump)
        evidence = provenance.collect(
            self.store,
            name,
            source,
            artifact=artifact,
            metrics_file=metrics,
            image=image,
            ident=ident,
            require_dvc=policy.dvc_required,
        )
        card = cards.build(name, version, narrative, evidence)
        cards.validate(card, source=f"the card of {layout.tag_name(name, version)}")
        digest = yamlio.digest(card)
        tag = layout.tag_name(name, version)
        if self.store.ref_target(layout.tag_ref(name, version)) is not None:
            raise RegistryRefusal(
                f"tag {tag} exists already, but the registry has no such version.",
                hint=f"Register another version, or delete the stray tag: git tag -d {tag}",
            )
        tag_id = self.store.make_tag(
            tag, source, cards.tag_message(name, version, digest), sign=sign, ident=ident
        )
        for _ in range(_RETRIES):
            try:
                commit = self._commit_registration(head, name, version, card, tag, tag_id, ident)
                if propose:
                    from gitreg.ops import promotion

                    proposal = promotion.propose_registration(
                        self, head, commit, name, version, tag_id
                    ).branch
                    break
                self.store.update_refs(
                    [(self.branch_ref, commit, head), (layout.tag_ref(name, version), tag_id, None)],
                    f"gitreg: register {tag}",
                )
                break
            except ConcurrentUpdate:
                head = self.require_head()
                view = RegistryView(self.store, self.store.commit_tree(head), head)
                if view.has_version(name, version) or self.store.ref_target(layout.tag_ref(name, version)):
                    raise RegistryRefusal(
                        f"{tag} was registered by someone else while this ran.",
                        hint="Register the next version: drop --version or use --bump.",
                    ) from None
        else:
            raise ConcurrentUpdate(
                "the registry kept changing; gave up after several tries.",
                hint="Nothing was written. Run the command again.",
            )
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
            proposal if propose else None,
        )

    def _next_version(self, view: RegistryView, name: str, version: str | None, bump: str | None) -> str:
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
        self, head: str, name: str, version: str, card: dict, tag: str, tag_id: str, ident: Ident
    ) -> str:
        view = RegistryView(self.store, self.store.commit_tree(head), head)
        changes: dict[str, bytes | None] = {
            layout.card_path(name, version): yamlio.dump(card).encode(),
            layout.tag_record_path(name, version): yamlio.dump({"tag": tag, "object": tag_id}).encode(),
        }
        if not view.has_model(name):
            changes[layout.model_path(name)] = yamlio.dump(_model_meta(name, card)).encode()
        tree = self.store.write_tree(view.tree, changes)
        message = f"Register {tag}\n\n{TAG_TRAILER}: {tag} {tag_id}\n"
        return self.store.write_commit(tree, [head], message, ident)

    # --- repair --------------------------------------------------------------------

    def repair(self) -> list[str]:
        """Create registration tag refs that a crash left behind; returns the tags made.

        Only the newest registry commit can have lost its tag ref (the branch moves
        first); its message names the tag and the tag object's id.
        """
        head = self.head()
        if head is None:
            return []
        made = []
        for line in self.store.commit_info(head).message.splitlines():
            key, _, value = line.partition(": ")
            if key != TAG_TRAILER or len(value.split()) != 2:
                continue
            tag, tag_id = value.split()
            parsed = layout.parse_tag_name(tag)
            if parsed is None or not self.store.has_object(tag_id):
                continue
            ref = layout.tag_ref(*parsed)
            if self.store.ref_target(ref) is None:
                try:
                    self.store.update_refs([(ref, tag_id, None)], f"gitreg: repair {tag}")
                    made.append(tag)
                except ConcurrentUpdate:
                    pass
        return made

    # --- reads -----------------------------------------------------------------------

    def list(self) -> list[ModelSummary]:
        """Every model's summary. A summary depends on the model's subtree only, so it is
        cached by that subtree's id (gitreg/cache.py): a list after a change re-reads only
        the models the change touched."""
        from gitreg.store import cache

        view = self.view()
        known = cache.summaries(self.store.common_dir).get("models") or {}
        found, fresh = [], {}
        for name, oid, is_tree in sorted(self.store.list_dir(view.tree, layout.MODELS_DIR)):
            if not is_tree:
                continue
            key = f"{name} {oid}"
            try:
                summary = ModelSummary(**known[key])
            except (KeyError, TypeError):  # not cached, or cached by another shape of summary
                summary = self._summary(view, name)
            found.append(summary)
            fresh[key] = summary.to_dict()
        if fresh.keys() != known.keys():
            cache.store_summaries(self.store.common_dir, fresh)
        return found

    def _summary(self, view: RegistryView, name: str) -> ModelSummary:
        meta = view.model_meta(name)
        versions = view.versions(name)
        served = {stage: vs[-1] for stage, vs in view.stages(name).items() if vs}
        owners = [o.get("name") for o in meta.get("owners") or [] if isinstance(o, dict)]
        return ModelSummary(
            name, versions[-1] if versions else None, len(versions), served, owners, meta.get("description")
        )

    def show(self, ref: str | layout.ModelRef) -> dict[str, Any]:
        """A model (NAME) or one version's card (NAME@VERSION, NAME@STAGE)."""
        ref = layout.ModelRef.parse(ref) if isinstance(ref, str) else ref
        view = self.view()
        if ref.version is None and ref.stage is None:
            view.require_model(ref.name)
            meta = view.model_meta(ref.name)
            return {
                "name": ref.name,
                "model": meta,
                "versions": [
                    {
                        "version": v,
                        "stages": view.stages_of(ref.name, v),
                        "signed": self._signed_kind(ref.name, v),
                    }
                    for v in view.versions(ref.name)
                ],
                "stages": view.stages(ref.name),
            }
        version = view.resolve(ref)
        return {
            "name": ref.name,
            "version": version,
            "tag": layout.tag_name(ref.name, version),
            "stages": view.stages_of(ref.name, version),
            "card": view.card(ref.name, version),
            "verification": self._verify_one(view, ref.name, version),
        }

    def _signed_kind(self, name: str, version: str) -> str:
        """ssh / gpg / unsigned / lightweight / missing, from the tag object alone (not verified)."""
        from gitreg.trust.signatures import split_tag

        target = self.store.ref_target(layout.tag_ref(name, version))
        if target is None:
            return "missing"
        if self.store.tag_object(target) is None:
            return "lightweight"
        return split_tag(self.store.raw_object(target)).kind or "unsigned"

    def _verify_one(self, view: RegistryView, name: str, version: str) -> dict:
        from gitreg.trust import signing, verification

        with signing.verifier_for(view) as verifier:
            return verification.verify_version(
                self.store,
                view,
                verifier,
                view.policy,
                name,
                version,
                self.store.ref_target(layout.tag_ref(name, version)),
            ).to_dict()

    def card(self, ref: str | layout.ModelRef) -> dict:
        ref = layout.ModelRef.parse(ref) if isinstance(ref, str) else ref
        view = self.view()
        return view.card(ref.name, view.resolve(ref))

    def which(self, name: str, stage: str) -> str | None:
        layout.check_name(name)
        layout.check_stage(stage)
        return self.view().which(name, stage)

    def resolve(self, ref: str) -> str:
        return self.view().resolve(layout.ModelRef.parse(ref))

    def history(self, name: str) -> list[events.Event]:
        layout.check_name(name)
        head = self.require_head()
        self.view().require_model(name)
        return events.history(self.store, head, name)

    # --- lineage, reproduce, diff, fetch (DVC is imported only by reproduce and fetch) -------

    def lineage(self, ref: str | layout.ModelRef) -> dict[str, Any]:
        """Code commit, pipeline stages, data, params, metrics with sources, environment."""
        from gitreg.lineage import trace as lineage

        ref = layout.ModelRef.parse(ref) if isinstance(ref, str) else ref
        view = self.view()
        return lineage.build(self.store, view, ref.name, view.resolve(ref))

    def reproduce(self, ref: str | layout.ModelRef, progress=None, *, env=None):
        """Re-run the version's pipeline at its source commit in a temporary worktree and compare
        every out's md5 with the card; returns a reproduce.Reproduction (ok, outs)."""
        from gitreg.lineage import reproduce

        return reproduce.reproduce(self.store, self.card(ref), progress=progress, env=env)

    def diff(self, a: str | layout.ModelRef, b: str | layout.ModelRef) -> dict[str, Any]:
        """Metrics (with deltas), params, data, artifact and code commit of A against B."""
        from gitreg.lineage import diff

        view = self.view()
        refs = [layout.ModelRef.parse(r) if isinstance(r, str) else r for r in (a, b)]
        a_ref, b_ref = ((r.name, view.resolve(r)) for r in refs)
        return diff.lineages(self.store, view, a_ref, b_ref)

    def fetch(self, ref: str | layout.ModelRef, out: str | os.PathLike) -> Path:
        """Write the version's artifact to OUT from the DVC cache or remote, md5 verified."""
        from gitreg.lineage import fetch

        return fetch.fetch(self.store, self.card(ref), out)

    # --- remotes (gitreg/remote.py) ------------------------------------------------------

    def push(self, remote: str | None = None):
        """Publish the registry branch and new registration tags in one atomic push."""
        from gitreg.ops import remote as remotes

        return remotes.push(self, remote)

    def sync(self, remote: str | None = None):
        """Fetch the registry branch and registration tags; refuse moved tags and rewrites."""
        from gitreg.ops import remote as remotes

        return remotes.sync(self, remote)

    # --- signatures and signers ------------------------------------------------------------

    def verify(self, ref: str | layout.ModelRef | None = None) -> list:
        """Verify tags, bindings and signatures of every version (or of NAME, or NAME@VERSION)."""
        from gitreg.trust import verification

        ref = layout.ModelRef.parse(ref) if isinstance(ref, str) else ref
        return list(verification.verify(self.store, self.view(), ref))

    def signers(self) -> list:
        """Who may sign registrations (signers/ on the registry branch)."""
        from gitreg.trust import signing

        return signing.list_signers(self.view())

    def add_signer(
        self,
        *,
        ssh_key: str | os.PathLike | None = None,
        principal: str | None = None,
        gpg: str | None = None,
    ) -> dict:
        """Allow an SSH key (as PRINCIPAL) or a GPG key to sign: one commit on the registry branch."""
        from gitreg.trust import signing

        if (ssh_key is None) == (gpg is None) or (ssh_key is not None and not principal):
            raise UsageError("give either --ssh KEY.pub --principal EMAIL, or --gpg FINGERPRINT.")
        if ssh_key is not None:
            return signing.add_ssh(self, ssh_key, principal or "")
        return signing.add_gpg(self, gpg or "")

    def revoke_signer(
        self,
        *,
        ssh_key: str | os.PathLike | None = None,
        principal: str | None = None,
        gpg: str | None = None,
    ) -> dict:
        from gitreg.trust import signing

        return signing.revoke(self, ssh_key=ssh_key, principal=principal, gpg=gpg)

    # --- promotions and the check -------------------------------------------------------

    def promote(self, ref: str | layout.ModelRef, stage: str) -> promotion.Proposal:
        """A proposal branch moving REF (NAME@VERSION or NAME@STAGE) into STAGE, checked first."""
        from gitreg.ops import promotion

        return promotion.promote(self, ref, stage)

    def merge(self, proposal: str, *, push: bool = False, ff: bool = False) -> promotion.MergeResult:
        """Check PROPOSAL (branch, ref or commit) against the registry, then merge it with CAS:
        a merge commit recording who approved (FF: fast-forward when possible)."""
        from gitreg.ops import promotion

        return promotion.merge(self, proposal, push=push, ff=ff)

    def check(
        self, base: str | None = None, head: str | None = None, options: dict | None = None
    ) -> check.Report:
        """Judge HEAD (default: the registry branch) against BASE (default: HEAD's first parent)
        by BASE's policy. Revisions are anything git resolves, or an all-zero id for "nothing"."""
        from gitreg.check import engine as check

        head_id = self.require_head() if head is None else self.store.resolve_commit(head)
        if base is None:
            parents = self.store.commit_info(head_id).parents
            base_id = parents[0] if parents else None
        else:
            base_id = None if base.strip("0") == "" else self.store.resolve_commit(base)
        return check.run(self.store, base_id, head_id, options=options)

    def events(self, old: str | None, new: str) -> list[events.Event]:
        """What the registry's history between OLD and NEW did, oldest first (for deploy jobs)."""
        new_id = self.store.resolve_commit(new)
        old_id = None if old is None or old.strip("0") == "" else self.store.resolve_commit(old)
        return events.history(self.store, new_id, stop=old_id)


def _model_meta(name: str, card: dict) -> dict:
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
    import re

    return bool(re.fullmatch(r"(\S+@)?sha256:[0-9a-f]{64}", image))
