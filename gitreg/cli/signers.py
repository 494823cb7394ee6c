"""Who may sign, and whether registrations verify: `gitreg signers add|list|revoke`, `gitreg verify`."""

from __future__ import annotations

from pathlib import Path

import typer

from gitreg.cli import app, echo, emit_json, registry

signers_app = typer.Typer(
    help="Who may sign registrations (signers/ on the registry branch).", no_args_is_help=True
)
app.add_typer(signers_app, name="signers")

JSON = typer.Option(False, "--json", help="Print JSON instead of text.")


@signers_app.command("add")
def add(
    ssh: Path | None = typer.Option(None, "--ssh", help="An SSH public key file (KEY.pub)."),
    principal: str | None = typer.Option(None, "--principal", help="The email the SSH key signs as."),
    gpg: str | None = typer.Option(None, "--gpg", help="A GPG key fingerprint from your keyring."),
    json_: bool = JSON,
) -> None:
    """Allow a key to sign: a policy change, proposed on a gitreg-policy/... branch."""
    from gitreg.cli.governance import show_proposal

    show_proposal(registry().add_signer(ssh_key=ssh, principal=principal, gpg=gpg), json_)


@signers_app.command("revoke")
def revoke(
    ssh: Path | None = typer.Option(None, "--ssh", help="Revoke this SSH public key (KEY.pub)."),
    principal: str | None = typer.Option(None, "--principal", help="Revoke every SSH key of EMAIL."),
    gpg: str | None = typer.Option(None, "--gpg", help="Revoke this GPG primary fingerprint."),
    json_: bool = JSON,
) -> None:
    """Revoke a key (nothing it signed verifies any more): proposed on a gitreg-policy/... branch."""
    from gitreg.cli.governance import show_proposal

    show_proposal(registry().revoke_signer(ssh_key=ssh, principal=principal, gpg=gpg), json_)


@signers_app.command("list")
def list_(json_: bool = JSON) -> None:
    """List the keys allowed to sign, and those revoked."""
    found = registry().signers()
    if json_:
        emit_json([s.to_dict() for s in found])
        return
    if not found:
        echo("No signers yet. Add one with: gitreg signers add --ssh KEY.pub --principal EMAIL")
        return
    for s in found:
        state = "revoked" if s.revoked else ("ignored" if s.problem else "allowed")
        echo(f"{s.kind:3}  {state:7}  {s.fingerprint}  {', '.join(s.identities) or '-'}")
        if s.problem:
            echo(f"     {s.file}: {s.problem}")


@app.command()
def verify(
    ref: str | None = typer.Argument(None, help="NAME or NAME@VERSION (default: every version)."),
    json_: bool = JSON,
) -> None:
    """Verify registration tags: annotated, in place, bound to their cards, signed by allowed keys.

    Exit 0 when every version verifies, 1 when something does not.
    """
    results = registry().verify(ref)
    if json_:
        emit_json({"ok": all(r.ok for r in results), "versions": [r.to_dict() for r in results]})
    else:
        for r in results:
            echo(f"{'ok  ' if r.ok else 'FAIL'}  {r.tag}  {r.summary()}")
            for p in r.problems:
                echo(f"      {p.code}: {p.message}")
                echo(f"      fix: {p.fix}")
            for w in r.warnings:
                echo(f"      warning: {w}")
        bad = sum(not r.ok for r in results)
        if not results:
            echo("No versions to verify.")
        elif bad:
            echo(f"{bad} of {len(results)} version(s) do not verify.")
        else:
            echo(f"All {len(results)} version(s) verify.")
    if not all(r.ok for r in results):
        raise typer.Exit(1)
