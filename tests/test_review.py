"""Issue 11: the auditor's `audit --at`, the weekly `report`, and card exports, on real registries
whose history has pinned commit dates (GIT_AUTHOR_DATE / GIT_COMMITTER_DATE)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import git, gitreg
from registry_helpers import GOOD, POLICY, WEAK, make_project, train
from signing_support import keys, signers  # noqa: F401  (keys: session fixture)

from gitreg.ops import audit as audits
from gitreg.registry import Registry
from gitreg.review import report as reports
from gitreg.trust.approvals import APPROVE_TRAILER

BETTER = {"accuracy": 0.96, "fairness": {"demographic_parity_gap": 0.02}}
BEST = {"accuracy": 0.97, "fairness": {"demographic_parity_gap": 0.01}}


def when(monkeypatch, date: str, who: str = "Test Author") -> None:
    """Pin who writes and when for what follows (git and gitreg read these)."""
    email = f"{who.split()[0].lower()}@example.com"
    for var, value in {
        "GIT_AUTHOR_DATE": f"{date} +0000",
        "GIT_COMMITTER_DATE": f"{date} +0000",
        "GIT_AUTHOR_NAME": who,
        "GIT_COMMITTER_NAME": who,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_EMAIL": email,
    }.items():
        monkeypatch.setenv(var, value)


def promote(
    reg: Registry, monkeypatch, ref: str, stage: str, date: str, proposer: str, merger: str, approve=None
):
    when(monkeypatch, date, proposer)
    branch = reg.promote(ref, stage).branch
    if approve is not None:
        approve(branch)
    when(monkeypatch, date.replace("T10", "T11"), merger)
    return reg.merge(branch).commit


def signed_approval(reg: Registry, key: Path):
    """`gitreg approve BRANCH` with git's signing set-up on KEY (only for that command)."""

    def approve(branch: str) -> None:
        root = reg.store.workdir
        git(root, "config", "gpg.format", "ssh")
        git(root, "config", "user.signingKey", str(key))
        try:
            proc = gitreg(root, "approve", branch)
            assert proc.returncode == 0, proc.stdout + proc.stderr
        finally:
            git(root, "config", "--unset", "user.signingKey")
            git(root, "config", "--unset", "gpg.format")

    return approve


def approval_commit(root: Path, change: str, *, key: Path | None = None, env: dict | None = None) -> str:
    """An approval of CHANGE in the form `gitreg approve` writes, made by hand: signed with KEY
    when given, with whatever author ENV claims."""
    message = f"Approve {change}\n\n{APPROVE_TRAILER}: {change}\n"
    plain = ["commit-tree"]
    sign = ["-c", "gpg.format=ssh", "-c", f"user.signingKey={key}", *plain, "-S"] if key else plain
    return subprocess.run(
        ["git", *sign, "-p", change, "-m", message, f"{change}^{{tree}}"],
        cwd=root, env={**os.environ, **(env or {})}, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


@pytest.fixture
def history(tmp_path, monkeypatch, keys):  # noqa: F811
    """churn: 1.0.0 in production from Jan 3, 1.1.0 from Feb 3 (approved by Alice's signature),
    1.2.0 from Mar 3 (an 'approval' claiming to be Alice, unsigned)."""
    when(monkeypatch, "2026-01-01T09:00:00")
    reg = make_project(tmp_path / "p")
    signers(reg.store.workdir, "add", "--ssh", f"{keys.ssh['alice']}.pub", "--principal", "alice@example.com")
    merges = {}
    train(reg, "churn", GOOD)
    promote(reg, monkeypatch, "churn@1.0.0", "staging", "2026-01-02T10:00:00", "Carol Dev", "Bob Lead")
    merges["1.0.0"] = promote(
        reg, monkeypatch, "churn@1.0.0", "production", "2026-01-03T10:00:00", "Carol Dev", "Bob Lead"
    )
    when(monkeypatch, "2026-02-01T09:00:00", "Carol Dev")
    train(reg, "churn", BETTER)
    promote(reg, monkeypatch, "churn@1.1.0", "staging", "2026-02-02T10:00:00", "Carol Dev", "Bob Lead")
    merges["1.1.0"] = promote(
        reg, monkeypatch, "churn@1.1.0", "production", "2026-02-03T10:00:00", "Carol Dev", "Bob Lead",
        approve=signed_approval(reg, keys.ssh["alice"]),
    )  # fmt: skip
    when(monkeypatch, "2026-03-01T09:00:00", "Carol Dev")
    train(reg, "churn", BEST)
    promote(reg, monkeypatch, "churn@1.2.0", "staging", "2026-03-02T10:00:00", "Carol Dev", "Bob Lead")

    def forged(branch: str) -> None:  # a pusher writes "Alice" into the author field, unsigned
        root = reg.store.workdir
        tip = git(root, "rev-parse", f"refs/heads/{branch}")
        env = {"GIT_AUTHOR_NAME": "Alice", "GIT_AUTHOR_EMAIL": "alice@example.com"}
        git(root, "update-ref", f"refs/heads/{branch}", approval_commit(root, tip, env=env), tip)

    merges["1.2.0"] = promote(
        reg, monkeypatch, "churn@1.2.0", "production", "2026-03-03T10:00:00", "Carol Dev", "Bob Lead",
        approve=forged,
    )  # fmt: skip
    return reg, merges


def test_audit_at_names_the_production_version_its_merge_and_approvers_at_three_dates(history):
    reg, merges = history
    root = reg.store.workdir
    expected = {"2026-01-15": "1.0.0", "2026-02-15": "1.1.0", "2026-03-15": "1.2.0"}
    for date, version in expected.items():
        proc = gitreg(root, "audit", "churn", "--at", date, "--json")
        assert proc.returncode == 0, proc.stderr
        state = json.loads(proc.stdout)
        (model,) = state["models"]
        (prod,) = [h for h in model["holdings"] if h["stage"] == "production" and h["serving"]]
        assert prod["version"] == version and prod["commit"] == merges[version] and prod["merge"]
        roles = {(a["role"], a["name"], a["verified"]) for a in prod["approvers"]}
        assert ("proposed", "unsigned (claims Carol Dev <carol@example.com>)", False) in roles
        assert ("merged", "unsigned (claims Bob Lead <bob@example.com>)", False) in roles
        assert prod["source_commit"] and prod["metrics"]["accuracy"] > 0.9
    # 1.1.0's approval is Alice's verified signature; 1.2.0's "Alice" is only an author field.
    feb = audits.state_at(reg.store, reg.require_head(), audits.parse_date("2026-02-15"), "churn")
    approved = [a for a in feb.models[0].serving("production").approvers if a.role == "approved"]
    assert [(a.name, a.verified) for a in approved] == [("alice@example.com", True)]
    mar = audits.state_at(reg.store, reg.require_head(), audits.parse_date("2026-03-15"), "churn")
    approved = [a for a in mar.models[0].serving("production").approvers if a.role == "approved"]
    assert [(a.name, a.verified) for a in approved] == [
        ("unsigned (claims Alice <alice@example.com>)", False)
    ]
    # Before the first promotion to production there is none; before the registry, nothing.
    jan = audits.state_at(reg.store, reg.require_head(), audits.parse_date("2026-01-02"), "churn")
    assert jan.models[0].serving("production") is None and jan.models[0].serving("staging").version == "1.0.0"
    assert (
        audits.state_at(reg.store, reg.require_head(), audits.parse_date("2025-12-31")).registry_commit
        is None
    )
    # Markdown and HTML carry the same facts; --all takes every model.
    text = gitreg(root, "audit", "--all", "--at", "2026-02-15").stdout
    assert "| production | 1.1.0 | yes | 2026-02-03T11:00:00+00:00 | merge `" in text
    assert "approved: alice@example.com" in text
    page = gitreg(root, "audit", "churn", "--at", "2026-02-15", "--format", "html").stdout
    assert '<span class="ok">alice@example.com</span>' in page


def test_audit_dates_and_arguments_are_checked(history):
    reg, _ = history
    root = reg.store.workdir
    bad = gitreg(root, "audit", "churn", "--at", "last tuesday")
    assert bad.returncode == 2 and "is not a date" in bad.stderr
    assert gitreg(root, "audit").returncode == 2
    assert gitreg(root, "audit", "churn", "--all").returncode == 2
    html = gitreg(root, "audit", "--all", "--format", "html")
    assert html.returncode == 0 and html.stdout.startswith("<!DOCTYPE html>")
    assert "<a " not in html.stdout  # a document on its own: no links into a site it is not in
    assert json.loads(gitreg(root, "audit", "--all", "--json").stdout)["ok"] is True


def test_report_lists_exactly_the_windows_changes_and_open_proposals(tmp_path, monkeypatch):
    when(monkeypatch, "2026-05-01T09:00:00")
    reg = make_project(tmp_path / "p")
    root = reg.store.workdir
    train(reg, "churn", GOOD)  # before the window
    promote(reg, monkeypatch, "churn@1.0.0", "staging", "2026-05-02T10:00:00", "Carol Dev", "Bob Lead")
    promote(reg, monkeypatch, "churn@1.0.0", "production", "2026-05-03T10:00:00", "Carol Dev", "Bob Lead")
    # The window: 2026-05-08 .. 2026-05-15 (--since 7d --until 2026-05-15).
    when(monkeypatch, "2026-05-09T09:00:00", "Carol Dev")
    train(reg, "churn", BETTER)  # 1.1.0
    when(monkeypatch, "2026-05-10T09:00:00", "Carol Dev")
    train(reg, "fraud", WEAK)  # fraud 1.0.0
    promote(reg, monkeypatch, "churn@1.1.0", "staging", "2026-05-11T10:00:00", "Carol Dev", "Bob Lead")
    when(monkeypatch, "2026-05-12T09:00:00", "Dana Admin")
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "signer")], check=True
    )
    signers(root, "add", "--ssh", str(tmp_path / "signer.pub"), "--principal", "dana@example.com")
    # Open proposals: churn 1.1.0 to production (passes), fraud 1.0.0 to production (fails its
    # gates and is not in staging), and one published on the remote only.
    when(monkeypatch, "2026-05-13T10:00:00", "Carol Dev")
    good = reg.promote("churn@1.1.0", "production").branch
    bad_branch = "gitreg-promote/fraud/v1.0.0/staging"
    reg.promote("fraud@1.0.0", "staging")
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", f"{bad_branch}:{bad_branch}")
    git(root, "fetch", "-q", "origin")
    git(root, "branch", "-D", bad_branch)
    # After the window: must not appear.
    when(monkeypatch, "2026-05-20T09:00:00", "Carol Dev")
    train(reg, "churn", BEST)

    proc = gitreg(root, "report", "--since", "7d", "--until", "2026-05-15", "--json")
    assert proc.returncode == 0, proc.stderr
    review = json.loads(proc.stdout)
    assert [(c["model"], c["version"]) for c in review["registrations"]] == [
        ("churn", "1.1.0"),
        ("fraud", "1.0.0"),
    ]
    assert [(c["model"], c["version"], c["to_stage"]) for c in review["promotions"]] == [
        ("churn", "1.1.0", "staging")
    ]
    (promo,) = review["promotions"]
    assert [a["role"] for a in promo["approvers"]] == ["proposed", "merged"]
    assert "Bob Lead" in promo["approvers"][-1]["name"]
    assert review["archives"] == []
    (signer,) = review["policy_changes"]
    assert signer["paths"] == ["signers"] and signer["time"].startswith("2026-05-12")
    proposals = {(p["branch"], p["where"]): p for p in review["proposals"]}
    assert set(proposals) == {(good, "local"), (bad_branch, "origin")}
    assert proposals[(good, "local")]["ok"] is True
    # Each new version against what its target stage serves now: 1.1.0 heads for production.
    comparisons = {(c["model"], c["version"]): c for c in review["comparisons"]}
    churn = comparisons[("churn", "1.1.0")]
    assert churn["stage"] == "production" and churn["baseline"] == "1.0.0" and churn["gates_ok"] is True
    accuracy = next(m for m in churn["metrics"] if m["metric"] == "accuracy")
    assert accuracy["delta"] == pytest.approx(BETTER["accuracy"] - GOOD["accuracy"])
    assert accuracy["gate"] == "accuracy >= 0.9" and accuracy["passed"] is True
    fraud = comparisons[("fraud", "1.0.0")]
    assert fraud["stage"] == "staging" and fraud["baseline"] is None
    # The same in Markdown and HTML; nothing from after the window.
    text = gitreg(root, "report", "--since", "7d", "--until", "2026-05-15").stdout
    assert "| churn | 1.1.0 |" in text and "1.2.0" not in text and "fraud" in text
    page = gitreg(root, "report", "--since", "7d", "--until", "2026-05-15", "--format", "html").stdout
    assert "<h2>New registrations (2)</h2>" in page and "<a " not in page
    # --from REV: every commit after it, here the 1.1.0 registration onwards.
    start = reg.view().commit
    later = reports.build(reg.store, reg.require_head(), start=start)
    assert later.registrations == []


def test_card_new_prints_a_template_that_registers(tmp_path, monkeypatch):
    when(monkeypatch, "2026-06-01T09:00:00")
    reg = make_project(tmp_path / "p")
    root = reg.store.workdir
    proc = gitreg(root, "card", "new", "churn")
    assert proc.returncode == 0, proc.stderr
    card = yaml.safe_load(proc.stdout)
    assert card["intended_use"]["primary_uses"] and card["considerations"]["ethical_risks"]
    out = tmp_path / "card.yaml"
    assert gitreg(root, "card", "new", "churn", "-o", str(out)).returncode == 0
    assert gitreg(root, "card", "new", "churn", "-o", str(out)).returncode == 2  # no overwrite
    registered = train(reg, "churn", GOOD, card=out.read_text())
    assert registered.version == "1.0.0"
    assert gitreg(root, "card", "new", "Bad Name").returncode == 2


EVALUATED = """\
overview: Churn classifier for monthly B2C accounts.
owners: [{name: Data Science, contact: ds@example.com}]
license: apache-2.0
intended_use:
  primary_uses: [Rank accounts by 30-day churn risk]
evaluation:
  - task: {type: tabular-classification, name: Churn}
    dataset: {name: accounts-2026q1, type: crm-accounts, split: test}
    metrics:
      - {type: accuracy, source: {file: churn-metrics.json, key: accuracy}}
  - task: {type: tabular-classification}
    dataset: {name: accounts-2026q1, split: validation, slice: tenure-under-3m}
    metrics:
      - type: demographic_parity_gap
        source: {file: churn-metrics.json, key: fairness.demographic_parity_gap}
"""


def test_huggingface_export_round_trips_through_model_card(tmp_path, monkeypatch):
    from huggingface_hub import ModelCard

    when(monkeypatch, "2026-06-01T09:00:00")
    reg = make_project(tmp_path / "p")
    hostile = EVALUATED.replace("Churn classifier", "Churn <script>alert(1)</script> classifier")
    train(reg, "churn", GOOD, card=hostile)
    out = tmp_path / "README.md"
    proc = gitreg(reg.store.workdir, "card", "export", "churn@1.0.0", "--to", "huggingface", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    card = ModelCard.load(out)
    assert card.data.license == "apache-2.0" and card.data.model_name == "churn"
    results = {(r.metric_type, r.dataset_name, r.dataset_split): r for r in card.data.eval_results}
    assert set(results) == {
        ("accuracy", "accounts-2026q1", "test"),
        ("demographic_parity_gap", "accounts-2026q1", "validation"),
    }
    assert results[("accuracy", "accounts-2026q1", "test")].metric_value == GOOD["accuracy"]
    assert results[("accuracy", "accounts-2026q1", "test")].dataset_type == "crm-accounts"
    gap = results[("demographic_parity_gap", "accounts-2026q1", "validation")]
    assert gap.metric_value == GOOD["fairness"]["demographic_parity_gap"]
    assert gap.dataset_config == "tenure-under-3m" and gap.task_type == "tabular-classification"
    assert "<script>" not in card.text and "&lt;script&gt;" in card.text
    # Model Card Toolkit's JSON keeps the same metrics, each with its dataset/split/slice.
    mct = json.loads(
        gitreg(reg.store.workdir, "card", "export", "churn@1.0.0", "--to", "model-card-toolkit").stdout
    )
    metrics = {
        (m["type"], m["slice"]): m["value"] for m in mct["quantitative_analysis"]["performance_metrics"]
    }
    assert metrics == {
        ("accuracy", "accounts-2026q1/test"): str(GOOD["accuracy"]),
        ("demographic_parity_gap", "accounts-2026q1/validation/tenure-under-3m"): "0.03",
    }
    assert mct["model_details"]["name"] == "churn" and mct["model_details"]["version"]["name"] == "1.0.0"
    assert gitreg(reg.store.workdir, "card", "export", "churn@1.0.0", "--to", "pdf").returncode == 2


def test_an_approval_signed_by_a_key_its_own_change_adds_names_nobody(tmp_path, monkeypatch, keys):  # noqa: F811
    """A teammate with push access adds their key to signers/ in the very change they approve
    with it, and merges by hand: the audit judges by the base's signers, so nobody verified."""
    from registry_helpers import advance, commit

    from gitreg.store import layout

    when(monkeypatch, "2026-07-01T09:00:00")
    reg = make_project(tmp_path / "p")
    root = reg.store.workdir
    train(reg, "churn", GOOD)
    promote(reg, monkeypatch, "churn@1.0.0", "staging", "2026-07-02T10:00:00", "Carol Dev", "Bob Lead")
    when(monkeypatch, "2026-07-03T10:00:00", "Mallory Push")
    head = reg.require_head()
    allowed = reg.view().read(layout.ALLOWED_SIGNERS_PATH).decode()
    key = Path(f"{keys.ssh['bob']}.pub").read_text().split()
    change = commit(
        reg,
        {
            layout.stages_path("churn"): {"staging": ["1.0.0"], "production": ["1.0.0"]},
            layout.ALLOWED_SIGNERS_PATH: allowed + f'bob@example.com namespaces="git" {key[0]} {key[1]}\n',
        },
    )
    approval = approval_commit(root, change, key=keys.ssh["bob"])
    assert "-----BEGIN SSH SIGNATURE-----" in git(root, "cat-file", "commit", approval)
    merge = reg.store.write_commit(
        reg.store.commit_tree(approval), [head, approval], "Merge", reg.store.ident()
    )
    advance(reg, merge)
    state = reg.state_at("2026-07-04", "churn")
    prod = state.models[0].serving("production")
    assert prod is not None and prod.commit == merge
    (approved,) = [a for a in prod.approvers if a.role == "approved"]
    assert not approved.verified and approved.name.startswith("unknown-key signature (claims")
    assert all(not a.verified for a in prod.approvers)


def test_report_from_a_revision_and_the_review_api(tmp_path, monkeypatch):
    when(monkeypatch, "2026-08-01T09:00:00")
    reg = make_project(tmp_path / "p")
    train(reg, "churn", GOOD)
    start = reg.require_head()
    when(monkeypatch, "2026-08-02T09:00:00")
    train(reg, "churn", BETTER)
    proc = gitreg(reg.store.workdir, "report", "--from", start, "--json")
    assert proc.returncode == 0, proc.stderr
    review = json.loads(proc.stdout)
    assert [c["version"] for c in review["registrations"]] == ["1.1.0"] and review["from_commit"] == start
    assert [c.version for c in reg.review(start=start).registrations] == ["1.1.0"]
    elsewhere = gitreg(reg.store.workdir, "report", "--from", "main")
    assert elsewhere.returncode == 2 and "not in the registry branch's history" in elsewhere.stderr
    both = gitreg(reg.store.workdir, "report", "--from", start, "--since", "7d")
    assert both.returncode == 2 and "not both" in both.stderr


def test_approvals_by_the_proposer_or_before_a_later_change_do_not_count(tmp_path, monkeypatch, keys):  # noqa: F811
    """The audit reads approvals as the check does (trust.approvals): Alice signs her own
    proposal and approves it; Bob approves, then a later change lands on the branch."""
    when(monkeypatch, "2026-09-01T09:00:00")
    reg = make_project(tmp_path / "p")
    root = reg.store.workdir
    signers(root, "add", "--ssh", f"{keys.ssh['alice']}.pub", "--principal", "alice@example.com")
    signers(root, "add", "--ssh", f"{keys.ssh['bob']}.pub", "--principal", "bob@example.com")
    train(reg, "churn", GOOD)
    promote(reg, monkeypatch, "churn@1.0.0", "staging", "2026-09-02T10:00:00", "Carol Dev", "Bob Lead")
    when(monkeypatch, "2026-09-03T10:00:00", "Alice")
    branch = reg.promote("churn@1.0.0", "production").branch
    tip = git(root, "rev-parse", f"refs/heads/{branch}")
    # Alice's proposal, signed by her: re-made as a signed commit with the same tree.
    signed = git(
        root, "-c", "gpg.format=ssh", "-c", f"user.signingKey={keys.ssh['alice']}",
        "commit-tree", "-S", "-p", f"{tip}^", "-m", "Promote churn 1.0.0 to production", f"{tip}^{{tree}}",
    )  # fmt: skip
    own = approval_commit(root, signed, key=keys.ssh["alice"])
    bob = approval_commit(root, own, key=keys.ssh["bob"])
    later = git(root, "commit-tree", "-p", bob, "-m", "a later change", f"{bob}^{{tree}}")
    git(root, "update-ref", f"refs/heads/{branch}", later, tip)
    when(monkeypatch, "2026-09-03T11:00:00", "Bob Lead")
    merge = reg.merge(branch).commit
    prod = reg.state_at("2026-09-04", "churn").models[0].serving("production")
    assert prod is not None and prod.commit == merge
    roles = [(a.role, a.name, a.verified) for a in prod.approvers]
    assert ("proposed", "alice@example.com", True) in roles
    assert ("stale approval", "alice@example.com", True) in roles
    assert ("stale approval", "bob@example.com", True) in roles
    assert not [r for r in roles if r[0] == "approved"]


def test_report_names_missing_approvals_from_the_checks_approval_rule(tmp_path, monkeypatch):
    when(monkeypatch, "2026-10-01T09:00:00")
    policy = POLICY.replace(
        "    max_versions: 1\n",
        "    max_versions: 1\n"
        "    approvers: {principals: [alice@example.com, bob@example.com], approvals: 1}\n",
    )
    reg = make_project(tmp_path / "p", policy)
    root = reg.store.workdir
    train(reg, "churn", GOOD)
    promote(reg, monkeypatch, "churn@1.0.0", "staging", "2026-10-02T10:00:00", "Carol Dev", "Bob Lead")
    when(monkeypatch, "2026-10-03T10:00:00", "Carol Dev")
    branch = reg.promote("churn@1.0.0", "production").branch
    review = json.loads(gitreg(root, "report", "--since", "7d", "--until", "2026-10-05", "--json").stdout)
    (open_,) = [p for p in review["proposals"] if p["branch"] == branch]
    assert open_["ok"] is False
    (missing,) = open_["missing_approvals"]
    assert "needs 1 approval(s) from the production approvers" in missing
    assert "May still approve: alice@example.com, bob@example.com" in missing
    assert any(f.startswith("[approval] ") for f in open_["findings"])
