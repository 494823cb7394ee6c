"""The engine: run every rule, in the order `gitreg.check.rules.RULES` lists them, on a change.

Findings are collected first, then rendered once (see `report`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from gitreg.check.change import Change, CheckOptions, Finding
from gitreg.check.rules import RULES
from gitreg.errors import RegistryRefusal
from gitreg.model.view import RegistryView
from gitreg.results import to_data
from gitreg.store import layout
from gitreg.store.gitstore import GitStore


@dataclass
class Report:
    base: str | None
    head: str
    findings: list[Finding]
    rules: list[str]
    warnings: list[Finding] = field(default_factory=list)  # reported, never a failure

    @property
    def ok(self) -> bool:
        return not self.findings

    json_properties = ("ok",)

    def to_dict(self) -> dict:
        return to_data(self)


class CheckRefused(RegistryRefusal):
    """The check said no to a write (promote, merge, register --propose): its report attached."""

    def __init__(self, report: Report, what: str):
        details = []
        for f in report.findings:
            first, *rest = f.message.splitlines() or [""]
            details.append(f"[{f.rule}] {f.file}: {first}" + "".join(f"\n    {r}" for r in rest))
            details.append(f"  fix: {f.fix}")
        super().__init__(
            f"the check refuses {what} ({len(report.findings)} finding(s)):",
            details=details,
            hint=report.findings[0].fix if report.findings else None,
        )
        self.report = report


def rules() -> list[str]:
    """The names of every rule, in the order they run."""
    return [name for name, _ in RULES]


def _fetch_what_is_missing(change: Change) -> dict[str, str]:
    """In a partial clone (CI clones one branch, no blobs, no tags), fetch in a few requests
    what the rules read: the files the change touches on both sides, the judge's policy and
    signers, the touched models' files; then the registration tags the change names (new
    cards, versions entering a stage), judged by their values on the promisor remote as a
    server hook judges pushed refs. Anything else a rule reads is fetched when read."""
    store = change.store
    promisor = store.promisor
    if promisor is None:
        return {}
    views = [v for v in (change.base, change.judge, change.head) if v is not None]
    paths = [layout.POLICY_PATH, *(p for _, p in change.paths)]
    for name in change.models:
        paths += [layout.model_path(name), layout.stages_path(name)]
    oids = [oid for v in views for p in paths if (oid := store.entry_id(v.tree, p))]
    for v in views[:2]:  # the judge's signers and validators
        oids += store.blob_ids(v.tree, layout.SIGNERS_DIR) + store.blob_ids(v.tree, "checks")
    store.prefetch(oids)
    named = [*change.new_versions, *((e.model, e.version) for e in change.entries)]
    store.prefetch(
        [
            oid
            for n, v in named
            for p in (layout.card_path(n, v), layout.tag_record_path(n, v))
            if (oid := store.entry_id(change.head.tree, p))
        ]
    )
    pushed = change.options.refs
    wanted = [layout.tag_ref(n, v) for n, v in named]
    wanted = [r for r in dict.fromkeys(wanted) if r not in pushed and store.ref_target(r) is None]
    return store.fetch_refs(promisor, wanted)


def run(store: GitStore, base: str | None, head: str, *, options: CheckOptions | None = None) -> Report:
    """Judge HEAD against BASE (commit ids) with every registered rule."""
    base_view = RegistryView(store, store.commit_tree(base), base) if base else None
    head_view = RegistryView(store, store.commit_tree(head), head)
    change = Change(store, base_view, head_view, options or CheckOptions())
    fetched = _fetch_what_is_missing(change)
    if fetched:
        change.options = replace(change.options, refs={**fetched, **change.options.refs})
    findings: list[Finding] = []
    names = []
    for name, fn in RULES:
        names.append(name)
        try:
            findings.extend(fn(change))
        except RegistryRefusal as exc:
            # A file the rule had to read is broken: that is a finding, not a crash.
            findings.append(
                Finding(
                    name, "(registry)", str(exc.message), exc.hint or "Fix the file named in the message."
                )
            )
    errors = [f for f in findings if f.severity != "warning"]
    return Report(base, head, errors, names, [f for f in findings if f.severity == "warning"])


def judge(store: GitStore, base: str | None, head: str, *, options: CheckOptions | None = None) -> Report:
    """Judge revision HEAD against BASE (default: HEAD's first parent), revisions being anything
    git resolves, or an all-zero id for "nothing"."""
    head_id = store.resolve_commit(head)
    if base is None:
        parents = store.commit_info(head_id).parents
        base_id = parents[0] if parents else None
    else:
        base_id = None if base.strip("0") == "" else store.resolve_commit(base)
    return run(store, base_id, head_id, options=options)
