"""Governance commands: `gitreg approve`, `gitreg policy set`, `gitreg checks add`."""

from __future__ import annotations

from pathlib import Path

import typer

from gitreg.cli import app, echo, emit_json, registry

JSON = typer.Option(False, "--json", help="Print JSON.")

policy_app = typer.Typer(help="Change the policy (registry.yaml) through a proposal.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
checks_app = typer.Typer(
    help="Validator scripts under checks/, changed through a proposal.", no_args_is_help=True
)
app.add_typer(checks_app, name="checks")


@app.command()
def approve(
    proposal: str = typer.Argument(..., help="The proposal branch (gitreg-promote/..., gitreg-policy/...)."),
    push: bool = typer.Option(False, "--push", help="Push the approved branch (git CLI, checked)."),
    remote: str | None = typer.Option(None, "--remote", "-r", help="Remote for --push."),
    json_: bool = JSON,
) -> None:
    """Approve a proposal: a signed, empty commit 'Approve <change id>' on its branch."""
    result = registry().approve(proposal, push=push, remote=remote)
    if json_:
        emit_json(result.to_dict())
        return
    echo(f"Approved {result.change[:10]} on {result.branch} (signed commit {result.commit[:10]}).")
    for line in result.pending:
        echo(f"Still needed: {line}")
    if result.pushed_to:
        echo(f"Pushed {result.branch} to {result.pushed_to}.")


def show_proposal(result, json_: bool) -> None:
    if json_:
        emit_json(result.to_dict() if hasattr(result, "to_dict") else result)
        return
    data = result if isinstance(result, dict) else result.to_dict()
    signed = "signed" if data["signed"] else "unsigned: no git signing key here"
    echo(f"{data['message']}: proposed on branch {data['branch']} ({data['commit'][:10]}, {signed}).")
    for line in data["pending"]:
        echo(f"Still needed: {line}")
    echo(
        f"Maintainers approve it with 'gitreg approve {data['branch']}'; then 'gitreg merge "
        f"{data['branch']}' (or push it and merge the request with a merge commit)."
    )


@policy_app.command("set")
def policy_set(
    file: Path = typer.Argument(..., help="The new registry.yaml."),
    json_: bool = JSON,
) -> None:
    """Propose a new policy: a gitreg-policy/... branch the maintainers sign."""
    show_proposal(registry().set_policy(file), json_)


@checks_app.command("add")
def checks_add(
    files: list[Path] = typer.Argument(..., help="Scripts to put under checks/."),
    json_: bool = JSON,
) -> None:
    """Propose validator scripts under checks/: a gitreg-policy/... branch the maintainers sign."""
    show_proposal(registry().add_checks(list(files)), json_)
