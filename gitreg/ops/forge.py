"""Opening a proposal's pull/merge request on the forge that hosts the remote.

GitHub: the REST API (POST /repos/{owner}/{repo}/pulls), token from
GITHUB_TOKEN, API base from GITREG_GITHUB_API or GITHUB_API_URL (GitHub
Enterprise, tests), else derived from the remote's host. GitLab: push options
on the push itself (merge_request.create, merge_request.target), which GitLab
answers by opening the merge request. Anything else: the compare URL to open
by hand. The forge is detected from the remote URL's host, or set with git
config gitreg.forge (github, gitlab or none); gitreg.forgeProject overrides
OWNER/REPO when the URL does not carry it (a mirror, a local path in tests).
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from gitreg.errors import GitFailed, UsageError
from gitreg.results import to_data
from gitreg.version import __version__

FORGES = ("github", "gitlab", "none")
_SCP_RE = re.compile(r"(?:[^@/]+@)?([^:/]+):(?!//)(.+)\Z")
_MR_URL_RE = re.compile(r"https?://\S+/-/merge_requests/\d+")


@dataclass(frozen=True)
class Forge:
    kind: str | None  # "github", "gitlab" or None
    host: str | None
    project: str | None  # OWNER/REPO (GitLab: GROUP/.../PROJECT)

    @property
    def web(self) -> str | None:
        return f"https://{self.host}/{self.project}" if self.host and self.project else None


@dataclass
class Opened:
    """What --open did: a pull/merge request URL, or a URL to open one by hand."""

    kind: str  # "pull-request", "merge-request" or "compare"
    url: str | None
    created: bool  # False: it existed already, or it is only a link
    note: str | None = None

    def to_dict(self) -> dict:
        return to_data(self)


def parse_url(url: str) -> tuple[str | None, str | None]:
    """(host, project path) of a remote URL; (None, None) for a local path."""
    if "://" in url:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "file":
            return None, None
        host, path = parts.hostname, parts.path
    else:
        m = _SCP_RE.fullmatch(url)
        if not m or "/" in m[1]:
            return None, None
        host, path = m[1], m[2]
    path = path.strip("/")
    path = path[:-4] if path.endswith(".git") else path
    return (host.lower() if host else None), (path or None)


def detect(url: str | None, config: Mapping[str, str | None]) -> Forge:
    host, project = parse_url(url) if url else (None, None)
    project = config.get("gitreg.forgeProject") or project
    kind = (config.get("gitreg.forge") or "").lower() or None
    if kind is not None and kind not in FORGES:
        raise UsageError(f"git config gitreg.forge is {kind!r}.", hint="Set it to github, gitlab or none.")
    if kind is None and host:
        kind = "github" if "github" in host else "gitlab" if "gitlab" in host else None
    return Forge(None if kind == "none" else kind, host, project)


def gitlab_push_options(target: str, title: str, description: str) -> tuple[str, ...]:
    """Push options that make GitLab open a merge request of the pushed branch into TARGET."""
    flat = " ".join(description.split())  # a push option is one line
    return (
        "merge_request.create",
        f"merge_request.target={target}",
        f"merge_request.title={title}",
        f"merge_request.description={flat}",
    )


def gitlab_opened(forge: Forge, branch: str, target: str, messages: list[str]) -> Opened:
    """GitLab prints the merge request's URL among the remote's messages."""
    for line in messages:
        m = _MR_URL_RE.search(line)
        if m:  # GitLab prints the same lines for a new and an existing merge request
            return Opened("merge-request", m[0], True)
    return Opened(
        "merge-request",
        compare_url(forge, target, branch),
        True,
        "the push asked GitLab to open a merge request; it did not print its URL",
    )


def compare_url(forge: Forge, base: str, head: str) -> str | None:
    if not forge.web:
        return None
    q = urllib.parse.quote
    if forge.kind == "gitlab":
        return (
            f"{forge.web}/-/merge_requests/new?merge_request%5Bsource_branch%5D={q(head, safe='')}"
            f"&merge_request%5Btarget_branch%5D={q(base, safe='')}"
        )
    if forge.kind == "github":
        return f"{forge.web}/compare/{q(base)}...{q(head)}?expand=1"
    return None


def github_api(forge: Forge, env: Mapping[str, str]) -> str:
    base = env.get("GITREG_GITHUB_API") or env.get("GITHUB_API_URL")
    if base:
        return base.rstrip("/")
    if not forge.host or forge.host == "github.com":
        return "https://api.github.com"
    return f"https://{forge.host}/api/v3"  # GitHub Enterprise Server


def open_github(forge: Forge, base: str, head: str, title: str, body: str, env: Mapping[str, str]) -> Opened:
    """Open a pull request of HEAD into BASE; an open one for the same branch is reused."""
    token = env.get("GITHUB_TOKEN")
    link = compare_url(forge, base, head)
    if not token:
        return Opened("compare", link, False, "GITHUB_TOKEN is not set: open the pull request here")
    if not forge.project or forge.project.count("/") != 1:
        raise UsageError(
            f"cannot tell the GitHub repository from the remote ({forge.project!r}).",
            hint="Set it: git config gitreg.forgeProject OWNER/REPO",
        )
    api = f"{github_api(forge, env)}/repos/{forge.project}/pulls"
    payload = {"title": title, "head": head, "base": base, "body": body, "maintainer_can_modify": True}
    status, answer = _request("POST", api, token, payload)
    if status == 201:  # GitHub answers 201 with the created pull request, a JSON object
        return Opened("pull-request", cast(dict, answer).get("html_url"), True)
    if status == 422 and "already exists" in json.dumps(answer):
        owner = forge.project.split("/")[0]
        query = urllib.parse.urlencode({"head": f"{owner}:{head}", "base": base, "state": "open"})
        status2, found = _request("GET", f"{api}?{query}", token, None)
        if status2 == 200 and isinstance(found, list) and found:
            return Opened("pull-request", found[0].get("html_url"), False)
    message = answer.get("message") if isinstance(answer, dict) else None
    errors = answer.get("errors") if isinstance(answer, dict) else None
    raise GitFailed(
        f"GitHub did not open the pull request (HTTP {status}: {message or 'no message'}"
        f"{'; ' + json.dumps(errors) if errors else ''}).",
        hint=f"The branch {head} was pushed; open the pull request by hand"
        f"{': ' + link if link else ''}. A token needs the pull-requests:write permission.",
    )


def _request(method: str, url: str, token: str, payload: dict | None) -> tuple[int, object]:
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": f"gitreg/{__version__}",
            **({"Content-Type": "application/json"} if data is not None else {}),
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, _json(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _json(exc.read())
    except (urllib.error.URLError, OSError) as exc:
        raise GitFailed(
            f"cannot reach the GitHub API at {url}: {getattr(exc, 'reason', exc)}.",
            hint="Check the network, or GITREG_GITHUB_API / GITHUB_API_URL.",
        ) from None


def _json(raw: bytes) -> object:
    try:
        return json.loads(raw.decode() or "{}")
    except (ValueError, UnicodeDecodeError):
        return {"message": raw[:200].decode(errors="replace")}


def publish_proposal(
    reg,
    branch: str,
    *,
    title: str,
    body: str,
    remote: str | None = None,
    open_request: bool = False,
    env: Mapping[str, str] | None = None,
) -> dict:
    """Push a proposal branch (`promote --push`) and, with OPEN_REQUEST, open its PR/MR (`--open`)."""
    from gitreg.ops import remote as remotes

    env = os.environ if env is None else env
    store = reg.store
    remote = remotes.resolve_remote(store, remote)
    forge = detect(
        store.remote_url(remote), {k: store.config(k) for k in ("gitreg.forge", "gitreg.forgeProject")}
    )
    options = gitlab_push_options(reg.branch, title, body) if open_request and forge.kind == "gitlab" else ()
    remote, result = remotes.publish(reg, branch, remote, options)
    out: dict = {"remote": remote, "branch": branch, "forge": forge.kind, "messages": result.messages}
    if not open_request:
        return out
    if forge.kind == "github":
        opened = open_github(forge, reg.branch, branch, title, body, env)
    elif forge.kind == "gitlab":
        opened = gitlab_opened(forge, branch, reg.branch, result.messages)
    else:
        opened = Opened(
            "compare",
            compare_url(forge, reg.branch, branch),
            False,
            f"no known forge at {remote}: open a merge request of {branch} into {reg.branch} there",
        )
    out["opened"] = opened.to_dict()
    return out
