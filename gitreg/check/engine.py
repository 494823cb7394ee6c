"""The engine: run every rule, in the order `gitreg.check.rules.RULES` lists them, on a change.

Findings are collected first, then rendered once (see `report`).
"""

from __future__ import annotations

from dataclasses import dataclass

from gitreg.check.change import Change, Finding
from gitreg.check.rules import RULES
from gitreg.errors import RegistryRefusal
from gitreg.model.view import RegistryView
from gitreg.store.gitstore import GitStore


@dataclass
class Report:
    base: str | None
    head: str
    findings: list[Finding]
    rules: list[str]

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "base": self.base,
            "head": self.head,
            "rules": self.rules,
            "findings": [f.to_dict() for f in self.findings],
        }


def rules() -> list[str]:
    """The names of every rule, in the order they run."""
    return [name for name, _ in RULES]


def run(store: GitStore, base: str | None, head: str, *, options: dict | None = None) -> Report:
    """Judge HEAD against BASE (commit ids) with every registered rule."""
    base_view = RegistryView(store, store.commit_tree(base), base) if base else None
    head_view = RegistryView(store, store.commit_tree(head), head)
    change = Change(store, base_view, head_view, options or {})
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
    return Report(base, head, findings, names)
