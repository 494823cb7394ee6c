#!/usr/bin/env python3
"""gitreg against GTO (and MLflow's SQLite registry, when given) on synthetic registries.

    python benchmarks/run.py [--sizes 20x5,200x25] [--rounds 5] [--out FILE]
                             [--mlflow-python PATH] [--gto-budget SECONDS]

For each size it builds (or reuses from the cache) a registry with
make_registry.py, then times whole-process commands of gitreg and GTO side by
side on the same repository (median of several runs, min-max spread, peak
RSS), gitreg's Python API in process, and MLflow's registry in process when
an interpreter with MLflow is given (--mlflow-python or
GITREG_BENCH_MLFLOW_PYTHON), and MLflow's client through gitreg's plugin when
gitreg's own interpreter has the `mlflow` extra. Writes commands that write on a fresh copy of the
registry for every run. Prints a Markdown table and writes it to --out.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import make_registry  # noqa: E402
import report  # noqa: E402
import scale  # noqa: E402
from synthetic import DOMAINS  # noqa: E402

BIN = Path(sys.executable).parent
CARD = """\
overview: {overview}
owners: [{{name: Data Science, contact: ds@example.com}}]
license: proprietary
intended_use:
  primary_uses: [Benchmark registration]
  users: [Benchmark users]
  out_of_scope: [Anything real]
considerations:
  limitations: [Synthetic data]
  ethical_risks:
    - {{name: None known, mitigation: Not deployed}}
"""


def tool(name: str) -> list[str] | None:
    exe = BIN / name
    if exe.exists():
        return [str(exe)]
    found = shutil.which(name)
    return [found] if found else None


# Commands are started by a small separate interpreter: a child's peak RSS counts the
# memory of whoever forks it, and this process holds the registry builder.
RUNNER = """
import json, os, subprocess, sys, threading, time
cmd, cwd, out, err, timeout = json.loads(sys.argv[1])
with open(out, "wb") as o, open(err, "wb") as e:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=o, stderr=e, stdin=subprocess.DEVNULL)
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - start
    timer.cancel()
print(json.dumps([took, usage.ru_maxrss, os.waitstatus_to_exitcode(status)]))
"""


def run_once(cmd: list[str], cwd: Path, env: dict, timeout: float) -> dict:
    """Wall time, peak RSS and exit status of one whole process."""
    with tempfile.TemporaryDirectory() as tmp:
        out, err = Path(tmp, "out"), Path(tmp, "err")
        spec = json.dumps([cmd, str(cwd), str(out), str(err), timeout])
        proc = subprocess.run(
            [sys.executable, "-S", "-c", RUNNER, spec],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout + 60,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"benchmark runner failed: {proc.stderr}")
        took, rss_kb, rc = json.loads(proc.stdout)
        return {
            "s": took,
            "rss_mb": rss_kb / 1024,
            "rc": rc,
            "timed_out": took >= timeout,
            "out": out.read_text(errors="replace"),
            "err": err.read_text(errors="replace")[-2000:],
        }


def measure(
    cmd, cwd: Path, env: dict, *, rounds: int, setup=None, timeout: float, slow: float = 10.0
) -> dict:
    """Run CMD up to ROUNDS times (once only when a run takes SLOW seconds or more).

    SETUP, when given, is called before each run and returns (directory, discard it after)."""
    runs = []
    for _ in range(rounds):
        where, discard = setup() if setup else (cwd, False)
        try:
            result = run_once(cmd, where, env, timeout)
        finally:
            if discard:
                shutil.rmtree(where, ignore_errors=True)
        runs.append(result)
        if result["rc"] != 0 or result["timed_out"] or result["s"] >= slow:
            break
    times = [r["s"] for r in runs]
    last = runs[-1]
    return {
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "n": len(times),
        "rss_mb": max(r["rss_mb"] for r in runs),
        "rc": last["rc"],
        "timed_out": last["timed_out"],
        "out": last["out"][:500],
        "err": last["err"][-500:],
    }


def cache_key() -> str:
    from gitreg.model.policy import DEFAULT_POLICY
    from gitreg.store import layout

    h = hashlib.sha256()
    for name in ("make_registry.py", "objects.py", "fastyaml.py", "synthetic.py"):
        h.update((HERE / name).read_bytes())
    h.update(DEFAULT_POLICY.encode() + str(layout.FORMAT_VERSION).encode())
    return h.hexdigest()[:16]


def registry_for(m: int, v: int, cache: Path, rebuild: bool) -> tuple[Path, dict]:
    path = cache / f"{m}x{v}"
    meta_file = cache / f"{m}x{v}.json"
    key = cache_key()
    if not rebuild and meta_file.exists() and path.exists():
        meta = json.loads(meta_file.read_text())
        if meta.get("key") == key:
            return path, meta
    started = time.perf_counter()
    info = make_registry.build(m, v, path, say=lambda s: print(f"  {s}", file=sys.stderr))
    name = info["model"]
    stages = info["stages"][name]
    meta = {
        "key": key,
        "model": name,
        "production": stages["production"][-1],
        "staging": (stages.get("staging") or [None])[-1],
        "latest": info["latest"],
        "tags": info["tags"],
        "build_s": round(time.perf_counter() - started, 1),
    }
    meta_file.write_text(json.dumps(meta))
    return path, meta


def copier(src: Path, scratch: Path, prepare=None):
    def setup() -> tuple[Path, bool]:
        dest = Path(tempfile.mkdtemp(dir=scratch))
        shutil.rmtree(dest)
        scale.link_copy(src, dest)  # hard links: git replaces files, never edits them in place
        if prepare:
            prepare(dest)
        return dest, True

    return setup


def cold(repo: Path):
    """gitreg's disposable cache removed before each run: the cost of a first read."""

    def setup() -> tuple[Path, bool]:
        from gitreg.store.cache import directory

        shutil.rmtree(directory(repo / ".git"), ignore_errors=True)
        return repo, False

    return setup


def bench_size(
    m: int, v: int, args, env: dict, gitreg: list[str], gto: list[str] | None, scratch: Path
) -> dict:
    print(f"== {m}x{v}", file=sys.stderr)
    repo, meta = registry_for(m, v, Path(args.cache), args.rebuild)
    name, prod, staged = meta["model"], meta["production"], meta["staging"]
    card = scratch / "card.yaml"
    card.write_text(CARD.format(overview=f"Benchmark registration of {name}."))
    has = {c: run_once([*gitreg, c, "--help"], repo, env, 60)["rc"] == 0 for c in ("promote", "check")}
    ops = [
        ("help", "`--help`", [*gitreg, "--help"], gto and [*gto, "--help"], None),
        (
            "which",
            "production version (`which NAME production` / `gto show NAME#production --ref`)",
            [*gitreg, "which", name, "production"],
            gto and [*gto, "show", f"{name}#production", "--ref"],
            None,
        ),
        (
            "show_version",
            "one version's card (`show NAME@VERSION` / `gto show NAME@vVERSION`)",
            [*gitreg, "show", f"{name}@{prod}"],
            gto and [*gto, "show", f"{name}@v{prod}"],
            None,
        ),
        (
            "show",
            "one model (`show NAME` / `gto show NAME`)",
            [*gitreg, "show", name],
            gto and [*gto, "show", name],
            None,
        ),
        (
            "list",
            "list everything (`list` / `gto show`), no cache",
            [*gitreg, "list"],
            gto and [*gto, "show"],
            "cold",
        ),
        (
            "list_cached",
            "list everything again (summaries cached by subtree id)",
            [*gitreg, "list"],
            None,
            None,
        ),
        (
            "history",
            "history (`history NAME` / `gto history NAME`)",
            [*gitreg, "history", name],
            gto and [*gto, "history", name],
            None,
        ),
        (
            "register",
            "register one version (`register` / `gto register`)",
            [
                *gitreg,
                "register",
                name,
                "--card",
                str(card),
                "--rev",
                "main",
                "--artifact",
                f"models/{name}.json",
                "--metrics",
                f"metrics/{name}.json",
                "--no-sign",
            ],
            gto and [*gto, "register", name, "main"],
            "write",
        ),
    ]
    if has["promote"] and staged:
        ops.append(
            (
                "promote",
                "propose one promotion (`promote` / `gto assign`)",
                [*gitreg, "promote", f"{name}@{staged}", "production"],
                gto and [*gto, "assign", name, f"{name}@v{staged}", "--stage", "production"],
                "write",
            )
        )
    results: dict = {"size": f"{m}x{v}", "models": m, "versions": v, "meta": meta, "ops": {}, "notes": []}
    if not has["promote"]:
        results["notes"].append("`gitreg promote` does not exist yet: not timed.")
    gto_spent = 0.0
    for key, label, mine, theirs, kind in ops:
        setup = {"write": copier(repo, scratch), "cold": cold(repo)}.get(kind)
        row = {"label": label}
        row["gitreg"] = measure(mine, repo, env, rounds=args.rounds, setup=setup, timeout=120)
        if theirs and m * v > args.gto_max_versions:
            theirs = None
        if theirs and gto_spent < args.gto_budget:
            row["gto"] = measure(
                theirs, repo, env, rounds=args.gto_rounds, setup=setup, timeout=args.gto_timeout
            )
            gto_spent += row["gto"]["median"] * row["gto"]["n"]
        elif theirs:
            row["gto_skipped"] = f"GTO budget of {args.gto_budget:.0f} s spent"
        results["ops"][key] = row
        print(
            f"  {key}: gitreg {row['gitreg']['median']:.3f}s"
            + (f", gto {row['gto']['median']:.2f}s" if "gto" in row else ""),
            file=sys.stderr,
        )
    check_copy = None
    if has["check"] and has["promote"] and staged:

        def propose(dest: Path) -> None:
            done = run_once([*gitreg, "promote", f"{name}@{staged}", "production"], dest, env, 120)
            if done["rc"] != 0:
                raise RuntimeError(f"promote failed: {done['err']}")

        check_copy = copier(repo, scratch, propose)()[0]
        branch = f"gitreg-promote/{name}/v{staged}/production"
        row = {"label": "check a one-model proposal (`check --base gitreg --head PROPOSAL`)"}
        row["gitreg"] = measure(
            [*gitreg, "check", "--base", "gitreg", "--head", branch],
            check_copy,
            env,
            rounds=args.rounds,
            timeout=120,
        )
        results["ops"]["check"] = row
    elif not has["check"]:
        results["notes"].append("`gitreg check` does not exist yet: not timed.")
    # The expected answers, so a fast wrong answer cannot pass for a result.
    which = results["ops"]["which"]
    if which["gitreg"]["out"].strip() != prod:
        results["notes"].append(f"gitreg which printed {which['gitreg']['out']!r}, expected {prod}.")
    if "gto" in which and f"{name}@v{prod}" not in which["gto"]["out"]:
        results["notes"].append(
            f"gto printed {which['gto']['out'].strip()!r} for production, expected {name}@v{prod}."
        )
    inproc = [sys.executable, str(HERE / "inprocess.py"), str(check_copy or repo), name]
    if check_copy:
        inproc += ["--proposal", f"gitreg-promote/{name}/v{staged}/production"]
    done = run_once(inproc, repo, env, 600)
    results["inprocess"] = json.loads(done["out"]) if done["rc"] == 0 else {"error": done["err"]}
    if importlib.util.find_spec("mlflow") is not None:  # gitreg's mlflow extra: time the plugin
        plugin = [sys.executable, str(HERE / "mlflow_plugin_bench.py"), str(repo), name]
        done = run_once(plugin, repo, env, 600)
        results["mlflow_plugin"] = json.loads(done["out"]) if done["rc"] == 0 else {"error": done["err"]}
    if args.mlflow_python:
        db = Path(args.cache) / f"mlflow-{m}x{v}.db"
        done = run_once(
            [args.mlflow_python, str(HERE / "mlflow_bench.py"), str(m), str(v), str(db)], scratch, env, 1200
        )
        results["mlflow"] = json.loads(done["out"]) if done["rc"] == 0 else {"error": done["err"]}
        if done["rc"] == 0:
            probe = (
                f"from mlflow import MlflowClient; u='sqlite:///{db}'; c=MlflowClient(u, u); "
                f"print(c.get_model_version_by_alias('{make_registry_name(m)}', 'production')"
                ".version)"
            )
            results["mlflow"]["which_process"] = measure(
                [args.mlflow_python, "-c", probe], scratch, env, rounds=args.rounds, timeout=120
            )
    if check_copy:
        shutil.rmtree(check_copy, ignore_errors=True)
    results["profile"] = import_profile(
        ["which", name, "production"], repo, env, results["ops"]["which"]["gitreg"]["median"]
    )
    print("  floor, push, sync", file=sys.stderr)
    results["floor"] = scale.floors(run_once, gitreg, sys.executable, repo, meta, env, args.rounds)
    names = [f"{DOMAINS[k % len(DOMAINS)][0]}-{k:04d}" for k in range(m)]
    results["remote"] = scale.remote_ops(
        run_once, gitreg, repo, {**meta, "names": names}, env, scratch, args.rounds, card
    )
    return results


GROUPS = {
    "typer": "Typer",
    "pydantic": "pydantic (Typer 0.26 coerces every parameter with it)",
    "pydantic_core": "pydantic (Typer 0.26 coerces every parameter with it)",
    "typing_inspection": "pydantic (Typer 0.26 coerces every parameter with it)",
    "annotated_types": "pydantic (Typer 0.26 coerces every parameter with it)",
    "pygit2": "pygit2 (libgit2)",
    "_cffi_backend": "pygit2 (libgit2)",
    "yaml": "PyYAML (libyaml)",
    "_yaml": "PyYAML (libyaml)",
    "gitreg": "gitreg's own modules",
    "jsonschema": "jsonschema",
    "referencing": "jsonschema",
    "rpds": "jsonschema",
    "__editable___gitreg_0_1_0_finder": "editable-install hook (absent from a normal install)",
}


def import_profile(cmd: list[str], cwd: Path, env: dict, total_s: float) -> list[tuple[str, float]]:
    """Where one command's time goes: import self-times summed per package, and the rest."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gitreg", *cmd],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    groups: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = (part.strip() for part in line[len("import time:") :].split("|"))
        group = GROUPS.get(name.split(".")[0], "Python's standard library")
        groups[group] = groups.get(group, 0.0) + int(self_us) / 1e6
    start = run_once([sys.executable, "-c", "pass"], cwd, env, 60)["s"]
    found = sorted(groups.items(), key=lambda kv: -kv[1])
    found.insert(0, ("interpreter start (python -c pass)", start))
    found.append(
        ("the rest: the work itself, Typer's parsing, exit", max(0.0, total_s - start - sum(groups.values())))
    )
    return found


def make_registry_name(m: int) -> str:
    return f"{['churn', 'fraud', 'ltv', 'demand', 'ranker'][(m // 2) % 5]}-{m // 2:04d}"


def machine() -> dict:
    import pygit2

    def version(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "?"

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gto = tool("gto")
    kernel = ".".join(platform.release().split(".")[:2])
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "os": f"{platform.system()} {kernel}",
        "python": platform.python_version(),
        "git": version(["git", "--version"]),
        "pygit2": f"{pygit2.__version__} / libgit2 {pygit2.LIBGIT2_VERSION}",
        "gto": version([*gto, "--version"]).split()[-1] if gto else "not installed",
        "load_start": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--sizes", default="20x5,200x25", help="MxV,... (models x versions)")
    ap.add_argument("--rounds", type=int, default=5, help="runs per gitreg command (median)")
    ap.add_argument("--gto-rounds", type=int, default=3, help="runs per GTO command (one if slow)")
    ap.add_argument("--gto-timeout", type=float, default=600, help="seconds before a GTO run is cut")
    ap.add_argument(
        "--gto-budget",
        type=float,
        default=1800,
        help="GTO seconds per size; later GTO commands are skipped once spent",
    )
    ap.add_argument("--no-gto", action="store_true")
    ap.add_argument(
        "--gto-max-versions",
        type=int,
        default=5000,
        help="run GTO only on sizes of at most this many versions (it reads every tag on every call)",
    )
    ap.add_argument(
        "--mlflow-python",
        default=os.environ.get("GITREG_BENCH_MLFLOW_PYTHON"),
        help="an interpreter with MLflow installed (optional)",
    )
    ap.add_argument(
        "--cache",
        default=os.environ.get("GITREG_BENCH_CACHE") or str(Path(tempfile.gettempdir()) / "gitreg-bench"),
        help="where registries are kept between runs (safe to delete)",
    )
    ap.add_argument("--rebuild", action="store_true", help="rebuild cached registries")
    ap.add_argument(
        "--ci-size",
        default="1000x25",
        help="registry size for CI's check from a partial clone vs a full clone ('' to skip)",
    )
    ap.add_argument("--out", help="write the Markdown table here too")
    ap.add_argument("--json", help="write the raw results here")
    ap.add_argument("--summary", help="write the short table (as in the README) here")
    args = ap.parse_args(argv)
    sizes = [tuple(int(x) for x in s.lower().split("x")) for s in args.sizes.split(",")]
    if any(v < 4 for _, v in sizes):
        ap.error("each size needs at least 4 versions (the 4th round promotes to production)")
    gitreg, gto = tool("gitreg"), None if args.no_gto else tool("gto")
    if gitreg is None:
        gitreg = [sys.executable, "-m", "gitreg"]
    Path(args.cache).mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="gitreg-bench-home-"))
    scratch = Path(tempfile.mkdtemp(prefix="gitreg-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        {
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "DVC_NO_ANALYTICS": "1",
            "DVC_SITE_CACHE_DIR": str(home / "dvc"),
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "1",
            "GIT_TERMINAL_PROMPT": "0",
        }
    )
    (home / ".gitconfig").write_text("[user]\n\tname = Bench Runner\n\temail = bench@example.com\n")
    info = machine()
    # An installed package has its bytecode written at install; a checkout run with
    # PYTHONDONTWRITEBYTECODE would recompile every edited module on every run (~20 ms each).
    compileall.compile_dir(str(Path(__file__).resolve().parent.parent / "gitreg"), quiet=1)
    try:
        results = [bench_size(m, v, args, env, gitreg, gto, scratch) for m, v in sizes]
        if args.ci_size:
            m, v = (int(x) for x in args.ci_size.lower().split("x"))
            repo, meta = registry_for(m, v, Path(args.cache), args.rebuild)
            print(f"== CI from a partial clone, {m}x{v}", file=sys.stderr)
            info["ci"] = {
                "size": f"{m}x{v}",
                **scale.partial_clone(run_once, gitreg, repo, meta, env, scratch),
            }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    info["load_end"] = os.getloadavg()
    info["rounds"] = args.rounds
    text = report.markdown(info, results)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    if args.summary:
        Path(args.summary).write_text(report.summary(info, results))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
