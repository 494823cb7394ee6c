"""DVC is an optional extra: the commands that run it say which extra to install.

Reading lineage (dvc.lock, dvc.yaml, .dvc files) needs no DVC: it is read from Git objects.
Only re-running a pipeline, reading a DVC remote and the demo need DVC itself.
"""

from __future__ import annotations

from gitreg.errors import MissingExtra

DVC_EXTRA = "pip install 'gitreg-ml[dvc]'"


def require_dvc(what: str) -> None:
    """Raise MissingExtra naming WHAT needs DVC and how to install it, when DVC is absent."""
    try:
        import dvc  # noqa: F401  (the package only: its commands import what they use)
    except ImportError:
        raise MissingExtra(
            f"{what} needs DVC, which is not installed.",
            hint=f"Install gitreg with its DVC extra: {DVC_EXTRA}",
        ) from None
