"""loopml's registry API (``/api/v1``): registered models, versions, aliases, review, audit.

The actor a change is recorded under comes from the ``X-Loopml-Actor`` header (the REST
client sends it). The audit log is read-only: no route edits or deletes an entry.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query

from loopml.entities import RunTag
from loopml.schemas.registry import (
    AliasBody,
    CreateModelBody,
    CreateVersionBody,
    DescriptionBody,
    RenameModelBody,
    StatusBody,
    approval_to_json,
    audit_to_json,
    model_to_json,
    version_to_json,
)
from loopml.schemas.tracking import TagBody
from loopml.server.deps import get_stores
from loopml.storage import Stores
from loopml.storage.metadata.base import MetadataStore

router = APIRouter(tags=["registry"])


def _metadata(stores: Annotated[Stores, Depends(get_stores)]) -> MetadataStore:
    return stores.metadata


Store = Annotated[MetadataStore, Depends(_metadata)]
Actor = Annotated[str, Header(alias="X-Loopml-Actor", max_length=256)]
Name = Annotated[str, Path(min_length=1, max_length=250)]
Version = Annotated[int, Path(ge=1, lt=2**31)]
MaxResults = Annotated[int, Query(ge=1, le=50_000)]
PageToken = Annotated[str | None, Query(max_length=1000)]


def _tags(tags: dict[str, str]) -> list[RunTag]:
    return [RunTag(k, v) for k, v in tags.items()]


# -- registered models -----------------------------------------------------------------
@router.post("/registered-models")
def create_model(body: CreateModelBody, store: Store, actor: Actor = "") -> dict[str, Any]:
    """Create a registered model with no versions."""
    made = store.create_registered_model(body.name, body.description, _tags(body.tags), actor)
    return model_to_json(made)


@router.get("/registered-models")
def search_models(
    store: Store,
    name_like: Annotated[str | None, Query(max_length=500)] = None,
    max_results: MaxResults = 100,
    page_token: PageToken = None,
) -> dict[str, Any]:
    """Registered models sorted by name (``name_like``: a case-insensitive LIKE pattern)."""
    page = store.search_registered_models(name_like, max_results, page_token)
    return {"registered_models": [model_to_json(m) for m in page], "next_page_token": page.token}


@router.get("/registered-models/{name}")
def get_model(name: Name, store: Store) -> dict[str, Any]:
    """One registered model with its tags, aliases and latest version."""
    return model_to_json(store.get_registered_model(name))


@router.patch("/registered-models/{name}")
def update_model(
    name: Name, body: DescriptionBody, store: Store, actor: Actor = ""
) -> dict[str, Any]:
    """Replace a model's description."""
    return model_to_json(store.update_registered_model(name, body.description, actor))


@router.delete("/registered-models/{name}")
def delete_model(
    name: Name, store: Store, force: bool = False, actor: Actor = ""
) -> dict[str, Any]:
    """Delete a model (with versions only when ``force``); its audit entries stay."""
    store.delete_registered_model(name, actor, force)
    return {}


@router.post("/registered-models/{name}/rename")
def rename_model(
    name: Name, body: RenameModelBody, store: Store, actor: Actor = ""
) -> dict[str, Any]:
    """Give a model another name; its versions, tags, aliases, reviews and history move.
    A model that deployments or monitors name is refused unless ``force`` (then they move
    along), as ``loopml models rename`` does."""
    from loopml.registry.renaming import rename_model as guarded_rename

    return model_to_json(guarded_rename(store, name, body.new_name, actor=actor, force=body.force))


@router.post("/registered-models/{name}/tags")
def set_model_tag(name: Name, body: TagBody, store: Store, actor: Actor = "") -> dict[str, Any]:
    """Set a tag on a model."""
    store.set_registered_model_tag(name, body.key, body.value, actor)
    return {}


@router.delete("/registered-models/{name}/tags/{key:path}")
def delete_model_tag(name: Name, key: str, store: Store, actor: Actor = "") -> dict[str, Any]:
    """Remove a tag from a model."""
    store.delete_registered_model_tag(name, key, actor)
    return {}


# -- versions --------------------------------------------------------------------------
@router.post("/registered-models/{name}/versions")
def create_version(
    name: Name, body: CreateVersionBody, store: Store, actor: Actor = ""
) -> dict[str, Any]:
    """Register the next version of a model (status ``pending_review``)."""
    made = store.create_model_version(
        name, body.source, body.run_id, body.description, _tags(body.tags), actor
    )
    return version_to_json(made)


@router.get("/model-versions")
def search_versions(
    store: Store,
    name: Annotated[str | None, Query(max_length=250)] = None,
    run_id: Annotated[str | None, Query(max_length=32)] = None,
    max_results: MaxResults = 100,
    page_token: PageToken = None,
) -> dict[str, Any]:
    """Versions by model name, newest first; optionally of one model or one run."""
    page = store.search_model_versions(name, run_id, max_results, page_token)
    return {"model_versions": [version_to_json(v) for v in page], "next_page_token": page.token}


@router.get("/registered-models/{name}/versions/{version}")
def get_version(name: Name, version: Version, store: Store) -> dict[str, Any]:
    """One version."""
    return version_to_json(store.get_model_version(name, version))


@router.patch("/registered-models/{name}/versions/{version}")
def update_version(
    name: Name, version: Version, body: DescriptionBody, store: Store, actor: Actor = ""
) -> dict[str, Any]:
    """Replace a version's description."""
    return version_to_json(store.update_model_version(name, version, body.description, actor))


@router.delete("/registered-models/{name}/versions/{version}")
def delete_version(
    name: Name, version: Version, store: Store, force: bool = False, actor: Actor = ""
) -> dict[str, Any]:
    """Delete a version (one behind an alias only when ``force``)."""
    store.delete_model_version(name, version, actor, force)
    return {}


@router.post("/registered-models/{name}/versions/{version}/tags")
def set_version_tag(
    name: Name, version: Version, body: TagBody, store: Store, actor: Actor = ""
) -> dict[str, Any]:
    """Set a tag on a version."""
    store.set_model_version_tag(name, version, body.key, body.value, actor)
    return {}


@router.delete("/registered-models/{name}/versions/{version}/tags/{key:path}")
def delete_version_tag(
    name: Name, version: Version, key: str, store: Store, actor: Actor = ""
) -> dict[str, Any]:
    """Remove a tag from a version."""
    store.delete_model_version_tag(name, version, key, actor)
    return {}


@router.post("/registered-models/{name}/versions/{version}/status")
def set_status(
    name: Name, version: Version, body: StatusBody, store: Store, actor: Actor = ""
) -> dict[str, Any]:
    """Move a version to another review status (approve, reject, archive, re-review)."""
    moved = store.set_version_status(name, version, body.status, actor, body.comment)
    return version_to_json(moved)


@router.get("/registered-models/{name}/versions/{version}/approvals")
def list_approvals(name: Name, version: Version, store: Store) -> dict[str, Any]:
    """Every review decision on a version, oldest first."""
    return {"approvals": [approval_to_json(a) for a in store.list_approvals(name, version)]}


# -- aliases ---------------------------------------------------------------------------
@router.put("/registered-models/{name}/aliases/{alias}")
def set_alias(
    name: Name,
    alias: Annotated[str, Path(max_length=250)],
    body: AliasBody,
    store: Store,
    actor: Actor = "",
) -> dict[str, Any]:
    """Point an alias at a version (``champion`` needs an approved version)."""
    store.set_alias(name, alias, body.version, actor)
    return {}


@router.get("/registered-models/{name}/aliases/{alias}")
def get_alias(
    name: Name, alias: Annotated[str, Path(max_length=250)], store: Store
) -> dict[str, Any]:
    """The version an alias points at."""
    return version_to_json(store.get_version_by_alias(name, alias))


@router.delete("/registered-models/{name}/aliases/{alias}")
def delete_alias(
    name: Name, alias: Annotated[str, Path(max_length=250)], store: Store, actor: Actor = ""
) -> dict[str, Any]:
    """Remove an alias."""
    store.delete_alias(name, alias, actor)
    return {}


# -- audit -----------------------------------------------------------------------------
@router.get("/audit-log")
def audit_log(
    store: Store,
    name: Annotated[str | None, Query(max_length=250)] = None,
    max_results: MaxResults = 100,
    page_token: PageToken = None,
) -> dict[str, Any]:
    """Registry changes, oldest first; of one model or all."""
    page = store.audit_log(name, max_results, page_token)
    return {"entries": [audit_to_json(e) for e in page], "next_page_token": page.token}
