"""Inline SVG drawn here, with no library and no request: a metric across versions (one point a
version, the stage's gate as a dashed line) and a version's lineage graph."""

from __future__ import annotations

from typing import Any

from gitreg.model.policy import Gate
from gitreg.review.html import esc, number

W, H = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40


def metric_chart(
    metric: str, points: list[tuple[str, float]], gates: list[tuple[str, Gate]], serving: set[str]
) -> str:
    """POINTS: (version, value) in version order. GATES: (stage, gate) on this metric."""
    lines = [(g.min, f"{stage}: ≥ {g.min:g}") for stage, g in gates if g.min is not None]
    lines += [(g.max, f"{stage}: ≤ {g.max:g}") for stage, g in gates if g.max is not None]
    values = [v for _, v in points] + [v for v, _ in lines]
    lo, hi = min(values), max(values)
    if hi == lo:
        lo, hi = lo - 0.5 * (abs(lo) or 1), hi + 0.5 * (abs(hi) or 1)
    pad = (hi - lo) * 0.08
    lo, hi = lo - pad, hi + pad
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * (i + 0.5) / len(points))

    def y(v: float) -> float:
        return TOP + plot_h * (1 - (v - lo) / (hi - lo))

    out = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" data-metric="{esc(metric)}" '
        f'aria-label="{esc(metric)} across versions">'
    ]
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        out.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{number(v)}</text>')
    out.append(f'<line class="axis" x1="{LEFT}" x2="{W - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>')
    every = max(1, len(points) // 10)
    for i, (version, _) in enumerate(points):
        if i % every == 0 or i == len(points) - 1:
            out.append(
                f'<text x="{x(i):.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">{esc(version)}</text>'
            )
    for value, label in lines:
        out.append(
            f'<line class="gate" x1="{LEFT}" x2="{W - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}"/>'
        )
        out.append(f'<text class="gate-label" x="{W - RIGHT - 4}" y="{y(value) - 4:.1f}" text-anchor="end">'
                   f"gate {esc(label)}</text>")  # fmt: skip
    path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, (_, v) in enumerate(points))
    out.append(f'<polyline class="series" points="{path}"/>')
    for i, (version, value) in enumerate(points):
        cls = "point prod" if version in serving else "point"
        out.append(
            f'<circle class="{cls}" data-version="{esc(version)}" '
            f'cx="{x(i):.1f}" cy="{y(value):.1f}" r="4.5">'
            f"<title>{esc(version)}: {number(value)}</title></circle>"
        )
    out.append("</svg>")
    return "".join(out)


def lineage_graph(card: dict[str, Any]) -> str:
    """Inputs (code commit, data, params) -> pipeline stages -> the artifact -> its metrics."""
    prov = card.get("provenance") or {}
    source = (prov.get("source") or {}).get("commit")
    inputs = [("commit", f"code {str(source)[:10]}")] if source else []
    inputs += [("data", f"data {d.get('path')}") for d in prov.get("data") or [] if isinstance(d, dict)]
    inputs += [("params", f"params {f}") for f in (prov.get("params") or {})]
    stages = [("stage", f"stage {s}") for s in ((prov.get("pipeline") or {}).get("stages") or [])]
    art = prov.get("artifact") or {}
    model = [("model", f"{card.get('name')} {card.get('version')}: {art.get('path', '')}")]
    metrics = [("metric", f"{m.get('type')} = {number(m.get('value'))}")
               for r in card.get("evaluation") or [] if isinstance(r, dict)
               for m in r.get("metrics") or [] if isinstance(m, dict)]  # fmt: skip
    columns = [c for c in (inputs, stages, model, metrics) if c]
    box_w, box_h, gap_x, gap_y = 190.0, 30.0, 50.0, 14.0
    rows = max(len(c) for c in columns)
    width = len(columns) * box_w + (len(columns) - 1) * gap_x + 20
    height = rows * (box_h + gap_y) + 20
    pos: list[list[tuple[float, float]]] = []
    out = [f'<svg class="chart lineage" viewBox="0 0 {width} {height}" role="img" aria-label="lineage">']
    for ci, column in enumerate(columns):
        x0 = 10 + ci * (box_w + gap_x)
        top = 10 + (height - 20 - len(column) * (box_h + gap_y) + gap_y) / 2
        pos.append([(x0, top + i * (box_h + gap_y)) for i in range(len(column))])
    for ci in range(len(columns) - 1):
        for x0, y0 in pos[ci]:
            for x1, y1 in pos[ci + 1]:
                a, b, mid = y0 + box_h / 2, y1 + box_h / 2, gap_x / 2
                out.append(
                    f'<path class="edge" d="M{x0 + box_w:.0f},{a:.0f} C{x0 + box_w + mid:.0f},{a:.0f} '
                    f'{x1 - mid:.0f},{b:.0f} {x1:.0f},{b:.0f}"/>'
                )
    for ci, column in enumerate(columns):
        for (kind, label), (x0, y0) in zip(column, pos[ci], strict=True):
            text = label if len(label) <= 28 else label[:27] + "…"
            out.append(
                f'<g><rect class="node {esc(kind)}" x="{x0:.0f}" y="{y0:.0f}" '
                f'width="{box_w}" height="{box_h}" rx="6"/>'
                f'<text class="node-label" x="{x0 + 8:.0f}" y="{y0 + 19:.0f}">{esc(text)}</text>'
                f"<title>{esc(label)}</title></g>"
            )
    out.append("</svg>")
    return "".join(out)
