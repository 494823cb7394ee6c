"""Stage rules: every version entering a stage is registered, comes from a stage the base's policy
allows, and no stage holds more versions than the policy's max_versions.
"""

from __future__ import annotations

from collections.abc import Iterator

from gitreg.check.change import Change, Finding
from gitreg.errors import GitregError
from gitreg.store import layout


def transition(change: Change) -> Iterator[Finding]:
    stages = change.policy.stages
    for e in change.entries:
        path = layout.stages_path(e.model)
        spec = stages.get(e.stage)
        if spec is None:
            yield Finding(
                "transition",
                path,
                f"{e.label}: the policy has no stage {e.stage!r} (stages: {', '.join(stages)}).",
                f"Promote into one of: {', '.join(stages)}.",
                e.model,
                e.version,
            )
        elif spec.sources is not None and not set(e.was) & set(spec.sources):
            was = ", ".join(e.was) or "no stage"
            yield Finding(
                "transition",
                path,
                f"{e.label}: a version enters {e.stage} only from "
                f"{' or '.join(spec.sources)}; {e.model}@{e.version} was in {was}.",
                f"Promote it to {spec.sources[0]} first: gitreg promote "
                f"{e.model}@{e.version} {spec.sources[0]}",
                e.model,
                e.version,
            )


def registered(change: Change) -> Iterator[Finding]:
    seen = set()
    for e in change.entries:
        if (e.model, e.version) in seen or change.head.has_version(e.model, e.version):
            continue
        seen.add((e.model, e.version))
        yield Finding(
            "registered",
            layout.stages_path(e.model),
            f"{e.model}@{e.version} is in stage {e.stage}, but no such version is registered.",
            f"Register it first (gitreg register {e.model}), or promote a registered version.",
            e.model,
            e.version,
        )


def capacity(change: Change) -> Iterator[Finding]:
    stages = change.policy.stages
    for name in change.models:
        path = layout.stages_path(name)
        if not any(p == path for _, p in change.paths):
            continue
        try:
            before, after = change.stages_before(name), change.stages_after(name)
        except GitregError:
            continue  # the schema rule reports it
        for stage, versions in after.items():
            spec = stages.get(stage)
            if spec is None or spec.max_versions is None or versions == before.get(stage):
                continue
            if len(versions) > spec.max_versions:
                extra = versions[: len(versions) - spec.max_versions]
                yield Finding(
                    "capacity",
                    path,
                    f"{name}: stage {stage} holds {len(versions)} versions "
                    f"({', '.join(versions)}), but the policy allows {spec.max_versions}.",
                    f"Archive the version(s) replaced ({', '.join(extra)}); 'gitreg promote' "
                    "does this for you.",
                    name,
                )
