"""A read-only view of the registry at one tree: models, versions, stages, cards, policy.

Everything is read lazily from the object store; a listing reads two small
blobs per model and takes version numbers from tree entry names, so its
cost does not depend on how many cards there are.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from gitreg.errors import InvalidCard, NotFound
from gitreg.store import layout, yamlio
from gitreg.store.gitstore import BlobTooLarge, GitStore

if TYPE_CHECKING:  # parsed only when a command judges by the policy: a plain read does not
    from gitreg.model.policy import Policy


class RegistryView:
    def __init__(self, store: GitStore, tree: str, commit: str | None = None):
        self.store = store
        self.tree = tree
        self.commit = commit
        self._stages: dict[str, dict[str, list[str]]] = {}

    # --- raw files -------------------------------------------------------------

    def read(
        self, path: str, *, max_bytes: int = layout.MAX_CARD_BYTES, within: tuple[str, str] | None = None
    ) -> bytes | None:
        """PATH's bytes; WITHIN (folder path, its tree id): read from the folder's tree, not
        from the root (a list reads three entries of each of 10,000 model folders)."""
        tree, inner = (self.tree, path) if within is None else (within[1], path[len(within[0]) + 1 :])
        try:
            return self.store.read_blob(tree, inner, max_bytes=max_bytes, shown_as=path)
        except BlobTooLarge as exc:
            raise InvalidCard(
                f"{exc.path} on the registry branch is {exc.size} bytes, over the limit.",
                hint="Remove the oversized file from the registry branch.",
            ) from None

    def load(self, path: str, within: tuple[str, str] | None = None):
        data = self.read(path, within=within)
        return None if data is None else yamlio.load(data, path)

    # --- policy ----------------------------------------------------------------

    @cached_property
    def policy(self) -> Policy:
        data = self.read(layout.POLICY_PATH)
        if data is None:
            from gitreg.model.policy import DEFAULT_POLICY, Policy

            return Policy.parse(DEFAULT_POLICY, "default policy")
        # The schema verdict on this blob is cached by its id: reads skip importing jsonschema.
        from gitreg.store import cache

        key = f"{self.store.entry_id(self.tree, layout.POLICY_PATH)}-{cache.schema_digest('registry')}"
        checked = cache.has(self.store.common_dir, "policy", key)
        from gitreg.model.policy import Policy

        policy = Policy.parse(data, layout.POLICY_PATH, schema_checked=checked)
        if not checked:
            cache.add(self.store.common_dir, "policy", key)
        return policy

    # --- models ----------------------------------------------------------------

    def model_names(self) -> list[str]:
        return sorted(n for n, _, is_tree in self.store.list_dir(self.tree, layout.MODELS_DIR) if is_tree)

    def has_model(self, name: str) -> bool:
        return self.store.entry(self.tree, layout.model_dir(name)) is not None

    def model_tree(self, name: str) -> str | None:
        """The id of models/NAME/ (None: no such model): what a reader of many files of one
        model starts from, instead of walking down from the root for each."""
        entry = self.store.entry(self.tree, layout.model_dir(name))
        return str(entry.id) if entry is not None and entry.type_str == "tree" else None

    def require_model(self, name: str) -> None:
        if not self.has_model(name):
            known = ", ".join(self.model_names()[:10]) or "none yet"
            raise NotFound(
                f"model {name!r} is not registered (models: {known}).",
                hint="Run 'gitreg list' to see the registered models.",
            )

    def model_meta(self, name: str, subtree: str | None = None) -> dict:
        """models/NAME/model.yaml (SUBTREE: the id of models/NAME/, when the caller has it)."""
        path = layout.model_path(name)
        data = self.read(path, within=self._within(name, subtree))
        meta = yamlio.load_simple(data, path) if data is not None else None
        return meta if isinstance(meta, dict) else {}

    def versions(self, name: str, subtree: str | None = None) -> list[str]:
        if subtree is not None:
            names = self.store.file_names(subtree, layout.VERSIONS_DIR)
        else:
            names = self.store.file_names(self.tree, layout.versions_dir(name))
        keyed = [found for n in names if (found := layout.card_version(n)) is not None]
        keyed.sort()
        return [v for _, v in keyed]

    @staticmethod
    def _within(name: str, subtree: str | None) -> tuple[str, str] | None:
        return None if subtree is None else (layout.model_dir(name), subtree)

    def has_version(self, name: str, version: str) -> bool:
        return self.store.entry(self.tree, layout.card_path(name, version)) is not None

    def stages(self, name: str, subtree: str | None = None) -> dict[str, list[str]]:
        """stage -> versions in it, the most recently promoted last."""
        if name not in self._stages:
            path = layout.stages_path(name)
            data = self.read(path, within=self._within(name, subtree))
            raw = (yamlio.load_stage_lists(data, path) if data is not None else None) or {}
            if not isinstance(raw, dict):
                raise InvalidCard(f"{layout.stages_path(name)} must be a mapping of stage to versions.")
            self._stages[name] = {str(k): [str(v) for v in (vs or [])] for k, vs in raw.items()}
        return self._stages[name]

    def stages_of(self, name: str, version: str) -> list[str]:
        return [s for s, vs in self.stages(name).items() if version in vs]

    def which(self, name: str, stage: str) -> str | None:
        """The version a stage serves: the one promoted into it last."""
        self.require_model(name)
        in_stage = self.stages(name).get(stage) or []
        return in_stage[-1] if in_stage else None

    def resolve(self, ref: layout.ModelRef) -> str:
        """The version a NAME@VERSION or NAME@STAGE reference means."""
        self.require_model(ref.name)
        if ref.version:
            if not self.has_version(ref.name, ref.version):
                known = ", ".join(self.versions(ref.name)[-10:]) or "none"
                raise NotFound(
                    f"{ref.name} has no version {ref.version} (versions: {known}).",
                    hint=f"Run 'gitreg show {ref.name}' to list its versions.",
                )
            return ref.version
        if ref.stage:
            version = self.which(ref.name, ref.stage)
            if version is None:
                raise NotFound(
                    f"no version of {ref.name} is in stage {ref.stage!r}.",
                    hint=f"Promote one with 'gitreg promote {ref.name}@VERSION {ref.stage}'.",
                )
            return version
        latest = layout.latest(self.versions(ref.name))
        if latest is None:
            raise NotFound(f"{ref.name} has no versions.")
        return latest

    def card(self, name: str, version: str) -> dict:
        path = layout.card_path(name, version)
        card = self.load(path)
        if card is None:
            raise NotFound(f"{name} has no version {version}.")
        if not isinstance(card, dict):
            raise InvalidCard(f"{path} does not hold a mapping.")
        return card

    def tag_record(self, name: str, version: str) -> str | None:
        """The registration tag's object id, as recorded at registration."""
        raw = self.load(layout.tag_record_path(name, version))
        return str(raw.get("object")) if isinstance(raw, dict) and raw.get("object") else None

    def versions_with_artifact(
        self, name: str, digest: str, *, skip: str | None = None, newest_only: bool = False
    ) -> list[str]:
        """NAME's versions (but SKIP) whose artifact has DIGEST (md5, or a Git LFS oid), oldest first;
        with NEWEST_ONLY the newest such version alone.

        A card's raw bytes are searched for the digest first: only the few that hold it are parsed.
        """
        if not digest or not self.has_model(name):
            return []
        needle = digest.encode()
        found: list[str] = []
        versions = self.versions(name)
        for version in reversed(versions) if newest_only else versions:
            if version == skip:
                continue
            raw = self.read(layout.card_path(name, version))
            if raw is None or needle not in raw:
                continue
            try:
                card = self.card(name, version)
            except (InvalidCard, NotFound):
                continue
            if artifact_digest(card) == digest:
                found.append(version)
                if newest_only:
                    break
        return found


def artifact_digest(card: dict) -> str | None:
    """What names a card's artifact bytes: the Git LFS oid (sha256) when Git LFS holds it, else the md5."""
    prov = card.get("provenance")
    art = prov.get("artifact") if isinstance(prov, dict) else None
    if not isinstance(art, dict):
        return None
    lfs = art.get("lfs")
    if isinstance(lfs, dict) and lfs.get("oid"):
        return str(lfs["oid"])
    return str(art["md5"]) if art.get("md5") else None
