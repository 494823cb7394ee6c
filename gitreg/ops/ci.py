"""CI files that run `gitreg check` on merge requests: what `gitreg init --ci github|gitlab` writes.

Both judge a change by the policy on its base, read the proposal as git objects only (never
run), and clone what the check reads and no more: one branch, no blobs, no tags (a partial
clone); the check fetches the blobs it reads and the tags the change names. The GitLab template is
also shipped in the repository (gitlab/gitreg-check.gitlab-ci.yml); a test
keeps the two identical.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from gitreg.errors import UsageError
from gitreg.results import to_data
from gitreg.version import __version__

KINDS = ("github", "gitlab")
GITHUB_PATH = ".github/workflows/gitreg-check.yml"
GITLAB_PATH = ".gitlab/gitreg-check.gitlab-ci.yml"
GITLAB_ROOT = ".gitlab-ci.yml"

GITHUB = """\
# gitreg check: judge pull requests against the registry branch by the policy on their base.
# Written by `gitreg init --ci github`. The policy, validators and signers come from the base;
# the pull request's head is fetched as git objects only, never checked out or run, so the
# same steps are safe under pull_request_target. The job clones the base branch alone, without
# blobs or tags (a partial clone): the check fetches what it reads, so its cost follows the
# change. Require the "gitreg check" job in the branch protection of __BRANCH__ to make it a gate.
name: gitreg check

on:
  pull_request:
    branches: [__BRANCH_YAML__]

permissions: {}

concurrency:
  group: gitreg-check-${{ github.event.pull_request.number }}
  cancel-in-progress: true

jobs:
  check:
    name: gitreg check
    runs-on: ubuntu-latest
    timeout-minutes: 20
    permissions:
      contents: read
    steps:
      - name: Clone what the check reads (the base branch without blobs or tags, the head as data)
        env:
          REPO_URL: ${{ github.server_url }}/${{ github.repository }}
          BASE_REF: ${{ github.event.pull_request.base.ref }}
          BASE_SHA: ${{ github.event.pull_request.base.sha }}
          PR_NUMBER: ${{ github.event.pull_request.number }}
          HEAD_SHA: ${{ github.event.pull_request.head.sha }}
          TOKEN: ${{ github.token }}
        run: |
          auth="AUTHORIZATION: basic $(printf 'x-access-token:%s' "$TOKEN" | base64 -w0)"
          git -c "http.extraheader=$auth" clone --quiet --filter=blob:none --no-checkout \\
            --single-branch --no-tags --branch "$BASE_REF" "$REPO_URL" .
          git -c "http.extraheader=$auth" fetch --quiet --no-tags origin \\
            "+refs/pull/${PR_NUMBER}/head:refs/gitreg/pull/${PR_NUMBER}"
          git cat-file -e "${BASE_SHA}^{commit}"
          git cat-file -e "${HEAD_SHA}^{commit}"
      - uses: actions/setup-python@0b93645e9fea7318ecaed2b359559ac225c90a2b # v5.3.0
        with:
          python-version: "3.12"
      - name: Install gitreg
        run: python -m pip install "__REQUIREMENT__"
      - name: gitreg check
        env:
          BASE_SHA: ${{ github.event.pull_request.base.sha }}
          HEAD_SHA: ${{ github.event.pull_request.head.sha }}
          TOKEN: ${{ github.token }}
        run: |
          # The blobs and the tags the change names are fetched as the check reads them;
          # the token reaches git through the environment of this step only.
          auth="AUTHORIZATION: basic $(printf 'x-access-token:%s' "$TOKEN" | base64 -w0)"
          GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=http.extraheader GIT_CONFIG_VALUE_0="$auth" \\
            gitreg check --base "$BASE_SHA" --head "$HEAD_SHA" --format github
"""

GITLAB = """\
# gitreg check: judge merge requests into the registry branch by the policy on their base.
# Include it from .gitlab-ci.yml:
#   include:
#     - local: .gitlab/gitreg-check.gitlab-ci.yml
# The policy, validators and signers come from the merge request's base; the proposal is read
# as git objects only, never checked out or run. The job clones what the check reads and no
# more: the target branch alone, without blobs (a partial clone) and without tags; the check
# fetches the blobs it reads and the registration tags the change names. Make it a gate with
# "Pipelines must succeed" and a protected __BRANCH__ branch.
gitreg-check:
  stage: test
  image: python:3.12
  variables:
    GIT_STRATEGY: none
    GITREG_REQUIREMENT: "__REQUIREMENT__"
  rules:
    - if: >-
        $CI_PIPELINE_SOURCE == "merge_request_event"
        && $CI_MERGE_REQUEST_TARGET_BRANCH_NAME == __BRANCH_YAML__
  script:
    - rm -rf .gitreg-check
    - >-
      git clone --quiet --filter=blob:none --no-checkout --single-branch --no-tags
      --branch "$CI_MERGE_REQUEST_TARGET_BRANCH_NAME" "$CI_REPOSITORY_URL" .gitreg-check
    - cd .gitreg-check
    - >-
      git fetch --quiet --no-tags origin
      "+refs/merge-requests/$CI_MERGE_REQUEST_IID/head:refs/gitreg/merge-request"
    - git cat-file -e "$CI_MERGE_REQUEST_DIFF_BASE_SHA^{commit}"
    - git cat-file -e "$CI_COMMIT_SHA^{commit}"
    - python -m pip install "$GITREG_REQUIREMENT"
    - gitreg check --base "$CI_MERGE_REQUEST_DIFF_BASE_SHA" --head "$CI_COMMIT_SHA" --format text
"""

GITLAB_INCLUDE = f"""\
# Written by `gitreg init --ci gitlab`: the gitreg check on merge requests into the registry.
include:
  - local: {GITLAB_PATH}
"""


# The name on the package index: `gitreg` there is an unrelated package (0.0.1, 2022), so
# `pip install gitreg` installs the wrong thing. The import package and the command stay gitreg.
DISTRIBUTION = "gitreg-ml"
# What a pip spec may hold here: it lands in YAML and in a shell command between double quotes.
_SPEC_RE = re.compile(r"[A-Za-z0-9._+\-=<>!~:/@#\[\],%]+\Z")
_OTHER = re.compile(r"gitreg(\[[^\]]*\])?(\s*[=<>!~].*)?\Z", re.IGNORECASE)


def requirement(spec: str | None = None) -> str:
    """The pip spec CI installs gitreg by: this project's distribution at this version, or SPEC
    (e.g. 'gitreg-ml==0.2.0' or 'git+https://github.com/ORG/gitreg@v0.1.0'), checked."""
    if spec is None:
        return f"{DISTRIBUTION}=={__version__}"
    if not _SPEC_RE.fullmatch(spec):
        raise UsageError(
            f"{spec!r} is not a pip requirement gitreg writes into CI files.",
            hint=f"Give {DISTRIBUTION}==VERSION or git+https://HOST/ORG/REPO@TAG (no spaces or quotes).",
        )
    if _OTHER.fullmatch(spec):
        raise UsageError(
            f"{spec!r} installs the unrelated package named 'gitreg' on the package index.",
            hint=f"This project is {DISTRIBUTION}: --install {DISTRIBUTION}=={__version__}",
        )
    return spec


def render(template: str, branch: str, spec: str | None = None) -> str:
    quoted = json.dumps(branch)  # a YAML double-quoted scalar, whatever the branch is called
    return (
        template.replace("__BRANCH_YAML__", quoted)
        .replace("__BRANCH__", branch)
        .replace("__REQUIREMENT__", requirement(spec))
    )


@dataclass
class Written:
    kind: str
    files: list[str] = field(default_factory=list)  # paths relative to the work tree
    note: str | None = None
    root: Path = field(default=Path("."), repr=False, metadata={"json": None})
    texts: dict[str, str] = field(default_factory=dict, repr=False, metadata={"json": None})

    def to_dict(self) -> dict:
        return to_data(self)


def plan(workdir: str | os.PathLike | None, kind: str, branch: str, spec: str | None = None) -> Written:
    """What `write` would write; refuses (nothing written) when a file is there already.
    SPEC: the pip requirement the CI installs gitreg by (default: this version of gitreg-ml)."""
    if kind not in KINDS:
        raise UsageError(f"--ci {kind!r} is not one of {', '.join(KINDS)}.")
    if workdir is None:
        raise UsageError(
            "this repository has no work tree to write CI files into.",
            hint="Run 'gitreg init --ci ...' in a clone with a work tree.",
        )
    root = Path(workdir)
    files = (
        {GITHUB_PATH: render(GITHUB, branch, spec)}
        if kind == "github"
        else {GITLAB_PATH: render(GITLAB, branch, spec)}
    )
    note = None
    if kind == "gitlab":
        if (root / GITLAB_ROOT).exists():
            note = f"{GITLAB_ROOT} exists: add the check to it with\ninclude:\n  - local: {GITLAB_PATH}"
        else:
            files[GITLAB_ROOT] = GITLAB_INCLUDE
    existing = [p for p in files if (root / p).exists()]
    if existing:
        raise UsageError(
            f"{', '.join(existing)} exists already; gitreg does not overwrite it.",
            hint="Move it away (or merge it by hand) and run 'gitreg init --ci "
            f"{kind}' again. Nothing was written.",
        )
    return Written(kind, list(files), note, root, files)


def write(planned: Written) -> Written:
    """Write the planned files into the work tree, never over a file (the user commits them)."""
    for path, text in planned.texts.items():
        target = planned.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "x", encoding="utf-8") as f:  # "x": never clobber a file made meanwhile
            f.write(text)
    return planned
