"""`gitreg demo`: a real sample project, end to end.

Builds a git + DVC project with a pure-Python pipeline (prepare -> train ->
evaluate), a local DVC remote, deterministic data; trains two versions and
registers both. Reports progress through a callback: the core never prints.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from gitreg.check.engine import CheckRefused
from gitreg.demo import project as files
from gitreg.errors import GitFailed, UsageError
from gitreg.lineage.extra import require_dvc
from gitreg.ops.read import ModelInfo
from gitreg.registry import Registry
from gitreg.store.gitstore import git_in, init_repo

# The demo's policy, in place from `init` (a policy change must land alone): production takes
# versions from staging that meet its accuracy and fairness gates; v1.1.0 does, v1.0.0 does not.
DEMO_POLICY = """\
version: 1
stages:
  staging: {}
  production:
    from: [staging]
    max_versions: 1
    card: production
    gates:
      - {metric: accuracy, min: 0.9}
      - {metric: fairness.demographic_parity_gap, max: 0.06}
  archived:
    from: [staging, production]
signing:
  registration: optional
lineage:
  dvc: required
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # The stages run 'python': make it this interpreter, which has PyYAML.
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env.setdefault("DVC_NO_ANALYTICS", "1")
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    return env


def dvc(project: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=project, env=_env(), capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise GitFailed(f"dvc {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}".rstrip())
    return proc.stdout


def build_project(root: Path) -> Path:
    """A git + DVC project at ROOT/project with its DVC remote at ROOT/dvc-remote."""
    project = root / "project"
    project.mkdir(parents=True)
    init_repo(project)
    try:
        git_in(project, "var", "GIT_COMMITTER_IDENT")
    except GitFailed:
        git_in(project, "config", "user.name", "Demo Data Scientist")
        git_in(project, "config", "user.email", "ds@example.com")
    (project / "src").mkdir()
    (project / "data").mkdir()
    (project / "cards").mkdir()
    for path, text in {
        "src/prepare.py": files.PREPARE,
        "src/train.py": files.TRAIN,
        "src/evaluate.py": files.EVALUATE,
        "dvc.yaml": files.DVC_YAML,
        "params.yaml": files.PARAMS.format(features=files.V1_FEATURES),
        "cards/churn.yaml": files.CARD,
        ".gitignore": files.GITIGNORE,
        "data/raw.csv": files.raw_data(),
        ".python-version": f"{sys.version_info.major}.{sys.version_info.minor}\n",
    }.items():
        (project / path).write_text(text)
    dvc(project, "init", "-q")
    dvc(project, "remote", "add", "-d", "local", "../dvc-remote")
    dvc(project, "add", "-q", "data/raw.csv")
    return project


def train(project: Path, message: str, features: str | None = None) -> str:
    """Run the pipeline, push its outputs to the DVC remote, commit; returns the commit id."""
    if features is not None:
        (project / "params.yaml").write_text(files.PARAMS.format(features=features))
    dvc(project, "repro", "-q")
    dvc(project, "push", "-q")
    git_in(project, "add", "-A")
    git_in(project, "commit", "-q", "-m", message)
    return git_in(project, "rev-parse", "HEAD").strip()


def run(directory: Path, say: Callable[[str], None]) -> Registry:
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise UsageError(
            f"{directory} exists and is not empty.", hint="Give a new directory: gitreg demo DIR"
        )
    require_dvc("gitreg demo (a real DVC project)")
    say(f"Building a sample ML project in {directory}/project (git + DVC, remote {directory}/dvc-remote)")
    project = build_project(directory)
    say("Training v1 (3 features): dvc repro, dvc push, git commit")
    train(project, "Train churn model on tenure, spend and support calls")
    reg = Registry.open(project)
    policy_file = directory / "registry.yaml"
    policy_file.write_text(DEMO_POLICY)
    reg.init(policy_file)
    say(
        "Created the registry branch 'gitreg' with a policy: production takes versions from "
        "staging with accuracy >= 0.9 and fairness.demographic_parity_gap <= 0.06"
    )
    first = reg.register("churn", project / "cards" / "churn.yaml")
    say(f"Registered {first.tag}: accuracy {_metric(first.card, 'accuracy')}")
    say("Training v2 (adds the usage_drop feature)")
    train(project, "Add usage_drop to the churn model's features", features=files.V2_FEATURES)
    second = reg.register("churn", project / "cards" / "churn.yaml")
    say(f"Registered {second.tag}: accuracy {_metric(second.card, 'accuracy')}")
    promotions(reg, say)
    say("")
    say(f"The registry (cd {project} && gitreg list):")
    for m in reg.list():
        say(f"  {m.name}: {m.versions} versions, latest {m.latest}")
    info = reg.show("churn")
    for v in info.versions if isinstance(info, ModelInfo) else []:
        say(f"    churn@{v.version}  stages: {', '.join(v.stages) or '-'}")
    reproduction(reg, "churn@production", say)
    say("")
    say(f"Next, in {project}:")
    for line in (
        "gitreg show churn@production       the card, with its provenance",
        "gitreg history churn               registrations and promotions",
        "gitreg lineage churn@production    code, data, params, metrics",
        "gitreg diff churn@1.0.0 churn@production",
        "gitreg verify                      tags and cards still bound",
        "git log --oneline gitreg           the registry's audit log",
    ):
        say(f"  {line}")
    return reg


def promotions(reg: Registry, say: Callable[[str], None]) -> None:
    """Promote through proposals and the check, and show a promotion the check refuses."""
    say("")
    for ref, stage in (("churn@1.0.0", "staging"), ("churn@1.1.0", "staging"), ("churn@1.1.0", "production")):
        proposal = reg.promote(ref, stage)
        result = reg.merge(proposal.branch)
        moves = "; ".join(proposal.moves)
        say(
            f"Promoted {ref} to {stage}: proposal {proposal.branch} passed the check, merged "
            f"({result.commit[:10]}): {moves}"
        )
    try:
        reg.promote("churn@1.0.0", "production")
    except CheckRefused as exc:
        say("Proposing churn@1.0.0 for production: the check refuses it, nothing is written:")
        for f in exc.report.findings:
            say(f"  [{f.rule}] {f.file}: {f.message.splitlines()[0]}")
    else:
        raise GitFailed("the demo's policy let churn@1.0.0 into production; it must not.")


def reproduction(reg: Registry, ref: str, say: Callable[[str], None]) -> None:
    """Re-run REF's pipeline at its source commit (a temporary worktree) and show PASS."""
    say("")
    say(
        f"Reproducing {ref} (gitreg reproduce): dvc repro -f at its source commit, in a temporary "
        "worktree sharing the DVC cache and remote"
    )
    stage_path = {"PATH": _env()["PATH"]}  # the stages' `python` is this interpreter
    result = reg.reproduce(
        ref, progress=lambda line: None if line.startswith(" ") else say(f"  {line}"), env=stage_path
    )
    for out in result.outs:
        say(f"  {out.status:<5} {out.path}  md5 {out.found}")
    if not result.ok:
        raise GitFailed(f"the demo's pipeline did not reproduce: {[o.path for o in result.differing]}")
    say(f"PASS: {result.name}@{result.version} rebuilt at {result.commit[:10]}: every out matches its card")


def _metric(card: dict, name: str):
    from gitreg.model.card import metric_values

    return metric_values(card).get(name)
