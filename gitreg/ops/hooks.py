"""Git hooks that guard the registry: the server's pre-receive and the client's pre-push.

The files in hooks/ are thin shims that exec `gitreg hook NAME`; the logic is
here. A push is refused when it moves the registry branch to a state the
check rejects (judged by the policy of the OLD value, over the whole pushed
range, so a push that lowers a gate and promotes in two commits still fails),
rewrites or deletes the registry branch, deletes or moves a registration tag,
or creates a registration tag whose card the registry does not hold.

Inside pre-receive the refs have not moved yet and the pushed objects sit in a
quarantine directory: GitStore adds it as an alternate object directory, and
the pushed ref values reach the check as options["refs"].
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gitreg.check import engine as check
from gitreg.check.change import CheckOptions, Finding
from gitreg.errors import UsageError
from gitreg.results import to_data
from gitreg.store import layout
from gitreg.store.gitstore import ZERO_OID, GitStore

HOOKS = ("pre-receive", "pre-push")
MARKER = "gitreg-hook-shim"

_SHIM = """\
#!/bin/sh
# {marker}: the gitreg {hook} hook. {purpose}
# A thin shim: the logic lives in the gitreg package (gitreg hook {hook}).
# `gitreg install-hooks{flag}` installs it; a hook that was here before is kept as
# {hook}.local and runs after gitreg's check passes.
GITREG_PYTHON={python}
if command -v gitreg >/dev/null 2>&1; then
    exec gitreg hook {hook} "$@"
elif [ -n "$GITREG_PYTHON" ]; then
    # -I: a hook runs inside the git dir, whose files must not shadow the gitreg package.
    exec "$GITREG_PYTHON" -I -m gitreg hook {hook} "$@"
fi
echo "gitreg: the {hook} hook cannot find gitreg; install it (pip install gitreg-ml) or run" \\
     "'gitreg install-hooks{flag}' again. Push refused." >&2
exit 1
"""
_PURPOSE = {
    "pre-receive": "Refuses a push that the registry's policy rejects.",
    "pre-push": "Runs the registry's check before a push leaves this repository.",
}


def shim(hook: str, python: str | None = None) -> str:
    """The shim's text; PYTHON (the interpreter that has gitreg) is the fallback off PATH."""
    quoted = "''" if not python else "'" + python.replace("'", "'\\''") + "'"
    return _SHIM.format(
        marker=MARKER,
        hook=hook,
        purpose=_PURPOSE[hook],
        python=quoted,
        flag=" --server" if hook == "pre-receive" else "",
    )


@dataclass(frozen=True)
class RefUpdate:
    ref: str
    old: str | None  # None: the ref did not exist
    new: str | None  # None: the push deletes it


@dataclass
class Verdict:
    findings: list[Finding] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)  # what was judged, for the pusher

    @property
    def ok(self) -> bool:
        return not self.findings


def _oid(text: str) -> str | None:
    return None if text == ZERO_OID else text


def parse_pre_receive(data: bytes) -> list[RefUpdate]:
    """'<old> <new> <ref>' lines."""
    out = []
    for line in data.decode().splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append(RefUpdate(parts[2], _oid(parts[0]), _oid(parts[1])))
    return out


def parse_pre_push(data: bytes) -> list[RefUpdate]:
    """'<local ref> <local oid> <remote ref> <remote oid>' lines, as updates of the remote's refs."""
    out = []
    for line in data.decode().splitlines():
        parts = line.split()
        if len(parts) == 4:
            out.append(RefUpdate(parts[2], _oid(parts[3]), _oid(parts[1])))
    return out


def pre_commit_update(store: GitStore, env: Mapping[str, str]) -> list[RefUpdate]:
    """Under the pre-commit framework: one ref, from its PRE_COMMIT_* variables.

    pre-commit names the pushed ref and the local value but not reliably the
    remote's old value, so that is read from the remote itself.
    """
    ref, new = env.get("PRE_COMMIT_REMOTE_BRANCH"), env.get("PRE_COMMIT_TO_REF")
    remote = env.get("PRE_COMMIT_REMOTE_NAME")
    if not ref or not new or not remote:
        return []
    old = store.ls_remote(remote, [ref]).get(ref)
    return [RefUpdate(ref, old, new)]


def judge(store: GitStore, branch_ref: str, updates: list[RefUpdate], registry_now: str | None) -> Verdict:
    """Every finding against a set of ref updates; REGISTRY_NOW is the branch when not pushed."""
    pushed = {u.ref: u.new for u in updates}
    registry_after = pushed.get(branch_ref, registry_now)
    verdict = Verdict()
    for update in updates:
        refused = ref_rule(update, branch_ref)
        if refused is not None:
            verdict.findings.append(refused)
            continue
        if update.ref == branch_ref:
            _judge_branch(store, update, pushed, verdict)
        elif update.ref.startswith("refs/tags/"):
            parsed = layout.parse_tag_name(update.ref[len("refs/tags/") :])
            if parsed is not None:
                _judge_tag(store, update, parsed, registry_after, verdict)
    return verdict


def ref_rule(u: RefUpdate, branch_ref: str) -> Finding | None:
    """Refs that would make git show something other than what the check judged.

    refs/replace/* swaps objects under `git show`, archives and mirror clones; refs/notes/*
    other than gitreg's own annotate what others read; and a ref whose short name is the
    registry branch's or a proposal's (a tag `gitreg`, `origin/gitreg`) makes `gitreg` or
    `origin/gitreg` name it instead. Deleting such a ref is always allowed: that repairs.
    GTO's stage tags (NAME#STAGE#N) and refs/gitreg/* (gitreg's own) are not touched.
    """
    if u.new is None:
        return None
    ref = u.ref
    branch = branch_ref[len("refs/heads/") :]
    if ref.startswith("refs/replace/"):
        return Finding(
            "ref-replace",
            ref,
            f"the push creates {ref}: a replace ref changes what git shows for an object, so "
            "readers would see something other than what the check judged.",
            "Do not push refs/replace/*: change the registry through proposals.",
        )
    if ref.startswith("refs/notes/") and not (
        ref == "refs/notes/gitreg" or ref.startswith("refs/notes/gitreg/")
    ):
        return Finding(
            "ref-notes",
            ref,
            f"the push creates {ref}: notes other than refs/notes/gitreg are not accepted here.",
            "Keep notes local, or under refs/notes/gitreg.",
        )
    if ref.startswith("refs/heads/") and ref != branch_ref:
        short = ref[len("refs/heads/") :]
        if short.endswith("/" + branch):
            return _shadow(ref, short, branch_ref)
        return None
    if ref == branch_ref or ref.startswith("refs/gitreg/"):  # gitreg's own bookkeeping refs
        return None
    for prefix in ("refs/tags/", "refs/remotes/", "refs/"):
        if ref.startswith(prefix):
            short = ref[len(prefix) :]
            if (
                short == branch
                or short.endswith("/" + branch)
                or short.removesuffix("/HEAD").endswith("/" + branch)
                or short.startswith(layout.PROPOSAL_PREFIXES)
                or any("/" + p in short for p in layout.PROPOSAL_PREFIXES)
            ):
                return _shadow(ref, short, branch_ref)
            break
    return None


def _shadow(ref: str, short: str, branch_ref: str) -> Finding:
    return Finding(
        "ref-shadow",
        ref,
        f"the push creates {ref}, whose short name {short!r} is also the registry branch's or a "
        f"proposal's: 'git show {short}' and gitreg commands would read it instead of {branch_ref}.",
        "Name it something else; the registry branch and proposal branches live under refs/heads/ only.",
    )


def _judge_branch(store: GitStore, u: RefUpdate, pushed: dict, verdict: Verdict) -> None:
    def finding(rule: str, message: str, fix: str) -> None:
        verdict.findings.append(Finding(rule, u.ref, message, fix))

    if u.new is None:
        finding(
            "registry-branch",
            "the push deletes the registry branch.",
            "The registry branch is the registry's audit log: it is never deleted.",
        )
        return
    if u.old == u.new:
        return
    if u.old is not None and not store.has_object(u.old):
        finding(
            "registry-branch",
            f"the remote's registry branch is at {u.old[:12]}, which this repository does not have.",
            "Run 'gitreg sync' first, then push again.",
        )
        return
    if u.old is not None and not store.is_ancestor(u.old, u.new):
        finding(
            "force-push",
            f"the push rewrites the registry branch: {u.new[:12]} does not descend from {u.old[:12]}.",
            "The registry's history is its audit log: add commits on top (gitreg promote, "
            "gitreg merge) instead of rewriting it.",
        )
        return
    if u.old is not None and not store.first_parents_contain(u.new, u.old):
        finding(
            "first-parent",
            f"the registry branch's old head {u.old[:12]} is not on the first-parent chain of "
            f"{u.new[:12]}: the history the audit reads would be another one.",
            "Add commits on top of the registry branch (merge proposals into it, with the "
            "registry as first parent); never merge the registry into something else.",
        )
        return
    _judge_steps(store, u, u.new, pushed, verdict)


def _judge_steps(store: GitStore, u: RefUpdate, new: str, pushed: dict, verdict: Verdict) -> None:
    """Judge each first-parent step of the pushed range by the policy of the push's base.

    A push may carry several merged proposals (staging, then production): each step
    is judged on its own, as it was when it was merged. The policy stays the base's
    for all of them because a push that changes the policy (registry.yaml, signers/,
    checks/) anywhere in its range may change nothing else anywhere in it: so a push
    cannot lower a gate in one commit and use it in the next. A push that creates the
    registry branch has no base policy to keep: each of its steps is judged by its
    parent's policy, as the registry's own history was. NEW is u.new (not a deletion).
    """
    from gitreg.check.rules.schema import is_policy_path

    steps = list(reversed(list(store.walk(new, u.old))))
    touched_policy: list[str] = []
    touched_models: list[str] = []
    seen: set[tuple[str, str]] = set()
    for i, commit in enumerate(steps):
        parents = store.commit_info(commit).parents
        base = u.old if i == 0 else (parents[0] if parents else None)
        base_tree = store.commit_tree(base) if base else None
        for _, path in store.changed_paths(base_tree, store.commit_tree(commit)):
            (touched_policy if is_policy_path(path) else touched_models).append(path)
        options = CheckOptions(judge=u.old or None, refs=pushed)
        report = check.run(store, base, commit, options=options)
        for finding in report.findings:
            key = (finding.rule, finding.message)
            if key not in seen:  # a finding that stays in later steps is reported once
                seen.add(key)
                verdict.findings.append(finding)
    if u.old is not None and touched_policy and touched_models:
        verdict.findings.append(
            Finding(
                "policy-alone",
                u.ref,
                f"the push changes the policy ({', '.join(sorted(set(touched_policy))[:3])}) and "
                f"registry contents ({', '.join(sorted(set(touched_models))[:3])}) together.",
                "Push the policy change on its own first; the change it allows is then judged by it.",
            )
        )
    verdict.checked.append(f"{(u.old or 'nothing')[:10]}..{new[:10]} ({len(steps)} step(s))")


def _judge_tag(
    store: GitStore, u: RefUpdate, parsed: tuple[str, str], registry_after: str | None, verdict: Verdict
) -> None:
    tag = layout.tag_name(*parsed)

    def finding(rule: str, message: str, fix: str) -> None:
        verdict.findings.append(Finding(rule, u.ref, message, fix, parsed[0], parsed[1]))

    if u.old is not None and u.new is None:
        finding(
            "tag-immutable",
            f"the push deletes the registration tag {tag}.",
            "Registration tags are permanent; archive the version instead (gitreg promote "
            f"{parsed[0]}@{parsed[1]} archived).",
        )
        return
    if u.old is not None and u.old != u.new:
        finding(
            "tag-immutable",
            f"the push moves the registration tag {tag} from {u.old[:12]} to {str(u.new)[:12]}.",
            "Registration tags never move: register a new version instead.",
        )
        return
    if u.old is not None:
        return
    view = None
    if registry_after is not None and store.has_object(registry_after):
        from gitreg.model.view import RegistryView

        view = RegistryView(store, store.commit_tree(registry_after), registry_after)
    if view is None or not view.has_version(*parsed):
        finding(
            "tag-without-card",
            f"the push creates the registration tag {tag}, but the registry branch holds no card for it.",
            "Push the tag together with the registry branch that registers it (gitreg push), "
            "or use a tag name outside NAME@vX.Y.Z for other purposes.",
        )
        return
    recorded = view.tag_record(*parsed)
    if recorded is not None and recorded != u.new:
        finding(
            "tag-without-card",
            f"the push creates {tag} as {str(u.new)[:12]}, but the registry recorded {recorded[:12]} for it.",
            f"Push the registered tag object {recorded}.",
        )


def run(
    repo: str, hook: str, args: list[str], read_stdin: Callable[[], bytes], env: Mapping[str, str]
) -> tuple[int, list[str]]:
    """`gitreg hook HOOK ARGS` in REPO, reading git's lines from READ_STDIN: (exit code, lines
    for stderr). Shared by the Typer command and the CLI's fast path (a server runs it on
    every push, so it imports neither Typer nor the Registry facade)."""
    from gitreg.model.branch import RegistryBranch

    if hook not in HOOKS:
        raise UsageError(f"{hook!r} is not a gitreg hook.", hint=f"Use one of: {', '.join(HOOKS)}.")
    store = GitStore.discover(repo)
    reg = RegistryBranch.of(store)
    under_pre_commit = hook == "pre-push" and "PRE_COMMIT_REMOTE_BRANCH" in env
    stdin = b"" if under_pre_commit else read_stdin()
    if hook == "pre-receive":
        updates = parse_pre_receive(stdin)
    elif under_pre_commit:
        updates = pre_commit_update(store, env)
    else:
        updates = parse_pre_push(stdin)
    verdict = judge(store, reg.branch_ref, updates, reg.head())
    where = "the remote is unchanged" if hook == "pre-receive" else "nothing was pushed"
    if not verdict.ok:
        lines = [f"gitreg: push refused, {len(verdict.findings)} finding(s); {where}:"]
        for f in verdict.findings:
            first, *rest = f.message.splitlines() or [""]
            lines.append(f"  {f.file}: [{f.rule}] {first}")
            lines += [f"    {line}" for line in rest]
            lines.append(f"    fix: {f.fix}")
        return 1, ["\n".join(lines)]
    lines = [f"gitreg: registry change {checked}: passed" for checked in verdict.checked]
    return run_local(store, hook, args, stdin) or 0, lines


def run_local(store: GitStore, hook: str, args: list[str], stdin: bytes) -> int | None:
    """Run the hook that was installed before gitreg's (HOOK.local), if any; its exit code."""
    local = store.hooks_dir() / f"{hook}.local"
    if not local.is_file() or not os.access(local, os.X_OK):
        return None
    return subprocess.run([str(local), *args], input=stdin).returncode


@dataclass(frozen=True)
class Installed:
    hook: str
    path: str
    chained: str | None  # where an existing hook was moved to, if one was

    def to_dict(self) -> dict:
        return to_data(self)


def install(store: GitStore, *, server: bool, python: str) -> list[Installed]:
    """Install the shim(s) into the repository's hooks directory, chaining any existing hook."""
    names = ("pre-receive",) if server else ("pre-push",)
    directory = store.hooks_dir()
    plan = []
    for name in names:
        path = directory / name
        chained = None
        if path.exists() and MARKER not in _head(path):
            chained = path.with_name(f"{name}.local")
            if chained.exists():
                raise UsageError(
                    f"both {path} and {chained} exist; gitreg would lose one of them.",
                    hint=f"Merge them into {chained.name} and run install-hooks again.",
                )
        plan.append((name, path, chained))
    directory.mkdir(parents=True, exist_ok=True)
    done = []
    for name, path, chained in plan:
        if chained is not None:
            path.rename(chained)
        tmp = path.with_name(f".{name}.gitreg-tmp")
        tmp.write_text(shim(name, python))
        tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        os.replace(tmp, path)
        done.append(Installed(name, str(path), str(chained) if chained else None))
    if server:
        # Malformed objects (a tree with two entries of one name) never enter the server.
        store.set_config("receive.fsckObjects", "true")
        store.set_config("transfer.fsckObjects", "true")
        # A push is checked to connect to what the repository has (rev-list --not --all) twice
        # over: its refs, and the same refs again as those of an "alternate" object store (the
        # quarantine borrows the repository's own). At 543,000 refs the second listing costs
        # 0.7-1.7 s per push. Without real alternates it adds nothing: skip it (the check
        # stands on the refs alone, and never gets weaker). A repository that borrows objects
        # (objects/info/alternates) keeps git's default.
        borrows = (store.common_dir / "objects" / "info" / "alternates").exists()
        if not borrows and store.config("core.alternateRefsCommand") is None:
            store.set_config("core.alternateRefsCommand", "true")
    return done


def _head(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(4096)
    except OSError:
        return ""
