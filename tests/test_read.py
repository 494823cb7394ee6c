"""Read commands: list, show, history, which, in text and JSON, and stage references."""

from __future__ import annotations

import json

import pytest
from helpers import git, gitreg

from gitreg.store import layout, yamlio
from gitreg.store.gitstore import GitStore


def set_stages(repo, name: str, stages: dict[str, list[str]]) -> str:
    """Commit a stages.yaml on the registry branch, as a merged promotion would."""
    store = GitStore.discover(repo)
    head = store.ref_target("refs/heads/gitreg")
    tree = store.write_tree(store.commit_tree(head), {layout.stages_path(name): yamlio.dump(stages).encode()})
    commit = store.write_commit(tree, [head], f"Promote {name}", store.ident())
    store.update_refs([("refs/heads/gitreg", commit, head)], "test: promote")
    return commit


@pytest.fixture
def two_versions(registry_repo, card_file):
    p = registry_repo
    for _ in range(2):  # one training, registered twice on purpose
        proc = gitreg(p, "register", "churn", "--card", str(card_file), "--allow-same-artifact")
        assert proc.returncode == 0, proc.stderr
    return p


def test_list(two_versions):
    proc = gitreg(two_versions, "list")
    assert proc.returncode == 0
    assert proc.stdout.split("\n")[0].split() == ["MODEL", "LATEST", "VERSIONS", "STAGES"]
    assert proc.stdout.split("\n")[1].split() == ["churn", "1.1.0", "2", "-"]
    data = json.loads(gitreg(two_versions, "list", "--json").stdout)
    assert data == [
        {
            "name": "churn",
            "latest": "1.1.0",
            "versions": 2,
            "stages": {},
            "owners": ["Data Science"],
            "description": "Churn classifier for monthly B2C accounts.",
            "error": None,  # a model whose files cannot be read says why here
        }
    ]


def test_list_empty_registry(registry_repo):
    proc = gitreg(registry_repo, "list")
    assert proc.returncode == 0 and "No models registered yet" in proc.stdout
    assert json.loads(gitreg(registry_repo, "list", "--json").stdout) == []


def test_show_model_version_and_stage(two_versions):
    p = two_versions
    set_stages(p, "churn", {"staging": ["1.0.0"], "production": ["1.1.0"]})
    model = json.loads(gitreg(p, "show", "churn", "--json").stdout)
    assert model["versions"] == [
        {"version": "1.0.0", "stages": ["staging"], "signed": "unsigned"},
        {"version": "1.1.0", "stages": ["production"], "signed": "unsigned"},
    ]
    assert model["model"]["artifact"] == {"path": "models/churn.json"}
    text = gitreg(p, "show", "churn").stdout
    assert "1.0.0    staging" in text and "1.1.0    production" in text
    by_version = json.loads(gitreg(p, "show", "churn@1.1.0", "--json").stdout)
    by_stage = json.loads(gitreg(p, "show", "churn@production", "--json").stdout)
    assert by_stage == by_version
    assert by_stage["version"] == "1.1.0" and by_stage["tag"] == "churn@v1.1.0"
    assert by_stage["card"]["provenance"]["source"]["commit"] == git(p, "rev-parse", "HEAD")
    text = gitreg(p, "show", "churn@v1.0.0").stdout
    assert text.startswith("# churn@v1.0.0  (stages: staging)")
    assert "overview: Churn classifier" in text


def test_which(two_versions):
    p = two_versions
    proc = gitreg(p, "which", "churn", "production")
    assert proc.returncode == 1 and "no version of churn is in stage 'production'" in proc.stderr
    assert json.loads(gitreg(p, "which", "churn", "production", "--json").stdout)["version"] is None
    set_stages(p, "churn", {"staging": ["1.0.0", "1.1.0"]})
    assert gitreg(p, "which", "churn", "staging").stdout.strip() == "1.1.0"
    data = json.loads(gitreg(p, "which", "churn", "staging", "--json").stdout)
    assert data == {"name": "churn", "stage": "staging", "version": "1.1.0"}


def test_history(two_versions):
    p = two_versions
    promote = set_stages(p, "churn", {"staging": ["1.0.0"]})
    set_stages(p, "churn", {"production": ["1.0.0"]})
    events = json.loads(gitreg(p, "history", "churn", "--json").stdout)
    assert [(e["kind"], e["version"], e["from_stage"], e["to_stage"]) for e in events] == [
        ("registered", "1.0.0", None, None),
        ("registered", "1.1.0", None, None),
        ("promoted", "1.0.0", None, "staging"),
        ("promoted", "1.0.0", "staging", "production"),
    ]
    assert events[2]["commit"] == promote and events[0]["author"] == "Test Author"
    text = gitreg(p, "history", "churn").stdout
    assert "staging -> production" in text and "registered" in text


@pytest.mark.parametrize(
    ("args", "code", "expect"),
    [
        (["show", "nope"], 1, "model 'nope' is not registered"),
        (["show", "churn@9.9.9"], 1, "has no version 9.9.9"),
        (["show", "churn@production"], 1, "no version of churn is in stage 'production'"),
        (["show", "Bad@1"], 2, "not a valid model name"),
        (["show", "churn@"], 2, "neither NAME@VERSION nor NAME@STAGE"),
        (["history", "nope"], 1, "not registered"),
        (["which", "churn", "Prod"], 2, "not a valid stage name"),
    ],
)
def test_read_errors(two_versions, args, code, expect):
    proc = gitreg(two_versions, *args)
    assert proc.returncode == code and expect in proc.stderr
    assert "Traceback" not in proc.stderr


def test_reads_before_init(dvc_project):
    for args in (["list"], ["show", "churn"], ["which", "churn", "production"]):
        proc = gitreg(dvc_project, *args)
        assert proc.returncode == 2 and "gitreg init" in proc.stderr


def test_python_api(two_versions):
    from gitreg import Registry

    reg = Registry.open(two_versions)
    assert [m.name for m in reg.list()] == ["churn"]
    assert reg.resolve("churn@1.0.0") == "1.0.0"
    assert reg.resolve("churn") == "1.1.0"
    assert reg.card("churn@1.1.0")["version"] == "1.1.0"
    set_stages(two_versions, "churn", {"production": ["1.0.0"]})
    assert reg.which("churn", "production") == "1.0.0"
    assert [e.kind for e in reg.history("churn")] == ["registered", "registered", "promoted"]
