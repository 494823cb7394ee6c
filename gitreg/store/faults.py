"""Faults named for what they are: a corrupt object, a broken packed-refs, a full disk, a
permission refused. Git (the CLI, in its stderr) and libgit2 (pygit2.GitError, in its message)
report them in their own words; this module turns both into one error of the family, with the fix,
so that none of them reaches the user as "a bug in gitreg".
"""

from __future__ import annotations

import errno
import os
import re

from gitreg.errors import BrokenRefs, CorruptObject, Fault, NoSpace, PermissionDenied

_OID = r"[0-9a-f]{40}"
_RESTORE = (
    "Run 'git fsck' to list the damage, then restore the object from a clone that has it "
    "(git fetch from it, or copy its .git/objects) or re-clone; 'gitreg doctor' checks the registry."
)


def user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError, OSError):  # no passwd entry (containers): the uid says it
        return f"uid {os.geteuid()}"


def no_space(where: str = "") -> NoSpace:
    at = f" writing {where}" if where else ""
    return NoSpace(
        f"no space left on the device{at}.",
        hint="Free disk space (or raise the quota), then run 'gitreg repair' and the command again. "
        "Nothing half-written is kept: the registry is as it was or repairable.",
    )


def permission_denied(path: str) -> PermissionDenied:
    return PermissionDenied(
        f"permission denied: {path} is not writable (or readable) by {user()}.",
        hint=f"Fix the ownership or mode of {path} (ls -l it; chown/chmod, or run as its owner). "
        "Nothing was written.",
    )


def corrupt_object(oid: str | None, detail: str) -> CorruptObject:
    what = f"object {oid}" if oid else "an object"
    return CorruptObject(f"{what} is corrupt ({detail.strip()}).", hint=_RESTORE)


def broken_packed_refs(detail: str) -> BrokenRefs:
    return BrokenRefs(
        f"the repository's packed-refs file is damaged (truncated or garbled): {detail.strip()}.",
        hint="Restore .git/packed-refs from a backup or a clone (its lines are '<id> <ref>'); "
        "'git fsck' and 'gitreg doctor' show what is missing. Nothing was written.",
    )


def from_os_error(exc: OSError) -> Fault | None:
    if exc.filename is None:  # libgit2's OSErrors carry the path in their words only
        found = from_message(str(exc))
        if found is not None:
            return found
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return no_space(str(exc.filename or ""))
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return permission_denied(str(exc.filename or "a file of the repository"))
    return None


def from_message(text: str) -> Fault | None:
    """A fault from what git or libgit2 said; None when the text names none of them."""
    low = text.lower()
    if "no space left" in low or "disk quota exceeded" in low:
        path = re.search(r"'([^']+)'", text)
        return no_space(path[1] if path else "")
    if "permission denied" in low or "read-only file system" in low or "insufficient permission" in low:
        # git: "insufficient permission for adding an object to repository database PATH",
        # "unable to create 'PATH'"; libgit2: "failed to make directory 'PATH'".
        path = re.search(r"'(/[^']+)'", text) or re.search(r"(/[^\s:']+)", text)
        return permission_denied(path[1] if path else "a file of the repository")
    if "packed-refs" in low or "packed references" in low:
        return broken_packed_refs(text.strip().splitlines()[-1] if text.strip() else text)
    oid = re.search(_OID, text)
    if any(c in low for c in _ZLIB) or (oid and any(c in low for c in _CORRUPT)):
        return corrupt_object(oid[0] if oid else None, _detail(text))
    return None


# zlib's and libgit2's words for a damaged object (they do not always name it).
_ZLIB = ("incorrect data check", "inflat", "zlib", "distance too far back", "invalid stored block")
_CORRUPT = (
    "corrupt",
    "unable to unpack",
    "hash mismatch",
    "invalid object",
    "bad object",
    "failed to parse",
    "object file",
    "is empty",
    "truncated",
    "header",
)


def _detail(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else text
    return re.sub(rf"^{_OID}:\s*", "", first)


def corrupt_or(exc: Exception, oid: str) -> Exception:
    """The fault EXC stands for, reading OID (named when libgit2 did not); else EXC itself."""
    fault = from_message(str(exc))
    if isinstance(fault, CorruptObject) and "object " not in fault.message.split(" is corrupt")[0]:
        return corrupt_object(oid, _detail(str(exc)))
    return fault or exc


def classify(exc: BaseException) -> Fault | None:
    """The fault an exception stands for, if it is one (OSError, or git/libgit2's words)."""
    if isinstance(exc, Fault):
        return exc
    if isinstance(exc, OSError):
        return from_os_error(exc)
    # pygit2.GitError (and libgit2's KeyError/ValueError for unreadable objects) carry the words.
    if type(exc).__name__ in ("GitError", "KeyError", "ValueError", "MemoryError"):
        return from_message(str(exc))
    return None
