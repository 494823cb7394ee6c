"""The fast path of `which` and `show NAME@VERSION` (cli/fast.py) against the Typer app.

Each argv runs twice in a real process: through `main()` (the fast path when it applies)
and through `typer_main()` (every command through Typer, the reference). Output, error
text and exit code must be the same bytes, for answers and for every kind of error; what
the fast path cannot parse it hands to Typer. A verdict cached by `show` is keyed by the
objects it judged: a moved tag or a revoked signer is judged again, never served stale.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git, gitreg
from registry_helpers import advance, set_stages
from signing_support import SIGNER_EMAIL, keys, ok, register, signers, use_ssh_key  # noqa: F401

from gitreg.registry import Registry
from gitreg.store.cache import directory

DRIVER = """\
import atexit, json, os, sys
def report():
    with open(os.environ["GITREG_TEST_MODULES"], "w") as f:
        json.dump(sorted(sys.modules), f)
atexit.register(report)
sys.argv[0] = "gitreg"
from gitreg import cli
getattr(cli, sys.argv.pop(1))()
"""
HEAVY = ("typer", "click", "dvc", "jsonschema", "gitreg.trust.signatures", "gitreg.trust.keys")
HEAVY += ("gitreg.trust.signing", "gitreg.trust.verification", "gitreg.lineage")


def run(cwd: Path, entry: str, *argv: str, modules: Path | None = None) -> tuple[int, str, str, list[str]]:
    """(exit code, stdout, stderr, modules imported) of `gitreg ARGV` through ENTRY."""
    report = modules or cwd.parent / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, entry, *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "GITREG_TEST_MODULES": str(report)},
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr, json.loads(report.read_text())


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if m.startswith(HEAVY)]


@pytest.fixture(scope="module")
def repo(tmp_path_factory, keys):  # noqa: F811
    """plain@1.0.0 signed with an allowed SSH key and in staging, plain@1.1.0 unsigned."""
    root = tmp_path_factory.mktemp("fast")
    path = root / "plain"
    path.mkdir()
    git(path, "init", "-q")
    (path / "model.bin").write_bytes(b"\x00weights\x01" * 100)
    (path / "metrics.json").write_text('{"accuracy": 0.91, "fairness": {"gap": 0.02}}\n')
    git(path, "add", "-A")
    git(path, "commit", "-qm", "train")
    card = root / "card.yaml"
    from conftest import CARD

    card.write_text(CARD)
    ok(gitreg(path, "init"))
    alice = keys.ssh["alice"]
    signers(path, "add", "--ssh", f"{alice}.pub", "--principal", SIGNER_EMAIL)  # a merged proposal
    use_ssh_key(path, alice)
    ok(register(path, card, "--version", "1.0.0", "--sign"))
    ok(register(path, card, "--version", "1.1.0", "--no-sign"))
    reg = Registry.open(path)
    advance(reg, set_stages(reg, "plain", {"staging": ["1.0.0"]}))
    return path


SAME = [
    ["which", "plain", "staging"],
    ["which", "plain", "staging", "--json"],
    ["which", "--json", "plain", "staging"],
    ["which", "plain", "production"],  # an empty stage: exit 1
    ["which", "plain", "production", "--json"],
    ["which", "nope", "staging"],
    ["which", "Bad", "staging"],
    ["which", "plain", "Bad!"],
    ["which", "", ""],
    ["show", "plain@1.0.0"],
    ["show", "plain@1.0.0", "--json"],
    ["show", "plain@1.1.0"],
    ["show", "plain@staging"],
    ["show", "--json", "plain@staging"],
    ["show", "plain@production"],
    ["show", "plain@9.9.9"],
    ["show", "plain@"],
    ["show", "nope@1.0.0"],
    ["show", "@1.0.0"],
    ["--traceback", "which", "plain", "staging"],
    ["hook", "nope"],  # not a hook: a usage error before stdin is read
    ["list"],
    ["list", "--json"],
    ["show", "plain"],
    ["show", "plain", "--json"],
    ["show", "nope"],
    ["history", "plain"],
    ["history", "--json", "plain"],
    ["history", "nope"],
    ["history", "Bad"],
]


@pytest.mark.parametrize("cached", [False, True], ids=["cold", "cached"])
@pytest.mark.parametrize("argv", SAME, ids=[" ".join(a) or "-" for a in SAME])
def test_fast_path_prints_what_typer_prints(repo, argv, cached):
    shutil.rmtree(directory(repo / ".git"), ignore_errors=True)
    if cached:
        run(repo, "main", *argv)
    code, out, err, modules = run(repo, "main", *argv)
    assert "typer" not in modules, "the fast path answered this argv"
    assert run(repo, "typer_main", *argv)[:3] == (code, out, err)


def test_fast_path_answers_are_right(repo):
    assert run(repo, "main", "which", "plain", "staging")[:3] == (0, "1.0.0\n", "")
    code, out, err, _ = run(repo, "main", "which", "plain", "production")
    assert (code, out, err) == (1, "", "no version of plain is in stage 'production'\n")
    code, out, _, _ = run(repo, "main", "show", "plain@1.0.0")
    assert code == 0 and out.startswith("# plain@v1.0.0  (stages: staging)\n# signed by author@example.com")
    code, _, err, _ = run(repo, "main", "show", "plain@9.9.9")
    assert code == 1 and err.startswith("error: plain has no version 9.9.9")


def test_root_options_and_errors_outside_the_registry(repo, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for argv in (
        ["-C", str(repo), "which", "plain", "staging"],
        ["--repo", str(repo), "show", "plain@1.0.0"],
        [f"--repo={repo}", "--traceback", "which", "plain", "staging"],
        ["which", "plain", "staging"],  # not a repository: exit 2
        ["show", "plain@1.0.0"],
    ):
        code, out, err, modules = run(elsewhere, "main", *argv)
        assert "typer" not in modules
        assert run(elsewhere, "typer_main", *argv)[:3] == (code, out, err)
    git(elsewhere, "init", "-q")  # a repository without a registry branch
    code, out, err, _ = run(elsewhere, "main", "which", "plain", "staging")
    assert code == 2 and "gitreg init" in err
    assert run(elsewhere, "typer_main", "which", "plain", "staging")[:3] == (code, out, err)


@pytest.mark.parametrize(
    "argv",
    [
        ["which", "plain"],  # a missing argument: Typer's usage error
        ["which", "plain", "staging", "extra"],
        ["which", "--help"],
        ["which", "plain", "staging", "--verbose"],
        ["history", "plain", "--verify"],
        ["list", "extra"],
        ["-Cx", "which", "plain", "staging"],
        ["--version"],
        ["which", "plain", "staging", "--traceback"],
    ],
)
def test_what_the_fast_path_does_not_parse_goes_to_typer(repo, argv):
    code, out, err, modules = run(repo, "main", *argv)
    assert "typer" in modules
    assert run(repo, "typer_main", *argv)[:3] == (code, out, err)


def test_completion_goes_to_typer(repo):
    script = Path(sys.executable).parent / "gitreg"
    if not script.exists():
        pytest.skip("the gitreg script is not installed next to this interpreter")
    env = {**os.environ, "_GITREG_COMPLETE": "complete_bash", "COMP_WORDS": "gitreg wh", "COMP_CWORD": "1"}
    done = subprocess.run(
        [script, "which", "plain", "staging"], cwd=repo, env=env, capture_output=True, text=True
    )
    assert (done.returncode, done.stdout) == (0, "which\n")


def test_hot_reads_import_neither_dvc_nor_jsonschema_nor_signature_tools(repo):
    """Acceptance 2 (issue 14): a verified version's verdict is kept by the ids of what it
    judged, so `which` and `show NAME@VERSION` import no DVC, jsonschema, signature code nor
    Typer."""
    shutil.rmtree(directory(repo / ".git"), ignore_errors=True)
    for argv in (["which", "plain", "staging"], ["show", "plain@1.0.0"], ["show", "plain@1.1.0"]):
        run(repo, "main", *argv)  # the first show judges (and caches) the policy and the tag
        code, out, _, modules = run(repo, "main", *argv)
        assert code == 0 and out
        assert heavy(modules) == [], argv


def test_a_cached_verdict_follows_the_tag_and_the_signers(repo, tmp_path, keys):  # noqa: F811
    """A verdict is never served for other objects than the ones judged."""
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, symlinks=True)
    assert "; verifies" in run(copy, "main", "show", "plain@1.0.0")[1]  # cached now
    # A teammate with push access moves the tag to an unsigned one on the same commit.
    target = git(copy, "rev-parse", "plain@v1.0.0^{commit}")
    git(copy, "tag", "-f", "-a", "-m", "replaced", "plain@v1.0.0", target)
    code, out, err, _ = run(copy, "main", "show", "plain@1.0.0")
    assert "DOES NOT VERIFY" in out and "moved" in out
    assert run(copy, "typer_main", "show", "plain@1.0.0")[:3] == (code, out, err)
    # Revoking the signer judges the (restored) tag again.
    shutil.rmtree(copy)
    shutil.copytree(repo, copy, symlinks=True)
    assert "; verifies" in run(copy, "main", "show", "plain@1.0.0")[1]
    signers(copy, "revoke", "--ssh", f"{keys.ssh['alice']}.pub")
    code, out, err, _ = run(copy, "main", "show", "plain@1.0.0")
    assert "DOES NOT VERIFY" in out and "revoked" in out
    assert run(copy, "typer_main", "show", "plain@1.0.0")[:3] == (code, out, err)


# --- register: the write a training job runs, through the fast path ------------------------------

ART = ["--artifact", "model.bin", "--metrics", "metrics.json"]  # what a plain repo's register names
SAME_AGAIN = [*ART, "--allow-same-artifact"]
REGISTER_SAME = [  # (argv, the exit code both give)
    (["register", "plain", "--card", "{card}", "--no-sign", *SAME_AGAIN], 0),
    (["register", "plain", "--card={card}", "--rev=HEAD", "--no-sign", *SAME_AGAIN, "--json"], 0),
    (["register", "--bump", "major", "plain", "--card", "{card}", "--sign", *SAME_AGAIN], 0),
    (["register", "plain", "--card", "{card}", "--propose", "--no-sign", *SAME_AGAIN], 0),
    (["-C", ".", "register", "plain", "--card", "{card}", "--strict", *SAME_AGAIN], 0),
    (["register", "plain", "--card", "{card}", *ART, "--no-sign"], 1),  # the same artifact
    (["register", "plain", "--card", "{card}", "--version", "1.1.0", *SAME_AGAIN], 1),
    (["register", "Bad", "--card", "{card}"], 2),
    (["register", "plain", "--card", "missing.yaml"], 2),
    (["register", "plain", "--card", "{card}", "--rev", "nope"], 2),
    (["register", "plain", "--card", "{card}", "--bump", "sideways", *SAME_AGAIN], 2),
]
REGISTER_TO_TYPER = [
    ["register", "plain"],  # no --card: Typer's usage error
    ["register", "plain", "--card", "{card}", "--card", "{card}", "--allow-same-artifact"],
    ["register", "plain", "--card", "{card}", "--sign", "--no-sign", "--allow-same-artifact"],
    ["register", "plain", "other", "--card", "{card}"],
    ["register", "plain", "--card", "{card}", "--verbose"],
    ["register", "--help"],
    ["register", "plain", "--card", "{card}", "--", "--allow-same-artifact"],
]


def _twice(repo: Path, tmp_path: Path, argv: list[str], fast: bool) -> int:
    """ARGV through main() and through typer_main() on two copies of REPO: the same bytes out,
    the same refs after."""
    card = repo.parent / "card.yaml"
    argv = [a.replace("{card}", str(card)) for a in argv]
    results = []
    for entry in ("main", "typer_main"):
        copy = tmp_path / entry / "plain"
        shutil.copytree(repo, copy, symlinks=True)
        code, out, err, modules = run(copy, entry, *argv, modules=tmp_path / f"{entry}.json")
        if entry == "main":
            assert ("typer" not in modules) == fast, argv
        refs = git(copy, "for-each-ref", "--format=%(refname) %(objectname)")
        results.append((code, out, err, refs))
    assert results[0] == results[1]
    return results[0][0]


@pytest.mark.parametrize(("argv", "code"), REGISTER_SAME, ids=[" ".join(a[-4:]) for a, _ in REGISTER_SAME])
def test_register_on_the_fast_path_does_what_typer_does(repo, tmp_path, argv, code, monkeypatch):
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2026-11-01T10:00:00Z")  # the same tag bytes twice
    monkeypatch.setenv("GIT_AUTHOR_DATE", "2026-11-01T10:00:00Z")
    assert _twice(repo, tmp_path, argv, fast=True) == code


@pytest.mark.parametrize("argv", REGISTER_TO_TYPER, ids=[" ".join(a[1:5]) for a in REGISTER_TO_TYPER])
def test_register_spellings_the_fast_path_does_not_parse_go_to_typer(repo, tmp_path, argv, monkeypatch):
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2026-11-01T10:00:00Z")
    monkeypatch.setenv("GIT_AUTHOR_DATE", "2026-11-01T10:00:00Z")
    _twice(repo, tmp_path, argv, fast=False)


PROMOTE_SAME = [  # (argv, the exit code both give)
    (["promote", "plain@1.1.0", "staging"], 0),
    (["promote", "plain@1.1.0", "staging", "--json"], 0),
    (["promote", "--json", "plain@staging", "archived"], 0),
    (["promote", "plain@9.9.9", "staging"], 1),
    (["promote", "plain@1.0.0", "nope"], 1),
    (["promote", "Bad@1.0.0", "staging"], 2),
]
PROMOTE_TO_TYPER = [
    ["promote", "plain@1.1.0"],
    ["promote", "plain@1.1.0", "staging", "--push"],
    ["promote", "plain@1.1.0", "staging", "-r", "origin"],
    ["promote", "--help"],
]


@pytest.mark.parametrize(("argv", "code"), PROMOTE_SAME, ids=[" ".join(a) for a, _ in PROMOTE_SAME])
def test_promote_on_the_fast_path_does_what_typer_does(repo, tmp_path, argv, code, monkeypatch):
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2026-11-01T10:00:00Z")  # the same commit bytes twice
    monkeypatch.setenv("GIT_AUTHOR_DATE", "2026-11-01T10:00:00Z")
    assert _twice(repo, tmp_path, argv, fast=True) == code


@pytest.mark.parametrize("argv", PROMOTE_TO_TYPER, ids=[" ".join(a) for a in PROMOTE_TO_TYPER])
def test_promote_spellings_the_fast_path_does_not_parse_go_to_typer(repo, tmp_path, argv, monkeypatch):
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2026-11-01T10:00:00Z")
    monkeypatch.setenv("GIT_AUTHOR_DATE", "2026-11-01T10:00:00Z")
    _twice(repo, tmp_path, argv, fast=False)


def test_a_card_shown_before_is_printed_from_its_bytes_and_only_when_they_are_its_dump(repo, tmp_path):
    """`show NAME@VERSION` prints the card's dump. A card whose stored bytes are that dump (as
    every card register writes) is printed from its bytes on a later show, without PyYAML; one
    written otherwise (a hand-made proposal) is always parsed and dumped, never shown as stored."""
    copy = tmp_path / "plain"
    shutil.copytree(repo, copy, symlinks=True)
    shutil.rmtree(directory(copy / ".git"), ignore_errors=True)
    first = run(copy, "main", "show", "plain@1.1.0")
    second = run(copy, "main", "show", "plain@1.1.0")
    assert first[:3] == second[:3] == run(copy, "typer_main", "show", "plain@1.1.0")[:3]
    assert "yaml" in first[3] and "yaml" not in second[3]  # the second printed the stored bytes

    work = tmp_path / "edit"
    git(copy, "worktree", "add", "-q", str(work), "gitreg")
    card = work / "models/plain/versions/1.1.0.yaml"
    card.write_text("# a hand-written note\n" + card.read_text().replace("\n", "\n\n", 1))
    git(work, "commit", "-qam", "a card written by hand")
    for _ in range(2):
        code, out, err, modules = run(copy, "main", "show", "plain@1.1.0")
        assert "a hand-written note" not in out and "\n\n" not in out and "yaml" in modules
        assert (code, out, err) == run(copy, "typer_main", "show", "plain@1.1.0")[:3]
