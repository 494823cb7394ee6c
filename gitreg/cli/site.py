"""`gitreg site` (the static HTML registry) and `gitreg ui` (it, served on 127.0.0.1)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from gitreg.cli import app, echo, registry


def _bar():
    """A progress bar on stderr when it is a terminal; nothing otherwise (CI logs, pipes)."""
    if not sys.stderr.isatty():
        return None, None
    state: dict = {}

    def progress(done: int, total: int, name: str) -> None:
        if total < 20:
            return
        if "bar" not in state:
            state["bar"] = typer.progressbar(length=total, label="models", file=sys.stderr)
            state["bar"].__enter__()
        state["bar"].update(done - state.get("done", 0))
        state["done"] = done
        if done >= total:
            state["bar"].__exit__(None, None, None)

    return progress, state


@app.command()
def site(
    output: Path = typer.Option(..., "-o", "--output", help="The folder to write the site into."),
    json_: bool = typer.Option(False, "--json", help="Print what was built as JSON."),
) -> None:
    """Write the registry as static HTML (no server, no CDN, works from file://): models with
    stage badges and filters, a page per model with charts and a comparison of two versions, a
    page per version, the audit trail and the week's review. Rebuilds only what changed."""
    from dataclasses import asdict

    from gitreg.cli import emit_json

    progress, _ = _bar()
    built = registry().build_site(output, progress=progress)
    if json_:
        emit_json(asdict(built))
        return
    echo(
        f"Wrote {built.pages} pages for {built.models} models to {output} "
        f"({len(built.rebuilt)} rebuilt, {built.kept} kept). Open {output / 'index.html'}"
    )


@app.command()
def ui(
    port: int = typer.Option(8321, "--port", help="Port on 127.0.0.1 (0: any free one)."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Keep the site in this folder."),
) -> None:
    """Serve the registry site on 127.0.0.1, rebuilt whenever the registry branch moves."""
    import tempfile

    from gitreg.review import serve

    reg = registry()
    folder = output or Path(tempfile.mkdtemp(prefix="gitreg-site-"))
    with serve.Server(reg.store, reg.branch_ref, folder, port) as server:
        echo(f"Serving the registry at {server.url} (Ctrl-C to stop)")
        server.serve_forever()
