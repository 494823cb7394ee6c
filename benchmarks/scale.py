"""What grows with a registry (issue 14): the floor beside the hot reads, push and sync against a
bare remote holding the whole registry with the server hook installed, the hook's own time, and
CI's check from a partial clone against a full clone.

Copies of a registry are hard links (git replaces files, never rewrites them in place), so a
fresh client or remote costs a directory walk, not a copy of the objects.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FLOOR = HERE / "floor.py"


def link_copy(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, symlinks=True, copy_function=os.link)
    return dest


def git(cwd: Path, *args: str, env: dict | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


def paired(run_once, a: list[str], b: list[str], cwd: Path, env: dict, rounds: int) -> dict:
    """A and B in turn (A B A B ...): each pair ran under the same load, so their ratio holds
    when the machine's speed drifts. Returns A's and B's timings and the median ratio."""
    run_once(a, cwd, env, 120), run_once(b, cwd, env, 120)  # warm the page cache
    pairs = [(run_once(a, cwd, env, 120), run_once(b, cwd, env, 120)) for _ in range(rounds)]
    ratios = [x["s"] / y["s"] for x, y in pairs]
    return {
        "a": _stats([x for x, _ in pairs]),
        "b": _stats([y for _, y in pairs]),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "out": pairs[-1][0]["out"][:200],
    }


def _stats(runs: list[dict]) -> dict:
    times = [r["s"] for r in runs]
    return {
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "n": len(times),
        "rss_mb": max(r["rss_mb"] for r in runs),
        "rc": runs[-1]["rc"],
        "timed_out": any(r["timed_out"] for r in runs),
        "out": runs[-1]["out"][:300],
        "err": runs[-1]["err"][-300:],
    }


def floors(run_once, gitreg: list[str], python: str, repo: Path, meta: dict, env: dict, rounds: int) -> dict:
    """`which` and `show NAME@VERSION` paired with the floor reading the same blob."""
    name, prod = meta["model"], meta["production"]
    blobs = {"which": f"models/{name}/stages.yaml", "show_version": f"models/{name}/versions/{prod}.yaml"}
    argv = {"which": ["which", name, "production"], "show_version": ["show", f"{name}@{prod}"]}
    return {
        key: paired(run_once, [*gitreg, *argv[key]], [python, str(FLOOR), blob], repo, env, rounds)
        for key, blob in blobs.items()
    }


def hook_seconds(trace: Path) -> float | None:
    """The pre-receive hook's own wall time, from a GIT_TRACE2_EVENT file of the push."""
    starts, took = {}, None
    for line in trace.read_text().splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("event") == "child_start" and ev.get("hook_name") == "pre-receive":
            starts[(ev.get("sid"), ev.get("child_id"))] = True
        elif ev.get("event") == "child_exit" and (ev.get("sid"), ev.get("child_id")) in starts:
            took = ev.get("t_rel")
    return took


def remote_ops(
    run_once, gitreg: list[str], repo: Path, meta: dict, env: dict, scratch: Path, rounds: int, card: Path
) -> dict:
    """push of one new registration (server hook installed) and sync of it, ROUNDS times, each
    round a registration of another model on the remote as it was."""
    work = Path(tempfile.mkdtemp(dir=scratch))
    remote = work / "remote.git"
    git(work, "clone", "-q", "--bare", "--local", str(repo), str(remote))
    done = run_once([*gitreg, "install-hooks", "--server"], remote, env, 120)
    if done["rc"] != 0:
        raise RuntimeError(f"install-hooks failed: {done['err']}")
    head = git(remote, "rev-parse", "refs/heads/gitreg")
    names = meta.get("names") or [meta["model"]]
    push, sync, hook = [], [], []
    try:
        for i in range(rounds):
            name = names[(i * 7919) % len(names)]
            client = link_copy(repo, work / f"client-{i}")
            git(client, "remote", "add", "origin", str(remote))
            reg = run_once(
                [
                    *gitreg, "register", name, "--card", str(card), "--rev", "main",
                    "--artifact", f"models/{name}.json", "--metrics", f"metrics/{name}.json", "--no-sign",
                ],
                client, env, 300,
            )  # fmt: skip
            if reg["rc"] != 0:
                raise RuntimeError(f"register failed: {reg['err']}")
            tag = json.loads(run_once([*gitreg, "show", name, "--json"], client, env, 120)["out"])[
                "versions"
            ][-1]["version"]
            mate = link_copy(repo, work / f"mate-{i}")
            git(mate, "remote", "add", "origin", str(remote))
            git(mate, "update-ref", "refs/gitreg/remotes/origin/gitreg", head)  # synced before
            trace = work / f"trace-{i}.json"
            pushed = run_once([*gitreg, "push"], client, {**env, "GIT_TRACE2_EVENT": str(trace)}, 300)
            push.append(pushed)
            hook.append(hook_seconds(trace) if trace.exists() else None)
            sync.append(run_once([*gitreg, "sync"], mate, env, 300))
            # The remote as it was, for the next round (git itself, behind the hook's back).
            git(remote, "update-ref", "refs/heads/gitreg", head)
            git(remote, "update-ref", "-d", f"refs/tags/{name}@v{tag}")
            shutil.rmtree(client, ignore_errors=True)
            shutil.rmtree(mate, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    hooks = [h for h in hook if h is not None]
    return {
        "push": _stats(push),
        "sync": _stats(sync),
        "hook": {"median": statistics.median(hooks), "min": min(hooks), "max": max(hooks), "n": len(hooks)}
        if hooks
        else None,
    }


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def partial_clone(run_once, gitreg: list[str], repo: Path, meta: dict, env: dict, scratch: Path) -> dict:
    """`check` of a one-model proposal from a fresh clone, as the reusable workflow makes it
    (its own shell steps, over file:// with protocol v2), against a plain full clone."""
    work = Path(tempfile.mkdtemp(dir=scratch))
    remote = work / "remote.git"
    name, staged = meta["model"], meta["staging"]
    proposal = f"gitreg-promote/{name}/v{staged}/production"
    try:
        git(work, "clone", "-q", "--bare", "--local", str(repo), str(remote))
        git(remote, "config", "uploadpack.allowFilter", "true")
        author = link_copy(repo, work / "author")
        done = run_once([*gitreg, "promote", f"{name}@{staged}", "production"], author, env, 300)
        if done["rc"] != 0:
            raise RuntimeError(f"promote failed: {done['err']}")
        git(author, "push", "-q", str(remote), f"{proposal}:{proposal}", f"{proposal}:refs/pull/1/head")
        base, head = git(author, "rev-parse", "gitreg"), git(author, "rev-parse", proposal)
        url = f"file://{remote}"
        genv = {
            **env,
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "protocol.version",
            "GIT_CONFIG_VALUE_0": "2",
        }
        # the full clone: every branch and tag, then the check
        full = work / "full"
        t_clone = run_once(["git", "clone", "-q", "--no-checkout", url, str(full)], work, genv, 1200)
        t_check = run_once([*gitreg, "check", "--base", base, "--head", head], full, genv, 300)
        # the workflow's own steps
        workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "gitreg-check.yml").read_text())
        [job] = workflow["jobs"].values()
        steps = {s.get("name", ""): s.get("run", "") for s in job["steps"]}
        clone_step = next(v for k, v in steps.items() if k.startswith("Clone what the check reads"))
        step_env = {
            **genv,
            "REPO_URL": url,
            "BASE_REF": "gitreg",
            "BASE_SHA": base,
            "PR_NUMBER": "1",
            "HEAD_SHA": head,
            "TOKEN": "benchmark",
            "PATH": os.path.dirname(gitreg[0]) + os.pathsep + env.get("PATH", ""),
        }
        job_dir = work / "job"
        job_dir.mkdir()
        p_clone = run_once(["bash", "-e", "-c", clone_step], job_dir, step_env, 1200)
        cloned = _du(job_dir / ".git" / "objects")
        p_check = run_once(["bash", "-e", "-c", steps["gitreg check"]], job_dir, step_env, 300)
        return {
            "full": {"clone": t_clone, "check": t_check, "bytes": _du(full / ".git" / "objects")},
            "partial": {
                "clone": p_clone,
                "check": p_check,
                "bytes": _du(job_dir / ".git" / "objects"),
                "bytes_clone": cloned,
            },
            "verdicts": [t_check["rc"], p_check["rc"]],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
