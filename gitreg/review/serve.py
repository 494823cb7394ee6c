"""`gitreg ui`: the site served on 127.0.0.1 only, rebuilt when the registry branch has moved.

The check is made when a page is asked for (one ref read), so what the browser shows is the
registry as it is now, with no watcher thread and no polling.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

from gitreg.review import site
from gitreg.store.gitstore import GitStore


class Server:
    def __init__(self, store: GitStore, branch_ref: str, folder: Path, port: int):
        self.store, self.branch_ref, self.folder = store, branch_ref, Path(folder)
        self.built: str | None = None
        self.lock = threading.Lock()
        self.refresh()
        handler = functools.partial(_Handler, self, directory=str(self.folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/index.html"

    def refresh(self) -> None:
        with self.lock:
            head = self.store.ref_target(self.branch_ref)
            if head is not None and head != self.built:
                site.build(self.store, head, self.folder)
                self.built = head

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.server_close()
        if self.folder.name.startswith("gitreg-site-"):
            shutil.rmtree(self.folder, ignore_errors=True)


class _Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, server_state: Server, *args, **kwargs):
        self.state = server_state
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        if self.path.split("?")[0].endswith((".html", "/")):
            self.state.refresh()
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:  # quiet: the CLI prints the URL
        pass
