"""The Python API: `Registry` offers every operation the CLI has. It never prints.

The facade only delegates: each operation lives in the package of its concern (ops/, lineage/,
trust/, check/) and takes the registry branch (`RegistryBranch`), a store or a view, never the
facade. Modules behind DVC or signature tools are imported on first use, so plain reads stay fast.
"""

from __future__ import annotations

import builtins  # the method Registry.list shadows the builtin inside the class body
import os
from typing import TYPE_CHECKING, Any

from gitreg.model import events
from gitreg.model.branch import RegistryBranch
from gitreg.model.view import RegistryView
from gitreg.ops import read
from gitreg.ops import register as registration
from gitreg.ops.read import ModelInfo, ModelSummary, VersionInfo
from gitreg.ops.register import Initialized, Registration
from gitreg.store import layout
from gitreg.store.gitstore import GitStore

if TYPE_CHECKING:
    from pathlib import Path

    from gitreg.check.engine import CheckOptions, Report
    from gitreg.interop.gtotags import SyncResult
    from gitreg.interop.proposal import ImportResult
    from gitreg.lineage.diff import Diff
    from gitreg.lineage.reproduce import Reproduction
    from gitreg.lineage.trace import Lineage
    from gitreg.ops import governance
    from gitreg.ops.audit import StateAt
    from gitreg.ops.doctor import DoctorReport
    from gitreg.ops.promotion import MergeResult, Proposal
    from gitreg.ops.remote import PushReport, SyncReport
    from gitreg.ops.repair import RepairReport
    from gitreg.review.report import Review
    from gitreg.review.site import SiteBuild
    from gitreg.trust.signing import Signer, SignerChange
    from gitreg.trust.verification import VersionCheck

__all__ = ["Initialized", "ModelInfo", "ModelSummary", "Registration", "Registry", "VersionInfo"]

Ref = str | layout.ModelRef


def _ref(ref: Ref) -> layout.ModelRef:
    return layout.ModelRef.parse(ref) if isinstance(ref, str) else ref


class Registry:
    """A gitreg registry in a git repository."""

    def __init__(self, store: GitStore):
        self.reg = RegistryBranch.of(store)

    @classmethod
    def open(cls, path: str | os.PathLike = ".") -> Registry:
        return cls(GitStore.discover(path))

    @property
    def store(self) -> GitStore:
        return self.reg.store

    @property
    def branch(self) -> str:
        return self.reg.branch

    @property
    def branch_ref(self) -> str:
        return self.reg.branch_ref

    # --- state ---------------------------------------------------------------------

    def head(self) -> str | None:
        return self.reg.head()

    def require_head(self) -> str:
        return self.reg.require_head()

    def view(self, rev: str | None = None) -> RegistryView:
        return self.reg.view(rev)

    # --- writes ----------------------------------------------------------------------

    def init(self, policy_file: str | os.PathLike | None = None) -> Initialized:
        """Create the registry branch; a no-op when it exists with the same policy."""
        return registration.init_registry(self.reg, policy_file)

    def register(self, name: str, narrative: dict | str | os.PathLike, **options: Any) -> Registration:
        """Register NAME at source revision `rev` (default HEAD): its card and its tag, atomically.
        Options: version, bump, rev, artifact, metrics, sign, image, propose, allow_same_artifact,
        strict (see ops/register.py)."""
        return registration.register(self.reg, name, narrative, **options)

    def repair(self, *, lock_age: float = 0.0) -> RepairReport:
        """Finish what crashes left half-done, in the whole registry (ops/repair.py); idempotent."""
        from gitreg.ops import repair

        return repair.repair(self.reg, lock_age=lock_age)

    def doctor(self, *, fix: bool = False, lock_age: float | None = None) -> DoctorReport:
        """Every defect of the repository as a registry; with FIX, repair the safe ones."""
        from gitreg.ops import doctor

        return doctor.examine(self.reg, fix=fix, lock_age=lock_age)

    def promote(self, ref: Ref, stage: str) -> Proposal:
        """A proposal branch moving REF (NAME@VERSION or NAME@STAGE) into STAGE, checked first."""
        from gitreg.ops import promotion

        return promotion.promote(self.reg, ref, stage)

    def merge(self, proposal: str, *, push: bool = False, ff: bool = False) -> MergeResult:
        """Check PROPOSAL (branch, ref or commit), then merge it with compare-and-swap."""
        from gitreg.interop import gtotags

        return gtotags.merge(self.reg, proposal, push=push, ff=ff)

    def sync_tags(self, remote: str | None = None, *, push: bool = False) -> SyncResult:
        """Write GTO's stage tags (NAME#STAGE#N) and deprecations so GTO and `dvc artifacts get
        --stage` see the registry's stages; with PUSH (or a REMOTE), publish them in one atomic
        push. Idempotent: when GTO already agrees, nothing is written."""
        from gitreg.interop import gtotags

        return gtotags.sync(self.store, self.view(), None, remote, push=push)

    def import_gto(self, *, dry_run: bool = False) -> ImportResult:
        """Propose this repository's GTO registry (tags, annotations) as one proposal branch,
        gitreg-import/gto, adopting GTO's version tags as the registration tags."""
        from gitreg.interop import gto

        return gto.import_registry(self.reg, dry_run=dry_run)

    def import_mlflow(
        self, tracking_uri: str, *, models: list[str] | None = None, dry_run: bool = False
    ) -> ImportResult:
        """Propose an MLflow Model Registry's models, versions, aliases and stages as one proposal
        branch, gitreg-import/mlflow (needs the `mlflow` extra)."""
        from gitreg.interop import mlflow

        return mlflow.import_registry(self.reg, tracking_uri, models or [], dry_run=dry_run)

    # --- reads -------------------------------------------------------------------------

    def list(self) -> builtins.list[ModelSummary]:
        """Every model's summary (cached by each model's subtree id)."""
        return read.list_models(self.reg)

    def show(self, ref: Ref) -> ModelInfo | VersionInfo:
        """A model (NAME) or one version with its card (NAME@VERSION, NAME@STAGE)."""
        return read.show(self.reg, _ref(ref))

    def card(self, ref: Ref) -> dict:
        model_ref = _ref(ref)
        view = self.view()
        return view.card(model_ref.name, view.resolve(model_ref))

    def which(self, name: str, stage: str) -> str | None:
        return read.which(self.reg, name, stage)

    def resolve(self, ref: str) -> str:
        return self.view().resolve(layout.ModelRef.parse(ref))

    def history(self, name: str) -> builtins.list[events.Event]:
        return read.history(self.reg, name)

    def events(self, old: str | None, new: str) -> builtins.list[events.Event]:
        """What the registry's history between OLD and NEW did, oldest first (for deploy jobs)."""
        new_id = self.store.resolve_commit(new)
        old_id = None if old is None or old.strip("0") == "" else self.store.resolve_commit(old)
        return events.history(self.store, new_id, stop=old_id)

    # --- lineage, reproduce, diff, fetch (DVC is imported only by reproduce and fetch) -------

    def lineage(self, ref: Ref) -> Lineage:
        """Code commit, pipeline stages, data, params, metrics with sources, environment."""
        from gitreg.lineage import trace

        model_ref = _ref(ref)
        view = self.view()
        return trace.build(self.store, view, model_ref.name, view.resolve(model_ref))

    def reproduce(self, ref: Ref, progress=None, *, env=None, pass_env=()) -> Reproduction:
        """Re-run the version's pipeline at its source commit, in a scrubbed environment (ENV values
        and PASS_ENV names added), and compare every out and metric with the card."""
        from gitreg.lineage import reproduce

        view = self.view()
        model_ref = _ref(ref)
        card = view.card(model_ref.name, view.resolve(model_ref))
        return reproduce.reproduce(
            self.store,
            card,
            progress=progress,
            env=env,
            pass_env=pass_env,
            tolerance=view.policy.tolerance,
        )

    def diff(self, a: Ref, b: Ref) -> Diff:
        """Metrics (with deltas), params, data, artifact and code commit of A against B."""
        from gitreg.lineage import diff

        view = self.view()
        a_ref, b_ref = ((r.name, view.resolve(r)) for r in (_ref(a), _ref(b)))
        return diff.lineages(self.store, view, a_ref, b_ref)

    def fetch(self, ref: Ref, out: str | os.PathLike) -> Path:
        """Write the version's artifact to OUT from the DVC cache or remote, hash verified."""
        from gitreg.lineage import fetch

        return fetch.fetch(self.store, self.card(ref), out)

    # --- remotes ---------------------------------------------------------------------------

    def push(self, remote: str | None = None) -> PushReport:
        """Publish the registry branch and new registration tags in one atomic push."""
        from gitreg.ops import remote as remotes

        return remotes.push(self.reg, remote)

    def sync(self, remote: str | None = None) -> SyncReport:
        """Fetch the registry branch and registration tags; refuse moved tags and rewrites."""
        from gitreg.ops import remote as remotes

        return remotes.sync(self.reg, remote)

    # --- signatures and signers ------------------------------------------------------------

    def verify(self, ref: Ref | None = None) -> builtins.list[VersionCheck]:
        """Verify tags, bindings and signatures of every version (or of NAME, or NAME@VERSION)."""
        from gitreg.trust import verification

        return list(verification.verify(self.store, self.view(), None if ref is None else _ref(ref)))

    def signers(self) -> builtins.list[Signer]:
        """Who may sign registrations (signers/ on the registry branch)."""
        from gitreg.trust import signing

        return signing.list_signers(self.view())

    def add_signer(
        self,
        *,
        ssh_key: str | os.PathLike | None = None,
        principal: str | None = None,
        gpg: str | None = None,
    ) -> SignerChange:
        """Allow an SSH key (as PRINCIPAL) or a GPG key to sign: a gitreg-policy/... proposal."""
        from gitreg.ops.governance import Proposer
        from gitreg.trust import signing

        return signing.add(Proposer(self.reg), ssh_key=ssh_key, principal=principal, gpg=gpg)

    def revoke_signer(
        self,
        *,
        ssh_key: str | os.PathLike | None = None,
        principal: str | None = None,
        gpg: str | None = None,
    ) -> SignerChange:
        from gitreg.ops.governance import Proposer
        from gitreg.trust import signing

        return signing.revoke(Proposer(self.reg), ssh_key=ssh_key, principal=principal, gpg=gpg)

    # --- governance (ops/governance.py) ---------------------------------------------------------

    def set_policy(self, policy_file: str | os.PathLike) -> governance.PolicyProposal:
        """Propose a new registry.yaml (a gitreg-policy/... branch the maintainers sign)."""
        from gitreg.ops import governance

        return governance.set_policy(self.reg, policy_file)

    def add_checks(self, files: builtins.list[str | os.PathLike]) -> governance.PolicyProposal:
        """Propose validator scripts under checks/ (a gitreg-policy/... branch)."""
        from gitreg.ops import governance

        return governance.add_checks(self.reg, files)

    def approve(self, proposal: str, *, push: bool = False, remote: str | None = None) -> governance.Approval:
        """A signed approval commit on the proposal branch PROPOSAL (and push it)."""
        from gitreg.ops import governance

        return governance.approve(self.reg, proposal, push=push, remote=remote)

    from gitreg.ops.doctor import DoctorReport
    from gitreg.ops.repair import RepairReport

    # --- the check -----------------------------------------------------------------------------

    def check(
        self, base: str | None = None, head: str | None = None, options: CheckOptions | None = None
    ) -> Report:
        """Judge HEAD (default: the registry branch) against BASE (default: HEAD's first parent)
        by BASE's policy. Revisions are anything git resolves, or an all-zero id for "nothing"."""
        from gitreg.check import engine

        return engine.judge(self.store, base, head or self.require_head(), options=options)

    # --- review: the registry at a date, the weekly review, card exports, the site -------------

    def state_at(self, when: str | int, name: str | None = None) -> StateAt:
        """Every model (or NAME) as the registry branch held it at WHEN (a date, an age such as
        7d, or seconds since the epoch): versions per stage, the merge, its approvers, lineage."""
        from gitreg.ops import audit

        seconds = when if isinstance(when, int) else audit.parse_date(when)
        return audit.state_at(self.store, self.require_head(), seconds, name)

    def review(
        self, *, since: int | None = None, until: int | None = None, start: str | None = None
    ) -> Review:
        """The weekly review of (SINCE, UNTIL] (seconds since the epoch), or of every registry
        commit after START (a revision)."""
        from gitreg.review import report

        start_id = self.store.resolve_commit(start) if start is not None else None
        return report.build(self.store, self.require_head(), since=since, until=until, start=start_id)

    def export_card(self, ref: Ref, to: str) -> str:
        """The card of REF as a Hugging Face README or Model Card Toolkit JSON (TO)."""
        from gitreg.review import cards

        return cards.export(self.card(ref), to)

    def build_site(self, out: str | os.PathLike, *, progress=None) -> SiteBuild:
        """Write the static HTML site into OUT; pages of unchanged models are kept."""
        from gitreg.review import site

        return site.build(self.store, self.require_head(), out, progress=progress)
