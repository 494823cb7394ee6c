"""`gitreg import gto`: a repository's GTO registry as one proposal.

Read from the repository's own tags and Git objects (GTO itself is not imported):

- version tags NAME@vX.Y.Z are adopted as the registration tags, never duplicated: the card
  records the tag object, and the binding rule accepts it without a card digest (GTO's tags
  carry none);
- the card's provenance is read from each tag's commit, as `register` reads it; the
  narrative starts from GTO's annotations (dvc.yaml `artifacts:`, or GTO's older
  artifacts.yaml) and is otherwise left for people to fill, listed in `imported.pending`;
- stages: each stage GTO holds active for a version (NAME#STAGE#N); deregistered versions
  (NAME@vX!#N) and every version of a deprecated artifact (NAME@deprecated#N) go to
  `archived`.

What cannot be mapped (a name gitreg refuses, a lightweight tag, a stage the policy lacks,
a commit that proves no artifact) is reported, never dropped silently.
"""

from __future__ import annotations

from gitreg.errors import GitregError
from gitreg.interop import gtotags
from gitreg.interop.proposal import (
    ImportedVersion,
    ImportResult,
    Plan,
    Unmapped,
    build_card,
    model_meta,
    propose,
    stages_after,
)
from gitreg.lineage import pipeline
from gitreg.model.branch import RegistryBranch
from gitreg.model.card import TAG_DIGEST, parse_tag_message
from gitreg.model.view import RegistryView
from gitreg.ops.promotion import ARCHIVE_STAGE
from gitreg.ops.repair import before_write
from gitreg.store import layout, yamlio
from gitreg.store.gitstore import GitStore, Ident, TagInfo

SOURCE = "gto"


def import_registry(reg: RegistryBranch, *, dry_run: bool = False) -> ImportResult:
    before_write(reg)  # finish what a crash left half-done before proposing on top of it
    head = reg.require_head()
    return propose(reg.store, plan(reg.store, head), reg.store.ident(), dry_run=dry_run)


def plan(store: GitStore, head: str) -> Plan:
    view = RegistryView(store, store.commit_tree(head), head)
    result = Plan(SOURCE, head)
    tags = gtotags.read_tags(store)
    _report_foreign(store, result)
    for name in sorted(tags):
        _plan_artifact(store, view, name, tags[name], result)
    return result


def _report_foreign(store: GitStore, result: Plan) -> None:
    """GTO-looking tags the import cannot read: lightweight ones, names outside the grammar."""
    for ref, oid in sorted(store.refs(gtotags.TAGS).items()):
        tag = ref[len(gtotags.TAGS) :]
        parsed = layout.parse_gto_tag(tag)
        if parsed is None:
            if "#" in tag or "@v" in tag:
                why = "not a tag name GTO's grammar and gitreg share"
                result.unmapped.append(Unmapped(f"tag {tag}", why))
        elif store.tag_info(oid) is None:
            result.unmapped.append(
                Unmapped(f"tag {tag}", "a lightweight tag: GTO ignores it, and it binds nothing")
            )


def _plan_artifact(store: GitStore, view: RegistryView, name: str, tags: list, result: Plan) -> None:
    try:
        layout.check_name(name)
    except GitregError:
        result.unmapped.append(
            Unmapped(f"artifact {name}", "not a gitreg model name (lower-case a-z, 0-9, '.', '_', '-')")
        )
        return
    state = gtotags.state_of(tags)
    deprecated = _deprecated(tags)
    policy = view.policy
    registrations = {p.version: info for p, info in tags if p.action == "register" and p.counter is None}
    adds: dict[str, list[str]] = {}
    new_meta = None
    for version in layout.sort_versions(list(registrations)):
        info: TagInfo = registrations[version]
        stages = [s for (v, s), active in state.active.items() if v == version and active]
        archived = deprecated or not state.registered.get(version, True)
        if view.has_model(name) and view.has_version(name, version):
            continue
        if TAG_DIGEST in parse_tag_message(info.message):
            result.unmapped.append(
                Unmapped(
                    layout.tag_name(name, version),
                    "a gitreg registration tag whose card this registry does not hold; "
                    "run 'gitreg sync' to fetch the registry branch it belongs to",
                )
            )
            continue
        try:
            card = _card(store, name, version, info)
        except GitregError as exc:
            result.unmapped.append(Unmapped(layout.tag_name(name, version), exc.message))
            continue
        result.versions.append(
            ImportedVersion(name, version, info.name, info.target, True, info.name, card, tag_id=info.id)
        )
        if not view.has_model(name) and new_meta is None:
            new_meta = model_meta(name, card)
        for stage in [ARCHIVE_STAGE] if archived else stages:
            if stage not in policy.stages:
                result.unmapped.append(
                    Unmapped(f"{name}@{version} in stage {stage}", "the policy has no such stage")
                )
                continue
            adds.setdefault(stage, []).append(version)
        if archived and stages:
            result.notes.append(f"{name}@{version}: deprecated in GTO, imported as archived (was {stages})")
    for stage, versions in adds.items():
        # GTO's `which` serves the highest active version: make it the one gitreg serves (last).
        adds[stage] = layout.sort_versions(versions)
    if new_meta is not None:
        result.models[name] = new_meta
    after = stages_after(view, name, adds) if adds else None
    if after is not None:
        result.stages[name] = after


def _deprecated(tags: list) -> bool:
    """GTO's artifact deprecation: the artifact's newest direct event is NAME@deprecated#N."""
    direct = [(info.time, p.action) for p, info in tags if p.action in ("deprecate", "create")]
    return bool(direct) and max(direct)[1] == "deprecate"


def _card(store: GitStore, name: str, version: str, info: TagInfo) -> dict:
    note = _annotation(store, name, info.target)
    who = Ident(info.tagger_name or "unknown", info.tagger_email or "", info.time, 0)
    imported = {"tag": info.name, "object": info.id}
    if info.message.strip():
        imported["message"] = info.message.strip()
    return build_card(
        store,
        name,
        version,
        info.target,
        source=SOURCE,
        imported=imported,
        overview=note.get("description") or note.get("desc"),
        owner=(info.tagger_name, info.tagger_email) if info.tagger_name else None,
        labels=note.get("labels") or [],
        ident=who,
        artifact=note.get("path") if isinstance(note.get("path"), str) else None,
    )


def _annotation(store: GitStore, name: str, commit: str) -> dict:
    """GTO's annotation of NAME at COMMIT: dvc.yaml `artifacts:`, else GTO's artifacts.yaml."""
    pipe = pipeline.read(store, commit)
    found = (pipe.dvc_yaml.get("artifacts") or {}).get(name)
    if isinstance(found, dict):
        return found
    data = store.read_blob(pipe.tree, "artifacts.yaml", max_bytes=layout.MAX_CARD_BYTES)
    if data is None:
        return {}
    try:
        found = (yamlio.load(data, "artifacts.yaml") or {}).get(name)
    except (GitregError, AttributeError):
        return {}
    return found if isinstance(found, dict) else {}
