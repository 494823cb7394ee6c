"""The registry's policy (registry.yaml): stages, transitions, gates, signing, lineage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitreg.errors import FormatMismatch, InvalidCard
from gitreg.store import layout, yamlio

DEFAULT_POLICY = """\
# gitreg policy. A change to the registry is judged by the policy on its base,
# so a change that edits this file must land alone.
version: 1
stages:
  staging: {}
  production:
    from: [staging]          # a version reaches production only through staging
    max_versions: 1          # promoting archives the version it replaces
    card: production         # the stricter card schema applies
  archived:
    from: [staging, production]
signing:
  registration: optional     # or: required
lineage:
  dvc: optional              # or: required
"""


@dataclass(frozen=True)
class Gate:
    metric: str
    min: float | None = None
    max: float | None = None
    dataset: str | None = None
    slice: str | None = None

    def describe(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f"{self.metric} >= {self.min}")
        if self.max is not None:
            parts.append(f"{self.metric} <= {self.max}")
        return " and ".join(parts)


@dataclass(frozen=True)
class Role:
    """Who holds a role (principals of signers/: SSH principals, GPG key e-mails) and how many
    distinct signatures of them an act needs."""

    principals: tuple[str, ...]
    approvals: int

    @classmethod
    def parse(cls, spec: dict | None) -> Role | None:
        if not spec:
            return None
        return cls(tuple(str(p).lower() for p in spec.get("principals") or ()), int(spec.get("approvals", 1)))

    def holds(self, principal: str | None) -> bool:
        return principal is not None and principal.lower() in self.principals


@dataclass(frozen=True)
class Stage:
    name: str
    sources: tuple[str, ...] | None  # None: a new version may enter directly
    max_versions: int | None
    card: str
    gates: tuple[Gate, ...]
    signed: bool
    approvers: Role | None = None  # who must approve entering this stage (None: nobody)
    require: tuple[str, ...] = ()  # e.g. ("environment",): what a card must pin to enter


@dataclass
class Policy:
    raw: dict
    stages: dict[str, Stage] = field(default_factory=dict)

    @classmethod
    def parse(
        cls, data: bytes | str, source: str = "registry.yaml", *, schema_checked: bool = False
    ) -> Policy:
        """SCHEMA_CHECKED: these very bytes passed the schema before (see RegistryView.policy)."""
        raw = yamlio.load_mapping(data, source)
        require_format(raw)
        if not schema_checked:  # a verdict cached by blob id skips importing the schemas
            from gitreg.store import schemas

            errs = schemas.errors(schemas.REGISTRY, raw)
        else:
            errs = []
        if errs:
            raise InvalidCard(
                f"{source} does not match the registry schema:",
                details=errs,
                hint="Fix the policy; see schemas/registry.schema.json.",
            )
        policy = cls(raw=raw)
        for name, spec in raw["stages"].items():
            spec = spec or {}
            policy.stages[name] = Stage(
                name=name,
                sources=tuple(spec["from"]) if "from" in spec else None,
                max_versions=spec.get("max_versions"),
                card=spec.get("card", "default"),
                gates=tuple(Gate(**g) for g in spec.get("gates") or []),
                signed=bool(spec.get("signed", False)),
                approvers=Role.parse(spec.get("approvers")),
                require=tuple(spec.get("require") or ()),
            )
        for stage in policy.stages.values():
            unknown = [s for s in stage.sources or () if s not in policy.stages]
            if unknown:
                raise InvalidCard(
                    f"{source}: stage {stage.name!r} comes from unknown stage(s) {unknown}.",
                    hint="List only stages defined under 'stages:'.",
                )
        return policy

    @property
    def maintainers(self) -> Role | None:
        """Who may change the policy (registry.yaml, signers/, checks/); None: nobody owns it."""
        return Role.parse(self.raw.get("maintainers"))

    @property
    def signing_required(self) -> bool:
        return (self.raw.get("signing") or {}).get("registration") == "required"

    @property
    def dvc_required(self) -> bool:
        return (self.raw.get("lineage") or {}).get("dvc") == "required"

    @property
    def strict(self) -> bool:
        """register refuses uncommitted pipeline files in the work tree."""
        return bool((self.raw.get("lineage") or {}).get("strict"))

    @property
    def tolerance(self) -> dict[str, float]:
        """metric key -> the absolute difference `reproduce` accepts (exact when absent)."""
        return dict((self.raw.get("reproduce") or {}).get("tolerance") or {})

    @property
    def validators(self) -> list[dict[str, Any]]:
        return list(self.raw.get("validators") or [])


def require_format(raw: Any) -> None:
    """Refuse a policy that declares a format this gitreg does not read, before anything else
    judges it (a newer registry must say "upgrade", not "invalid")."""
    version = raw.get("version") if isinstance(raw, dict) else None
    if not isinstance(version, int) or isinstance(version, bool) or version == layout.FORMAT_VERSION:
        return
    if version > layout.FORMAT_VERSION:
        raise FormatMismatch(
            f"this registry was written by a newer gitreg (format {version}); "
            f"this gitreg reads format {layout.FORMAT_VERSION}.",
            hint="Upgrade gitreg (pip install --upgrade) to read and write this registry.",
        )
    raise FormatMismatch(
        f"this registry has format {version}, older than this gitreg's format {layout.FORMAT_VERSION}, "
        "and no migration from it exists.",
        hint="Use the gitreg release that wrote it, or re-create the registry with 'gitreg init'.",
    )
