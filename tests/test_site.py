"""Issue 11, acceptance 4: the static site in a real headless Chromium (Debian's), driven by
Playwright. Every page loads with no console error and no request leaving file://, every link
resolves, choosing two versions shows both versions' metrics and their deltas, each chart has
one point per version, a hostile card injects nothing. A screenshot of a model page is kept.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml
from helpers import CARD, gitreg
from registry_helpers import GOOD, make_project, train

from gitreg.registry import Registry

BETTER = {"accuracy": 0.96, "fairness": {"demographic_parity_gap": 0.02}}
BEST = {"accuracy": 0.97, "fairness": {"demographic_parity_gap": 0.01}}
_card = yaml.safe_load(CARD)
_card["overview"] = (
    "'\"><script>window.pwned=1</script><img src=https://evil.example/x.png onerror=window.pwned=2>"
)
_card["owners"] = [{"name": "</script><script>window.pwned=3</script>"}]
HOSTILE = yaml.safe_dump(_card)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def site(tmp_path, monkeypatch) -> tuple[Registry, Path]:
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2026-04-01T10:00:00 +0000")
    monkeypatch.setenv("GIT_AUTHOR_DATE", "2026-04-01T10:00:00 +0000")
    reg = make_project(tmp_path / "p")
    for metrics in (GOOD, BETTER, BEST):
        train(reg, "churn", metrics)
    reg.merge(reg.promote("churn@1.0.0", "staging").branch)
    reg.merge(reg.promote("churn@1.0.0", "production").branch)
    reg.merge(reg.promote("churn@1.1.0", "staging").branch)
    train(reg, "evil", GOOD, card=HOSTILE)
    out = tmp_path / "site"
    proc = gitreg(reg.store.workdir, "site", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "for 2 models" in proc.stdout
    return reg, out


def test_site_in_a_real_browser(site, tmp_path):
    path = chromium()
    if path is None:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    _, out = site
    artifacts = Path(os.environ.get("GITREG_TEST_ARTIFACTS") or tmp_path)
    errors: list[str] = []
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})

        def route(r):
            if r.request.url.startswith("file://"):
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
        # Crawl every page from the index; every link must be a file of the site.
        todo, seen = [out / "index.html"], set()
        while todo:
            file = todo.pop()
            if file in seen:
                continue
            seen.add(file)
            page.goto(file.as_uri())
            assert page.evaluate("window.pwned") is None, file
            for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
                target = Path(unquote(urlparse(href).path))
                assert href.startswith("file://") and target.is_file(), f"{file}: broken link {href}"
                todo.append(target)
        expected = {"index.html", "audit.html", "report.html"}
        expected |= {f"models/churn/v{v}.html" for v in ("1.0.0", "1.1.0", "1.2.0")}
        expected |= {"models/churn/index.html", "models/evil/index.html", "models/evil/v1.0.0.html"}
        assert {str(f.relative_to(out)) for f in seen} == expected
        assert errors == [] and outside == []

        # The index filters by name, stage and owner.
        page.goto((out / "index.html").as_uri())
        assert page.locator("#models tbody tr:visible").count() == 2
        page.fill("#f-name", "chu")
        assert page.locator("#models tbody tr:visible").count() == 1
        page.fill("#f-name", "")
        page.select_option("#f-stage", "production")
        assert page.locator("#models tbody tr:visible").all_inner_texts()[0].startswith("churn")
        assert page.inner_text("#f-count") == "1 of 2 models"

        # The model page: one point per version on each chart, the gate drawn.
        page.goto((out / "models" / "churn" / "index.html").as_uri())
        points = page.eval_on_selector_all(
            'svg.chart[data-metric="accuracy"] circle.point', "els => els.map(e => e.dataset.version)"
        )
        assert points == ["1.0.0", "1.1.0", "1.2.0"]
        assert page.locator('svg.chart[data-metric="accuracy"] line.gate').count() == 1
        # Choose two versions: both versions' metrics and the deltas.
        page.select_option("#cmp-a", "1.0.0")
        page.select_option("#cmp-b", "1.2.0")
        rows = page.eval_on_selector_all(
            "#cmp-body tr.metric-row",
            "rs => rs.map(r => Array.from(r.cells).map(c => c.textContent))",
        )
        table = {r[0]: r[1:] for r in rows}
        assert table["accuracy"] == ["0.94", "0.97", "+0.03"]
        assert table["fairness.demographic_parity_gap"] == ["0.03", "0.01", "-0.02"]
        assert page.inner_text("#cmp-a-label") == "1.0.0" and page.inner_text("#cmp-b-label") == "1.2.0"
        assert "source commit" in page.inner_text("#cmp-body")
        shot = artifacts / "model-page.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000

        # The hostile card shows as text; its markup never ran nor loaded anything.
        page.goto((out / "models" / "evil" / "v1.0.0.html").as_uri())
        assert "<script>window.pwned=1</script>" in page.inner_text("main")
        assert page.evaluate("window.pwned") is None and outside == [] and errors == []
        browser.close()
    raw = (out / "models" / "evil" / "v1.0.0.html").read_text()
    assert "<script>window.pwned" not in raw and "<img src=https" not in raw


def test_rebuild_keeps_the_pages_of_unchanged_models(site):
    reg, out = site
    kept = out / "models" / "evil" / "v1.0.0.html"
    stamp = kept.stat().st_mtime_ns
    train(reg, "churn", BEST)
    proc = gitreg(reg.store.workdir, "site", "-o", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    assert '"rebuilt": [\n    "churn"\n  ]' in proc.stdout and '"kept": 1' in proc.stdout
    assert kept.stat().st_mtime_ns == stamp
    assert (out / "models" / "churn" / "v1.3.0.html").is_file()
    assert 'href="models/churn/v1.3.0.html"' in (out / "index.html").read_text()


def test_ui_serves_on_localhost_and_shows_a_new_registration(site, tmp_path):
    reg, _ = site
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitreg", "ui", "--port", "0", "-o", str(tmp_path / "served")],
        cwd=reg.store.workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert "http://127.0.0.1:" in line, line + (proc.stderr.read() if proc.stderr else "")
        url = line.split()[4]
        first = urllib.request.urlopen(url, timeout=30).read().decode()
        assert "1.2.0" in first and "1.3.0" not in first
        train(reg, "churn", BEST)
        again = urllib.request.urlopen(url, timeout=30).read().decode()
        assert 'href="models/churn/v1.3.0.html"' in again
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_build_reports_progress_per_model_and_a_json_summary(site, tmp_path):
    reg, _ = site
    seen: list[tuple[int, int, str]] = []
    built = reg.build_site(
        tmp_path / "fresh", progress=lambda done, total, name: seen.append((done, total, name))
    )
    assert seen == [(0, 2, "churn"), (1, 2, "evil"), (2, 2, "")]
    assert built.models == 2 and built.rebuilt == ["churn", "evil"] and built.kept == 0
    assert built.pages == 3 + (3 + 1) + (1 + 1)  # index, audit, report; model and version pages
    again = reg.build_site(tmp_path / "fresh")
    assert again.rebuilt == [] and again.kept == 2


def test_a_hand_made_model_folder_with_a_forbidden_name_gets_no_page(site, tmp_path):
    """A pusher writes models/<odd name>/ straight into the registry tree: the site makes no
    folder from that name and links to nothing that is not there."""
    from registry_helpers import advance, commit

    reg, _ = site
    odd = "..Evil <b>"
    advance(reg, commit(reg, {f"models/{odd}/model.yaml": {"name": "x"}}))
    out = tmp_path / "odd-site"
    built = reg.build_site(out)
    assert built.models == 2 and not any(" " in p.name for p in (out / "models").iterdir())
    assert "Evil" not in (out / "index.html").read_text()


def test_a_terminal_sees_a_progress_bar_on_a_large_registry(tmp_path):
    """stderr on a real pseudo-terminal: the bar is drawn; in a pipe (CI logs) it is not."""
    root = Path(__file__).resolve().parent.parent
    repo = tmp_path / "registry"
    subprocess.run(
        [sys.executable, str(root / "benchmarks" / "make_registry.py"), "20", "2", str(repo)],
        check=True,
        capture_output=True,
    )
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitreg", "site", "-o", str(tmp_path / "site")],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    drawn = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    assert proc.wait(timeout=120) == 0
    assert b"models  [" in drawn and b"100%" in drawn
    piped = gitreg(repo, "site", "-o", str(tmp_path / "site"))
    assert piped.returncode == 0 and "models  [" not in piped.stderr
