"""`gitreg promote --push --open` (issue 3, acceptance 3).

GitLab: a real bare repository with receive.advertisePushOptions, whose hook records the push
options it received and answers like GitLab. GitHub: a local HTTP server on 127.0.0.1 that
checks the request shape of the pulls API. The remote URL names the forge's host and git's
url.<path>.insteadOf sends the push to a local bare repository: no network.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import git, gitreg
from remote_helpers import build_team, copy_team, remote_refs

from gitreg.ops import forge
from gitreg.store import layout

BRANCH = layout.proposal_branch("churn", "1.1.0", "production")

RECORD_OPTIONS = """\
#!/bin/sh
i=0
: > push-options.txt
while [ "$i" -lt "${GIT_PUSH_OPTION_COUNT:-0}" ]; do
    eval "printf '%s\\n' \\"\\$GIT_PUSH_OPTION_$i\\"" >> push-options.txt
    i=$((i + 1))
done
echo "View merge request for $(cut -d' ' -f3 | sed 's|refs/heads/||'):"
echo "  https://gitlab.example.com/ml/churn/-/merge_requests/12"
"""


@pytest.fixture(scope="module")
def _template(tmp_path_factory) -> Path:
    return build_team(tmp_path_factory.mktemp("team"), server_hook=False)


def on_forge(template: Path, dest: Path, url: str) -> tuple[Path, Path]:
    """A team whose remote 'origin' is URL on a forge, served by the local bare repository."""
    work, remote = copy_team(template, dest)
    git(work, "remote", "set-url", "origin", url)
    git(work, "config", f"url.{remote}.insteadOf", url)
    return work, remote


@pytest.fixture
def gitlab(_template, tmp_path) -> tuple[Path, Path]:
    work, remote = on_forge(_template, tmp_path / "team", "https://gitlab.example.com/ml/churn.git")
    git(remote, "config", "receive.advertisePushOptions", "true")
    hook = remote / "hooks" / "post-receive"
    hook.write_text(RECORD_OPTIONS)
    hook.chmod(0o755)
    return work, remote


def test_open_on_gitlab_sends_the_merge_request_push_options(gitlab):
    work, remote = gitlab
    proc = gitreg(work, "promote", "churn@1.1.0", "production", "--open")
    assert proc.returncode == 0, proc.stderr
    options = (remote / "push-options.txt").read_text().splitlines()
    assert options[:2] == ["merge_request.create", "merge_request.target=gitreg"]
    assert "merge_request.title=Promote churn@1.1.0 to production" in options
    assert any(o.startswith("merge_request.description=") and "check passed" in o for o in options)
    assert git(remote, "rev-parse", f"refs/heads/{BRANCH}") == git(work, "rev-parse", BRANCH)
    assert "Merge request: https://gitlab.example.com/ml/churn/-/merge_requests/12" in proc.stdout


def test_push_without_open_sends_no_push_options(gitlab):
    work, remote = gitlab
    proc = gitreg(work, "promote", "churn@1.1.0", "production", "--push", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["published"]["remote"] == "origin" and "opened" not in out["published"]
    assert (remote / "push-options.txt").read_text() == ""
    assert BRANCH in remote_refs(remote)


def test_open_on_gitlab_fails_clearly_without_push_options(gitlab):
    work, remote = gitlab
    git(remote, "config", "receive.advertisePushOptions", "false")
    before = remote_refs(remote)
    proc = gitreg(work, "promote", "churn@1.1.0", "production", "--open")
    assert proc.returncode == 2
    assert "push options" in proc.stderr
    assert remote_refs(remote) == before


class _Recorder(BaseHTTPRequestHandler):
    """A stand-in for api.github.com's pulls endpoint that records what it was sent (on the
    server object: requests; the answer to a POST: server.answer)."""

    def _record(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        entry = {
            "method": self.command,
            "path": self.path,
            "headers": dict(self.headers.items()),
            "json": json.loads(body) if body else None,
        }
        self.server.requests.append(entry)
        return entry

    def _reply(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # the stdlib names the handlers
        self._record()
        self._reply(*self.server.answer)

    def do_GET(self):
        self._record()
        self._reply(200, [{"number": 5, "html_url": "https://github.com/acme/models/pull/5"}])

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.requests = []
    server.answer = (201, {"number": 7, "html_url": "https://github.com/acme/models/pull/7"})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def github(_template, tmp_path) -> tuple[Path, Path]:
    return on_forge(_template, tmp_path / "team", "git@github.com:acme/models.git")


def github_env(api) -> dict:
    return {
        "GITHUB_TOKEN": "test-token",
        "GITREG_GITHUB_API": f"http://127.0.0.1:{api.server_port}",
        "NO_PROXY": "127.0.0.1",
        "no_proxy": "127.0.0.1",
    }


def test_open_on_github_posts_a_pull_request(github, api):
    work, remote = github
    proc = gitreg(work, "promote", "churn@1.1.0", "production", "--open", env=github_env(api))
    assert proc.returncode == 0, proc.stderr
    assert "Pull request opened: https://github.com/acme/models/pull/7" in proc.stdout
    assert BRANCH in remote_refs(remote)  # pushed before the request was made
    (req,) = api.requests
    assert req["method"] == "POST" and req["path"] == "/repos/acme/models/pulls"
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert headers["authorization"] == "Bearer test-token"
    assert headers["accept"] == "application/vnd.github+json"
    assert headers["x-github-api-version"] == "2022-11-28"
    assert headers["content-type"] == "application/json"
    body = req["json"]
    assert body["head"] == BRANCH and body["base"] == "gitreg"
    assert body["title"] == "Promote churn@1.1.0 to production"
    assert "1.1.0" in body["body"] and "check passed" in body["body"]


def test_open_on_github_reuses_an_open_pull_request(github, api):
    work, _ = github
    api.answer = (
        422,
        {
            "message": "Validation Failed",
            "errors": [{"message": f"A pull request already exists for acme:{BRANCH}."}],
        },
    )
    proc = gitreg(work, "promote", "churn@1.1.0", "production", "--open", env=github_env(api))
    assert proc.returncode == 0, proc.stderr
    assert "Pull request exists already: https://github.com/acme/models/pull/5" in proc.stdout
    post, get = api.requests
    assert post["method"] == "POST" and get["method"] == "GET"
    assert get["path"].startswith("/repos/acme/models/pulls?")
    assert f"head=acme%3A{BRANCH.replace('/', '%2F')}" in get["path"] and "base=gitreg" in get["path"]


def test_open_on_github_reports_an_api_refusal(github, api):
    work, remote = github
    api.answer = (401, {"message": "Bad credentials"})
    proc = gitreg(work, "promote", "churn@1.1.0", "production", "--open", env=github_env(api))
    assert proc.returncode == 2
    assert "HTTP 401: Bad credentials" in proc.stderr
    assert f"https://github.com/acme/models/compare/gitreg...{BRANCH}" in proc.stderr
    assert BRANCH in remote_refs(remote)


def test_open_on_github_without_a_token_prints_the_compare_url(github, api):
    work, _ = github
    env = github_env(api)
    del env["GITHUB_TOKEN"]
    proc = gitreg(work, "promote", "churn@1.1.0", "production", "--open", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "GITHUB_TOKEN is not set" in proc.stdout
    assert f"https://github.com/acme/models/compare/gitreg...{BRANCH}?expand=1" in proc.stdout
    assert api.requests == []


def test_open_on_an_unknown_forge_says_what_to_do(_template, tmp_path):
    work, remote = copy_team(_template, tmp_path / "team")
    proc = gitreg(work, "promote", "churn@1.1.0", "production", "--open")
    assert proc.returncode == 0, proc.stderr
    assert f"open a merge request of {BRANCH} into gitreg" in proc.stdout
    assert BRANCH in remote_refs(remote)


@pytest.mark.parametrize(
    ("url", "host", "project"),
    [
        ("https://github.com/acme/models.git", "github.com", "acme/models"),
        ("https://user:pw@GitHub.com/acme/models/", "github.com", "acme/models"),
        ("git@github.com:acme/models.git", "github.com", "acme/models"),
        ("ssh://git@gitlab.example.com:2222/ml/team/churn.git", "gitlab.example.com", "ml/team/churn"),
        ("gitlab.com:group/project", "gitlab.com", "group/project"),
        ("/srv/git/models.git", None, None),
        ("../remote.git", None, None),
        ("file:///srv/git/models.git", None, None),
    ],
)
def test_remote_urls_are_parsed(url, host, project):
    assert forge.parse_url(url) == (host, project)


def test_the_forge_is_detected_from_the_host_or_set_in_config():
    assert forge.detect("https://github.example.com/a/b.git", {}).kind == "github"
    assert forge.detect("git@gitlab.example.com:a/b.git", {}).kind == "gitlab"
    assert forge.detect("https://git.example.com/a/b.git", {}).kind is None
    assert forge.detect("/srv/x.git", {"gitreg.forge": "gitlab"}).kind == "gitlab"
    assert forge.detect("https://github.com/a/b.git", {"gitreg.forge": "none"}).kind is None
    assert forge.detect("/srv/x.git", {"gitreg.forgeProject": "o/r"}).project == "o/r"
    ghe = forge.detect("https://github.example.com/a/b.git", {})
    assert forge.github_api(ghe, {}) == "https://github.example.com/api/v3"
    assert forge.github_api(ghe, {"GITHUB_API_URL": "https://ghe/api/v3/"}) == "https://ghe/api/v3"
    assert forge.github_api(forge.detect("git@github.com:a/b", {}), {}) == "https://api.github.com"
    gl = forge.detect("https://gitlab.example.com/ml/churn.git", {})
    assert forge.compare_url(gl, "gitreg", "gitreg-promote/churn/v1.0.0/staging") == (
        "https://gitlab.example.com/ml/churn/-/merge_requests/new?merge_request%5Bsource_branch%5D="
        "gitreg-promote%2Fchurn%2Fv1.0.0%2Fstaging&merge_request%5Btarget_branch%5D=gitreg"
    )
