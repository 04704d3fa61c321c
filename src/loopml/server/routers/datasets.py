"""loopml's dataset and lineage API (``/api/v1``): versions, manifests, pinned schemas, edges.

Blobs travel through the blob routes of the tracking API; these routes carry metadata only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from loopml.entities import DatasetFile, LineageEdge
from loopml.errors import InvalidInputError
from loopml.schemas.datasets import (
    CreateDatasetVersionBody,
    GcBody,
    LineageBody,
    SchemaBody,
    dataset_to_json,
    edge_to_json,
    file_to_json,
    version_to_json,
)
from loopml.server.deps import get_stores
from loopml.storage import Stores
from loopml.storage.metadata.base import MetadataStore

router = APIRouter(tags=["datasets"])


def _metadata(stores: Annotated[Stores, Depends(get_stores)]) -> MetadataStore:
    return stores.metadata


Store = Annotated[MetadataStore, Depends(_metadata)]
Name = Annotated[str, Path(min_length=1, max_length=250)]
Version = Annotated[int, Path(ge=1, lt=2**31)]


@router.post("/datasets/{name}/versions")
def create_version(
    name: Name, body: CreateDatasetVersionBody, stores: Annotated[Stores, Depends(get_stores)]
) -> dict[str, Any]:
    """Record the next version of a dataset (the dataset is made on its first version).

    The files' blobs and then the manifest blob must be uploaded first (clients upload the
    manifest after every file); a version is never recorded whose blobs the server does not
    hold.
    """
    # Checked and recorded under the store's collection lock, so a garbage collection
    # cannot take a blob between the check and the record.
    with stores.blobs.guard():
        if not stores.blobs.has(body.digest):
            raise InvalidInputError(
                f"the server does not hold the manifest blob {body.digest}; upload the "
                "version's files and then its manifest before recording it"
            )
        missing = stores.blobs.missing(f.digest for f in body.files)
        if missing:
            raise InvalidInputError(
                f"the server does not hold {len(missing)} of the version's file blobs (e.g. "
                f"{min(missing)}); upload them before recording the version (run the add again)"
            )
        made = stores.metadata.create_dataset_version(
            name,
            [DatasetFile(f.path, f.digest, f.size) for f in body.files],
            digest=body.digest,
            kind=body.kind,
            source=body.source,
            created_by=body.created_by,
            run_id=body.run_id,
            description=body.description,
            rows=body.rows,
            schema=body.schema_,
            profile=body.profile,
        )
    return version_to_json(made)


@router.get("/datasets")
def list_datasets(
    store: Store, name_like: Annotated[str | None, Query(max_length=500)] = None
) -> dict[str, Any]:
    """Every dataset, by name (``name_like``: a case-insensitive LIKE pattern)."""
    return {"datasets": [dataset_to_json(d) for d in store.list_datasets(name_like)]}


@router.get("/datasets/{name}")
def get_dataset(name: Name, store: Store) -> dict[str, Any]:
    """One dataset with its latest version number and pinned schema."""
    return dataset_to_json(store.get_dataset(name))


@router.put("/datasets/{name}/schema")
def set_schema(name: Name, body: SchemaBody, store: Store) -> dict[str, Any]:
    """Pin a schema on a dataset (``null`` unpins)."""
    return dataset_to_json(store.set_dataset_schema(name, body.schema_))


@router.get("/datasets/{name}/versions")
def list_versions(name: Name, store: Store) -> dict[str, Any]:
    """Every version of a dataset, newest first."""
    return {"versions": [version_to_json(v) for v in store.list_dataset_versions(name)]}


@router.get("/datasets/{name}/versions/{version}")
def get_version(name: Name, version: Version, store: Store) -> dict[str, Any]:
    """One version, with its schema and profile."""
    return version_to_json(store.get_dataset_version(name, version))


@router.delete("/datasets/{name}/versions/{version}")
def delete_version(name: Name, version: Version, store: Store) -> dict[str, Any]:
    """Delete a version (its blobs stay until ``POST /api/v1/data/gc``)."""
    store.delete_dataset_version(name, version)
    return {}


@router.get("/referenced-digests")
def referenced_digests(store: Store) -> dict[str, Any]:
    """Every blob digest a version or a run artifact names (what gc keeps)."""
    return {"digests": sorted(store.referenced_digests())}


@router.post("/data/gc")
def collect_garbage(body: GcBody, stores: Annotated[Stores, Depends(get_stores)]) -> dict[str, Any]:
    """Remove the blobs no version or run artifact (nor ``keep``) names, older than
    ``min_age`` seconds; ``dry_run`` reports without removing."""
    import dataclasses

    from loopml.data.garbage import collect_garbage as collect

    result = collect(
        stores,
        body.keep,
        min_age=body.min_age,
        dry_run=body.dry_run,
        rewrite_below=body.rewrite_below,
    )
    return dataclasses.asdict(result)


@router.get("/datasets/{name}/versions/{version}/files")
def get_files(name: Name, version: Version, store: Store) -> dict[str, Any]:
    """The manifest of a version as ``[path, digest, size]`` triples, sorted by path."""
    return {"files": [file_to_json(f) for f in store.get_dataset_files(name, version)]}


@router.post("/runs/{run_id}/lineage")
def log_lineage(
    run_id: Annotated[str, Path(max_length=32)], body: LineageBody, store: Store
) -> dict[str, Any]:
    """Record what a run read and made."""
    edges = [LineageEdge(run_id, e.uri, e.direction, e.role, e.time) for e in body.edges]
    store.log_lineage(run_id, edges)
    return {}


@router.get("/lineage")
def list_lineage(
    store: Store,
    run_id: Annotated[str | None, Query(max_length=32)] = None,
    uri: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """Lineage edges of a run or of a URI (exactly one of the two)."""
    return {"edges": [edge_to_json(e) for e in store.list_lineage(run_id=run_id, uri=uri)]}
