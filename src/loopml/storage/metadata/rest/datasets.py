"""The DatasetStore methods of the REST store: each one call to a loopml server's
``/api/v1`` dataset and lineage routes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from loopml.entities import (
    Dataset,
    DatasetFile,
    DatasetKind,
    DatasetVersion,
    LineageEdge,
)
from loopml.errors import InvalidInputError
from loopml.schemas.datasets import (
    dataset_from_json,
    edge_from_json,
    version_from_json,
)
from loopml.storage.metadata.datasets_base import DatasetStore, check_dataset_name
from loopml.storage.metadata.registry_base import check_model_version

if TYPE_CHECKING:
    from loopml.storage.metadata.rest._http import HttpSession

__all__ = ["RestDatasetMixin"]

_API = "/api/v1"


def _dataset(name: str) -> str:
    return f"{_API}/datasets/{quote(check_dataset_name(name), safe='')}"


def _version(name: str, version: int) -> str:
    return f"{_dataset(name)}/versions/{check_model_version(version)}"


class RestDatasetMixin(DatasetStore):
    """Dataset and lineage calls over the store's ``http`` session."""

    http: HttpSession

    def create_dataset_version(
        self,
        name: str,
        files: Sequence[DatasetFile],
        *,
        digest: str,
        kind: DatasetKind,
        source: str = "",
        created_by: str = "",
        run_id: str | None = None,
        description: str = "",
        rows: int | None = None,
        schema: Mapping[str, Any] | None = None,
        profile: Mapping[str, Any] | None = None,
    ) -> DatasetVersion:
        body = {
            "files": [{"path": f.path, "digest": f.digest, "size": f.size} for f in files],
            "digest": digest,
            "kind": DatasetKind(kind).value,
            "source": source,
            "created_by": created_by,
            "run_id": run_id,
            "description": description,
            "rows": rows,
            "schema": None if schema is None else dict(schema),
            "profile": None if profile is None else dict(profile),
        }
        made = self.http.json("POST", f"{_dataset(name)}/versions", json=body)
        return version_from_json(made)

    def get_dataset(self, name: str) -> Dataset:
        return dataset_from_json(self.http.json("GET", _dataset(name)))

    def list_datasets(self, name_like: str | None = None) -> list[Dataset]:
        params = {"name_like": name_like} if name_like else {}
        data = self.http.json("GET", f"{_API}/datasets", params=params)
        return [dataset_from_json(d) for d in data["datasets"]]

    def get_dataset_version(self, name: str, version: int) -> DatasetVersion:
        return version_from_json(self.http.json("GET", _version(name, version)))

    def list_dataset_versions(self, name: str) -> list[DatasetVersion]:
        data = self.http.json("GET", f"{_dataset(name)}/versions")
        return [version_from_json(v) for v in data["versions"]]

    def get_dataset_files(self, name: str, version: int) -> list[DatasetFile]:
        data = self.http.json("GET", f"{_version(name, version)}/files")
        return [DatasetFile(p, d, int(s)) for p, d, s in data["files"]]

    def set_dataset_schema(self, name: str, schema: Mapping[str, Any] | None) -> Dataset:
        body = {"schema": None if schema is None else dict(schema)}
        return dataset_from_json(self.http.json("PUT", f"{_dataset(name)}/schema", json=body))

    def delete_dataset_version(self, name: str, version: int) -> None:
        self.http.json("DELETE", _version(name, version))

    def referenced_digests(self) -> set[str]:
        return set(self.http.json("GET", f"{_API}/referenced-digests")["digests"])

    def log_lineage(self, run_id: str, edges: Sequence[LineageEdge]) -> None:
        body = {
            "edges": [
                {"uri": e.uri, "direction": e.direction.value, "role": e.role, "time": e.time}
                for e in edges
                if e.run_id == run_id
            ]
        }
        if len(body["edges"]) != len(edges):
            raise InvalidInputError(f"every lineage edge logged to run {run_id} must name it")
        self.http.json("POST", f"{_API}/runs/{quote(run_id, safe='')}/lineage", json=body)

    def list_lineage(
        self, *, run_id: str | None = None, uri: str | None = None
    ) -> list[LineageEdge]:
        params = {k: v for k, v in (("run_id", run_id), ("uri", uri)) if v is not None}
        data = self.http.json("GET", f"{_API}/lineage", params=params)
        return [edge_from_json(e) for e in data["edges"]]
