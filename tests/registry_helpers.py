"""Real registries for the check and promotion tests: a git project without DVC whose commits
train "models" with chosen metrics, registered through the Python API, and changes to the
registry branch made directly in the object store (as a hand-made or hostile proposal would be).
"""

from __future__ import annotations

import json
from pathlib import Path

from helpers import CARD, git

from gitreg.check import engine as check
from gitreg.check.change import CheckOptions
from gitreg.model.card import tag_message
from gitreg.registry import Registry
from gitreg.store import layout, yamlio

POLICY = """\
version: 1
stages:
  staging: {}
  production:
    from: [staging]
    max_versions: 1
    card: production
    gates:
      - {metric: accuracy, min: 0.9}
      - {metric: fairness.demographic_parity_gap, max: 0.05}
  archived:
    from: [staging, production]
signing:
  registration: optional
lineage:
  dvc: optional
"""

# A card that the default schema accepts and the production schema does not.
THIN_CARD = """\
overview: Churn classifier, early draft.
owners: [{name: Data Science}]
license: proprietary
intended_use:
  primary_uses: [Try it out]
"""


def make_project(root: Path, policy: str = POLICY) -> Registry:
    """A git project at ROOT with a registry whose policy is POLICY."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    (root / "README.md").write_text("project\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "start")
    (root.parent / f"{root.name}-policy.yaml").write_text(policy)
    reg = Registry.open(root)
    reg.init(root.parent / f"{root.name}-policy.yaml")
    return reg


def train(reg: Registry, name: str, metrics: dict, *, card: str = CARD, version: str | None = None, **kwargs):
    """Commit a model trained with METRICS and register it; returns the Registration."""
    root = reg.store.workdir
    assert root is not None
    run = git(root, "rev-list", "--count", "HEAD")  # every training makes other bytes
    (root / f"{name}.bin").write_bytes(json.dumps([name, metrics, run]).encode() * 50)
    (root / f"{name}-metrics.json").write_text(json.dumps(metrics))
    git(root, "add", "-A")
    git(root, "commit", "-qm", f"train {name} {metrics}")
    card_file = root.parent / f"{root.name}-{name}-card.yaml"
    card_file.write_text(card)
    return reg.register(
        name, card_file, version=version, artifact=f"{name}.bin", metrics=f"{name}-metrics.json", **kwargs
    )


GOOD = {"accuracy": 0.94, "fairness": {"demographic_parity_gap": 0.03}}
WEAK = {"accuracy": 0.80, "fairness": {"demographic_parity_gap": 0.03}}


def commit(
    reg: Registry,
    changes: dict[str, bytes | str | dict | None],
    *,
    parent: str | None = None,
    message: str = "hand-made change",
) -> str:
    """A commit on top of PARENT (default: the registry head) changing files; no ref moves."""
    parent = parent or reg.require_head()
    data: dict[str, bytes | None] = {}
    for path, value in changes.items():
        if isinstance(value, dict):
            value = yamlio.dump(value)
        data[path] = value.encode() if isinstance(value, str) else value
    tree = reg.store.write_tree(reg.store.commit_tree(parent), data)
    return reg.store.write_commit(tree, [parent], message, reg.store.ident())


def set_stages(reg: Registry, name: str, stages: dict, parent: str | None = None) -> str:
    return commit(reg, {layout.stages_path(name): stages}, parent=parent)


def judge(reg: Registry, head: str, base: str | None = None, **options) -> check.Report:
    return check.run(reg.store, base or reg.require_head(), head, options=CheckOptions(**options))


def rules_hit(report: check.Report) -> set[str]:
    return {f.rule for f in report.findings}


def advance(reg: Registry, commit_id: str) -> None:
    """Move the registry branch to COMMIT (as a merged change would)."""
    reg.store.update_refs([(reg.branch_ref, commit_id, reg.require_head())], "test: advance")


def forge(reg: Registry, card: dict, version: str, source: str | None = None) -> str:
    """A registry commit adding CARD as VERSION of its model with a proper tag (digest bound), as a
    hand-made proposal would; the tag ref is created, the registry branch does not move."""
    name = card["name"]
    card = {**card, "version": version}
    source = source or card["provenance"]["source"]["commit"]
    ident = reg.store.ident()
    tag_id = reg.store.make_tag(
        layout.tag_name(name, version),
        source,
        tag_message(name, version, yamlio.digest(card)),
        sign=False,
        ident=ident,
    )
    reg.store.update_refs([(layout.tag_ref(name, version), tag_id, None)], "test: forge")
    return commit(
        reg,
        {
            layout.card_path(name, version): card,
            layout.tag_record_path(name, version): {"tag": layout.tag_name(name, version), "object": tag_id},
        },
    )
