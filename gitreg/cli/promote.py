"""Promotions as proposals: promote, merge."""

from __future__ import annotations

import typer

from gitreg.cli import app, echo, emit_json, registry


@app.command()
def promote(
    ref: str = typer.Argument(..., help="NAME@VERSION (or NAME@STAGE) to promote."),
    stage: str = typer.Argument(..., help="Stage to promote into, such as production."),
    push: bool = typer.Option(False, "--push", help="Push the proposal branch (git CLI, checked)."),
    open_: bool = typer.Option(
        False,
        "--open",
        help="Push it and open the pull/merge request (GitHub API with GITHUB_TOKEN, "
        "GitLab push options; else print the compare URL).",
    ),
    remote: str | None = typer.Option(
        None, "--remote", "-r", help="Remote for --push/--open (default: gitreg.remote, else origin)."
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Propose a promotion: a checked branch gitreg-promote/NAME/vVERSION/STAGE."""
    reg = registry()
    proposal = reg.promote(ref, stage)
    published = _publish(reg, proposal, remote, open_) if push or open_ else None
    if json_:
        emit_json({**proposal.to_dict(), **({"published": published} if published else {})})
        return
    import gitreg.cli.text as text

    for line in text.proposed(proposal, stage):
        echo(line)
    if published is None:
        echo(text.merge_hint(proposal.branch))
        return
    for line in published["messages"]:
        echo(f"{published['remote']}: {line}")
    echo(f"Pushed {proposal.branch} to {published['remote']}.")
    opened = published.get("opened")
    if opened:
        what = {"pull-request": "Pull request", "merge-request": "Merge request"}.get(opened["kind"])
        if opened["note"]:
            echo(f"{opened['note']}{': ' + opened['url'] if opened['url'] else '.'}")
        elif opened["kind"] == "pull-request" and opened["url"]:
            echo(f"{what} {'opened' if opened['created'] else 'exists already'}: {opened['url']}")
        elif what and opened["url"]:
            echo(f"{what}: {opened['url']}")
        elif opened["url"]:
            echo(f"Open the merge request: {opened['url']}")


def _publish(reg, proposal, remote: str | None, open_request: bool) -> dict:
    from gitreg.ops import forge

    moves = "".join(f"\n- {m}" for m in proposal.moves)
    rules = len(proposal.report.rules) if proposal.report else 0
    body = (
        f"Promote {proposal.name}@{proposal.version} to {proposal.stage}, proposed with gitreg."
        f"{moves}\n\nThe gitreg check passed locally ({rules} rules), judged by the registry's "
        "policy on the base; the registry's CI runs it again on this request."
    )
    return forge.publish_proposal(
        reg,
        proposal.branch,
        remote=remote,
        open_request=open_request,
        title=f"Promote {proposal.name}@{proposal.version} to {proposal.stage}",
        body=body,
    )


@app.command()
def merge(
    proposal: str = typer.Argument(..., help="Proposal branch (or commit) to merge."),
    push: bool = typer.Option(
        False,
        "--push",
        help="Then publish the registry (gitreg push: one atomic push to gitreg.remote, else origin).",
    ),
    ff: bool = typer.Option(
        False, "--ff", help="Fast-forward when possible: no merge commit (approvals stay in the history)."
    ),
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check a proposal (its signed approvals included) against the registry branch, then merge
    it (compare-and-swap) in a merge commit; refused while approvals are short."""
    result = registry().merge(proposal, push=push, ff=ff)
    if json_:
        emit_json(result.to_dict())
        return
    if not result.merged:
        echo(f"{proposal} is merged already; nothing to do.")
        return
    how = "fast-forward" if result.fast_forward else "merge commit"
    echo(
        f"Merged {proposal} into the registry ({how}, {result.previous[:10]} -> "
        f"{result.commit[:10]}); the check passed{'; pushed' if result.pushed else ''}."
    )
    for e in result.events:
        if e.kind == "policy":
            echo(f"  policy changed: {', '.join(e.paths)}")
            continue
        move = f" {e.from_stage or '-'} -> {e.to_stage or '-'}" if e.kind != "registered" else ""
        echo(f"  {e.kind} {e.model}@{e.version}{move}")
    if result.gto_tags:
        echo("GTO tags: " + ", ".join(result.gto_tags))
    if result.gto_tags_error:
        echo(f"warning: GTO tags not written: {result.gto_tags_error}")
