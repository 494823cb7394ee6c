"""The on-disk format: ref names, paths on the registry branch and the name grammar.

These names are the contract with users' repositories (and with GTO, which
reads the same tags). Every other module builds names through this one.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from gitreg.errors import UsageError

FORMAT_VERSION = 1

DEFAULT_BRANCH = "gitreg"
BRANCH_CONFIG_KEY = "gitreg.branch"

POLICY_PATH = "registry.yaml"
SIGNERS_DIR = "signers"
ALLOWED_SIGNERS_PATH = "signers/allowed_signers"
REVOKED_SIGNERS_PATH = "signers/revoked"
GPG_KEYS_DIR = "signers/gpg"
MODELS_DIR = "models"

MAX_NAME_LENGTH = 64
MAX_CARD_BYTES = 256 * 1024

# Anchored with \Z: re.match('^[a-z]+$', 'x\n') is true, fullmatch on \Z is not fooled.
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]*\Z")
SEMVER_PATTERN = (
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?\Z"
)
_SEMVER_RE = re.compile(SEMVER_PATTERN)
_STAGE_RE = re.compile(r"[a-z][a-z0-9_-]*\Z")


def check_name(name: str) -> str:
    """Return NAME when it is a valid model name, else raise a UsageError saying why."""
    why = None
    if not isinstance(name, str) or not name:
        why = "it is empty"
    elif len(name) > MAX_NAME_LENGTH:
        why = f"it is longer than {MAX_NAME_LENGTH} characters"
    elif not _NAME_RE.fullmatch(name):
        why = "it may only hold a-z, 0-9, '.', '_' and '-', and must start with a letter or digit"
    elif ".." in name:
        why = "it contains '..'"
    elif name.endswith(".lock") or name.endswith("."):
        why = "it ends in '.lock' or '.'"
    if why:
        raise UsageError(
            f"{name!r} is not a valid model name: {why}.",
            hint="Use a lower-case name such as 'churn' or 'fraud-detector.v2'.",
        )
    return name


def check_stage(stage: str) -> str:
    if not isinstance(stage, str) or not _STAGE_RE.fullmatch(stage) or len(stage) > 64:
        raise UsageError(
            f"{stage!r} is not a valid stage name.",
            hint="Stage names are lower-case words such as 'staging' or 'production'.",
        )
    return stage


@dataclass(frozen=True, order=False)
class Version:
    major: int
    minor: int
    patch: int
    pre: str | None = None

    @classmethod
    def parse(cls, text: str) -> Version:
        raw = text[1:] if isinstance(text, str) and text.startswith("v") else text
        m = _SEMVER_RE.fullmatch(raw) if isinstance(raw, str) else None
        if not m:
            raise UsageError(
                f"{text!r} is not a semantic version.",
                hint="Give a version as MAJOR.MINOR.PATCH, for example 1.2.0.",
            )
        return cls(int(m[1]), int(m[2]), int(m[3]), m[4])

    @classmethod
    def is_valid(cls, text: str) -> bool:
        try:
            cls.parse(text)
        except UsageError:
            return False
        return True

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return f"{core}-{self.pre}" if self.pre else core

    def sort_key(self) -> tuple:
        # A pre-release sorts before its release (semver rule 11, simplified to string order).
        pre = (0, self.pre) if self.pre else (1, "")
        return (self.major, self.minor, self.patch, pre)

    def bump(self, part: str) -> Version:
        if part == "major":
            return Version(self.major + 1, 0, 0)
        if part == "minor":
            return Version(self.major, self.minor + 1, 0)
        if part == "patch":
            return Version(self.major, self.minor, self.patch + 1)
        raise UsageError(f"{part!r} is not a version part.", hint="Use major, minor or patch.")


@functools.lru_cache(maxsize=4096)
def version_sort_key(text: str) -> tuple | None:
    """Version.parse(TEXT).sort_key(), None when TEXT is no version; remembered, since the same
    few version strings recur across every model of a registry."""
    try:
        return Version.parse(text).sort_key()
    except UsageError:
        return None


@functools.lru_cache(maxsize=8192)
def card_version(file_name: str) -> tuple[tuple, str] | None:
    """(sort key, version) of a card's file name in a versions/ folder ('1.2.0.yaml'); None for
    any other file."""
    if not file_name.endswith(".yaml"):
        return None
    key = version_sort_key(file_name[:-5])
    return None if key is None else (key, file_name[:-5])


def latest(versions: list[str]) -> str | None:
    valid = [Version.parse(v) for v in versions if Version.is_valid(v)]
    return str(max(valid, key=Version.sort_key)) if valid else None


def sort_versions(versions: list[str]) -> list[str]:
    return sorted(versions, key=lambda v: Version.parse(v).sort_key())


# --- refs -----------------------------------------------------------------


def branch_ref(branch: str) -> str:
    return f"refs/heads/{branch}"


def tag_name(name: str, version: str) -> str:
    return f"{name}@v{version}"


def tag_ref(name: str, version: str) -> str:
    return f"refs/tags/{tag_name(name, version)}"


def parse_tag_name(tag: str) -> tuple[str, str] | None:
    """Split 'churn@v1.2.0' into ('churn', '1.2.0'); None when it is not a registration tag."""
    name, sep, ver = tag.rpartition("@v")
    if not sep or not _NAME_RE.fullmatch(name) or not Version.is_valid(ver):
        return None
    return name, ver


# --- GTO's tag grammar (GTO, DVC's `artifacts get` and DVC Studio read these) ----------
#
#   NAME@vX.Y.Z[#N]   register (gitreg's registration tag is one)   NAME@vX.Y.Z!#N  deregister
#   NAME#STAGE[#N]    assign a stage to the version on that commit   NAME#STAGE!#N   unassign
#   NAME@deprecated#N deprecate the whole artifact
# N counts every counted tag of the artifact. They mirror the registry and are never evidence.

_GTO_NAME_RE = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9/_-]*[a-zA-Z0-9])?\Z")
_GTO_TAG_RE = re.compile(
    r"(?P<name>[a-zA-Z0-9](?:[a-zA-Z0-9/_-]*[a-zA-Z0-9])?)"
    r"(?:(?:#(?P<stage>[a-zA-Z0-9](?:[a-zA-Z0-9/_-]*[a-zA-Z0-9])?)|@v(?P<version>[0-9A-Za-z.+-]+))"
    r"(?P<cancel>!?)|@(?P<deprecated>deprecated)|@created)(?:#(?P<counter>[0-9]+))?\Z"
)


@dataclass(frozen=True)
class GtoTag:
    """One tag name in GTO's grammar, split."""

    name: str
    action: str  # register | deregister | assign | unassign | deprecate | create
    version: str | None = None
    stage: str | None = None
    counter: int | None = None


def is_gto_name(name: str) -> bool:
    """GTO's artifact names allow no '.', which gitreg's do: such models have no GTO tags."""
    return bool(_GTO_NAME_RE.fullmatch(name))


def parse_gto_tag(tag: str) -> GtoTag | None:
    m = _GTO_TAG_RE.fullmatch(tag)
    if not m:
        return None
    counter = int(m["counter"]) if m["counter"] else None
    cancel = m["cancel"] == "!"
    if m["version"] is not None:
        if not Version.is_valid(m["version"]):
            return None
        version = str(Version.parse(m["version"]))
        return GtoTag(m["name"], "deregister" if cancel else "register", version, None, counter)
    if m["stage"] is not None:
        return GtoTag(m["name"], "unassign" if cancel else "assign", None, m["stage"], counter)
    return GtoTag(m["name"], "deprecate" if m["deprecated"] else "create", None, None, counter)


def gto_tag_name(name: str, action: str, counter: int, *, version: str = "", stage: str = "") -> str:
    """The counted GTO tag for ACTION: NAME#STAGE#N, NAME#STAGE!#N, NAME@vX!#N, NAME@vX#N."""
    body = {
        "assign": f"{name}#{stage}",
        "unassign": f"{name}#{stage}!",
        "register": f"{name}@v{version}",
        "deregister": f"{name}@v{version}!",
    }[action]
    return f"{body}#{counter}"


# Proposal branches cannot live under "gitreg/": git refuses refs/heads/gitreg/x while the
# registry branch refs/heads/gitreg exists (a ref cannot be both a file and a directory).
PROPOSAL_PREFIXES = ("gitreg-promote/", "gitreg-register/", "gitreg-policy/", "gitreg-import/")
CHECKS_DIR = "checks"


def proposal_branch(name: str, version: str, stage: str) -> str:
    return f"gitreg-promote/{name}/v{version}/{stage}"


def register_proposal_branch(name: str, version: str) -> str:
    return f"gitreg-register/{name}/v{version}"


def policy_proposal_branch(kind: str, commit: str) -> str:
    """gitreg-policy/KIND-<first 10 hex of the change commit>: one branch per policy change."""
    return f"gitreg-policy/{kind}-{commit[:10]}"


# gitreg's own refs: refs/gitreg/ is never fetched or pushed by a plain git command.
PENDING_PREFIX = "refs/gitreg/pending/"


def pending_ref(name: str, version: str, tag_id: str) -> str:
    """Holds a registration's tag object from the moment it exists until its tag ref lands, so
    that no crash and no `git gc` in between can lose it (repair finishes or drops it). The
    object id is part of the name: two processes racing for one version each hold their own."""
    return f"{PENDING_PREFIX}{tag_name(name, version)}/{tag_id}"


def parse_pending_ref(ref: str) -> tuple[str, str] | None:
    """(name, version) of a pending ref; None for anything else under refs/gitreg/pending/."""
    if not ref.startswith(PENDING_PREFIX) or ref.count("/") != 4:
        return None
    return parse_tag_name(ref[len(PENDING_PREFIX) :].rsplit("/", 1)[0])


def parse_proposal_branch(branch: str) -> tuple[str, str, str | None] | None:
    """(name, version, stage or None) of a gitreg-promote/... or gitreg-register/... branch."""
    parts = branch.split("/")
    if len(parts) == 4 and parts[0] == "gitreg-promote" and parts[2].startswith("v"):
        stage: str | None = parts[3]
    elif len(parts) == 3 and parts[0] == "gitreg-register" and parts[2].startswith("v"):
        stage = None
    else:
        return None
    if not _NAME_RE.fullmatch(parts[1]) or not Version.is_valid(parts[2][1:]):
        return None
    return parts[1], parts[2][1:], stage


def import_proposal_branch(source: str) -> str:
    """The one proposal an import makes: gitreg-import/gto, gitreg-import/mlflow."""
    return f"gitreg-import/{source}"


# --- paths on the registry branch -------------------------------------------


# Inside a model's folder models/NAME/ (readers that hold the folder's tree id use these).
MODEL_FILE = "model.yaml"
STAGES_FILE = "stages.yaml"
VERSIONS_DIR = "versions"


def model_dir(name: str) -> str:
    return f"{MODELS_DIR}/{name}"


def model_path(name: str) -> str:
    return f"{MODELS_DIR}/{name}/{MODEL_FILE}"


def stages_path(name: str) -> str:
    return f"{MODELS_DIR}/{name}/{STAGES_FILE}"


def versions_dir(name: str) -> str:
    return f"{MODELS_DIR}/{name}/{VERSIONS_DIR}"


def card_path(name: str, version: str) -> str:
    return f"{MODELS_DIR}/{name}/versions/{version}.yaml"


def tag_record_path(name: str, version: str) -> str:
    """Where the registry records the registration tag's object id, beside the card."""
    return f"{MODELS_DIR}/{name}/versions/{version}.tag"


# --- references a user types -------------------------------------------------


@dataclass(frozen=True)
class ModelRef:
    """NAME, NAME@1.2.0 / NAME@v1.2.0, or NAME@production."""

    name: str
    version: str | None = None
    stage: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        name, sep, rest = text.partition("@")
        check_name(name)
        if not sep:
            return cls(name)
        if Version.is_valid(rest):
            return cls(name, version=str(Version.parse(rest)))
        if rest and _STAGE_RE.fullmatch(rest):
            return cls(name, stage=rest)
        raise UsageError(
            f"{text!r} is neither NAME@VERSION nor NAME@STAGE.",
            hint="Write for example churn@1.2.0 or churn@production.",
        )

    def __str__(self) -> str:
        if self.version:
            return f"{self.name}@{self.version}"
        if self.stage:
            return f"{self.name}@{self.stage}"
        return self.name
