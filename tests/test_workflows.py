"""CI files (issue 3, acceptance 7): every workflow in .github/ and the GitLab template pass
check-jsonschema against GitHub's / GitLab's schema and zizmor (offline) with no high-severity
finding, and so do the files `gitreg init --ci github|gitlab` writes. Both tools are the real
ones from PyPI (the test extra), run without network.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml
from helpers import git, gitreg, snapshot

from gitreg.ops import ci

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
GITLAB_FILES = sorted((ROOT / "gitlab").glob("*.yml"))


def check_jsonschema(schema: str, *files: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, files)],
        capture_output=True,
        text=True,
    )


def zizmor(*paths: Path) -> list[dict]:
    """zizmor's findings (JSON), offline; the tool must run cleanly."""
    exe = Path(sysconfig.get_path("scripts")) / "zizmor"
    proc = subprocess.run(
        [str(exe), "--offline", "--format", "json", *map(str, paths)], capture_output=True, text=True
    )
    assert proc.returncode in (0, 10, 11, 12, 13, 14), proc.stderr  # 1x: findings of severity x
    return json.loads(proc.stdout or "[]")


def high(findings: list[dict]) -> list[str]:
    return [f"{f['ident']}: {f['desc']}" for f in findings if f["determinations"]["severity"] == "High"]


def test_the_repository_has_the_workflows_it_promises():
    names = {p.name for p in WORKFLOWS}
    assert {"ci.yml", "gitreg-check.yml", "example-deploy.yml"} <= names
    assert [p.name for p in GITLAB_FILES] == [
        "example-deploy.gitlab-ci.yml",
        "gitreg-check.gitlab-ci.yml",
        "gitreg-pages.gitlab-ci.yml",
    ]


def test_every_workflow_matches_githubs_schema():
    proc = check_jsonschema("vendor.github-workflows", *WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_gitlab_template_matches_gitlabs_schema():
    proc = check_jsonschema("vendor.gitlab-ci", *GITLAB_FILES)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_broken_workflow_is_caught_by_the_same_tools(tmp_path):
    """The validators are not vacuous: they reject a workflow with a typo and flag the classic
    pull_request_target + checkout of the head."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: [pull_request_target]\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v4\n        with:\n"
        "          ref: ${{ github.event.pull_request.head.sha }}\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    assert check_jsonschema("vendor.github-workflows", bad).returncode == 0
    typo = tmp_path / "typo.yml"
    typo.write_text(bad.read_text().replace("runs-on", "run-on"))
    assert check_jsonschema("vendor.github-workflows", typo).returncode == 1
    assert high(zizmor(bad))


def test_zizmor_finds_nothing_high_in_the_repositorys_workflows():
    findings = zizmor(ROOT / ".github" / "workflows")
    assert high(findings) == []


def _steps(workflow: dict) -> list[dict]:
    return [s for job in workflow["jobs"].values() for s in job.get("steps", [])]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_credentials_dropped_permissions_least(path):
    workflow = yaml.safe_load(path.read_text())
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        if name == "pages":  # GitHub Pages' deploy: exactly what deploy-pages needs, no contents
            assert job["permissions"] == {"pages": "write", "id-token": "write"}
            assert [s["uses"].split("@")[0] for s in job["steps"]] == ["actions/deploy-pages"]
            continue
        if job["permissions"] == {"contents": "write"}:
            # Only the deploy example's mirror of GTO's tags writes, and all it runs is sync-tags.
            runs = [s["run"] for s in job["steps"] if "run" in s and "pip install" not in s["run"]]
            assert runs and all(r.rstrip().endswith("gitreg sync-tags --push") for r in runs), runs
            continue
        assert job["permissions"] == {"contents": "read"}
    for step in _steps(workflow):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False
        assert "${{" not in step.get("run", ""), "expressions reach run: only through env"


def test_the_reusable_check_judges_the_base_and_reads_the_head_as_data():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "gitreg-check.yml").read_text())
    assert "workflow_call" in workflow[True]  # YAML 1.1 reads the key 'on' as True
    steps = _steps(workflow)
    assert not [s for s in steps if "checkout" in s.get("uses", "")]  # nothing checked out
    runs = "\n".join(s.get("run", "") for s in steps)
    # One branch, no blobs, no tags: test_partial_clone.py runs these steps for real.
    assert "clone --quiet --filter=blob:none --no-checkout" in runs
    assert '--single-branch --no-tags --branch "$BASE_REF"' in runs
    assert "fetch --quiet --no-tags origin" in runs
    assert 'gitreg check --base "$BASE_SHA" --head "$HEAD_SHA" --format github' in runs
    assert "pip install ." not in runs and "pip install -e" not in runs  # never the head's code


def test_the_deploy_example_reads_gitreg_events():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "example-deploy.yml").read_text())
    assert workflow[True]["push"]["branches"] == ["gitreg"]
    runs = "\n".join(s.get("run", "") for s in _steps(workflow))
    assert 'gitreg events "$BEFORE" "$AFTER" --json' in runs


def test_the_deploy_example_publishes_the_site_on_github_pages():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "example-deploy.yml").read_text())
    site, pages = workflow["jobs"]["site"], workflow["jobs"]["pages"]
    runs = "\n".join(s.get("run", "") for s in site["steps"])
    assert 'gitreg site -o "$RUNNER_TEMP/site"' in runs
    assert any(s.get("uses", "").startswith("actions/upload-pages-artifact@") for s in site["steps"])
    assert pages["needs"] == "site" and pages["environment"]["name"] == "github-pages"


def test_the_gitlab_pages_job_builds_the_site_into_public():
    job = yaml.safe_load((ROOT / "gitlab" / "gitreg-pages.gitlab-ci.yml").read_text())["pages"]
    assert job["rules"] == [{"if": '$CI_COMMIT_BRANCH == "gitreg"'}]
    assert "gitreg site -o public" in job["script"] and job["artifacts"]["paths"] == ["public"]


def test_the_gitlab_deploy_example_reads_gitreg_events_and_mirrors_gtos_tags():
    job = yaml.safe_load((ROOT / "gitlab" / "example-deploy.gitlab-ci.yml").read_text())["gitreg-deploy"]
    script = "\n".join(job["script"])
    assert 'gitreg events "$CI_COMMIT_BEFORE_SHA" "$CI_COMMIT_SHA" --json' in script
    assert "gitreg sync-tags --push" in script
    assert '$CI_COMMIT_BRANCH == "gitreg"' in job["rules"][0]["if"]


# Every way the repository tells people or CI to install gitreg: the name `gitreg` on the
# package index is an unrelated package (0.0.1, 2022).
_INSTALLS = re.compile(r"pip install\s+(?:-q\s+)?(\S+)")


def _install_specs(text: str) -> list[str]:
    specs = [m.strip("\"'") for m in _INSTALLS.findall(text)]
    specs += re.findall(r'GITREG_REQUIREMENT: "([^"]*)"', text)
    specs += re.findall(r"default: (gitreg\S*)", text)
    return [s for s in specs if not s.startswith("$") and s not in (".", "-e")]


@pytest.mark.parametrize(
    "path",
    [*WORKFLOWS, *GITLAB_FILES, ROOT / "hooks" / "pre-push", ROOT / "hooks" / "pre-receive"],
    ids=lambda p: p.name,
)
def test_every_install_names_this_project_not_the_other_gitreg(path):
    specs = [s for s in _install_specs(path.read_text()) if not s.startswith(("'.[", ".["))]
    if path.name == "ci.yml":
        assert specs == [], specs  # the project's own CI installs its checkout
        return
    assert specs, f"{path.name} installs nothing?"
    for spec in specs:
        assert spec.startswith(("gitreg-ml", "git+")), f"{path.name}: {spec}"
    assert "pip install gitreg)" not in path.read_text() and "pip install gitreg\n" not in path.read_text()


def test_the_hook_messages_name_the_distribution():
    from gitreg.ops import hooks

    text = Path(hooks.__file__).read_text()
    assert "pip install gitreg-ml" in text and "pip install gitreg)" not in text


def test_the_shipped_gitlab_template_is_what_init_writes():
    shipped = (ROOT / "gitlab" / "gitreg-check.gitlab-ci.yml").read_text()
    pin = re.compile(r'GITREG_REQUIREMENT: "[^"]*"')
    assert pin.sub("", shipped) == pin.sub("", ci.render(ci.GITLAB, "gitreg"))


# --- gitreg init --ci ----------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "README.md").write_text("x\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "start")
    git(repo, "config", "gitreg.branch", "models-registry")
    return repo


def test_init_ci_github_writes_a_valid_audited_workflow(project):
    proc = gitreg(project, "init", "--ci", "github")
    assert proc.returncode == 0, proc.stderr
    assert ".github/workflows/gitreg-check.yml" in proc.stdout
    written = project / ".github" / "workflows" / "gitreg-check.yml"
    assert check_jsonschema("vendor.github-workflows", written).returncode == 0
    assert high(zizmor(project / ".github" / "workflows")) == []
    workflow = yaml.safe_load(written.read_text())
    assert workflow[True]["pull_request"]["branches"] == ["models-registry"]
    assert workflow["permissions"] == {}
    runs = "\n".join(s.get("run", "") for s in _steps(workflow))
    assert f'pip install "{ci.requirement()}"' in runs and "--format github" in runs
    # The user commits it; gitreg wrote nothing else to the work tree.
    assert git(project, "status", "--porcelain") == "?? .github/"


def test_init_ci_gitlab_writes_a_valid_pipeline(project):
    proc = gitreg(project, "init", "--ci", "gitlab", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ci"]["files"] == [ci.GITLAB_PATH, ci.GITLAB_ROOT]
    files = [project / ci.GITLAB_PATH, project / ci.GITLAB_ROOT]
    result = check_jsonschema("vendor.gitlab-ci", *files)
    assert result.returncode == 0, result.stdout
    job = yaml.safe_load(files[0].read_text())["gitreg-check"]
    assert '== "models-registry"' in job["rules"][0]["if"]
    assert any("gitreg check --base" in line for line in job["script"])
    assert yaml.safe_load(files[1].read_text()) == {"include": [{"local": ci.GITLAB_PATH}]}


def test_init_ci_gitlab_leaves_an_existing_gitlab_ci_alone(project):
    (project / ".gitlab-ci.yml").write_text("stages: [build]\n")
    proc = gitreg(project, "init", "--ci", "gitlab")
    assert proc.returncode == 0, proc.stderr
    assert (project / ".gitlab-ci.yml").read_text() == "stages: [build]\n"
    assert f"- local: {ci.GITLAB_PATH}" in proc.stdout
    assert (project / ci.GITLAB_PATH).exists()


def test_init_ci_refuses_to_overwrite_and_changes_nothing(project):
    target = project / ".github" / "workflows" / "gitreg-check.yml"
    target.parent.mkdir(parents=True)
    target.write_text("mine\n")
    before = snapshot(project)
    proc = gitreg(project, "init", "--ci", "github")
    assert proc.returncode == 2
    assert "exists already" in proc.stderr and "does not overwrite" in proc.stderr
    assert target.read_text() == "mine\n"
    assert snapshot(project) == before  # not even the registry branch was created


def test_init_ci_refuses_an_unknown_kind(project):
    proc = gitreg(project, "init", "--ci", "jenkins")
    assert proc.returncode == 2 and "github, gitlab" in proc.stderr


def test_the_pre_commit_hook_definition():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = hooks
    assert hook["id"] == "gitreg-check" and hook["entry"] == "gitreg hook pre-push"
    assert hook["stages"] == ["pre-push"] and hook["pass_filenames"] is False
    assert hook["language"] == "python"


def test_init_ci_installs_this_project_by_a_configurable_spec(project):
    assert ci.requirement().startswith("gitreg-ml==")
    spec = "git+https://example.org/team/gitreg@v0.1.0"
    proc = gitreg(project, "init", "--ci", "gitlab", "--install", spec)
    assert proc.returncode == 0, proc.stderr
    job = yaml.safe_load((project / ci.GITLAB_PATH).read_text())["gitreg-check"]
    assert job["variables"]["GITREG_REQUIREMENT"] == spec
    assert check_jsonschema("vendor.gitlab-ci", project / ci.GITLAB_PATH).returncode == 0


@pytest.mark.parametrize(
    "spec", ["gitreg==0.1.0", "gitreg", "GitReg>=0.0.1", 'gitreg-ml"; curl x', "gitreg-ml==1 $(id)"]
)
def test_init_ci_refuses_a_spec_that_installs_the_other_package_or_breaks_out(project, spec):
    before = snapshot(project)
    proc = gitreg(project, "init", "--ci", "github", "--install", spec)
    assert proc.returncode == 2, proc.stdout
    assert snapshot(project) == before  # nothing written, not even the registry branch
