"""The model registry store MLflow builds for a `gitreg:` registry URI (entry point
`mlflow.model_registry_store`).

Every read opens the registry branch's current head, so a promotion merged a moment ago is
what the next call sees. Writes never touch the registry branch: a stage or alias change
becomes the proposal `gitreg promote` makes, a new version from a commit of the repository
the one `gitreg register --propose` makes (checked branches, returned once they exist, never
merged here); every other write is refused with the gitreg command that does it.
"""

from __future__ import annotations

from typing import Any

from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry.abstract_store import AbstractStore
from mlflow.utils.search_utils import SearchModelUtils, SearchModelVersionUtils, SearchUtils

from gitreg.errors import UsageError
from gitreg.mlflow_plugin import numbering, registration, uri
from gitreg.mlflow_plugin.entities import NO_STAGE, TAG_PREFIX, Catalog
from gitreg.mlflow_plugin.errors import as_mlflow, refused
from gitreg.mlflow_plugin.numbering import Numbering
from gitreg.model.view import RegistryView
from gitreg.registry import Registry
from gitreg.store import layout

_PAGE = 100


class GitregRegistryStore(AbstractStore):
    """MLflow's registry over the gitreg registry of one local repository."""

    def __init__(self, store_uri: str | None = None, tracking_uri: str | None = None):
        super().__init__(store_uri, tracking_uri)
        with as_mlflow():
            self.repo = uri.repo_path(store_uri or f"{uri.SCHEME}:.")
            self.registry = Registry.open(self.repo)
            self.registry.require_head()
        self.catalog = Catalog(self.repo, _run_link_base(self.registry))

    # --- the current registry -------------------------------------------------------------

    def _state(self) -> tuple[RegistryView, Numbering]:
        view = self.registry.view()
        assert view.commit is not None
        return view, numbering.at(self.registry.store, view.commit)

    def _semver(self, view: RegistryView, numbers: Numbering, name: str, version: Any) -> str:
        """The semver an MLflow version (a registration number, or a semver) means."""
        _require(view, name)
        text = str(version).strip()
        found = numbers.version(name, int(text)) if text.isdigit() else None
        if found is None and layout.Version.is_valid(text.removeprefix("v")):
            found = str(layout.Version.parse(text.removeprefix("v")))
        if found is None or not view.has_version(name, found):
            known = len(numbers.order.get(name, []))
            raise MlflowException(
                f"gitreg: {name} has no version {text} (versions 1 to {known}, in registration order; "
                f"tag {TAG_PREFIX}version holds each one's semver).",
                error_code=RESOURCE_DOES_NOT_EXIST,
            )
        return found

    def _stage(self, view: RegistryView, name: str, stage: str) -> str | None:
        """The gitreg stage an MLflow stage or alias names, matched case-insensitively."""
        wanted = str(stage).strip().lower()
        for known in view.stages(name):  # the stages.yaml read anyway; the policy only if needed
            if known.lower() == wanted:
                return known
        return next((s for s in view.policy.stages if s.lower() == wanted), None)

    def _latest(self, view: RegistryView, numbers: Numbering, name: str, stages) -> list[ModelVersion]:
        found: list[ModelVersion] = []
        served = view.stages(name)
        wanted = [self._stage(view, name, s) for s in stages] if stages else list(served)
        for stage in dict.fromkeys(s for s in wanted if s):
            if served.get(stage):
                found.append(self.catalog.model_version(view, numbers, name, served[stage][-1]))
        if not stages:  # MLflow's stage "None": the newest registration in no stage
            order = numbers.order.get(name, [])
            loose = [v for v in order if not view.stages_of(name, v)]
            newest = [loose[-1]] if loose else []
            if order and order[-1] not in newest + [served[s][-1] for s in wanted if s and served.get(s)]:
                newest.append(order[-1])  # so that models:/NAME/latest is the newest registration
            found += [self.catalog.model_version(view, numbers, name, v) for v in newest]
        return found

    # --- registered models ----------------------------------------------------------------

    def get_registered_model(self, name):
        with as_mlflow():
            view, numbers = self._state()
            _require(view, name)
            return self._model(view, numbers, name)

    def _model(self, view: RegistryView, numbers: Numbering, name: str) -> RegisteredModel:
        return self.catalog.registered_model(view, numbers, name, self._latest(view, numbers, name, None))

    def search_registered_models(self, filter_string=None, max_results=None, order_by=None, page_token=None):
        with as_mlflow():
            view, numbers = self._state()
            models = [self._model(view, numbers, n) for n in view.model_names()]
        found = SearchModelUtils.filter(models, filter_string)
        found = SearchModelUtils.sort(found, order_by or ["name ASC"])
        return _page(found, max_results, page_token)

    def get_latest_versions(self, name, stages=None):
        with as_mlflow():
            view, numbers = self._state()
            _require(view, name)
            return self._latest(view, numbers, name, stages)

    # --- model versions -------------------------------------------------------------------

    def get_model_version(self, name, version):
        with as_mlflow():
            view, numbers = self._state()
            semver = self._semver(view, numbers, name, version)
            return self.catalog.model_version(view, numbers, name, semver)

    def get_model_version_download_uri(self, name, version):
        return self.get_model_version(name, version).source

    def get_model_version_by_alias(self, name, alias):
        with as_mlflow():
            view, numbers = self._state()
            _require(view, name)
            stage = self._stage(view, name, alias)
            served = view.stages(name).get(stage or "") or []
            if not served:
                stages = ", ".join(view.policy.stages)
                raise MlflowException(
                    f"gitreg: {name} has no alias {alias!r}: aliases are the stages of the registry's "
                    f"policy ({stages}), each naming the version it serves"
                    + (" and none is in it yet." if stage else "."),
                    error_code=RESOURCE_DOES_NOT_EXIST,
                )
            return self.catalog.model_version(view, numbers, name, served[-1])

    def search_model_versions(self, filter_string=None, max_results=None, order_by=None, page_token=None):
        with as_mlflow():
            view, numbers = self._state()
            names = _names_in(filter_string) or view.model_names()
            versions = [
                self.catalog.model_version(view, numbers, n, v)
                for n in names
                if _valid_name(n) and view.has_model(n)
                for v in numbers.order.get(n, [])
                if view.has_version(n, v)
            ]
        found = SearchModelVersionUtils.filter(versions, filter_string)
        found = SearchModelVersionUtils.sort(found, order_by or ["name ASC", "version_number DESC"])
        return _page(found, max_results, page_token)

    def get_model_version_stages(self, name, version):
        with as_mlflow():
            view, _ = self._state()
            return [NO_STAGE, *(_mlflow_stage(s) for s in view.policy.stages)]

    # --- writes that become proposals -------------------------------------------------------

    def set_registered_model_alias(self, name, alias, version):
        self._propose(name, version, alias, what="alias")

    def transition_model_version_stage(self, name, version, stage, archive_existing_versions=False):
        proposal = self._propose(name, version, stage, what="stage")
        with as_mlflow():
            view, numbers = self._state()
            semver = self._semver(view, numbers, name, version)
            # Not merged: the version is where it was; the tag says where the proposal is.
            extra = {f"{TAG_PREFIX}proposal": proposal}
            return self.catalog.model_version(view, numbers, name, semver, extra_tags=extra)

    def _propose(self, name: str, version: Any, stage: str, *, what: str) -> str:
        with as_mlflow():
            view, numbers = self._state()
            semver = self._semver(view, numbers, name, version)
            target = self._stage(view, name, stage)
            if target is None or target not in view.policy.stages:
                stages = ", ".join(view.policy.stages)
                raise refused(
                    f"know the {what} {stage!r}",
                    f"gitreg promote {name}@{semver} STAGE (stages: {stages})",
                    f"Its {what}s are the policy's stages.",
                )
            return self.registry.promote(f"{name}@{semver}", target).branch

    # --- writes refused -------------------------------------------------------------------------

    def create_registered_model(self, name, tags=None, description=None, deployment_job_id=None):
        with as_mlflow():
            view, _ = self._state()
            exists = _valid_name(name) and view.has_model(name)
        if exists:  # what MLflow's register_model expects before it adds a version
            raise MlflowException(
                f"gitreg: model {name!r} already exists.", error_code=RESOURCE_ALREADY_EXISTS
            )
        raise refused(
            "create models",
            f"gitreg register {name} --card CARD --rev COMMIT --propose",
            "A model exists from its first registration.",
        )

    def create_model_version(
        self,
        name,
        source,
        run_id=None,
        tags=None,
        run_link=None,
        description=None,
        local_model_path=None,
        model_id=None,
    ):
        with as_mlflow():
            _, numbers = self._state()
            return registration.propose(self.registry, self.repo, numbers, name, source, tags)

    def update_registered_model(self, name, description, deployment_job_id=None):
        raise refused(
            "edit models", "gitreg register NAME --card CARD (the description is the card overview)"
        )

    def rename_registered_model(self, name, new_name):
        raise refused("rename models", f"gitreg register {new_name} ...", "Names are part of every tag.")

    def delete_registered_model(self, name):
        raise refused("delete models", f"gitreg promote {name}@VERSION archived", "Versions are immutable.")

    def delete_model_version(self, name, version):
        raise refused("delete versions", f"gitreg promote {name}@VERSION archived", "Versions are immutable.")

    def update_model_version(self, name, version, description):
        raise refused("edit versions", "gitreg register NAME --card CARD", "Cards are immutable.")

    def set_registered_model_tag(self, name, tag):
        raise refused("set tags", "gitreg register NAME --card CARD", "Tags are card labels.")

    def delete_registered_model_tag(self, name, key):
        raise refused("delete tags", "gitreg register NAME --card CARD", "Tags are card labels.")

    def set_model_version_tag(self, name, version, tag):
        raise refused(
            "set tags", "gitreg register NAME --card CARD", "Tags are card labels; cards are immutable."
        )

    def delete_model_version_tag(self, name, version, key):
        raise refused("delete tags", "gitreg register NAME --card CARD", "Cards are immutable.")

    def delete_registered_model_alias(self, name, alias):
        raise refused(
            "delete aliases", f"gitreg promote {name}@VERSION {alias}", "An alias is the stage's version."
        )

    def copy_model_version(self, src_mv, dst_name):
        raise refused("copy versions", f"gitreg register {dst_name} --card CARD --rev COMMIT --propose")

    def _await_model_version_creation(self, mv, await_creation_for):
        return None  # nothing is created asynchronously: reads see the registry branch as it is


def _require(view: RegistryView, name: Any) -> None:
    """NAME is a valid model name (never a path into the registry tree) and is registered."""
    layout.check_name(name)
    view.require_model(name)


def _names_in(filter_string: str | None) -> list[str]:
    """The model names a version search is limited to by `name = '...'` (or IN), if any."""
    if not filter_string:
        return []
    for clause in SearchModelVersionUtils.parse_search_filter(filter_string):
        if clause.get("type") == "attribute" and clause.get("key") == "name":
            if clause.get("comparator") == "=":
                return [str(clause["value"])]
            if clause.get("comparator") == "IN":
                return sorted(str(v) for v in clause["value"])
    return []


def _valid_name(name: str) -> bool:
    try:
        layout.check_name(name)
    except UsageError:
        return False
    return True


def _page(items: list, max_results, page_token) -> PagedList:
    size = _PAGE if max_results is None else max_results
    if not isinstance(size, int) or size < 1:
        raise MlflowException(
            f"max_results must be a positive integer, not {max_results!r}.",
            error_code=INVALID_PARAMETER_VALUE,
        )
    start = SearchUtils.parse_start_offset_from_page_token(page_token)
    end = start + size
    return PagedList(items[start:end], SearchUtils.create_page_token(end) if end < len(items) else None)


def _mlflow_stage(stage: str) -> str:
    from gitreg.mlflow_plugin.entities import mlflow_stage

    return mlflow_stage(stage)


def _run_link_base(registry: Registry) -> str | None:
    """The forge's web address of a commit, when the remote is on GitHub or GitLab."""
    from gitreg.ops import forge, remote

    store = registry.store
    try:
        name = remote.resolve_remote(store, None)
    except UsageError:
        return None
    found = forge.detect(
        store.remote_url(name),
        {
            "gitreg.forge": store.config("gitreg.forge"),
            "gitreg.forgeProject": store.config("gitreg.forgeProject"),
        },
    )
    if not found.web or found.kind is None:
        return None
    return f"{found.web}/-/commit/" if found.kind == "gitlab" else f"{found.web}/commit/"
