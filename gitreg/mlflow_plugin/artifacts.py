"""The artifact repository for `gitreg:` source URIs (entry point `mlflow.artifact_repository`).

A source names a version and the commit that produced it. The bytes come through gitreg's
fetch (the DVC cache, else the DVC remote; from Git for an artifact committed without DVC),
each file's md5 checked against the card, so `models:/NAME@production` downloads exactly
what was registered or fails. Read-only: artifacts are written by `dvc push`.

A file artifact shows as a folder holding that one file; a directory out (an MLflow `MLmodel`
folder, for instance) as its own contents.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from pathlib import Path, PurePosixPath

from mlflow.entities import FileInfo
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST
from mlflow.store.artifact.artifact_repo import ArtifactRepository
from mlflow.utils.file_utils import create_tmp_dir

from gitreg.errors import RegistryRefusal
from gitreg.lineage import fetch
from gitreg.mlflow_plugin.errors import as_mlflow, refused
from gitreg.mlflow_plugin.uri import Source
from gitreg.registry import Registry


class GitregArtifactRepository(ArtifactRepository):
    def __init__(self, artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None):
        super().__init__(artifact_uri, tracking_uri, registry_uri)
        with as_mlflow():
            self.source = Source.parse(artifact_uri)
            self.registry = Registry.open(self.source.repo)
            self.card = self.registry.view().card(self.source.model, self.source.version)
            found = (self.card.get("provenance") or {}).get("source", {}).get("commit")
            if found != self.source.commit:
                raise RegistryRefusal(
                    f"{self.source.model}@{self.source.version} was registered from commit {found}, "
                    f"not {self.source.commit} as {artifact_uri} says.",
                    hint="Ask the gitreg registry for the version's source again.",
                )
        art = self.card["provenance"]["artifact"]
        self.is_dir = str(art.get("md5", "")).endswith(".dir")
        self.file_name = PurePosixPath(str(art["path"])).name
        self.size = art.get("size")
        self._local: Path | None = None

    # --- fetching ------------------------------------------------------------------------

    def _fetch_into(self, folder: Path) -> Path:
        """Fetch the artifact into FOLDER (new, empty); returns the root MLflow lists."""
        root = folder / "root"
        if not self.is_dir:
            root.mkdir()
        with as_mlflow():  # DVC missing when the remote is needed: MissingExtra names gitreg-ml[dvc]
            fetch.fetch(self.registry.store, self.card, root)
        return root

    def _local_root(self) -> Path:
        """A private verified copy, for MLflow's file-by-file calls (listing, one file)."""
        if self._local is None:
            folder = Path(tempfile.mkdtemp(prefix="gitreg-mlflow-"))
            weakref.finalize(self, shutil.rmtree, folder, True)
            self._local = self._fetch_into(folder)
        return self._local

    def download_artifacts(self, artifact_path, dst_path=None):
        rel = _relative(artifact_path)
        dst = Path(dst_path or create_tmp_dir()).absolute()
        if not dst.is_dir():
            raise MlflowException(
                f"the destination {dst} is not an existing directory.", error_code=INVALID_PARAMETER_VALUE
            )
        staging = Path(tempfile.mkdtemp(prefix=".gitreg-", dir=dst))
        try:
            root = self._fetch_into(staging)
            src = root.joinpath(*rel.parts) if rel.parts else root
            if not src.exists():
                raise MlflowException(
                    f"{rel} is not in {self.source.model}@{self.source.version}'s artifact.",
                    error_code=RESOURCE_DOES_NOT_EXIST,
                )
            target = dst.joinpath(*rel.parts) if rel.parts else dst
            for item in [src] if rel.parts else list(src.iterdir()):
                place = target if rel.parts else dst / item.name
                place.parent.mkdir(parents=True, exist_ok=True)
                if place.is_dir() and not place.is_symlink():
                    shutil.rmtree(place)
                os.replace(item, place)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return str(target)

    # --- what MLflow's base class calls ----------------------------------------------------

    def list_artifacts(self, path=None):
        rel = _relative(path)
        if not self.is_dir and not rel.parts:  # no fetch needed to name the one file
            return [FileInfo(self.file_name, False, self.size)]
        folder = self._local_root().joinpath(*rel.parts)
        if not folder.is_dir():
            return []
        return sorted(
            (
                FileInfo(str(rel / p.name), p.is_dir(), None if p.is_dir() else p.stat().st_size)
                for p in folder.iterdir()
            ),
            key=lambda f: f.path,
        )

    def _download_file(self, remote_file_path, local_path):
        src = self._local_root().joinpath(*_relative(remote_file_path).parts)
        if not src.is_file():
            raise MlflowException(
                f"{remote_file_path} is not a file of this artifact.", RESOURCE_DOES_NOT_EXIST
            )
        shutil.copyfile(src, local_path)

    def log_artifact(self, local_file, artifact_path=None):
        raise refused("write artifacts", "dvc push", "A version's bytes are the DVC outs of its commit.")

    def log_artifacts(self, local_dir, artifact_path=None):
        raise refused("write artifacts", "dvc push", "A version's bytes are the DVC outs of its commit.")

    def delete_artifacts(self, artifact_path=None):
        raise refused("delete artifacts", "nothing: versions are immutable")


def _relative(path) -> PurePosixPath:
    """A path inside the artifact, never outside it."""
    rel = PurePosixPath(str(path or "").strip("/"))
    if rel.is_absolute() or ".." in rel.parts:
        raise MlflowException(
            f"{path!r} is not a path inside the artifact.", error_code=INVALID_PARAMETER_VALUE
        )
    return PurePosixPath(*[p for p in rel.parts if p != "."])
