"""The registry branch of one repository: where it is, its head, and views of it.

Every operation takes this (or a store and a view), never the `Registry` facade. Reading the
head also checks the registry's format version, so every command refuses a registry written
by a newer gitreg before it misreads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gitreg.errors import InvalidCard, NotInitialized
from gitreg.model.view import RegistryView
from gitreg.store import layout, yamlio
from gitreg.store.gitstore import GitStore


@dataclass
class RegistryBranch:
    store: GitStore
    branch: str
    branch_ref: str
    _checked: set[str] = field(default_factory=set, repr=False)

    @classmethod
    def of(cls, store: GitStore) -> RegistryBranch:
        branch = store.config(layout.BRANCH_CONFIG_KEY) or layout.DEFAULT_BRANCH
        return cls(store, branch, layout.branch_ref(branch))

    def head(self) -> str | None:
        return self.store.ref_target(self.branch_ref)

    def require_head(self) -> str:
        head = self.head()
        if head is None:
            remote = self.remote_registry()
            if remote is not None:
                raise NotInitialized(
                    f"this clone has no registry branch {self.branch!r} yet, but {remote} has one.",
                    hint="Run 'gitreg sync' to fetch it (not 'gitreg init', which would start "
                    "another registry).",
                )
            raise NotInitialized(
                f"this repository has no registry yet (no branch {self.branch!r}).",
                hint="Run 'gitreg init' first.",
            )
        return head

    def remote_registry(self) -> str | None:
        """A remote-tracking registry branch (refs/remotes/R/BRANCH) a fresh clone has, if any."""
        for ref in sorted(self.store.refs("refs/remotes/")):
            if ref.endswith("/" + self.branch) and ref.count("/") == 3:
                return ref[len("refs/remotes/") :]
        return None

    def view(self, rev: str | None = None) -> RegistryView:
        commit = self.require_head() if rev is None else self.store.resolve_commit(rev)
        view = RegistryView(self.store, self.store.commit_tree(commit), commit)
        if rev is None and view.tree not in self._checked:
            check_format(view)
            self._checked.add(view.tree)
        return view


def check_format(view: RegistryView) -> None:
    """Refuse a registry whose policy declares a format this gitreg does not read.

    The verdict is cached by the policy blob's id: a command on a known registry reads nothing."""
    from gitreg.store import cache

    oid = view.store.entry_id(view.tree, layout.POLICY_PATH)
    if oid is None:
        return  # no policy: the default one, of this format
    if cache.has(view.store.common_dir, "format", f"{oid}-{layout.FORMAT_VERSION}"):
        return
    _check_format(view.read(layout.POLICY_PATH) or b"")
    cache.add(view.store.common_dir, "format", f"{oid}-{layout.FORMAT_VERSION}")


def _check_format(data: bytes) -> None:
    try:
        found = yamlio.load(data, layout.POLICY_PATH)
    except InvalidCard:  # a broken policy is the schema's finding, reported where it is read
        return
    from gitreg.model.policy import require_format

    require_format(found)
