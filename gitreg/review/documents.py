"""HTML of the auditor's documents: a model's trail, the registry at a date, the weekly review.
Every value from a card or a commit goes through `esc`."""

from __future__ import annotations

from typing import Any

from gitreg.ops.audit import Approver, StateAt
from gitreg.review.html import badge, esc, number, page, short, table
from gitreg.review.report import Review


def people(found: list[Approver]) -> str:
    if not found:
        return "-"
    return "<br>".join(
        f'<span class="muted">{esc(a.role)}:</span> '
        + (f'<span class="ok">{esc(a.name)}</span>' if a.verified else esc(a.name))
        for a in found
    )


def trail_rows(trail: list[dict[str, Any]], *, model_link: str | None = None) -> list[list[str]]:
    rows = []
    for e in trail:
        stage = ""
        if e.get("from_stage") or e.get("to_stage"):
            stage = (badge(e["from_stage"]) if e.get("from_stage") else "-") + " → "
            stage += badge(e["to_stage"]) if e.get("to_stage") else "-"
        model = esc(e.get("model", ""))
        if model_link is not None:
            model = f'<a href="{model_link}models/{esc(e["model"])}/index.html">{model}</a>'
        by = e.get("proposed_by") or f"{e.get('author')} <{e.get('email')}>"
        rows.append(
            [
                esc(e["time"]),
                esc(e["kind"]),
                model,
                esc(e["version"]),
                stage,
                esc(by),
                esc(e.get("merged_by", "")),
                short(e["commit"]),
            ]
        )
    return rows


TRAIL_HEADERS = ["time", "event", "model", "version", "stage", "by", "approved by", "commit"]


def audit_body(report: dict[str, Any]) -> str:
    """One model's trail (ops.audit.audit's result) as page content."""
    meta = report["meta"]
    out = [f"<h1>Audit trail: {esc(report['model'])}</h1>"]
    if meta.get("description"):
        out.append(f"<p>{esc(meta['description'])}</p>")
    bad = [v for v in report["versions"] if v["verification"] and not v["verification"]["ok"]]
    verdict = (
        '<span class="ok">every tag and card verifies</span>'
        if not bad
        else f'<span class="bad">{len(bad)} do not verify: {esc(", ".join(v["version"] for v in bad))}</span>'
    )
    out.append(f"<p>Registry commit {short(report['registry_commit'])} · {verdict}</p>")
    out.append("<h2>Stages now</h2>")
    rows = [[badge(s), esc(", ".join(vs))] for s, vs in report["stages"].items()]
    out.append(table(["stage", "versions (the last one serves)"], rows, empty="In no stage."))
    out.append("<h2>Versions</h2>")
    rows = []
    for v in reversed(report["versions"]):
        check = v["verification"] or {}
        sig = check.get("signature") or {}
        who = v["registered_by"] or {}
        rows.append(
            [
                esc(v["tag"]),
                "".join(badge(s) for s in v["stages"]),
                esc(v["registered_at"]),
                esc(f"{who.get('name')} <{who.get('email')}>"),
                esc(f"{sig.get('kind')}: {sig.get('signer')}" if sig.get("ok") else sig.get("status", "-")),
                '<span class="ok">yes</span>' if check.get("ok") else '<span class="bad">NO</span>',
                short(v["source_commit"]),
                esc(", ".join(f"{k} = {number(x)}" for k, x in v["metrics"].items())),
            ]
        )
    out.append(
        table(["tag", "stages", "registered", "by", "signature", "verifies", "source", "metrics"], rows)
    )
    out.append("<h2>Trail</h2>")
    trail = [{**e, "model": report["model"]} for e in report["trail"]]
    out.append(table(TRAIL_HEADERS, trail_rows(trail)))
    return "\n".join(out)


def audit_page(reports: list[dict[str, Any]]) -> str:
    body = "\n".join(audit_body(r) for r in reports)
    return page("Audit trail", body, nav=False)


def state_body(state: StateAt) -> str:
    out = [f"<h1>The registry at {esc(state.at)}</h1>"]
    if state.registry_commit is None:
        return out[0] + '<p class="empty">The registry branch did not exist yet.</p>'
    out.append(f"<p>Registry commit {short(state.registry_commit)}, landed {esc(state.landed_at)}</p>")
    for m in state.models:
        out.append(f"<h2>{esc(m.model)}</h2>")
        rows = []
        for h in m.holdings:
            lineage = [f"source {short(h.source_commit)}"]
            lineage += [f"data <code>{esc(d.get('path'))}</code> {short(d.get('md5'))}" for d in h.data]
            lineage += [esc(f"{k} = {v}") for k, v in h.metrics.items()]
            rows.append(
                [
                    badge(h.stage),
                    esc(h.version) + (' <span class="pill">serving</span>' if h.serving else ""),
                    esc(h.since or "-"),
                    ("merge " if h.merge else "") + short(h.commit),
                    people(h.approvers),
                    "<br>".join(lineage),
                ]
            )
        out.append(
            table(["stage", "version", "since", "commit", "approvers", "lineage"], rows, empty="In no stage.")
        )
    return "\n".join(out)


def state_page(state: StateAt) -> str:
    return page(f"Registry at {state.at}", state_body(state), nav=False)


def review_body(review: Review, *, links: bool = True) -> str:
    """LINKS: the page sits at the top of a site (`gitreg site`), so models have pages."""
    window = f"{review.since} to {review.until}" if review.since else f"after {review.from_commit}"
    counts = (
        f"{len(review.registrations)} registrations · {len(review.promotions)} promotions · "
        f"{len(review.archives)} archives · {len(review.policy_changes)} policy or signer changes · "
        f"{len(review.proposals)} open proposals"
    )
    out = [f"<h1>Registry review</h1><p class='muted'>{esc(window)}</p><p>{esc(counts)}</p>"]

    def link(model: str, version: str | None = None) -> str:
        text = esc(model) + (" " + esc(version) if version else "")
        if not links:
            return text
        target = f"models/{esc(model)}/" + (f"v{esc(version)}.html" if version else "index.html")
        return f'<a href="{target}">{text}</a>'

    for title, changes in (
        ("New registrations", review.registrations),
        ("Promotions", review.promotions),
        ("Archives", review.archives),
    ):
        out.append(f"<h2>{title} ({len(changes)})</h2>")
        staged = title != "New registrations"
        rows = [
            [
                esc(c.time),
                link(c.model, c.version),
                *(
                    [
                        (badge(c.from_stage) if c.from_stage else "-")
                        + " → "
                        + (badge(c.to_stage) if c.to_stage else "-")
                    ]
                    if staged
                    else []
                ),
                people(c.approvers),
                short(c.commit),
            ]
            for c in changes
        ]
        headers = ["time", "version", *(["stage"] if staged else []), "approvers", "commit"]
        out.append(table(headers, rows, empty="None."))
    out.append(f"<h2>Policy and signer changes ({len(review.policy_changes)})</h2>")
    rows = [
        [esc(p.time), esc(p.subject), esc(", ".join(p.paths)), people(p.approvers), short(p.commit)]
        for p in review.policy_changes
    ]
    out.append(table(["time", "change", "paths", "approvers", "commit"], rows, empty="None."))
    out.append(f"<h2>Open proposals ({len(review.proposals)})</h2>")
    rows = [
        [
            f"<code>{esc(o.branch)}</code>",
            esc(o.where),
            esc(o.subject),
            '<span class="ok">passes</span>' if o.ok else '<span class="bad">fails</span>',
            "<br>".join(esc(f) for f in o.findings) or "-",
            "<br>".join(esc(m) for m in o.missing_approvals) or "-",
        ]
        for o in review.proposals
    ]
    out.append(
        table(["branch", "where", "change", "check", "findings", "missing approvals"], rows, empty="None.")
    )
    out.append("<h2>New versions against what their stage serves</h2>")
    if not review.comparisons:
        out.append('<p class="empty">None.</p>')
    for c in review.comparisons:
        verdict = GATE_VERDICT[c.gates_ok]
        against = (
            f"{esc(c.stage)} serves {esc(c.baseline)}"
            if c.baseline
            else f"{esc(c.stage or '-')} serves nothing yet"
        )
        out.append(f"<h3>{link(c.model, c.version)} <span class='muted'>vs {against}</span> {verdict}</h3>")
        rows = [
            [
                esc(m.metric),
                f'<span class="num">{number(m.value)}</span>',
                number(m.baseline) if m.baseline is not None else "-",
                _delta(m.delta),
                esc(m.gate or "")
                + (
                    ""
                    if m.passed is None
                    else (' <span class="ok">pass</span>' if m.passed else ' <span class="bad">fail</span>')
                ),
            ]
            for m in c.metrics
        ]
        out.append(table(["metric", "value", "baseline", "delta", "gate"], rows))
    return "\n".join(out)


GATE_VERDICT = {
    True: '<span class="ok">gates pass</span>',
    False: '<span class="bad">gates fail</span>',
    None: "",
}


def _delta(delta: float | None) -> str:
    if delta is None:
        return "-"
    cls = "up" if delta > 0 else "down" if delta < 0 else "muted"
    return f'<span class="{cls}">{delta:+.4g}</span>'


def review_page(review: Review, *, links: bool = True) -> str:
    return page("Weekly review", review_body(review, links=links), nav=links)
