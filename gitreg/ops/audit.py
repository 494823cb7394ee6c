"""The whole trail of a model, for an auditor: who registered and promoted what, when, signed by
whom, from which code, data and parameters, with the verification of every tag and card.

Everything comes from the registry branch and the registration tags; the report names the
registry commit it was read at, so the same commit always gives the same report.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from gitreg.model import card as cards
from gitreg.model import events
from gitreg.store import layout, yamlio
from gitreg.trust import verification

if TYPE_CHECKING:
    from gitreg.model.branch import RegistryBranch


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
    for event in events.history(reg.store, view.commit or reg.require_head(), name):
        entry = event.to_dict()
        if event.commit not in people:
            people[event.commit] = who(reg, event.commit)
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


def who(reg: RegistryBranch, commit: str) -> dict[str, Any]:
    """Who proposed, approved and merged the registry step COMMIT, from signatures only: each
    verified against the signers/ of the step's base (as the check judged it), never from
    author fields. An unsigned commit reads 'unsigned (claims NAME <EMAIL>)'."""
    from gitreg.model.view import RegistryView
    from gitreg.trust import approvals
    from gitreg.trust.signing import verifier_for

    store = reg.store
    parents = store.commit_info(commit).parents
    base = parents[0] if parents else None
    judge = RegistryView(store, store.commit_tree(base or commit), base or commit)
    with verifier_for(judge) as verifier:
        trail = approvals.read(store, base, commit, verifier)
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
