"""gitreg: a model registry that lives in your Git repository.

from gitreg import Registry
reg = Registry.open(".")
reg.register("churn", "card.yaml")
reg.which("churn", "production")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gitreg.errors import GitregError, RegistryRefusal, UsageError
from gitreg.version import __version__

__all__ = ["GitregError", "Registry", "RegistryRefusal", "UsageError", "__version__"]

if TYPE_CHECKING:
    from gitreg.registry import Registry


def __getattr__(name: str):
    # Imported on first use so that `import gitreg` stays cheap for hooks and --help.
    if name == "Registry":
        from gitreg.registry import Registry

        return Registry
    raise AttributeError(name)
