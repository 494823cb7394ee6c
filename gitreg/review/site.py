"""`gitreg site -o DIR`: the registry as static HTML pages that load nothing from anywhere.

    DIR/index.html                      models: stage badges, latest version, owners; filters
    DIR/models/NAME/index.html          versions, charts, stages over time, compare two versions
    DIR/models/NAME/vVERSION.html       the card, lineage graph, signature, approvals
    DIR/audit.html, DIR/report.html     the audit trail, the last seven days' review
    DIR/.gitreg-site.json               what the pages were built from (for incremental builds)

A model's pages depend on its subtree, the policy and the signers only: a rebuild keeps the
pages of every model whose subtree id did not change and rewrites the rest and the index.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from gitreg.errors import GitregError
from gitreg.model import events
from gitreg.model.events import Event
from gitreg.model.view import RegistryView
from gitreg.ops.audit import Approver, Trails, approvers, iso
from gitreg.review import documents, pages
from gitreg.review import report as reports
from gitreg.review.html import badge, esc, page, short, table
from gitreg.store import layout
from gitreg.store.gitstore import GitStore

SITE_FORMAT = 1
MANIFEST = ".gitreg-site.json"
TRAIL_ROWS = 2000  # the audit page shows the newest changes; `gitreg audit` has them all

Progress = Callable[[int, int, str], None]

FILTER_JS = """
(function(){
var q=document.getElementById('f-name'),s=document.getElementById('f-stage'),o=document.getElementById('f-owner');
var rows=document.querySelectorAll('#models tbody tr'),count=document.getElementById('f-count');
function apply(){var n=q.value.trim().toLowerCase(),st=s.value,ow=o.value,shown=0;
 rows.forEach(function(r){var ok=(!n||r.dataset.name.indexOf(n)>=0)&&
  (!st||(' '+r.dataset.stages+' ').indexOf(' '+st+' ')>=0)&&(!ow||r.dataset.owners.split('|').indexOf(ow)>=0);
  r.hidden=!ok;if(ok)shown++;});count.textContent=shown+' of '+rows.length+' models';}
[q,s,o].forEach(function(e){e.addEventListener('input',apply);e.addEventListener('change',apply);});apply();
})();
"""  # noqa: E501


@dataclass
class SiteBuild:
    directory: str
    registry_commit: str
    models: int
    rebuilt: list[str]  # models whose pages were (re)written
    kept: int  # models whose pages were kept
    pages: int  # pages written


class _CardsOnce(RegistryView):
    """A view that parses each card once: the page and the verification both read it."""

    def __init__(self, store: GitStore, tree: str, commit: str):
        super().__init__(store, tree, commit)
        self._cards: dict[tuple[str, str], dict] = {}

    def card(self, name: str, version: str) -> dict:
        key = (name, version)
        if key not in self._cards:
            self._cards[key] = super().card(name, version)
        return self._cards[key]

    def forget(self, name: str) -> None:
        self._cards = {k: v for k, v in self._cards.items() if k[0] != name}


def _load_manifest(out: Path) -> dict:
    try:
        data = json.loads((out / MANIFEST).read_text())
        return data if isinstance(data, dict) and data.get("format") == SITE_FORMAT else {}
    except (OSError, ValueError):
        return {}


def build(store: GitStore, head: str, out: str | os.PathLike, *, progress: Progress | None = None,
          now: int | None = None) -> SiteBuild:  # fmt: skip
    """Write the site for registry commit HEAD into OUT (created if needed)."""
    import time

    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    view = _CardsOnce(store, store.commit_tree(head), head)
    old = _load_manifest(root)
    context = {
        "policy": store.entry_id(view.tree, layout.POLICY_PATH),
        "signers": store.entry_id(view.tree, layout.SIGNERS_DIR),
    }
    same_context = old.get("context") == context
    known: dict[str, str] = old.get("models", {}) if same_context else {}
    # A folder the registry's grammar does not allow (a hand-made tree) gets no page: its name
    # would become a path on disk.
    subtrees = {
        n: oid for n, oid, is_tree in store.list_dir(view.tree, layout.MODELS_DIR) if is_tree and _valid(n)
    }
    todo = [n for n in sorted(subtrees) if known.get(n) != subtrees[n] or not (root / "models" / n).is_dir()]
    trail = _trail(store, head, old if same_context else {})
    by_model: dict[str, list[Event]] = {}
    for e in trail:
        by_model.setdefault(e.model, []).append(e)
    written = 0
    with Trails(store) as trails:
        who: dict[str, list[Approver]] = {}

        def people_of(commit: str) -> list[Approver]:
            if commit not in who:
                who[commit] = approvers(trails.of(commit))
            return who[commit]

        from gitreg.trust import signing

        with signing.verifier_for(view) as verifier:
            for i, name in enumerate(todo):
                if progress:
                    progress(i, len(todo), name)
                written += _write_model(store, view, verifier, root, name, by_model.get(name, []), people_of)
                view.forget(name)
        if progress:
            progress(len(todo), len(todo), "")
        for gone in set(known) - set(subtrees):
            shutil.rmtree(root / "models" / gone, ignore_errors=True)
        # The index, the audit trail and the review change with every commit.
        _write(root / "index.html", _index(store, view, subtrees))
        recent = [(e, people_of(e.commit) if e.kind != "registered" else []) for e in trail[-TRAIL_ROWS:]]
        _write(root / "audit.html", _audit(recent, len(trail), set(subtrees)))
        end = int(time.time()) if now is None else now
        review = reports.build(store, head, since=end - 7 * 86400, until=end)
        _write(root / "report.html", documents.review_page(review))
    manifest = {
        "format": SITE_FORMAT,
        "head": head,
        "context": context,
        "models": subtrees,
        "trail": [asdict(e) for e in trail],
    }
    _write(root / MANIFEST, json.dumps(manifest))
    return SiteBuild(str(root), head, len(subtrees), todo, len(subtrees) - len(todo), written + 3)


def _valid(name: str) -> bool:
    try:
        layout.check_name(name)
    except GitregError:
        return False
    return True


def _trail(store: GitStore, head: str, old: dict) -> list[Event]:
    """Every event of the registry, oldest first; only the commits after the last build's head
    are read again when that head is still in the history."""
    before = old.get("head")
    if before and store.has_object(before) and store.is_ancestor(before, head):
        try:
            kept = [Event(**e) for e in old.get("trail", [])]
        except TypeError:
            kept = None
        if kept is not None:
            return kept + (events.history(store, head, stop=before) if before != head else [])
    return events.history(store, head)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _write_model(store, view, verifier, root: Path, name: str, trail: list[Event], people_of) -> int:
    from gitreg.trust import verification

    folder = root / "models" / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    stage_events = [(e, people_of(e.commit)) for e in trail if e.kind != "registered"]
    facts = []
    for version in view.versions(name):
        card = view.card(name, version)
        check = verification.verify_version(
            store, view, verifier, view.policy, name, version, store.ref_target(layout.tag_ref(name, version))
        )
        facts.append(
            pages.VersionFacts(
                version,
                card,
                view.stages_of(name, version),
                check.summary(),
                check.ok,
                [p.message for p in check.problems],
                [(e, found) for e, found in stage_events if e.version == version],
            )
        )
    for f in facts:
        _write(folder / f"v{f.version}.html", pages.version_page(name, f))
    _write(folder / "index.html", pages.model_page(view, name, facts, stage_events))
    return len(facts) + 1


def _index(store: GitStore, view: RegistryView, subtrees: dict[str, str]) -> str:
    from gitreg.store import cache

    stage_names = list(view.policy.stages)
    rows, owners_all = [], set()
    _, cached = cache.summaries(store.common_dir)
    for name in sorted(subtrees):
        hit = cached.get(f"{name} {subtrees[name]}")
        if hit:
            latest, count, served, desc = (
                hit.get("latest"),
                hit["versions"],
                hit["stages"],
                hit.get("description"),
            )
            owners = [str(o) for o in hit["owners"]]  # as below: an owner without a name is "None"
        else:
            meta = view.model_meta(name)
            versions = view.versions(name)
            latest, count = (versions[-1] if versions else None), len(versions)
            served = {s: vs[-1] for s, vs in view.stages(name).items() if vs}
            owners = [str(o.get("name")) for o in meta.get("owners") or [] if isinstance(o, dict)]
            desc = meta.get("description")
        owners_all.update(owners)
        order = sorted(served, key=lambda s: stage_names.index(s) if s in stage_names else 99)
        rows.append(
            f'<tr data-name="{esc(name.lower())}" data-stages="{esc(" ".join(order))}" '
            f'data-owners="{esc("|".join(owners))}">'
            f'<td><a href="models/{esc(name)}/index.html"><strong>{esc(name)}</strong></a>'
            f'<div class="muted">{esc((desc or "")[:140])}</div></td>'
            f"<td>{''.join(badge(s, f'{s} {served[s]}') for s in order) or '-'}</td>"
            f'<td><a href="models/{esc(name)}/v{esc(latest)}.html">{esc(latest)}</a></td>'
            f'<td class="num">{count}</td><td>{esc(", ".join(owners))}</td></tr>'
        )
    stage_opts = "".join(f'<option value="{esc(s)}">{esc(s)}</option>' for s in stage_names)
    owner_opts = "".join(f'<option value="{esc(o)}">{esc(o)}</option>' for o in sorted(owners_all))
    body = (
        f"<h1>Models</h1><p class='muted'>Registry commit {short(view.commit)} · "
        f"built {esc(iso(int(_now())))}</p>"
        '<div class="filters"><label>Name'
        '<input id="f-name" type="search" placeholder="filter by name"></label>'
        f'<label>Stage<select id="f-stage"><option value="">any stage</option>{stage_opts}</select></label>'
        f'<label>Owner<select id="f-owner"><option value="">any owner</option>{owner_opts}</select></label>'
        '<span id="f-count" class="muted"></span></div>'
        '<table id="models"><thead><tr><th>model</th><th>stages</th><th>latest</th>'
        '<th class="num">versions</th>'
        f"<th>owners</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
    return page("Models", body, script=FILTER_JS)


def _now() -> float:
    import time

    return time.time()


def _audit(recent: list[tuple[Event, list[Approver]]], total: int, present: set[str]) -> str:
    def link(e: Event, target: str, text: str) -> str:
        # A model removed since (or one the site has no page for) is named, not linked.
        return (
            f'<a href="models/{esc(e.model)}/{target}">{esc(text)}</a>' if e.model in present else esc(text)
        )

    rows = [
        [
            esc(e.time),
            esc(e.kind),
            link(e, "index.html", e.model),
            link(e, f"v{e.version}.html", e.version),
            (
                (badge(e.from_stage) if e.from_stage else "-")
                + " → "
                + (badge(e.to_stage) if e.to_stage else "-")
            )
            if (e.from_stage or e.to_stage)
            else "",
            esc(f"{e.author} <{e.email}>"),
            documents.people(found),
            short(e.commit),
        ]
        for e, found in reversed(recent)
    ]
    note = f"The newest {len(recent)} of {total} changes" if total > len(recent) else f"All {total} changes"
    body = (
        f"<h1>Audit trail</h1><p class='muted'>{esc(note)}, newest first. "
        "<code>gitreg audit NAME</code> and <code>gitreg audit --at DATE</code> give a model's whole trail "
        "and the registry at any date.</p>"
        + table(["time", "event", "model", "version", "stage", "written by", "approvers", "commit"], rows)
    )
    return page("Audit trail", body)
