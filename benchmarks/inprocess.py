"""gitreg's Python API timed in process: resolve NAME@STAGE, list all, check one change.

    python benchmarks/inprocess.py REPO NAME [--proposal BRANCH] [--budget SECONDS]

Prints JSON: for each operation, the list of per-call times in milliseconds
(one warm-up call first, not counted). Run by run.py with gitreg's interpreter.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path


def timed(fn, *, budget: float, most: int, setup=None) -> list[float]:
    fn()  # warm-up: first import of lazily loaded modules, libgit2's object cache
    times: list[float] = []
    spent = 0.0
    while len(times) < most and (spent < budget or len(times) < 3):
        if setup:
            setup()
        start = time.perf_counter()
        fn()
        took = time.perf_counter() - start
        times.append(took * 1000)
        spent += took
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("repo")
    ap.add_argument("name")
    ap.add_argument("--proposal", help="a proposal branch to check against the registry branch")
    ap.add_argument("--budget", type=float, default=3.0)
    args = ap.parse_args()
    start = time.perf_counter()
    from gitreg.registry import Registry

    imported = (time.perf_counter() - start) * 1000
    reg = Registry.open(args.repo)
    ref = f"{args.name}@production"
    out: dict = {"import_ms": imported, "resolved": reg.resolve(ref)}
    out["resolve"] = timed(lambda: reg.resolve(ref), budget=args.budget, most=500)
    from gitreg.store.cache import directory

    cache = directory(Path(reg.store.common_dir))
    out["list_cold"] = timed(
        reg.list, budget=args.budget, most=50, setup=lambda: shutil.rmtree(cache, ignore_errors=True)
    )
    out["list"] = timed(reg.list, budget=args.budget, most=50)
    if args.proposal:
        base = reg.branch
        out["check_ok"] = reg.check(base, args.proposal).ok
        out["check"] = timed(lambda: reg.check(base, args.proposal), budget=args.budget, most=50)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
