"""What a change does to the registry, computed once and shared by every rule, and what a rule
finds.

A rule is a function `rule(change) -> Iterable[Finding]`. The base's policy is the only
policy: a change that edits registry.yaml is judged by the registry.yaml it replaces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from gitreg.errors import RegistryRefusal
from gitreg.model.policy import Policy
from gitreg.model.view import RegistryView
from gitreg.results import to_data
from gitreg.store import layout
from gitreg.store.gitstore import GitStore


@dataclass(frozen=True)
class Finding:
    rule: str  # e.g. "schema", "immutable", "binding", "transition", "gate"
    file: str  # the registry-branch path (or ref) the finding is about
    message: str  # what is wrong
    fix: str  # how to make it right
    model: str | None = None
    version: str | None = None
    severity: str = "error"  # "warning": reported, never a failure

    def to_dict(self) -> dict:
        return to_data(self)


@dataclass(frozen=True)
class Entry:
    """A version entering a stage."""

    model: str
    version: str
    stage: str
    was: tuple[str, ...]  # the stages it was in on the base

    @property
    def label(self) -> str:
        return f"{self.model}@{self.version} -> {self.stage}"


@dataclass(frozen=True)
class CheckOptions:
    """How to judge a change beyond base and head."""

    # A commit whose policy, signers and checks/ judge instead of the base's: a push of several
    # steps is judged, step by step, by the policy of the push's base.
    judge: str | None = None
    # Ref values that are not moved yet: a server-side hook passes what the push would set
    # (refname -> new object id, or None when deleted); they win over the local refs.
    refs: Mapping[str, str | None] = field(default_factory=dict)
    # Check that every object a new version needs is in the DVC remote.
    remote: bool = False


@dataclass
class Change:
    """What a change does to the registry, computed once and shared by every rule."""

    store: GitStore
    base: RegistryView | None  # None: judging a whole registry from nothing
    head: RegistryView
    options: CheckOptions = field(default_factory=CheckOptions)

    @cached_property
    def judge(self) -> RegistryView:
        """Whose policy, signers and checks/ judge: the base's, never the head's.

        options.judge (a commit) overrides it: a push of several steps is judged,
        step by step, by the policy of the push's base.
        """
        judge = self.options.judge
        if judge and (self.base is None or judge != self.base.commit):
            return RegistryView(self.store, self.store.commit_tree(judge), judge)
        return self.base or self.head

    @cached_property
    def trail(self):
        """Who proposed and approved this change, from signatures the judge's signers verify
        now (gitreg.trust.approvals); read only by the rules that need it."""
        from gitreg.trust import approvals
        from gitreg.trust.signing import verifier_for

        with verifier_for(self.judge, now=True) as verifier:
            base = self.base.commit if self.base else None
            return approvals.read(self.store, base, self.head.commit or "", verifier)

    @cached_property
    def policy(self) -> Policy:
        """The judge's policy (the base's): never the head's."""
        return self.judge.policy

    @cached_property
    def paths(self) -> list[tuple[str, str]]:
        """(status A/M/D, path) of every file the change touches."""
        return self.store.changed_paths(self.base.tree if self.base else None, self.head.tree)

    @cached_property
    def models(self) -> list[str]:
        """Models whose files the change touches."""
        names = {
            p.split("/")[1]
            for _, p in self.paths
            if p.startswith(layout.MODELS_DIR + "/") and p.count("/") >= 2
        }
        return sorted(names)

    @cached_property
    def new_versions(self) -> list[tuple[str, str]]:
        """(model, version) of every card the change adds."""
        found = []
        for status, path in self.paths:
            parts = path.split("/")
            if (
                status == "A"
                and len(parts) == 4
                and parts[0] == layout.MODELS_DIR
                and parts[2] == "versions"
                and parts[3].endswith(".yaml")
            ):
                found.append((parts[1], parts[3][:-5]))
        return found

    def tag_target(self, name: str, version: str) -> str | None:
        """What the registration tag's ref points at: a pushed value wins over the local ref.

        A server-side hook judges refs that are not moved yet: it passes them as
        options.refs = {refname: new object id, or None when deleted}.
        """
        ref = layout.tag_ref(name, version)
        pushed = self.options.refs
        return pushed[ref] if ref in pushed else self.store.ref_target(ref)

    @cached_property
    def entries(self) -> list[Entry]:
        """Every version the change moves into a stage, with the stages it was in before.

        Only models whose stages.yaml changed are read; an unreadable stages.yaml
        is the schema rule's finding, not an entry.
        """
        found = []
        for name in self.models:
            if not any(p == layout.stages_path(name) for _, p in self.paths):
                continue
            try:
                before, after = self.stages_before(name), self.stages_after(name)
            except RegistryRefusal:
                continue
            for stage, versions in after.items():
                for version in versions:
                    if version not in before.get(stage, []):
                        was = tuple(s for s, vs in before.items() if version in vs)
                        found.append(Entry(name, version, stage, was))
        return found

    def stages_before(self, name: str) -> dict[str, list[str]]:
        if self.base is None or not self.base.has_model(name):
            return {}
        return self.base.stages(name)

    def stages_after(self, name: str) -> dict[str, list[str]]:
        return self.head.stages(name) if self.head.has_model(name) else {}


Rule = Callable[[Change], Iterable[Finding]]
