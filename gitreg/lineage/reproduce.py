"""`reproduce`: re-run a version's pipeline at its source commit and compare every out's md5 (and a
Git LFS artifact's sha256) and every metric of the card with what the re-run wrote.

The pipeline is code from the source commit: it runs with a scrubbed environment (PATH, HOME, the
locale, DVC's variables, and what `--env NAME` passes), never with the caller's tokens, and the
command says so before it runs anything. A stale dvc.lock is refused first: its re-run would not
be the run the card describes.

The run happens in a temporary linked worktree at the source commit, so the user's work
tree, index and HEAD are never touched; the worktree is removed on every way out (PASS,
FAIL, error, Ctrl-C, SIGTERM). It shares the user's DVC cache and remote: the worktree's
.dvc/config.local points the cache at the user's and pins each local remote's URL (a
relative URL would otherwise resolve against the worktree). Sources are checked out of
the cache (or pulled from the remote); then `dvc repro -f` re-runs every stage, since a
plain repro would restore the outs from the run-cache instead of running anything.

Exit codes (CLI): 0 PASS, 1 FAIL (an out or a metric differs; a stale lock), 2 could not run (an
object in neither cache nor remote, no pipeline, dvc failed).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from gitreg.errors import GitFailed, GitregError, UsageError
from gitreg.lineage import extra, freshness, pipeline
from gitreg.lineage import trace as lineage
from gitreg.lineage.dvcstore import MissingObjects, Obj, Storage
from gitreg.lineage.pipeline import Out, Pipeline
from gitreg.results import to_data
from gitreg.store import layout, yamlio
from gitreg.store.gitstore import GitStore

Progress = Callable[[str], None]
# What the pipeline gets from the caller's environment without --env (plus DVC_* and LC_*).
KEPT_ENV = frozenset({"PATH", "HOME", "LANG", "LANGUAGE", "TMPDIR", "TZ"})
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
    expected: str  # md5 in the card / dvc.lock at the source commit (sha256 for a Git LFS oid)
    found: str | None  # the same hash after the re-run; None when not reproduced
    status: str  # same | differs | missing | not reproduced
    hash: str = "md5"  # md5, or sha256 for an artifact Git LFS holds

    def to_dict(self) -> dict:
        return to_data(self)


@dataclass
class MetricResult:
    key: str  # the metric's identity: its key in the metrics file
    file: str
    expected: float  # the card's value
    found: float | None  # the rebuilt metrics file's value; None when it has no such key
    tolerance: float  # the absolute difference the policy accepts (0: exact)
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
    metrics: list[MetricResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differing and not self.differing_metrics

    @property
    def differing(self) -> list[OutResult]:
        return [o for o in self.outs if o.status not in ("same", "not reproduced")]

    @property
    def differing_metrics(self) -> list[MetricResult]:
        return [m for m in self.metrics if m.status not in ("same", "not reproduced")]

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
    store: GitStore,
    card: dict,
    *,
    progress: Progress | None = None,
    env: Mapping[str, str] | None = None,
    pass_env: Sequence[str] = (),
    tolerance: Mapping[str, float] | None = None,
) -> Reproduction:
    """Re-run CARD's pipeline at its source commit and compare every out and metric with the card.

    The pipeline runs with a scrubbed environment (scrubbed_env): ENV adds values, PASS_ENV names
    variables of this process to pass on. TOLERANCE (metric key -> absolute difference, from the
    policy) loosens the exact comparison of metrics.
    """
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
    freshness.require_fresh(store, pipe)  # a stale lock: the re-run would not be what the card says
    run_env = scrubbed_env(env, pass_env)
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
    say(
        f"This runs code from the source commit {commit[:10]} (the commands of dvc.yaml there), with "
        f"only {', '.join(sorted(run_env))} from your environment."
    )
    with _sigterm_as_interrupt():
        try:
            say(f"Checking out {commit[:10]} into a temporary worktree {worktree}")
            store.add_worktree(worktree, commit)
            _share_dvc(store.workdir, worktree, cache)
            if sources:
                verb = "checkout" if local_only else "pull"
                say(f"dvc {verb}: {', '.join(o.path for o in sources)}")
                _dvc(worktree, [verb, *[o.path for o in sources]], say, run_env)
            for stage in frozen:
                say(f"Stage {stage!r} is frozen in dvc.yaml: not re-run, its outs not reproduced")
            say(f"dvc repro -f {' '.join(_targets(pipe, run))}")
            _dvc(worktree, ["repro", "-f", *_targets(pipe, run)], say, run_env)
            result.outs = _compare(pipe, card, worktree, run, frozen)
            result.metrics = _compare_metrics(pipe, card, worktree, run, tolerance or {})
        finally:
            say("Removing the temporary worktree")
            store.remove_worktree(worktree)
            with suppress(OSError):
                tmp.rmdir()
    return result


def _sources(store: GitStore, pipe: Pipeline, stages: list[str], run: list[str]) -> list[Obj]:
    """What the re-run needs from DVC: deps of the stages (frozen ones too: DVC verifies them)
    that no re-run stage makes and Git does not hold (data from `dvc add`, frozen stages' outs)."""
    made = {o.path for stage in run for o in pipe.stage_outs(stage)}
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


def scrubbed_env(extra: Mapping[str, str] | None, pass_env: Sequence[str]) -> dict[str, str]:
    """The environment the pipeline runs in: PATH, HOME, the locale, a temporary directory and DVC's
    own variables from this process, the PASS_ENV names, then EXTRA. Nothing else of the caller's
    (tokens, cloud credentials) reaches code from the source commit unless named."""
    for name in pass_env:
        if not name or "=" in name or name not in os.environ:
            raise UsageError(
                f"--env {name}: no such variable in this environment.",
                hint="Name a variable that is set (export it first); --env passes it on as it is.",
            )
    keep = {n for n in os.environ if n in KEPT_ENV or n.startswith(("DVC_", "LC_"))}
    env = {n: os.environ[n] for n in sorted(keep | set(pass_env))}
    env.update(extra or {})
    return env


def _dvc(cwd: Path, args: list[str], say: Progress, env: Mapping[str, str]) -> None:
    """Run the DVC CLI, streaming its output to SAY; a failure raises with its last lines."""
    full_env = dict(env)
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
    raw = prov.get("artifact")
    art: dict = raw if isinstance(raw, dict) else {}
    lfs = art["lfs"] if isinstance(art.get("lfs"), dict) else None
    results: list[OutResult] = []
    for out in pipe.outs():
        if out.stage in frozen:
            results.append(OutResult(out.path, out.stage, out.md5, None, "not reproduced"))
        elif out.stage in run:
            results.append(_judge(out, new.find_out(out.path), worktree, claimed.get(out.path)))
            if lfs and out.path == pipeline.norm(str(art.get("path"))):
                results.append(_lfs_result(out, worktree, lfs))
    return results


def _lfs_result(out: Out, worktree: Path, lfs: dict) -> OutResult:
    """The rebuilt file's sha256 against the Git LFS oid the card records."""
    path = worktree / out.path
    expected = str(lfs.get("oid"))
    if not path.is_file():
        return OutResult(out.path, out.stage, expected, None, "missing", "sha256")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1024 * 1024), b""):
            digest.update(chunk)
    found = digest.hexdigest()
    return OutResult(
        out.path, out.stage, expected, found, "same" if found == expected else "differs", "sha256"
    )


def _compare_metrics(
    pipe: Pipeline, card: dict, worktree: Path, run: list[str], tolerance: Mapping[str, float]
) -> list[MetricResult]:
    """Every metric of the card against the metrics file the re-run wrote."""
    results: list[MetricResult] = []
    rebuilt: dict[str, dict[str, float] | None] = {}
    for metric in lineage.metrics_of(card):
        source = metric["source"] if isinstance(metric["source"], dict) else {}
        if not source.get("file") or not source.get("key"):
            continue  # a metric without a source is the check's finding, not a re-run's
        file, key = pipeline.norm(str(source["file"])), str(source["key"])
        expected = metric["value"]
        allowed = float(tolerance.get(key, 0.0))
        if pipe.producer(file) not in run:
            results.append(MetricResult(key, file, expected, None, allowed, "not reproduced"))
            continue
        if file not in rebuilt:
            rebuilt[file] = _read_rebuilt(worktree / file)
        values = rebuilt[file]
        found = None if values is None else values.get(key)
        if found is None:
            results.append(MetricResult(key, file, expected, None, allowed, "missing"))
            continue
        same = found == expected if allowed == 0 else abs(found - expected) <= allowed
        results.append(MetricResult(key, file, expected, found, allowed, "same" if same else "differs"))
    return results


def _read_rebuilt(path: Path) -> dict[str, float] | None:
    try:
        data = path.read_bytes()
        value = json.loads(data) if path.suffix == ".json" else yamlio.load(data, str(path))
    except (OSError, ValueError, GitregError):
        return None
    return pipeline.flatten(value)


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
