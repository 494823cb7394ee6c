"""Who proposed and who approved a change, read from verified commit signatures only.

A proposal is the commits a change brings (reachable from its head, not from its base):
change commits (the proposer's), approval commits (`gitreg approve`: empty, signed, on top of
the change) and merge commits. Author and committer fields are claims anybody can type;
only a signature that verifies against the base's signers/ names a person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from gitreg.model.policy import Role
from gitreg.store.gitstore import GitStore
from gitreg.trust.signatures import Verifier, split_commit

APPROVE_TRAILER = "gitreg-approves"
CHANGE, APPROVAL, MERGE = "change", "approval", "merge"


@dataclass(frozen=True)
class SignedCommit:
    commit: str
    kind: str  # change | approval | merge
    status: str  # a signatures verdict: verified, unsigned, unknown-key, bad, revoked, expired...
    principals: tuple[str, ...]  # identities of the verified key (lower case); () unless verified
    fingerprint: str | None
    claims: str  # "Name <email>" as the commit's author field says (unverified)
    detail: str = ""

    @property
    def verified(self) -> bool:
        return self.status == "verified"

    def who(self, role: Role | None = None) -> str:
        """The person, from the signature only: 'alice@example.com' or 'unsigned (claims NAME)'."""
        if self.verified:
            held = [p for p in self.principals if role is None or role.holds(p)]
            return (held or list(self.principals))[0]
        if self.status == "unsigned":
            return f"unsigned (claims {self.claims})"
        return f"{self.status} signature (claims {self.claims})"

    def to_dict(self) -> dict:
        return {**asdict(self), "who": self.who()}


@dataclass
class Trail:
    """The commits of one change, each with its verified signer."""

    changes: list[SignedCommit] = field(default_factory=list)
    approvals: list[SignedCommit] = field(default_factory=list)  # made after every change commit
    stale: list[SignedCommit] = field(default_factory=list)  # approvals a later change outdated
    merges: list[SignedCommit] = field(default_factory=list)

    @property
    def proposers(self) -> list[str]:
        return sorted({p for c in self.changes if c.verified for p in c.principals[:1]})

    @property
    def unsigned_proposal(self) -> bool:
        return bool(self.changes) and not any(c.verified for c in self.changes)

    @property
    def independent(self) -> list[SignedCommit]:
        """The approvals not made by a proposer (by key or principal): the ones that may count."""
        own = [c for c in self.changes if c.verified]
        keys = {c.fingerprint for c in own}
        names = {p for c in own for p in c.principals}
        return [a for a in self.approvals if a.fingerprint not in keys and not names & set(a.principals)]

    def approvers(self, role: Role) -> list[str]:
        """Distinct role holders who approved, never counting a proposer (by key or principal)."""
        return _distinct(self.independent, role)

    def signers(self, role: Role) -> list[str]:
        """Distinct role holders who signed the change or approved it (a policy change counts
        its own signature)."""
        return _distinct([*self.changes, *self.approvals], role)

    def to_dict(self) -> dict:
        return {
            "proposed_by": [c.who() for c in self.changes],
            "approved_by": [a.who() for a in self.approvals],
            "stale_approvals": [a.who() for a in self.stale],
            "merged_by": [m.who() for m in self.merges],
        }


def _distinct(commits: Iterable[SignedCommit], role: Role) -> list[str]:
    """One role holder per verified key and each holder once: two keys of one person, or one
    key listed under two principals, count once."""
    found: list[str] = []
    keys: set[str | None] = set()
    for c in commits:
        if not c.verified or c.fingerprint in keys:
            continue
        held = sorted(p for p in c.principals if role.holds(p) and p not in found)
        if held:
            found.append(held[0])
            keys.add(c.fingerprint)
    return found


def approves(store: GitStore, commit: str) -> str | None:
    """The change id an approval commit names, when COMMIT is one (empty, one parent, trailer)."""
    info = store.commit_info(commit)
    if len(info.parents) != 1 or store.commit_tree(commit) != store.commit_tree(info.parents[0]):
        return None
    lines = info.message.splitlines()
    if not lines or not lines[0].startswith("Approve "):
        return None
    for line in lines:
        key, _, value = line.partition(": ")
        if key == APPROVE_TRAILER and value.strip():
            return value.strip()
    return None


def read(store: GitStore, base: str | None, head: str, verifier: Verifier) -> Trail:
    """The trail of the change BASE..HEAD, signatures verified by VERIFIER (the base's signers)."""
    trail = Trail()
    commits = list(store.walk(head, base, first_parent=False))
    kinds = {}
    for c in commits:
        info = store.commit_info(c)
        # Only the change's own head may be a merge (the forge's, or gitreg merge's: the merge
        # rule checks its tree). A merge inside the proposal may carry content of its own, so it
        # is a change an approval must come after.
        if len(info.parents) > 1:
            kinds[c] = MERGE if c == head else CHANGE
        else:
            kinds[c] = APPROVAL if approves(store, c) else CHANGE
    changes = [c for c in commits if kinds[c] == CHANGE]
    for c in reversed(commits):  # oldest first
        signed = _signed(store, c, kinds[c], verifier)
        if kinds[c] == CHANGE:
            trail.changes.append(signed)
        elif kinds[c] == MERGE:
            trail.merges.append(signed)
        elif all(store.is_ancestor(x, c) for x in changes):
            trail.approvals.append(signed)
        else:
            trail.stale.append(signed)
    return trail


def _signed(store: GitStore, commit: str, kind: str, verifier: Verifier) -> SignedCommit:
    obj = split_commit(store.raw_object(commit))
    # The author field is what a commit claims about who made it (GIT_AUTHOR_NAME=bob): shown,
    # never trusted.
    info = store.commit_info(commit)
    claims = f"{info.author} <{info.email}>"
    check = verifier.check(obj)
    principals: tuple[str, ...] = ()
    if check.ok:
        principals = tuple(dict.fromkeys(p.lower() for p in check.identities or [check.signer or ""]))
    return SignedCommit(commit, kind, check.status, principals, check.fingerprint, claims, check.detail)
