"""The whole trail of a model, for an auditor: who registered and promoted what, when, signed by
whom, from which code, data and parameters, with the verification of every tag and card.

Everything comes from the registry branch and the registration tags; the report names the
registry commit it was read at, so the same commit always gives the same report.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from gitreg.errors import UsageError
from gitreg.model import card as cards
from gitreg.model import events
from gitreg.model.view import RegistryView
from gitreg.store import layout, yamlio
from gitreg.store.gitstore import GitStore
from gitreg.trust import verification

if TYPE_CHECKING:
    from gitreg.model.branch import RegistryBranch
    from gitreg.trust.approvals import Trail
    from gitreg.trust.signatures import Verifier


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!])")


def cell(value: Any) -> str:
    """Card or commit text made inert in Markdown: one line, every markup character escaped,
    so a card cannot fake a row, a heading or a link of the report."""
    text = " ".join(str(value if value is not None else "-").split())
    return _MD_SPECIAL.sub(r"\\\1", text)


def code(value: Any) -> str:
    """A code span that no backtick or newline in VALUE can close."""
    return "`" + " ".join(str(value).split()).replace("`", "'") + "`"


def audit(reg: RegistryBranch, name: str) -> dict[str, Any]:
    layout.check_name(name)
    view = reg.view()
    view.require_model(name)
    checks = {c.version: c for c in verification.verify(reg.store, view, layout.ModelRef(name))}
    versions = []
    for version in view.versions(name):
        card = view.card(name, version)
        prov = card.get("provenance") or {}
        check = checks.get(version)
        versions.append(
            {
                "version": version,
                "tag": layout.tag_name(name, version),
                "stages": view.stages_of(name, version),
                "registered_by": prov.get("registered_by"),
                "registered_at": prov.get("registered_at"),
                "source_commit": (prov.get("source") or {}).get("commit"),
                "card_sha256": yamlio.digest(card),
                "pipeline": prov.get("pipeline"),
                "artifact": prov.get("artifact"),
                "data": prov.get("data") or [],
                "params": prov.get("params") or {},
                "environment": prov.get("environment") or {},
                "metrics": cards.metric_values(card),
                "verification": check.to_dict() if check else None,
            }
        )
    trail = []
    people: dict[str, dict[str, Any]] = {}
    with Trails(reg.store) as trails:
        for event in events.history(reg.store, view.commit or reg.require_head(), name):
            entry = event.to_dict()
            if event.commit not in people:
                people[event.commit] = who(trails.of(event.commit))
            entry.update(people[event.commit])
            trail.append(entry)
    return {
        "model": name,
        "registry_commit": view.commit,
        "meta": view.model_meta(name),
        "stages": view.stages(name),
        "versions": versions,
        "trail": trail,
        "ok": all(c.ok for c in checks.values()),
    }


def who(trail: Trail) -> dict[str, Any]:
    """Who proposed, approved and merged a registry step, from its trail (signatures only, each
    verified against the signers/ of the step's base, as the check judged it), never from
    author fields. An unsigned commit reads 'unsigned (claims NAME <EMAIL>)'."""
    return {
        "proposed_by": ", ".join(c.who() for c in trail.changes) or "-",
        "approved_by": ", ".join(a.who() for a in trail.approvals),
        "merged_by": ", ".join(m.who() for m in trail.merges),
    }


def to_markdown(report: dict[str, Any]) -> str:
    name = report["model"]
    meta = report["meta"]
    bad = [v for v in report["versions"] if v["verification"] and not v["verification"]["ok"]]
    out = [f"# Audit trail: {name}", ""]
    if meta.get("description"):
        out += [cell(meta["description"]), ""]
    owners = ", ".join(cell(o.get("name", "")) for o in meta.get("owners") or [] if isinstance(o, dict))
    out += [
        f"- RegistryBranch commit: `{report['registry_commit']}`",
        f"- Owners: {owners or '-'}",
        f"- Versions: {len(report['versions'])}; "
        + (
            "every tag and card verifies."
            if not bad
            else f"**{len(bad)} do not verify**: {', '.join(v['version'] for v in bad)}."
        ),
        "",
    ]
    out += ["## Stages now", "", "| stage | versions (the last one serves) |", "|---|---|"]
    out += [f"| {cell(s)} | {cell(', '.join(vs))} |" for s, vs in report["stages"].items()] or ["| - | - |"]
    out += ["", "## Versions", ""]
    for v in reversed(report["versions"]):
        out += _version(v)
    out += [
        "## Trail",
        "",
        "| time | event | version | stage or policy files | proposed by (signature) "
        "| approved by (signatures) | commit |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in report["trail"]:
        stage = (
            f"{e['from_stage'] or '-'} -> {e['to_stage'] or '-'}"
            if (e["from_stage"] or e["to_stage"])
            else ", ".join(e.get("paths") or ())
        )
        merged = f"merged by {e['merged_by']}" if e.get("merged_by") else ""
        approved = "; ".join(x for x in (e.get("approved_by"), merged) if x)
        out.append(
            f"| {e['time']} | {e['kind']} | {e['version']} | {stage} | "
            f"{cell(e.get('proposed_by') or '-')} | {cell(approved)} | `{e['commit'][:10]}` |"
        )
    return "\n".join(out) + "\n"


def _version(v: dict[str, Any]) -> list[str]:
    check = v["verification"] or {}
    sig = check.get("signature") or {}
    signed = (
        f"signed ({sig.get('kind')}) by {sig.get('signer')}"
        if sig.get("ok")
        else f"signature: {sig.get('status', 'unknown')}"
    )
    who = v["registered_by"] or {}
    lines = [
        f"### {v['tag']}",
        "",
        f"- Stages: {', '.join(v['stages']) or '-'}",
        f"- Registered {cell(v['registered_at'])} by {cell(who.get('name'))} "
        f"{cell('<' + str(who.get('email')) + '>')} (as the card claims); {cell(signed)}",
        f"- Verifies: {'yes' if check.get('ok') else 'NO'}",
    ]
    lines += [f"  - {cell(p['message'])}" for p in check.get("problems") or []]
    lines.append(f"- Source commit: {code(v['source_commit'])}; card sha256 {code(v['card_sha256'])}")
    pipe = v["pipeline"]
    if pipe:
        lines.append(
            f"- Pipeline: stages {cell(', '.join(pipe.get('stages') or []))}; dvc.lock sha256 "
            f"{code(pipe.get('lock_digest'))}"
        )
    art = v["artifact"] or {}
    lines.append(
        f"- Artifact: {code(art.get('path'))} md5 {code(art.get('md5'))}, {cell(art.get('size'))} bytes"
    )
    lines += [f"- Data: {code(d['path'])} md5 {code(d['md5'])}" for d in v["data"]]
    for file, values in v["params"].items():
        flat = ", ".join(f"{k}={val}" for k, val in _flat(values))
        lines.append(f"- Params ({cell(file)}): {cell(flat)}")
    if v["metrics"]:
        lines.append("- Metrics: " + cell(", ".join(f"{k} = {val}" for k, val in v["metrics"].items())))
    env = v["environment"]
    if env:
        parts = [f"python {cell(env['python'])}"] if env.get("python") else []
        if env.get("lock_file"):
            parts.append(f"{cell(env['lock_file']['path'])} sha256 {code(env['lock_file']['sha256'][:16])}")
        if env.get("image"):
            parts.append(f"image {code(env['image'])}")
        lines.append("- Environment: " + "; ".join(parts))
    return [*lines, ""]


def _flat(values: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(values, dict):
        out = []
        for key, sub in values.items():
            out += _flat(sub, f"{prefix}{key}.")
        return out
    return [(prefix[:-1], values)]


# --- the registry at a date, and who approved each change (issue 11) -----------------------------


@dataclass
class Approver:
    """A person behind a registry change, named from a signature that verifies against the
    signers of the change's base, or 'unsigned (claims NAME <EMAIL>)' from the author field."""

    name: str
    role: str  # wrote | proposed | approved | own approval | stale approval | merged
    verified: bool
    commit: str


@dataclass
class Holding:
    """A version sitting in a stage at the date asked, and how it got there."""

    stage: str
    version: str
    serving: bool  # the last promoted into the stage: the one it serves
    since: str | None  # when the registry commit that put it there landed
    commit: str | None  # that commit (a merge for an approved promotion)
    merge: bool
    approvers: list[Approver]
    source_commit: str | None
    registered_by: str | None
    data: list[dict[str, Any]]
    params: dict[str, Any]
    metrics: dict[str, Any]


@dataclass
class ModelAt:
    model: str
    holdings: list[Holding]

    def serving(self, stage: str) -> Holding | None:
        return next((h for h in self.holdings if h.stage == stage and h.serving), None)


@dataclass
class StateAt:
    at: str  # the date asked, as an ISO time in UTC
    registry_commit: str | None  # the registry branch as it stood then (None: not created yet)
    landed_at: str | None
    models: list[ModelAt]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_date(text: str, *, now: float | None = None) -> int:
    """Seconds since the epoch for DATE: YYYY-MM-DD (the end of that day, UTC), an ISO time
    (UTC unless it names a zone), @SECONDS, or an age such as 7d, 12h, 2w before NOW."""
    text = text.strip()
    age = re.fullmatch(r"(\d+)([hdw])", text)
    if age:
        base = time.time() if now is None else now
        return int(base - int(age[1]) * {"h": 3600, "d": 86400, "w": 7 * 86400}[age[2]])
    if re.fullmatch(r"@\d+", text):
        return int(text[1:])
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)
            return int(day.timestamp()) + 86400 - 1
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{text!r} is not a date.",
            hint="Give YYYY-MM-DD, an ISO time such as 2026-03-01T12:00:00+01:00, or an age such as 7d.",
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp())


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()


def commit_at(store: GitStore, head: str, when: int) -> str | None:
    """The registry branch as it stood at WHEN: the newest first-parent commit landed by then."""
    for commit in store.walk(head):
        if store.commit_time(commit) <= when:
            return commit
    return None


class Trails:
    """The trail of each registry step (trust.approvals), judged by the signers/ of the step's
    base as the check judged it: one verifier per distinct signers/ tree (they rarely change)."""

    def __init__(self, store: GitStore):
        self.store = store
        self._verifiers: dict[str | None, Verifier] = {}

    def close(self) -> None:
        for verifier in self._verifiers.values():
            verifier.close()
        self._verifiers.clear()

    def __enter__(self) -> Trails:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def of(self, commit: str) -> Trail:
        from gitreg.trust import approvals, signing

        parents = self.store.commit_info(commit).parents
        base = parents[0] if parents else None
        judge = base or commit
        tree = self.store.commit_tree(judge)
        key = self.store.entry_id(tree, layout.SIGNERS_DIR)
        verifier = self._verifiers.get(key)
        if verifier is None:
            verifier = self._verifiers[key] = signing.verifier_for(RegistryView(self.store, tree, judge))
        return approvals.read(self.store, base, commit, verifier)


def approvers(trail: Trail) -> list[Approver]:
    """The people behind a registry step, oldest first: for a merge, who proposed, approved and
    merged it; for a plain commit, who wrote it. An approval by a proposer, or one a later
    change outdated, is listed under a role of its own: it does not count."""
    counted = set(trail.independent)
    wrote = "proposed" if trail.merges else "wrote"
    found = [Approver(c.who(), wrote, c.verified, c.commit) for c in trail.changes]
    found += [
        Approver(a.who(), "approved" if a in counted else "own approval", a.verified, a.commit)
        for a in trail.approvals
    ]
    found += [Approver(a.who(), "stale approval", a.verified, a.commit) for a in trail.stale]
    found += [Approver(m.who(), "merged", m.verified, m.commit) for m in trail.merges]
    return found


def people(found: list[Approver]) -> str:
    """'role: name; ...' for a Markdown cell (escape it with `cell`)."""
    return "; ".join(f"{a.role}: {a.name}" for a in found) or "-"


def state_at(store: GitStore, head: str, when: int, name: str | None = None) -> StateAt:
    """Every model (or NAME) as the registry branch held it at WHEN: per stage the versions in
    it, the commit that put each there with its approvers, and each version's lineage."""
    commit = commit_at(store, head, when)
    if commit is None:
        return StateAt(iso(when), None, None, [])
    view = RegistryView(store, store.commit_tree(commit), commit)
    if name is not None:
        layout.check_name(name)
        view.require_model(name)
    names = [name] if name is not None else view.model_names()
    # Where each (model, version, stage) entered: the last such event up to COMMIT.
    entered: dict[tuple[str, str, str], events.Event] = {}
    for event in events.history(store, commit, name):
        if event.to_stage:
            entered[(event.model, event.version, event.to_stage)] = event
    models = []
    with Trails(store) as trails:
        for model in names:
            holdings = []
            for stage, versions in view.stages(model).items():
                for version in versions:
                    holdings.append(
                        _holding(
                            store,
                            view,
                            trails,
                            model,
                            stage,
                            version,
                            versions[-1] == version,
                            entered.get((model, version, stage)),
                        )
                    )
            models.append(ModelAt(model, holdings))
    return StateAt(iso(when), commit, iso(store.commit_time(commit)), models)


def _holding(
    store: GitStore,
    view: RegistryView,
    trails: Trails,
    model: str,
    stage: str,
    version: str,
    serving: bool,
    event: events.Event | None,
) -> Holding:
    card = view.card(model, version) if view.has_version(model, version) else {}
    prov = card.get("provenance") or {}
    who = prov.get("registered_by") or {}
    landed = event.commit if event else None
    return Holding(
        stage=stage,
        version=version,
        serving=serving,
        since=iso(store.commit_time(landed)) if landed else None,
        commit=landed,
        merge=bool(landed and len(store.commit_info(landed).parents) > 1),
        approvers=approvers(trails.of(landed)) if landed else [],
        source_commit=(prov.get("source") or {}).get("commit"),
        registered_by=f"{who.get('name')} <{who.get('email')}>" if who else None,
        data=list(prov.get("data") or []),
        params=dict(prov.get("params") or {}),
        metrics=cards.metric_values(card),
    )


def state_markdown(state: StateAt) -> str:
    out = [f"# The registry at {state.at}", ""]
    if state.registry_commit is None:
        return "\n".join([*out, "The registry branch did not exist yet.", ""])
    out += [f"- Registry commit: `{state.registry_commit}` (landed {state.landed_at})", ""]
    for m in state.models:
        out += [f"## {m.model}", ""]
        if not m.holdings:
            out += ["In no stage.", ""]
            continue
        out += [
            "| stage | version | serving | since | commit | approvers | source commit |",
            "|---|---|---|---|---|---|---|",
        ]
        for h in m.holdings:
            names = people(h.approvers)
            kind = "merge " if h.merge else ""
            commit = f"{kind}`{h.commit[:10]}`" if h.commit else "-"
            out.append(
                f"| {h.stage} | {h.version} | {'yes' if h.serving else ''} | {h.since or '-'} | {commit} | "
                f"{cell(names)} | `{(h.source_commit or '-')[:10]}` |"
            )
        out.append("")
        for h in m.holdings:
            if not h.serving:
                continue
            out.append(f"- {h.stage} serves {h.version}: registered by {h.registered_by or '-'}")
            out += [f"  - data `{d.get('path')}` md5 `{d.get('md5')}`" for d in h.data]
            for file, values in h.params.items():
                out.append(f"  - params ({file}): " + ", ".join(f"{k}={v}" for k, v in _flat(values)))
            if h.metrics:
                out.append("  - metrics: " + ", ".join(f"{k} = {v}" for k, v in h.metrics.items()))
        out.append("")
    return "\n".join(out)
