"""The pages' common parts: escaping, the page frame with its Content-Security-Policy, the style.

Pages load nothing: style and script are inline, allowed by their sha256 in the page's CSP
(`default-src 'none'`), so they work from file:// and from any static host, and markup a card
might smuggle in is inert twice over: escaped, and not allowed to run.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from typing import Any

STYLE = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;--soft:#f6f8fa;--accent:#0969da;
--prod:#1a7f37;--stag:#9a6700;--arch:#6e7781;--other:#8250df;--bad:#cf222e}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);
background:var(--bg)}
header.top{background:#24292f;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:center}
header.top a{color:#fff;text-decoration:none;font-weight:600}
header.top nav a{font-weight:400;opacity:.85;margin-right:16px}
header.top .brand{font-size:16px;font-weight:600}
main{max-width:1200px;margin:0 auto;padding:20px 24px 60px}
h1{font-size:24px;margin:8px 0 4px}h2{font-size:18px;margin:28px 0 8px;padding-bottom:4px;
border-bottom:1px solid var(--line)}h3{font-size:15px;margin:18px 0 6px}
a{color:var(--accent)}
.muted{color:var(--muted)}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--soft);font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.03em;
color:var(--muted)}
tr:hover td{background:#fafbfc}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 8px;border-radius:12px;font-size:12px;font-weight:600;
color:#fff;background:var(--other);margin:1px 4px 1px 0;white-space:nowrap}
.badge.production{background:var(--prod)}.badge.staging{background:var(--stag)}
.badge.archived{background:var(--arch)}
.pill{display:inline-block;padding:0 6px;border:1px solid var(--line);border-radius:10px;font-size:12px}
.ok{color:var(--prod);font-weight:600}.bad{color:var(--bad);font-weight:600}
.up{color:var(--prod)}.down{color:var(--bad)}
.filters{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0;padding:12px;background:var(--soft);
border:1px solid var(--line);border-radius:6px}
.filters label{font-size:12px;color:var(--muted);display:flex;flex-direction:column;gap:2px}
input,select{font:inherit;padding:4px 8px;border:1px solid var(--line);border-radius:6px;background:#fff}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:16px}
.panel{border:1px solid var(--line);border-radius:6px;padding:12px 14px;background:#fff}
.panel h3{margin-top:0}
svg.chart{width:100%;height:auto;background:#fff}
svg .axis{stroke:#8c959f;stroke-width:1}
svg .grid{stroke:#eaeef2;stroke-width:1}
svg .series{fill:none;stroke:var(--accent);stroke-width:2}
svg .point{fill:var(--accent);stroke:#fff;stroke-width:1.5}
svg .point.prod{fill:var(--prod)}
svg .gate{stroke:var(--bad);stroke-width:1.5;stroke-dasharray:6 4}
svg text{font:11px -apple-system,"Segoe UI",sans-serif;fill:var(--muted)}
svg text.gate-label{fill:var(--bad)}
svg .node{fill:var(--soft);stroke:#8c959f;stroke-width:1}
svg .node.model{fill:#dafbe1;stroke:var(--prod)}
svg .node.commit{fill:#ddf4ff;stroke:var(--accent)}
svg .edge{stroke:#8c959f;stroke-width:1.2;fill:none}
svg text.node-label{fill:var(--fg);font-size:12px}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:8px 0}
dl.kv dt{color:var(--muted)}dl.kv dd{margin:0}
.compare{display:flex;gap:12px;align-items:flex-end;flex-wrap:wrap;margin:8px 0}
.empty{color:var(--muted);font-style:italic}
footer{color:var(--muted);font-size:12px;margin-top:40px}
"""


def esc(value: Any) -> str:
    """Text for HTML content and attribute values (quotes escaped too)."""
    return html.escape("" if value is None else str(value), quote=True)


def json_data(value: Any) -> str:
    """JSON to embed in a <script type="application/json">: no character can close the element."""
    text = json.dumps(value, sort_keys=True, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def page(
    title: str, body: str, *, root: str = "", script: str | None = None, data: Any = None, nav: bool = True
) -> str:
    """A complete page. ROOT is the relative path to the site's top ('' or '../../'); without
    NAV it stands alone (a document written by `audit` or `report`, outside a site)."""
    csp = f"default-src 'none'; style-src {_hash(STYLE)}; base-uri 'none'; form-action 'none'"
    if script:
        csp += f"; script-src {_hash(script)}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{esc(title)} · gitreg</title>",
        f"<style>{STYLE}</style></head><body>",
        '<header class="top">',
        f'<a class="brand" href="{root}index.html">gitreg registry</a>'
        f'<nav><a href="{root}index.html">Models</a><a href="{root}audit.html">Audit trail</a>'
        f'<a href="{root}report.html">Weekly report</a></nav>'
        if nav
        else '<span class="brand">gitreg registry</span>',
        "</header><main>",
        body,
        "</main>",
    ]
    if data is not None:
        parts.append(f'<script type="application/json" id="data">{json_data(data)}</script>')
    if script:
        parts.append(f"<script>{script}</script>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def badge(stage: str, text: str | None = None) -> str:
    return f'<span class="badge {esc(stage)}">{esc(text or stage)}</span>'


def table(headers: list[str], rows: list[list[str]], *, cls: str = "", empty: str = "Nothing.") -> str:
    """ROWS hold markup already escaped by the caller."""
    if not rows:
        return f'<p class="empty">{esc(empty)}</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{esc(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def short(commit: str | None) -> str:
    return f"<code>{esc(commit[:10])}</code>" if commit else "-"


def number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return esc(value)
    return f"{value:.4g}"
