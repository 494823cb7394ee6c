#!/usr/bin/env python3
"""`gitreg site` on a synthetic registry: a full build, a rebuild after one registration, and
the index page's size (issue 11: under 30 s, under 3 s, under 1 MB at 200 x 25).

    python benchmarks/site_bench.py [M V] [--keep DIR]

Wall time and CPU time (user + sys of the gitreg process) are both reported: on a shared
machine the wall time mostly measures the neighbours.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", type=int, nargs="?", default=200)
    parser.add_argument("versions", type=int, nargs="?", default=25)
    parser.add_argument("--keep", type=Path, help="build here and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="gitreg-site-bench-"))
    try:
        repo, out = work / "registry", work / "site"
        if not repo.exists():
            subprocess.run(
                [
                    sys.executable,
                    str(HERE / "make_registry.py"),
                    str(args.models),
                    str(args.versions),
                    str(repo),
                ],
                check=True,
                capture_output=True,
            )
        shutil.rmtree(out, ignore_errors=True)
        gitreg = [sys.executable, "-m", "gitreg"]
        full = timed([*gitreg, "site", "-o", str(out)], repo)
        name = "churn-0000"
        card = HERE.parent / "examples" / "card.yaml"
        register = [*gitreg, "register", name, "--card", str(card), "--rev", "main", "--no-sign",
                    "--artifact", f"models/{name}.json", "--metrics", f"metrics/{name}.json"]  # fmt: skip
        subprocess.run(register, cwd=repo, check=True, capture_output=True)
        again = timed([*gitreg, "site", "-o", str(out)], repo)
        index = (out / "index.html").stat().st_size
        print(f"site {args.models}x{args.versions}: full build {full[0]:.1f} s wall / {full[1]:.1f} s CPU")
        print(f"rebuild after one registration: {again[0]:.2f} s wall / {again[1]:.2f} s CPU")
        print(f"index.html: {index / 1024:.0f} KiB")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
