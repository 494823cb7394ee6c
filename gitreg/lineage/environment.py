"""What pins the environment a model was trained in, as the source commit records it: lock and
requirements files (by sha256), conda environment files, a Dockerfile's base images pinned by
digest, and the Python version. Read from Git objects only.
"""

from __future__ import annotations

import hashlib
import re
import sys
from typing import Any

from gitreg.lineage.pipeline import Pipeline
from gitreg.store.gitstore import GitStore

# (kind, file name pattern) looked for at the top of the source tree, in this order.
PIN_FILES = (
    ("uv", re.compile(r"uv\.lock")),
    ("poetry", re.compile(r"poetry\.lock")),
    ("pipenv", re.compile(r"Pipfile\.lock")),
    ("pdm", re.compile(r"pdm\.lock")),
    ("conda", re.compile(r"conda-lock\.ya?ml|environment(-[\w.-]+)?\.ya?ml|conda(-[\w.-]+)?\.ya?ml")),
    ("pip", re.compile(r"requirements([-_.][\w.-]+)?\.(txt|lock|in)")),
    ("docker", re.compile(r"Dockerfile(\.[\w.-]+)?")),
)
MAX_PIN_FILE = 8 * 1024 * 1024
_FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)", re.I | re.M)
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def collect(store: GitStore, pipe: Pipeline, image: str | None) -> dict[str, Any]:
    env: dict[str, Any] = {}
    pyver = store.read_blob(pipe.tree, ".python-version", max_bytes=256)
    if pyver is not None and pyver.strip():
        env["python"] = pyver.decode(errors="replace").split()[0]
    else:  # no pin in the commit: say which Python registered it, not that it trained it
        env["registered_with_python"] = ".".join(map(str, sys.version_info[:3]))
    pins = []
    names = sorted(name for name, _oid, is_tree in store.list_dir(pipe.tree, "") if not is_tree)
    for kind, pattern in PIN_FILES:
        for name in names:
            if not pattern.fullmatch(name):
                continue
            oid = store.entry_id(pipe.tree, name)
            if oid is None or store.blob_size(oid) > MAX_PIN_FILE:
                continue
            data = store.read_blob_id(oid)
            pin: dict[str, Any] = {"path": name, "kind": kind, "sha256": hashlib.sha256(data).hexdigest()}
            if kind == "docker":
                images = _FROM.findall(data.decode(errors="replace"))
                unpinned = [i for i in images if not _DIGEST.search(i) and i.lower() != "scratch"]
                if not images or unpinned:
                    continue  # a base image by tag alone pins nothing
                pin["base_images"] = images
            pins.append(pin)
    if pins:
        env["pins"] = pins
        files = [p for p in pins if p["kind"] != "docker"]
        if files:  # what cards before pins had, kept for readers of that field
            env["lock_file"] = {"path": files[0]["path"], "sha256": files[0]["sha256"]}
    if image:
        env["image"] = image
    return env


def pinned(env: Any) -> bool:
    """Whether an environment record pins anything (a lock/requirements file or an image digest)."""
    return isinstance(env, dict) and bool(env.get("pins") or env.get("lock_file") or env.get("image"))
