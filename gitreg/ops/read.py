"""Reads of the registry branch: the model list (cached by subtree id), a model, a version.

Reads import neither DVC nor jsonschema; a version's verification (signature tools) is done
only when a version is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gitreg.model.branch import RegistryBranch
from gitreg.model.view import RegistryView
from gitreg.results import to_data
from gitreg.store import layout

if TYPE_CHECKING:  # verification runs only when a version is shown (and not cached)
    from gitreg.model.events import Event
    from gitreg.trust.verdicts import VersionCheck


@dataclass
class ModelSummary:
    name: str
    latest: str | None
    versions: int
    stages: dict[str, str]  # stage -> version it serves
    owners: list[str | None]  # None: an owner entry without a name (a hand-edited model.yaml)
    description: str | None
    error: str | None = None  # why this model's files cannot be read (the others still list)

    def to_dict(self) -> dict:
        return to_data(self)


@dataclass
class VersionSummary:
    version: str
    stages: list[str]
    signed: str  # ssh / gpg / unsigned / lightweight / missing (the tag object's kind, not verified)


@dataclass
class ModelInfo:
    """A model: its model.yaml, its versions and its stages."""

    name: str
    model: dict
    versions: list[VersionSummary]
    stages: dict[str, list[str]]

    def to_dict(self) -> dict:
        return to_data(self)


@dataclass
class VersionInfo:
    """One version: its card, the stages it is in, and its verification."""

    name: str
    version: str
    tag: str
    stages: list[str]
    card: dict = field(repr=False)
    verification: VersionCheck | None = None

    def to_dict(self) -> dict:
        return to_data(self)


@dataclass
class VersionText:
    """What `show NAME@VERSION` prints, with the card as its stored text: for a card whose bytes
    are what yamlio.dump writes of it, printing them is printing the dump, without PyYAML."""

    name: str
    version: str
    tag: str
    stages: list[str]
    card_text: str = field(repr=False)
    verification: VersionCheck | None = None


CANONICAL = "canonical-cards"  # cache kind: card blobs that are their own dump


def list_models(reg: RegistryBranch) -> list[ModelSummary]:
    """Every model's summary. A summary depends on the model's subtree only, so it is cached by
    that subtree's id (store/cache.py): a list after a change re-reads only the models it touched,
    and a list of the models/ tree listed last time reads nothing but the cache file."""
    from gitreg.store import cache

    view = reg.view()
    common = reg.store.common_dir
    models_id = reg.store.entry_id(view.tree, layout.MODELS_DIR)
    tree, known = cache.summaries(common)
    if models_id is not None and tree == models_id:
        try:
            return [ModelSummary(**entry) for entry in known.values()]
        except TypeError:  # cached by another shape of summary
            known = {}
    found, fresh = [], {}
    for name, oid, is_tree in sorted(reg.store.list_dir(view.tree, layout.MODELS_DIR)):
        if not is_tree:
            continue
        key = f"{name} {oid}"
        try:
            summary = ModelSummary(**known[key])
        except (KeyError, TypeError):  # not cached, or cached by another shape of summary
            summary = _summary_or_error(view, name, oid)
        found.append(summary)
        if summary.error is None:  # an unreadable model is read again next time
            fresh[key] = dict(vars(summary))  # JSON-ready already: names, counts, YAML values
    whole = len(fresh) == len(found)
    if fresh.keys() != known.keys() or (whole and tree != models_id):
        cache.store_summaries(common, models_id if whole else None, fresh)
    return found


def _summary_or_error(view: RegistryView, name: str, subtree: str) -> ModelSummary:
    """NAME's summary; a model whose files cannot be read (too big, corrupt) gets one saying why,
    so that one damaged model does not hide the others."""
    from gitreg.errors import GitregError
    from gitreg.store import faults

    try:
        return _summary(view, name, subtree)
    except GitregError as exc:
        return ModelSummary(name, None, 0, {}, [], None, error=exc.message)
    except Exception as exc:
        fault = faults.classify(exc)
        if fault is None:
            raise
        return ModelSummary(name, None, 0, {}, [], None, error=fault.message)


def _summary(view: RegistryView, name: str, subtree: str) -> ModelSummary:
    meta = view.model_meta(name, subtree)
    versions = view.versions(name, subtree)
    served = {stage: vs[-1] for stage, vs in view.stages(name, subtree).items() if vs}
    owners = [o.get("name") for o in meta.get("owners") or [] if isinstance(o, dict)]
    return ModelSummary(
        name, versions[-1] if versions else None, len(versions), served, owners, meta.get("description")
    )


def show(reg: RegistryBranch, ref: layout.ModelRef) -> ModelInfo | VersionInfo:
    """A model (NAME) or one version's card (NAME@VERSION, NAME@STAGE)."""
    view = reg.view()
    if ref.version is None and ref.stage is None:
        view.require_model(ref.name)
        return ModelInfo(
            ref.name,
            view.model_meta(ref.name),
            [
                VersionSummary(v, view.stages_of(ref.name, v), signed_kind(reg, ref.name, v))
                for v in view.versions(ref.name)
            ],
            view.stages(ref.name),
        )
    version = view.resolve(ref)
    card = view.card(ref.name, version)
    info = VersionInfo(
        ref.name,
        version,
        layout.tag_name(ref.name, version),
        view.stages_of(ref.name, version),
        card,
        verify_one(reg, view, ref.name, version),
    )
    _mark_canonical(reg, view, ref.name, version, card)
    return info


def show_text(reg: RegistryBranch, ref: layout.ModelRef) -> VersionText | None:
    """`show NAME@VERSION` (or NAME@STAGE) with the card's stored text, when an earlier show found
    that text to be the card's dump; None when it is not known so (then show() it)."""
    if ref.version is None and ref.stage is None:
        return None
    view = reg.view()
    version = view.resolve(ref)
    key = _canonical_key(reg, view, ref.name, version)
    from gitreg.store import cache

    if key is None or not cache.has(reg.store.common_dir, CANONICAL, key):
        return None
    data = view.read(layout.card_path(ref.name, version))
    if data is None:
        return None
    return VersionText(
        ref.name,
        version,
        layout.tag_name(ref.name, version),
        view.stages_of(ref.name, version),
        data.decode(),
        verify_one(reg, view, ref.name, version),
    )


def _canonical_key(reg: RegistryBranch, view: RegistryView, name: str, version: str) -> str | None:
    from gitreg.store import cache

    blob = reg.store.entry_id(view.tree, layout.card_path(name, version))
    return None if blob is None else f"{blob}-{cache.format_tag()}"


def _mark_canonical(reg: RegistryBranch, view: RegistryView, name: str, version: str, card: dict) -> None:
    from gitreg.store import cache, yamlio

    key = _canonical_key(reg, view, name, version)
    if key is None or cache.has(reg.store.common_dir, CANONICAL, key):
        return
    data = view.read(layout.card_path(name, version))
    if data is not None and yamlio.dump(card).encode() == data:
        cache.add(reg.store.common_dir, CANONICAL, key)


def signed_kind(reg: RegistryBranch, name: str, version: str) -> str:
    """ssh / gpg / unsigned / lightweight / missing, from the tag object alone (not verified)."""
    from gitreg.trust.tagsplit import split_tag

    target = reg.store.ref_target(layout.tag_ref(name, version))
    if target is None:
        return "missing"
    if reg.store.tag_object(target) is None:
        return "lightweight"
    return split_tag(reg.store.raw_object(target)).kind or "unsigned"


def verify_one(reg: RegistryBranch, view: RegistryView, name: str, version: str) -> VersionCheck:
    """The version's verdict: from the cache when known (no signature code is imported), else
    judged by the registry's signers and policy (and kept when it holds whatever the date)."""
    from gitreg.trust import verdicts

    target = reg.store.ref_target(layout.tag_ref(name, version))
    known = verdicts.cached(reg.store, view, name, version, target)
    if known is not None:
        return known
    from gitreg.trust import signing, verification

    with signing.verifier_for(view) as verifier:
        found = verification.verify_version(reg.store, view, verifier, view.policy, name, version, target)
    verdicts.remember(reg.store, view, found)
    return found


def which(reg: RegistryBranch, name: str, stage: str) -> str | None:
    """The version STAGE serves now; the names are checked before the registry is read."""
    layout.check_name(name)
    layout.check_stage(stage)
    return reg.view().which(name, stage)


def history(reg: RegistryBranch, name: str) -> list[Event]:
    """Registrations and stage changes of NAME, oldest first (from the registry branch log)."""
    from gitreg.model import events

    layout.check_name(name)
    view = reg.view()
    view.require_model(name)
    return events.history(reg.store, view.commit or reg.require_head(), name)
