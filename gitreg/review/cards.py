"""Cards in and out: the narrative template (`card new`) and exports to the formats other tools
read: a Hugging Face README (YAML front matter with `model-index`) and Model Card Toolkit JSON.

The card's evaluation is already in model-index shape (task, dataset, split, slice, metrics), so
the Hugging Face export keeps every metric with its dataset and split; a slice, which model-index
lacks, goes to the dataset's `config` when that is free, and always to the README's table.
"""

from __future__ import annotations

import html
import json
import re
from importlib import resources
from typing import Any

import yaml

from gitreg.errors import UsageError
from gitreg.store import layout

TARGETS = ("huggingface", "model-card-toolkit")
# Licenses Hugging Face knows by identifier; anything else is "other" with its name kept.
_HF_LICENSES = {
    "apache-2.0", "mit", "bsd-3-clause", "bsd-2-clause", "gpl-3.0", "lgpl-3.0", "agpl-3.0", "mpl-2.0",
    "cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0", "cc0-1.0", "openrail", "llama2", "unlicense",
}  # fmt: skip


def template(name: str) -> str:
    layout.check_name(name)
    text = resources.files("gitreg.review").joinpath("templates/card.yaml").read_text(encoding="utf-8")
    return text.format(name=name)


def export(card: dict[str, Any], to: str) -> str:
    if to == "huggingface":
        return huggingface(card)
    if to == "model-card-toolkit":
        return json.dumps(model_card_toolkit(card), indent=2, default=str) + "\n"
    raise UsageError(
        f"{to!r} is not an export format.", hint="Use --to huggingface or --to model-card-toolkit."
    )


def _text(value: Any) -> str:
    """Card text for Markdown: markup characters escaped, so a card cannot smuggle in HTML."""
    return html.escape(" ".join(str(value).split()), quote=False)


def _results(card: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for result in card.get("evaluation") or []:
        if isinstance(result, dict):
            out.append(result)
    return out


def model_index(card: dict[str, Any]) -> list[dict[str, Any]]:
    results = []
    for result in _results(card):
        task = result.get("task") or {}
        dataset = dict(result.get("dataset") or {})
        entry_dataset: dict[str, Any] = {
            "name": str(dataset.get("name") or "unspecified"),
            "type": str(dataset.get("type") or dataset.get("name") or "unspecified"),
        }
        for key in ("split", "config", "revision"):
            if dataset.get(key):
                entry_dataset[key] = str(dataset[key])
        if dataset.get("slice") and "config" not in entry_dataset:
            entry_dataset["config"] = str(dataset["slice"])
        metrics = [
            {"type": str(m["type"]), "value": m.get("value"), "name": str(m.get("name") or m["type"])}
            for m in result.get("metrics") or []
            if isinstance(m, dict) and "type" in m
        ]
        entry: dict[str, Any] = {"task": {"type": str(task.get("type") or "other")}}
        if task.get("name"):
            entry["task"]["name"] = str(task["name"])
        entry["dataset"] = entry_dataset
        entry["metrics"] = metrics
        results.append(entry)
    return [{"name": str(card.get("name")), "results": results}]


def huggingface(card: dict[str, Any]) -> str:
    name, version = card.get("name"), card.get("version")
    license_ = str(card.get("license") or "other").lower()
    front: dict[str, Any] = {}
    if license_ in _HF_LICENSES:
        front["license"] = license_
    else:
        front["license"] = "other"
        front["license_name"] = re.sub(r"[^a-z0-9.-]+", "-", license_).strip("-") or "other"
    front["tags"] = ["gitreg", *[str(label) for label in card.get("labels") or []]]
    datasets = sorted({str((r.get("dataset") or {}).get("name")) for r in _results(card) if r.get("dataset")})
    if datasets:
        front["datasets"] = datasets
    front["model-index"] = model_index(card)
    body = [f"# {_text(name)} {_text(version)}", "", _text(card.get("overview", "")), ""]
    owners = [o for o in card.get("owners") or [] if isinstance(o, dict)]
    if owners:
        body.append(
            "Owners: "
            + ", ".join(
                _text(o.get("name")) + (f" ({_text(o['contact'])})" if o.get("contact") else "")
                for o in owners
            )
        )
        body.append("")
    use = card.get("intended_use") or {}
    for title, key in (
        ("Primary uses", "primary_uses"),
        ("Users", "users"),
        ("Out of scope", "out_of_scope"),
    ):
        if use.get(key):
            body += [f"## {title}", "", *[f"- {_text(x)}" for x in use[key]], ""]
    cons = card.get("considerations") or {}
    for title, key in (("Limitations", "limitations"), ("Trade-offs", "tradeoffs")):
        if cons.get(key):
            body += [f"## {title}", "", *[f"- {_text(x)}" for x in cons[key]], ""]
    if cons.get("ethical_risks"):
        body += ["## Ethical risks", ""]
        for risk in cons["ethical_risks"]:
            mitigation = f" Mitigation: {_text(risk.get('mitigation'))}" if risk.get("mitigation") else ""
            body.append(f"- {_text(risk.get('name'))}.{mitigation}")
        body.append("")
    body += [
        "## Evaluation",
        "",
        "| task | dataset | split | slice | metric | value |",
        "|---|---|---|---|---|---|",
    ]
    for result in _results(card):
        ds = result.get("dataset") or {}
        for m in result.get("metrics") or []:
            if isinstance(m, dict):
                task = (result.get("task") or {}).get("type")
                cells = [
                    task,
                    ds.get("name"),
                    ds.get("split"),
                    ds.get("slice"),
                    m.get("type"),
                    m.get("value"),
                ]
                body.append(
                    "| "
                    + " | ".join(_text(c if c is not None else "-").replace("|", "\\|") for c in cells)
                    + " |"
                )
    prov = card.get("provenance") or {}
    source = (prov.get("source") or {}).get("commit")
    body += ["", "## Provenance", ""]
    if source:
        body.append(f"- Source commit: `{_text(source)}`")
    art = prov.get("artifact") or {}
    if art:
        body.append(f"- Artifact: `{_text(art.get('path'))}` md5 `{_text(art.get('md5'))}`")
    body += [f"- Data: `{_text(d.get('path'))}` md5 `{_text(d.get('md5'))}`" for d in prov.get("data") or []]
    body += ["", f"Exported by gitreg from the registered card of `{_text(name)}@v{_text(version)}`.", ""]
    front_text = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return f"---\n{front_text}---\n\n" + "\n".join(body)


def model_card_toolkit(card: dict[str, Any]) -> dict[str, Any]:
    """Model Card Toolkit's model card (its JSON schema v0.0.2 field names)."""
    prov = card.get("provenance") or {}
    use = card.get("intended_use") or {}
    cons = card.get("considerations") or {}
    owners = [o for o in card.get("owners") or [] if isinstance(o, dict)]
    metrics = []
    for result in _results(card):
        ds = result.get("dataset") or {}
        parts = [str(ds[k]) for k in ("name", "split", "slice") if ds.get(k)]
        for m in result.get("metrics") or []:
            if isinstance(m, dict) and "type" in m:
                metrics.append(
                    {"type": str(m["type"]), "value": str(m.get("value")), "slice": "/".join(parts)}
                )
    return {
        "model_details": {
            "name": str(card.get("name")),
            "overview": str(card.get("overview", "")),
            "owners": [{"name": str(o.get("name")), "contact": str(o.get("contact", ""))} for o in owners],
            "version": {"name": str(card.get("version")), "date": str(prov.get("registered_at", ""))},
            "licenses": [{"custom_text": str(card.get("license", ""))}],
            "references": [{"reference": str(r)} for r in card.get("references") or []],
        },
        "model_parameters": {
            "data": [
                {"name": str(d.get("path")), "link": "", "sensitive": {}} for d in prov.get("data") or []
            ],
        },
        "quantitative_analysis": {"performance_metrics": metrics},
        "considerations": {
            "users": [{"description": str(x)} for x in use.get("users") or []],
            "use_cases": [{"description": str(x)} for x in use.get("primary_uses") or []],
            "limitations": [{"description": str(x)} for x in cons.get("limitations") or []],
            "tradeoffs": [{"description": str(x)} for x in cons.get("tradeoffs") or []],
            "ethical_considerations": [
                {"name": str(r.get("name")), "mitigation_strategy": str(r.get("mitigation", ""))}
                for r in cons.get("ethical_risks") or []
                if isinstance(r, dict)
            ],
        },
    }
