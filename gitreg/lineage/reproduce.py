"""`reproduce`: re-run a version's pipeline at its source commit and compare every out's md5.

The run happens in a temporary linked worktree at the source commit, so the user's work
tree, index and HEAD are never touched; the worktree is removed on every way out (PASS,
FAIL, error, Ctrl-C, SIGTERM). It shares the user's DVC cache and remote: the worktree's
.dvc/config.local points the cache at the user's and pins each local remote's URL (a
relative URL would otherwise resolve against the worktree). Sources are checked out of
the cache (or pulled from the remote); then `dvc repro -f` re-runs every stage, since a
plain repro would restore the outs from the run-cache instead of running anything.

Exit codes (CLI): 0 PASS, 1 FAIL (an out differs), 2 could not run (an object in neither
cache nor remote, no pipeline, dvc failed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from gitreg.errors import GitFailed, GitregError, UsageError
from gitreg.lineage import extra, pipeline
from gitreg.lineage import trace as lineage
from gitreg.lineage.dvcstore import MissingObjects, Obj, Storage
from gitreg.lineage.pipeline import Out, Pipeline
from gitreg.results import to_data
from gitreg.store import layout, yamlio
from gitreg.store.gitstore import GitStore

Progress = Callable[[str], None]
_TAIL = 30
# DVC's advice for a work tree the user keeps; this one is thrown away.
_NOISE = (
    "To track the changes with git",
    "git add ",
    "To enable auto staging",
    "dvc config core.autostage",
    "Use `dvc push`",
)


@dataclass
class OutResult:
    path: str
    stage: str | None
    expected: str  # md5 in the card / dvc.lock at the source commit
    found: str | None  # md5 after the re-run; None when not reproduced
    status: str  # same | differs | missing | not reproduced

    def to_dict(self) -> dict:
        return to_data(self)


@dataclass
class Reproduction:
    name: str
    version: str
    commit: str
    stages: list[str]  # re-run
    frozen: list[str]  # frozen in dvc.yaml: not re-run, reported as not reproduced
    outs: list[OutResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.status in ("same", "not reproduced") for o in self.outs)

    @property
    def differing(self) -> list[OutResult]:
        return [o for o in self.outs if o.status not in ("same", "not reproduced")]

    json_properties = ("tag", "ok", "result")

    @property
    def tag(self) -> str:
        return layout.tag_name(self.name, self.version)

    @property
    def result(self) -> str:
        return "PASS" if self.ok else "FAIL"

    def to_dict(self) -> dict:
        return to_data(self)


def reproduce(
    store: GitStore, card: dict, *, progress: Progress | None = None, env: Mapping[str, str] | None = None
) -> Reproduction:
    say = progress or (lambda _line: None)
    name, version = str(card.get("name")), str(card.get("version"))
    commit = lineage.source_commit(card)
    if not commit or not store.has_object(commit):
        raise GitFailed(
            f"source commit {commit} of {name}@{version} is not in this repository.",
            hint="Fetch it (git fetch origin; in CI a full clone, fetch-depth: 0).",
        )
    if not lineage.provenance_of(card).get("pipeline"):
        raise UsageError(
            f"{name}@{version} has no DVC pipeline to re-run: its artifact is committed "
            "to Git, so its md5 is its lineage."
        )
    if store.workdir is None:
        raise UsageError("reproduce needs the project's work tree (its DVC cache and config).")
    pipe = pipeline.read(store, commit)
    if not pipe.has_dvc:
        raise UsageError(f"commit {commit[:10]} has no dvc.lock: nothing to reproduce.")
    extra.require_dvc("gitreg reproduce")
    stages = lineage.version_stages(pipe, card)
    frozen = [s for s in stages if pipe.is_frozen(s)]
    run = [s for s in stages if s not in frozen]
    if not run:  # without targets, `dvc repro -f` would run every stage of the project
        why = (
            f"every stage of it is frozen ({', '.join(frozen)})"
            if frozen
            else "the card's stage is not in dvc.lock there"
        )
        raise UsageError(
            f"nothing to reproduce for {name}@{version} at {commit[:10]}: {why}.",
            hint="Run 'gitreg check' on the registration: its lineage rules say more.",
        )
    result = Reproduction(name, version, commit, run, frozen)
    sources = _sources(store, pipe, stages, run)

    storage = Storage(store.workdir)
    try:
        say(
            f"Checking that the sources are in the DVC cache or remote: "
            f"{', '.join(o.path for o in sources) or 'none'}"
        )
        missing = storage.missing(sources)
        if missing:
            where = f"the local DVC cache ({storage.cache}) nor the {storage.remote_label}"
            raise MissingObjects(
                f"cannot reproduce {name}@{version}: {len(missing)} object(s) are in neither {where}:",
                details=[o.describe() for o in missing],
                hint="Push them from a machine that has them (dvc push), or restore them to the remote.",
            )
        local_only = all(storage.cached(o) for o in storage.expand(sources))
        cache = Path(storage.cache)
    finally:
        storage.close()

    tmp = Path(tempfile.mkdtemp(prefix="gitreg-reproduce-"))
    worktree = tmp / f"{name}-{version}"
    with _sigterm_as_interrupt():
        try:
            say(f"Checking out {commit[:10]} into a temporary worktree {worktree}")
            store.add_worktree(worktree, commit)
            _share_dvc(store.workdir, worktree, cache)
            if sources:
                verb = "checkout" if local_only else "pull"
                say(f"dvc {verb}: {', '.join(o.path for o in sources)}")
                _dvc(worktree, [verb, *[o.path for o in sources]], say, env)
            for stage in frozen:
                say(f"Stage {stage!r} is frozen in dvc.yaml: not re-run, its outs not reproduced")
            say(f"dvc repro -f {' '.join(_targets(pipe, run))}")
            _dvc(worktree, ["repro", "-f", *_targets(pipe, run)], say, env)
            result.outs = _compare(pipe, card, worktree, run, frozen)
        finally:
            say("Removing the temporary worktree")
            store.remove_worktree(worktree)
            with suppress(OSError):
                tmp.rmdir()
    return result


def _sources(store: GitStore, pipe: Pipeline, stages: list[str], run: list[str]) -> list[Obj]:
    """What the re-run needs from DVC: deps of the stages (frozen ones too: DVC verifies them)
    that no re-run stage makes and Git does not hold (data from `dvc add`, frozen stages' outs)."""
    made = {o.path for o in pipe.outs() if o.stage in run}
    needed = [d for d in pipe.deps(stages) if d.path not in made and store.entry(pipe.tree, d.path) is None]
    return [Obj(d.path, d.md5, d.hash) for d in needed if d.md5]


def _targets(pipe: Pipeline, run: list[str]) -> list[str]:
    """The stages no other re-run stage depends on: repro runs their upstream too."""
    used = {s for stage in run for s in pipe.upstream(stage) if s != stage}
    return [s for s in run if s not in used] or run


def _share_dvc(main: Path, worktree: Path, cache: Path) -> None:
    """Point the worktree at the user's cache and remotes (its config.local, never the user's)."""
    from dvc.config import Config

    user = Config(dvc_dir=str(main / ".dvc"), validate=False)
    committed, local = user.load_one("repo"), user.load_one("local")
    conf = Config(dvc_dir=str(worktree / ".dvc"), validate=False)
    with conf.edit("local", validate=False) as wt:
        for section, values in local.items():  # credentials and the like, paths resolved
            if isinstance(values, dict):
                wt.setdefault(section, {}).update(values)
        wt.setdefault("cache", {})["dir"] = str(cache)
        for level in (committed, local):
            for remote, settings in (level.get("remote") or {}).items():
                url = settings.get("url")
                if url and os.path.isabs(str(url)):  # a local path: pin it, absolute
                    wt.setdefault("remote", {}).setdefault(remote, {})["url"] = os.fspath(str(url))
        default = (user.get("core") or {}).get("remote")
        if default:
            wt.setdefault("core", {})["remote"] = default


def _dvc(cwd: Path, args: list[str], say: Progress, env: Mapping[str, str] | None) -> None:
    """Run the DVC CLI, streaming its output to SAY; a failure raises with its last lines."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dvc", *args],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    tail: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            if line and not line.strip().startswith(_NOISE):
                say(f"  {line}")
                tail = [*tail[-_TAIL + 1 :], line]
        code = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if code != 0:
        raise GitregError(
            f"dvc {args[0]} failed in the worktree (exit {code}):",
            details=tail,
            hint="Run the same dvc command in a checkout of the source commit to see why.",
        )


def _compare(
    pipe: Pipeline, card: dict, worktree: Path, run: list[str], frozen: list[str]
) -> list[OutResult]:
    after = yamlio.load(
        (worktree / "dvc.lock").read_bytes(), "dvc.lock after dvc repro", max_bytes=pipeline.MAX_PIPELINE_FILE
    )
    new = Pipeline(commit="worktree", tree="", lock=after if isinstance(after, dict) else {})
    prov = lineage.provenance_of(card)
    claimed = {
        str(e["path"]): str(e["md5"])
        for e in [prov.get("artifact"), *(prov.get("data") or [])]
        if isinstance(e, dict) and e.get("path") and e.get("md5")
    }
    results: list[OutResult] = []
    for out in pipe.outs():
        if out.stage in frozen:
            results.append(OutResult(out.path, out.stage, out.md5, None, "not reproduced"))
        elif out.stage in run:
            results.append(_judge(out, new.find_out(out.path), worktree, claimed.get(out.path)))
    return results


def _judge(before: Out, after: Out | None, worktree: Path, card_md5: str | None) -> OutResult:
    """Same only when the re-run's md5 equals dvc.lock's and (for what the card records) the card's."""
    expected = card_md5 or before.md5
    if after is None or not after.md5:
        return OutResult(before.path, before.stage, expected, None, "missing")
    found = after.md5
    if before.hash != after.hash and not before.md5.endswith(".dir"):
        # A DVC 2 lock entry (md5-dos2unix), re-hashed the way it was first hashed.
        from gitreg.lineage.dvcstore import file_md5

        path = worktree / before.path
        found = file_md5(path, before.hash) if path.is_file() else found
    same = found == before.md5 and found == expected
    return OutResult(before.path, before.stage, expected, found, "same" if same else "differs")


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """A CI job's cancel (SIGTERM) unwinds like Ctrl-C, so the worktree is removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
