"""The whole trail of a model, for an auditor: who registered and promoted what, when, signed by
whom, from which code, data and parameters, with the verification of every tag and card.

Everything comes from the registry branch and the registration tags; the report names the
registry commit it was read at, so the same commit always gives the same report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gitreg.model import card as cards
from gitreg.model import events
from gitreg.store import layout, yamlio
from gitreg.trust import verification

if TYPE_CHECKING:
    from gitreg.model.branch import RegistryBranch


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
    for event in events.history(reg.store, view.commit or reg.require_head(), name):
        entry = event.to_dict()
        info = reg.store.commit_info(event.commit)
        if len(info.parents) > 1:  # a merged proposal: the merger approved, the proposer wrote it
            proposer = reg.store.commit_info(info.parents[1])
            entry["proposed_by"] = f"{proposer.author} <{proposer.email}>"
            entry["merged_by"] = f"{info.author} <{info.email}>"
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


def to_markdown(report: dict[str, Any]) -> str:
    name = report["model"]
    meta = report["meta"]
    bad = [v for v in report["versions"] if v["verification"] and not v["verification"]["ok"]]
    out = [f"# Audit trail: {name}", ""]
    if meta.get("description"):
        out += [meta["description"], ""]
    owners = ", ".join(o.get("name", "") for o in meta.get("owners") or [] if isinstance(o, dict))
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
    out += [f"| {s} | {', '.join(vs)} |" for s, vs in report["stages"].items()] or ["| - | - |"]
    out += ["", "## Versions", ""]
    for v in reversed(report["versions"]):
        out += _version(v)
    out += [
        "## Trail",
        "",
        "| time | event | version | stage | by | approved by | commit |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in report["trail"]:
        stage = (
            f"{e['from_stage'] or '-'} -> {e['to_stage'] or '-'}"
            if (e["from_stage"] or e["to_stage"])
            else ""
        )
        by = e.get("proposed_by") or f"{e['author']} <{e['email']}>"
        out.append(
            f"| {e['time']} | {e['kind']} | {e['version']} | {stage} | {by} | "
            f"{e.get('merged_by', '')} | `{e['commit'][:10]}` |"
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
        f"- Registered {v['registered_at']} by {who.get('name')} <{who.get('email')}>; {signed}",
        f"- Verifies: {'yes' if check.get('ok') else 'NO'}",
    ]
    lines += [f"  - {p['message']}" for p in check.get("problems") or []]
    lines.append(f"- Source commit: `{v['source_commit']}`; card sha256 `{v['card_sha256']}`")
    pipe = v["pipeline"]
    if pipe:
        lines.append(
            f"- Pipeline: stages {', '.join(pipe.get('stages') or [])}; dvc.lock sha256 "
            f"`{pipe.get('lock_digest')}`"
        )
    art = v["artifact"] or {}
    lines.append(f"- Artifact: `{art.get('path')}` md5 `{art.get('md5')}`, {art.get('size')} bytes")
    lines += [f"- Data: `{d['path']}` md5 `{d['md5']}`" for d in v["data"]]
    for file, values in v["params"].items():
        flat = ", ".join(f"{k}={val}" for k, val in _flat(values))
        lines.append(f"- Params ({file}): {flat}")
    if v["metrics"]:
        lines.append("- Metrics: " + ", ".join(f"{k} = {val}" for k, val in v["metrics"].items()))
    env = v["environment"]
    if env:
        parts = [f"python {env['python']}"] if env.get("python") else []
        if env.get("lock_file"):
            parts.append(f"{env['lock_file']['path']} sha256 `{env['lock_file']['sha256'][:16]}`")
        if env.get("image"):
            parts.append(f"image `{env['image']}`")
        lines.append("- Environment: " + "; ".join(parts))
    return [*lines, ""]


def _flat(values: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(values, dict):
        out = []
        for key, sub in values.items():
            out += _flat(sub, f"{prefix}{key}.")
        return out
    return [(prefix[:-1], values)]
