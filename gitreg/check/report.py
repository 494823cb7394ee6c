"""Render a check's report once, after every finding is collected: text, JSON, GitHub annotations
and a Markdown step summary. Returns strings; the CLI decides where they go.
"""

from __future__ import annotations

import json
import re

from gitreg.check.change import Finding
from gitreg.check.engine import Report


def _short(commit: str | None) -> str:
    return commit[:10] if commit else "(nothing)"


def text(report: Report) -> str:
    head = f"check {_short(report.base)}..{_short(report.head)}"
    if report.ok:
        return "\n".join([f"{head}: passed ({len(report.rules)} rules)", *_warnings(report)])
    lines = [f"{head}: {len(report.findings)} finding(s)", ""]
    for f in report.findings:
        first, *rest = f.message.splitlines() or [""]
        lines.append(f"{_line(f.file)}: [{f.rule}] {_line(first)}")
        lines += [f"  | {_line(line)}" for line in rest]
        lines.append(f"  fix: {_line(f.fix)}")
    return "\n".join(lines + _warnings(report))


def _warnings(report: Report) -> list[str]:
    return [f"warning: [{w.rule}] {_line(w.message)}\n  fix: {_line(w.fix)}" for w in report.warnings]


def as_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2)


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def annotation(f: Finding) -> str:
    """One GitHub workflow command: ::error file=F,title=RULE::MESSAGE (fix appended)."""
    body = f"{f.message}\nfix: {f.fix}"
    # _escape_data turns newlines into %0A: a card cannot start a workflow command of its own.
    return f"::error file={_escape_property(f.file)},title={_escape_property(f.rule)}::{_escape_data(body)}"


def github(report: Report) -> str:
    if report.ok:
        return f"::notice title=gitreg check::passed ({len(report.rules)} rules)"
    return "\n".join(annotation(f) for f in report.findings)


def _cell(value: str) -> str:
    """One table cell: markup a card could carry (HTML, links, a row break) made inert."""
    text = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = re.sub(r"([\\`*_\[\]|#!])", r"\\\1", text)
    return text.replace("\r", "").replace("\n", "<br>")


def _line(value: str) -> str:
    """Text output: control characters shown, never obeyed (a card cannot move the cursor or
    fake a line of the report)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in value)


def summary(report: Report) -> str:
    """A Markdown summary for $GITHUB_STEP_SUMMARY."""
    title = f"## gitreg check {_short(report.base)}..{_short(report.head)}"
    if report.ok:
        return f"{title}\n\nPassed: {len(report.rules)} rules, no findings.\n"
    rows = ["| Rule | File | Finding | Fix |", "| --- | --- | --- | --- |"]
    rows += [
        f"| {_cell(f.rule)} | `{_cell(f.file)}` | {_cell(f.message)} | {_cell(f.fix)} |"
        for f in report.findings
    ]
    return f"{title}\n\n**Failed: {len(report.findings)} finding(s).**\n\n" + "\n".join(rows) + "\n"
