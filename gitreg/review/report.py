"""The weekly review: what the registry branch's history did in a window, what waits for review.

- registrations, promotions and archives landed in the window, each with its approvers;
- policy and signer changes (registry.yaml, signers/, checks/);
- open proposals: gitreg-promote/*, gitreg-register/*, gitreg-policy/* branches, local and
  remote-tracking, not merged yet, with the check's verdict and the approvals they lack;
- each new version's metrics against the version its target stage serves now: deltas and gates.

A window is (SINCE, UNTIL] in commit dates of the registry's first-parent history, or every
commit after FROM.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from gitreg.check import engine
from gitreg.check.rules.gates import metric_value
from gitreg.errors import UsageError
from gitreg.model import card as cards
from gitreg.model import events
from gitreg.model.view import RegistryView
from gitreg.ops import governance
from gitreg.ops.audit import Approver, Trails, approvers, cell, iso, people
from gitreg.store import layout
from gitreg.store.gitstore import GitStore

PROPOSAL_PREFIXES = tuple(dict.fromkeys((*layout.PROPOSAL_PREFIXES, "gitreg-policy/")))
GOVERNED_PATHS = (layout.POLICY_PATH, layout.SIGNERS_DIR, "checks")


@dataclass
class Change:
    kind: str  # registered | promoted | archived | removed | unregistered
    model: str
    version: str
    from_stage: str | None
    to_stage: str | None
    time: str
    commit: str
    approvers: list[Approver]


@dataclass
class PolicyChange:
    commit: str
    time: str
    subject: str
    paths: list[str]  # which of registry.yaml, signers, checks changed
    approvers: list[Approver]


@dataclass
class OpenProposal:
    branch: str
    where: str  # "local" or the remote's name
    tip: str
    subject: str
    ok: bool
    findings: list[str]
    missing_approvals: list[str]  # the check's approval and maintainers findings


@dataclass
class MetricDelta:
    metric: str
    value: Any
    baseline: Any
    delta: float | None
    gate: str | None = None
    passed: bool | None = None


@dataclass
class Comparison:
    model: str
    version: str
    stage: str | None  # the stage it is headed for
    baseline: str | None  # the version that stage serves now
    metrics: list[MetricDelta] = field(default_factory=list)

    @property
    def gates_ok(self) -> bool | None:
        verdicts = [m.passed for m in self.metrics if m.passed is not None]
        return all(verdicts) if verdicts else None


@dataclass
class Review:
    since: str | None
    until: str
    from_commit: str | None  # the last commit before the window
    to_commit: str | None  # the last commit in the window
    registrations: list[Change]
    promotions: list[Change]
    archives: list[Change]
    policy_changes: list[PolicyChange]
    proposals: list[OpenProposal]
    comparisons: list[Comparison]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for c, d in zip(self.comparisons, out["comparisons"], strict=True):
            d["gates_ok"] = c.gates_ok
        return out


def build(
    store: GitStore,
    head: str,
    *,
    since: int | None = None,
    until: int | None = None,
    start: str | None = None,
) -> Review:
    """The review of (SINCE, UNTIL], or of every commit after START (a commit id)."""
    if start is not None and not store.is_ancestor(start, head):
        raise UsageError(
            f"{start[:10]} is not in the registry branch's history.",
            hint="Give --from a commit of the registry branch (git log gitreg), or use --since.",
        )
    window: list[str] = []
    before: str | None = None
    for commit in store.walk(head):
        t = store.commit_time(commit)
        if until is not None and t > until:
            continue
        if commit == start or (since is not None and t <= since):
            before = commit
            break
        window.append(commit)
    last = window[0] if window else before
    end = until if until is not None else (store.commit_time(head) if head else 0)
    review = Review(iso(since) if since is not None else None, iso(end), before, last, [], [], [], [], [], [])
    with Trails(store) as trails:
        if window:
            for e in events.history(store, window[0], stop=before):
                change = Change(
                    e.kind,
                    e.model,
                    e.version,
                    e.from_stage,
                    e.to_stage,
                    iso(store.commit_time(e.commit)),
                    e.commit,
                    approvers(trails.of(e.commit)),
                )
                if e.kind == "registered":
                    review.registrations.append(change)
                elif e.kind == "archived":
                    review.archives.append(change)
                elif e.kind == "promoted":
                    review.promotions.append(change)
            for commit in reversed(window):
                changed = _governed_paths(store, commit)
                if changed:
                    info = store.commit_info(commit)
                    review.policy_changes.append(
                        PolicyChange(
                            commit,
                            iso(store.commit_time(commit)),
                            info.message.splitlines()[0] if info.message else "",
                            changed,
                            approvers(trails.of(commit)),
                        )
                    )
    review.proposals = open_proposals(store, head)
    review.comparisons = _comparisons(store, head, review)
    return review


def _governed_paths(store: GitStore, commit: str) -> list[str]:
    parents = store.commit_info(commit).parents
    new = store.commit_tree(commit)
    old = store.commit_tree(parents[0]) if parents else None
    return [p for p in GOVERNED_PATHS if (store.entry_id(old, p) if old else None) != store.entry_id(new, p)]


def open_proposals(store: GitStore, head: str) -> list[OpenProposal]:
    """Proposal branches (local and remote-tracking) whose tip the registry has not merged."""
    found: list[OpenProposal] = []
    refs = sorted({**store.refs("refs/heads/"), **store.refs("refs/remotes/")}.items())
    for ref, tip in refs:
        if ref.startswith("refs/heads/"):
            branch, where = ref[len("refs/heads/") :], "local"
        else:
            where, _, branch = ref[len("refs/remotes/") :].partition("/")
        if not branch.startswith(PROPOSAL_PREFIXES) or store.is_ancestor(tip, head):
            continue
        base = store.merge_base(tip, head)
        report = engine.run(store, base, tip)
        info = store.commit_info(tip)
        found.append(
            OpenProposal(
                branch,
                where,
                tip,
                info.message.splitlines()[0] if info.message else "",
                report.ok,
                [f"[{f.rule}] {f.message.splitlines()[0]}" for f in report.findings],
                governance.pending(report)[0],
            )
        )
    return found


def _target_stage(view: RegistryView, review: Review, model: str, version: str) -> str | None:
    for p in review.proposals:
        parts = p.branch.split("/")
        if p.branch.startswith("gitreg-promote/") and parts[1:3] == [model, f"v{version}"]:
            return parts[-1]
    entered = [c.to_stage for c in review.promotions if (c.model, c.version) == (model, version)]
    if entered and entered[-1]:
        return entered[-1]
    stages = [s for s in view.policy.stages.values() if s.name != "archived"]
    gated = [s for s in stages if s.gates]
    return (gated or stages)[0].name if (gated or stages) else None


def _comparisons(store: GitStore, head: str, review: Review) -> list[Comparison]:
    view = RegistryView(store, store.commit_tree(head), head)
    out = []
    for change in review.registrations:
        if not view.has_version(change.model, change.version):
            continue
        card = view.card(change.model, change.version)
        stage = _target_stage(view, review, change.model, change.version)
        served = view.which(change.model, stage) if stage else None
        baseline = served if served != change.version else None
        base_metrics = cards.metric_values(view.card(change.model, baseline)) if baseline else {}
        spec = view.policy.stages.get(stage) if stage else None
        gates = {g.metric: g for g in spec.gates} if spec else {}
        comparison = Comparison(change.model, change.version, stage, baseline)
        for metric, value in cards.metric_values(card).items():
            old = base_metrics.get(metric)
            delta = round(float(value) - float(old or 0), 12) if _number(value) and _number(old) else None
            comparison.metrics.append(MetricDelta(metric, value, old, delta))
        for name, gate in gates.items():
            found, value = metric_value(card, gate)
            row = next((m for m in comparison.metrics if m.metric == name), None)
            if row is None:
                row = MetricDelta(name, value if found else None, base_metrics.get(name), None)
                comparison.metrics.append(row)
            row.gate = gate.describe()
            row.passed = (
                found
                and isinstance(value, (int, float))
                and not isinstance(value, bool)
                and (gate.min is None or value >= gate.min)
                and (gate.max is None or value <= gate.max)
            )
        out.append(comparison)
    return out


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


# --- Markdown -------------------------------------------------------------------------------


def markdown(review: Review) -> str:
    window = f"{review.since} to {review.until}" if review.since else f"after {review.from_commit}"
    out = [f"# Registry review: {window}", ""]
    out += [
        f"- {len(review.registrations)} registrations, {len(review.promotions)} promotions, "
        f"{len(review.archives)} archives, {len(review.policy_changes)} policy or signer changes, "
        f"{len(review.proposals)} open proposals",
        "",
    ]
    sections = [
        ("New registrations", review.registrations),
        ("Promotions", review.promotions),
        ("Archives", review.archives),
    ]
    for title, changes in sections:
        out += [f"## {title}", ""]
        if not changes:
            out += ["None.", ""]
            continue
        out += ["| time | model | version | stage | approvers | commit |", "|---|---|---|---|---|---|"]
        for c in changes:
            stage = f"{c.from_stage or '-'} -> {c.to_stage}" if c.to_stage else ""
            out.append(
                f"| {c.time} | {c.model} | {c.version} | {stage} | {cell(people(c.approvers))} | "
                f"`{c.commit[:10]}` |"
            )
        out.append("")
    out += ["## Policy and signer changes", ""]
    if not review.policy_changes:
        out += ["None.", ""]
    for p in review.policy_changes:
        who = cell(people(p.approvers))
        out.append(f"- {p.time} `{p.commit[:10]}` {cell(p.subject)} ({', '.join(p.paths)}); {who}")
    out += ["", "## Open proposals", ""]
    if not review.proposals:
        out += ["None.", ""]
    for o in review.proposals:
        verdict = "check passes" if o.ok else f"check fails ({len(o.findings)} findings)"
        out.append(f"- `{o.branch}` ({o.where}, `{o.tip[:10]}`): {cell(o.subject)}; {verdict}")
        out += [f"  - {cell(f)}" for f in o.findings]
        out += [f"  - missing approval: {cell(m)}" for m in o.missing_approvals]
    out += ["", "## New versions against what their stage serves", ""]
    if not review.comparisons:
        out += ["None.", ""]
    for cmp in review.comparisons:
        against = (
            f"{cmp.stage} serves {cmp.baseline}" if cmp.baseline else f"{cmp.stage or '-'} serves nothing yet"
        )
        verdict = {True: "gates pass", False: "**gates fail**", None: "no gates"}[cmp.gates_ok]
        out += [f"### {cmp.model} {cmp.version} ({against}; {verdict})", ""]
        out += ["| metric | value | baseline | delta | gate |", "|---|---|---|---|---|"]
        for m in cmp.metrics:
            gate = f"{m.gate}: {'pass' if m.passed else 'FAIL'}" if m.gate else ""
            delta = f"{m.delta:+.4g}" if m.delta is not None else "-"
            base = m.baseline if m.baseline is not None else "-"
            out.append(f"| {m.metric} | {m.value} | {base} | {delta} | {gate} |")
        out.append("")
    return "\n".join(out)
