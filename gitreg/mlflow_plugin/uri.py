"""The two URIs: the registry URI a user sets, and the source URI of one version.

    gitreg:///abs/path/to/repo   gitreg:.   gitreg:relative/path   (MLFLOW_REGISTRY_URI)
    gitreg:///abs/path/to/repo?model=churn&version=1.1.0&commit=<source commit>   (a source)

A source names the version by its semver and the commit that produced it, so it stays
true after any later registration, and the artifact repository can refuse one whose
commit is not the card's.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass

from gitreg.errors import UsageError
from gitreg.store import layout

SCHEME = "gitreg"
_COMMIT_RE = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?\Z")


def repo_path(uri: str) -> str:
    """The repository path a `gitreg:` registry URI names (relative ones against the cwd)."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme != SCHEME:
        raise UsageError(f"{uri!r} is not a gitreg: URI.", hint="Write gitreg:///path/to/repo or gitreg:.")
    if parts.netloc:
        raise UsageError(
            f"{uri!r} names a host ({parts.netloc}); gitreg reads a local clone.",
            hint="Clone the repository and use gitreg:///path/to/clone (three slashes).",
        )
    path = urllib.parse.unquote(parts.path) or "."
    return os.path.abspath(os.path.expanduser(path))


@dataclass(frozen=True)
class Source:
    repo: str
    model: str
    version: str
    commit: str

    def uri(self) -> str:
        query = urllib.parse.urlencode({"model": self.model, "version": self.version, "commit": self.commit})
        return f"{SCHEME}://{urllib.parse.quote(self.repo)}?{query}"

    @classmethod
    def parse(cls, uri: str) -> Source:
        parts = urllib.parse.urlsplit(uri)
        fields = dict(urllib.parse.parse_qsl(parts.query))
        model, version, commit = fields.get("model"), fields.get("version"), fields.get("commit")
        if not (model and version and commit) or not _COMMIT_RE.fullmatch(commit):
            raise UsageError(
                f"{uri!r} is not a gitreg source URI (model=, version= and commit= are required).",
                hint="Use the source MLflow's client reports for a version of a gitreg: registry.",
            )
        layout.check_name(model)
        return cls(
            repo_path(urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))),
            model,
            str(layout.Version.parse(version)),
            commit,
        )


@dataclass(frozen=True)
class Proposed:
    """What `create_model_version` may register: a commit of the repository and, optionally, the
    artifact's path there (else dvc.yaml's `artifacts:` entry names it).

        gitreg:///abs/path/to/repo?rev=<commit or branch>&artifact=models/churn.json
    """

    repo: str
    rev: str
    artifact: str | None

    @classmethod
    def parse(cls, uri: str) -> Proposed:
        parts = urllib.parse.urlsplit(uri)
        if parts.scheme != SCHEME:
            raise UsageError(
                f"{uri!r} is not a gitreg: source.",
                hint="Give gitreg:///path/to/repo?rev=COMMIT&artifact=PATH: the commit that produced "
                "the model, in the registry's own repository.",
            )
        fields = dict(urllib.parse.parse_qsl(parts.query))
        rev = fields.get("rev") or "HEAD"
        bare = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        return cls(repo_path(bare), rev, fields.get("artifact") or None)
