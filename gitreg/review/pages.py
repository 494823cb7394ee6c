"""The site's pages of one model: its page (versions, stages over time, charts, comparison of
two versions) and a page per version (card, lineage graph, signature and approvals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitreg.model import card as cards
from gitreg.model.events import Event
from gitreg.model.view import RegistryView
from gitreg.ops.audit import Approver, _flat
from gitreg.review.charts import lineage_graph, metric_chart
from gitreg.review.documents import people
from gitreg.review.html import badge, esc, number, page, short, table

COMPARE_JS = """
(function(){
var data=JSON.parse(document.getElementById('data').textContent);
var a=document.getElementById('cmp-a'),b=document.getElementById('cmp-b');
var out=document.getElementById('cmp-body');
function cell(tr,text,cls){var td=document.createElement('td');td.textContent=text;if(cls)td.className=cls;
tr.appendChild(td);return td;}
function head(text){var tr=document.createElement('tr');var th=document.createElement('th');th.colSpan=4;
th.textContent=text;tr.appendChild(th);out.appendChild(tr);}
function fmt(v){return (v===undefined||v===null)?'-':(typeof v==='number'?String(+v.toPrecision(6)):String(v));}
function render(){
 var va=data.versions[a.value],vb=data.versions[b.value];out.textContent='';
 head('metrics');
 var keys=Object.keys(Object.assign({},va.metrics,vb.metrics)).sort();
 keys.forEach(function(k){var tr=document.createElement('tr');tr.className='metric-row';tr.dataset.metric=k;
  cell(tr,k);cell(tr,fmt(va.metrics[k]),'num');cell(tr,fmt(vb.metrics[k]),'num');
  var x=va.metrics[k],y=vb.metrics[k];
  if(typeof x==='number'&&typeof y==='number'){var d=y-x;
   cell(tr,(d>0?'+':'')+String(+d.toPrecision(4)),'num delta '+(d>0?'up':d<0?'down':'muted'));}
  else cell(tr,'-','num delta');out.appendChild(tr);});
 head('params');
 var pk=Object.keys(Object.assign({},va.params,vb.params)).sort();
 pk.forEach(function(k){var tr=document.createElement('tr');cell(tr,k);cell(tr,fmt(va.params[k]));
  cell(tr,fmt(vb.params[k]));cell(tr,va.params[k]===vb.params[k]?'':'changed','bad');out.appendChild(tr);});
 head('data');
 var dk=Object.keys(Object.assign({},va.data,vb.data)).sort();
 dk.forEach(function(k){var tr=document.createElement('tr');cell(tr,k);cell(tr,fmt(va.data[k]).slice(0,12),'mono');
  cell(tr,fmt(vb.data[k]).slice(0,12),'mono');cell(tr,va.data[k]===vb.data[k]?'':'changed','bad');
  out.appendChild(tr);});
 head('code');
 var tr=document.createElement('tr');cell(tr,'source commit');cell(tr,fmt(va.commit).slice(0,10),'mono');
 cell(tr,fmt(vb.commit).slice(0,10),'mono');cell(tr,va.commit===vb.commit?'':'changed','bad');out.appendChild(tr);
 document.getElementById('cmp-a-label').textContent=a.value;
 document.getElementById('cmp-b-label').textContent=b.value;
}
a.addEventListener('change',render);b.addEventListener('change',render);render();
})();
"""  # noqa: E501


@dataclass
class VersionFacts:
    version: str
    card: dict[str, Any]
    stages: list[str]
    signature: str  # what the verification said, in words
    verified: bool
    problems: list[str] = field(default_factory=list)
    approvals: list[tuple[Event, list[Approver]]] = field(default_factory=list)


def model_page(
    view: RegistryView, name: str, facts: list[VersionFacts], trail: list[tuple[Event, list[Approver]]]
) -> str:
    meta = view.model_meta(name)
    stages = view.stages(name)
    serving = {vs[-1]: s for s, vs in stages.items() if vs}
    owners = ", ".join(str(o.get("name")) for o in meta.get("owners") or [] if isinstance(o, dict))
    out = [f"<h1>{esc(name)}</h1>"]
    if meta.get("description"):
        out.append(f"<p>{esc(meta['description'])}</p>")
    out.append(
        '<p class="muted">Owners: '
        + esc(owners or "-")
        + " · Now: "
        + ("".join(badge(s, f"{s} {vs[-1]}") for s, vs in stages.items() if vs) or "in no stage")
        + "</p>"
    )
    # Charts: one per metric across versions, with every gate the policy sets on it.
    out.append("<h2>Metrics across versions</h2>")
    series: dict[str, list[tuple[str, float]]] = {}
    for f in facts:
        for metric, value in cards.metric_values(f.card).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                series.setdefault(metric, []).append((f.version, float(value)))
    gates = [(s.name, g) for s in view.policy.stages.values() for g in s.gates]
    charts = []
    for metric, points in sorted(series.items()):
        mine = [(s, g) for s, g in gates if g.metric == metric]
        charts.append(
            f'<div class="panel"><h3>{esc(metric)}</h3>'
            + metric_chart(metric, points, mine, set(serving))
            + "</div>"
        )
    out.append(
        '<div class="cards">' + "".join(charts) + "</div>" if charts else '<p class="empty">No metrics.</p>'
    )
    # Comparison of two versions, chosen on the page.
    versions = [f.version for f in facts]
    if versions:
        default_b = versions[-1]
        default_a = serving_version(stages) or (versions[-2] if len(versions) > 1 else versions[-1])
        if default_a == default_b and len(versions) > 1:
            default_a = versions[-2]

        def select(ident: str, chosen: str) -> str:
            options = "".join(
                f'<option value="{esc(v)}"{" selected" if v == chosen else ""}>{esc(v)}</option>'
                for v in reversed(versions)
            )
            return f'<select id="{ident}">{options}</select>'

        out.append("<h2>Compare two versions</h2>")
        out.append(
            '<div class="compare"><label>A ' + select("cmp-a", default_a) + "</label><label>B "
            + select("cmp-b", default_b) + "</label></div>"
            '<table id="compare"><thead><tr><th></th><th class="num" id="cmp-a-label">A</th>'
            '<th class="num" id="cmp-b-label">B</th><th class="num">B - A</th></tr></thead>'
            '<tbody id="cmp-body"></tbody></table>'
        )  # fmt: skip
    out.append("<h2>Versions</h2>")
    rows = []
    for f in reversed(facts):
        prov = f.card.get("provenance") or {}
        who = prov.get("registered_by") or {}
        rows.append(
            [
                f'<a href="v{esc(f.version)}.html">{esc(f.version)}</a>',
                "".join(badge(s) for s in f.stages) or "-",
                esc(prov.get("registered_at")),
                esc(who.get("name")),
                verdict(f),
                short((prov.get("source") or {}).get("commit")),
                esc(", ".join(f"{k} = {number(v)}" for k, v in cards.metric_values(f.card).items())),
            ]
        )
    out.append(
        table(
            ["version", "stages", "registered", "by", "signature · verification", "source", "metrics"], rows
        )
    )
    out.append("<h2>Stages over time</h2>")
    rows = [
        [
            esc(e.time),
            esc(e.kind),
            f'<a href="v{esc(e.version)}.html">{esc(e.version)}</a>',
            (badge(e.from_stage) if e.from_stage else "-")
            + " → "
            + (badge(e.to_stage) if e.to_stage else "-"),
            people(found),
            short(e.commit),
        ]
        for e, found in reversed(trail)
        if e.kind != "registered"
    ]
    out.append(
        table(
            ["time", "event", "version", "stage", "approvers", "commit"], rows, empty="No stage changes yet."
        )
    )
    data = {"versions": {f.version: compare_data(f.card) for f in facts}}
    return page(name, "\n".join(out), root="../../", script=COMPARE_JS if versions else None, data=data)


def serving_version(stages: dict[str, list[str]]) -> str | None:
    for stage in ("production", *stages):
        if stages.get(stage):
            return stages[stage][-1]
    return None


def compare_data(card: dict[str, Any]) -> dict[str, Any]:
    prov = card.get("provenance") or {}
    params = {}
    for file, values in (prov.get("params") or {}).items():
        params.update({f"{file}:{k}": v for k, v in _flat(values)})
    return {
        "metrics": cards.metric_values(card),
        "params": params,
        "data": {str(d.get("path")): d.get("md5") for d in prov.get("data") or [] if isinstance(d, dict)},
        "commit": (prov.get("source") or {}).get("commit"),
    }


def verdict(f: VersionFacts) -> str:
    """The signature in words, and whether the tag and card verify (binding, tag ref, signer)."""
    if f.verified:
        return f'{esc(f.signature)} · <span class="ok">tag and card verify</span>'
    return f'{esc(f.signature)} · <span class="bad">does not verify</span>'


def _environment(env: dict[str, Any]) -> str:
    parts = [f"python {esc(env['python'])}"] if env.get("python") else []
    lock = env.get("lock_file")
    if isinstance(lock, dict):
        parts.append(f"<code>{esc(lock.get('path'))}</code> sha256 {short(lock.get('sha256'))}")
    if env.get("image"):
        parts.append(f"image <code>{esc(env['image'])}</code>")
    return " · ".join(parts) or "-"


def _list(items: Any) -> str:
    values = [f"<li>{esc(x)}</li>" for x in items or []]
    return f"<ul>{''.join(values)}</ul>" if values else '<p class="empty">Not stated.</p>'


def version_page(name: str, f: VersionFacts) -> str:
    card = f.card
    prov = card.get("provenance") or {}
    out = [
        f'<p class="muted"><a href="index.html">{esc(name)}</a></p>',
        f"<h1>{esc(name)} {esc(f.version)} " + "".join(badge(s) for s in f.stages) + "</h1>",
        f"<p>{esc(card.get('overview'))}</p>",
    ]
    owners = ", ".join(
        str(o.get("name")) + (f" ({o['contact']})" if o.get("contact") else "")
        for o in card.get("owners") or []
        if isinstance(o, dict)
    )
    license_ = esc(card.get("license"))
    out.append(f'<dl class="kv"><dt>Owners</dt><dd>{esc(owners)}</dd><dt>License</dt><dd>{license_}</dd>')
    out.append(f"<dt>Signature</dt><dd>{verdict(f)}</dd>")
    out.append(f"<dt>Registered</dt><dd>{esc(prov.get('registered_at'))}</dd></dl>")
    out += [f'<p class="bad">{esc(p)}</p>' for p in f.problems]
    use = card.get("intended_use") or {}
    cons = card.get("considerations") or {}
    out.append('<div class="cards">')
    out.append(f'<div class="panel"><h3>Primary uses</h3>{_list(use.get("primary_uses"))}</div>')
    out.append(f'<div class="panel"><h3>Users</h3>{_list(use.get("users"))}</div>')
    out.append(f'<div class="panel"><h3>Out of scope</h3>{_list(use.get("out_of_scope"))}</div>')
    out.append(f'<div class="panel"><h3>Limitations</h3>{_list(cons.get("limitations"))}</div>')
    risks = [
        f"{r.get('name')}: {r.get('mitigation') or 'no mitigation stated'}"
        for r in cons.get("ethical_risks") or []
        if isinstance(r, dict)
    ]
    out.append(f'<div class="panel"><h3>Ethical risks and mitigations</h3>{_list(risks)}</div>')
    out.append("</div>")
    out.append("<h2>Evaluation</h2>")
    rows = []
    for result in card.get("evaluation") or []:
        if not isinstance(result, dict):
            continue
        ds = result.get("dataset") or {}
        for m in result.get("metrics") or []:
            if isinstance(m, dict):
                source = m.get("source") or {}
                rows.append(
                    [
                        esc(m.get("type")),
                        f'<span class="num">{number(m.get("value"))}</span>',
                        esc(ds.get("name") or "-"),
                        esc(ds.get("split") or "-"),
                        esc(ds.get("slice") or "-"),
                        f"<code>{esc(source.get('file'))}</code> {esc(source.get('key'))}" if source else "-",
                    ]
                )
    out.append(table(["metric", "value", "dataset", "split", "slice", "from"], rows))
    out.append("<h2>Lineage</h2>")
    out.append(f'<div class="panel">{lineage_graph(card)}</div>')
    art = prov.get("artifact") or {}
    rows = [["code commit", short((prov.get("source") or {}).get("commit"))]]
    pipe = prov.get("pipeline") or {}
    if pipe:
        rows.append(
            [
                "pipeline",
                esc(", ".join(pipe.get("stages") or [])) + f" · dvc.lock {short(pipe.get('lock_digest'))}",
            ]
        )
    rows.append(
        [
            "artifact",
            f"<code>{esc(art.get('path'))}</code> md5 {short(art.get('md5'))} · {esc(art.get('size'))} bytes",
        ]
    )
    rows += [
        ["data", f"<code>{esc(d.get('path'))}</code> md5 {short(d.get('md5'))}"]
        for d in prov.get("data") or []
    ]
    for file, values in (prov.get("params") or {}).items():
        rows.append([f"params {esc(file)}", esc(", ".join(f"{k}={v}" for k, v in _flat(values)))])
    env = prov.get("environment") or {}
    if env:
        rows.append(["environment", _environment(env)])
    out.append('<dl class="kv">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>")
    out.append("<h2>Approvals</h2>")
    rows = [
        [
            esc(e.time),
            (badge(e.from_stage) if e.from_stage else "-")
            + " → "
            + (badge(e.to_stage) if e.to_stage else "-"),
            people(found),
            short(e.commit),
        ]
        for e, found in f.approvals
    ]
    out.append(table(["time", "stage", "approvers", "commit"], rows, empty="Not promoted yet."))
    return page(f"{name} {f.version}", "\n".join(out), root="../../")
