"""One error family. Each error says what is wrong and how to fix it; the CLI maps it to an exit code.

Exit 1: the registry says no (a rule, a policy, a conflict with what is registered).
Exit 2: usage or operational error (bad arguments, not a repository, git failed).
"""

from __future__ import annotations


class GitregError(Exception):
    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None, details: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = list(details or [])

    def __str__(self) -> str:
        lines = [self.message, *(f"  {d}" for d in self.details)]
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "error": type(self).__name__,
            "message": self.message,
            "details": self.details,
            "hint": self.hint,
            "exit_code": self.exit_code,
        }


class UsageError(GitregError):
    """Arguments the registry cannot act on."""


class NotARepository(GitregError):
    """Not inside a git repository."""


class NotInitialized(GitregError):
    """The registry branch does not exist yet."""


class GitFailed(GitregError):
    """A git operation failed for a reason outside the registry's rules."""


class RegistryRefusal(GitregError):
    """The registry says no: the request conflicts with its rules or its contents."""

    exit_code = 1


class InvalidCard(RegistryRefusal):
    """A card or registry file is malformed or breaks its schema."""


class NotFound(RegistryRefusal):
    """A model, version or stage that the registry does not hold."""


class ConcurrentUpdate(GitregError):
    """A ref moved under us: compare-and-swap lost a race."""


class FormatMismatch(GitregError):
    """The registry's on-disk format is not the one this gitreg reads."""


class MissingExtra(GitregError):
    """An optional dependency (an extra) that this command needs is not installed."""


class Fault(GitregError):
    """The repository or the machine is damaged or full: not the registry's rules, not a bug.

    Each kind names what is wrong and how to get out of it; exit 2 like every operational error.
    """


class CorruptObject(Fault):
    """A git object cannot be read back (bad compression, wrong hash, truncated)."""


class BrokenRefs(Fault):
    """The ref store cannot be parsed (a truncated or garbled packed-refs)."""


class NoSpace(Fault):
    """The disk (or quota) is full."""


class PermissionDenied(Fault):
    """This user may not read or write a file the command needs."""


class InconsistentRegistry(GitregError):
    """The registry is half-written in a way `repair` cannot finish: a write would build on it."""


class ForeignRegistryError(GitregError):
    """Another registry gitreg reads (MLflow) cannot be read."""
