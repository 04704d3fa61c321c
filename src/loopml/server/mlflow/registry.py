"""MLflow's model registry endpoints (``registered-models/...``, ``model-versions/...``) over
loopml's registry.

Mapping:

- A version's ``source`` as MLflow sends it may be a logged model (``models:/m-…``) or a run
  path (``runs:/…``); loopml stores the concrete ``runs:/<run_id>/<path>`` so its own
  clients can load it, and keeps the logged model's id in the version tag
  ``mlflow.model_id`` (answered as ``model_id``).
- MLflow's ``status`` is always ``READY`` (registration is synchronous here); loopml's
  review status is answered as ``status_message`` (``pending_review``, ``approved``, …).
- Stages are not kept (``current_stage`` is ``None``): use aliases.
- ``registered-models/rename`` moves versions, aliases, reviews and history; it answers
  ``INVALID_STATE`` while a loopml deployment or monitor names the model (rename it with
  ``loopml models rename --force`` then, which moves the deployments too).
- loopml's governance holds for MLflow clients too: pointing ``champion`` at a version that
  is not approved answers ``INVALID_STATE``, unless the server allows unapproved champions.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from loopml.entities import RunTag
from loopml.entities._registry import ModelVersion, RegisteredModel
from loopml.entities.validation import check_run_id, normalize_relative_path
from loopml.errors import InvalidInputError, RunNotFoundError
from loopml.server.auth import request_user
from loopml.server.deps import get_stores
from loopml.server.mlflow.convert import (
    TAG_FIELD,
    artifact_uri,
    filter_terms,
    parse_artifact_path,
    tags_match,
)
from loopml.server.mlflow.logged_models import logged_model_source
from loopml.server.mlflow.schemas import KeyValue
from loopml.storage import Stores
from loopml.storage.metadata.base import MetadataStore
from loopml.uris import parse_runs_uri

__all__ = ["router"]

router = APIRouter(tags=["mlflow"])


def _store(stores: Annotated[Stores, Depends(get_stores)]) -> MetadataStore:
    return stores.metadata


Store = Annotated[MetadataStore, Depends(_store)]
MODEL_ID_TAG = "mlflow.model_id"
_MAX = 50_000
_EQ = frozenset({"="})
_MODEL_FILTER = {"name": frozenset({"=", "LIKE", "ILIKE"}), TAG_FIELD: frozenset({"=", "!="})}
_VERSION_FILTER = {"name": _EQ, "run_id": _EQ, TAG_FIELD: frozenset({"=", "!="})}


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


def _actor(request: Request) -> str:
    """Who a change is recorded under: the token's user on a server that checks tokens
    (MLflow's client sends no actor of its own)."""
    return request_user(request)


Actor = Annotated[str, Depends(_actor)]


def _version_number(text: str) -> int:
    if not str(text).strip().isdigit():
        raise InvalidInputError(f"version must be a whole number, got {text!r}")
    return int(str(text).strip())


# -- JSON shapes ----------------------------------------------------------------------
def _version_json(version: ModelVersion) -> dict[str, Any]:
    tags = dict(version.tags)
    model_id = tags.get(MODEL_ID_TAG, "")
    return {
        "name": version.name,
        "version": str(version.version),
        "creation_timestamp": version.creation_time,
        "last_updated_timestamp": version.last_update_time,
        "user_id": version.created_by,
        "current_stage": "None",
        "description": version.description,
        "source": version.source,
        "run_id": version.run_id or "",
        "status": "READY",
        "status_message": version.status.value,
        "tags": [{"key": k, "value": v} for k, v in sorted(tags.items())],
        "run_link": "",
        "aliases": list(version.aliases),
        **({"model_id": model_id} if model_id else {}),
    }


def _model_json(store: MetadataStore, model: RegisteredModel) -> dict[str, Any]:
    latest = []
    if model.latest_version is not None:
        latest = [_version_json(store.get_model_version(model.name, model.latest_version))]
    return {
        "name": model.name,
        "creation_timestamp": model.creation_time,
        "last_updated_timestamp": model.last_update_time,
        "description": model.description,
        "latest_versions": latest,
        "tags": [{"key": k, "value": v} for k, v in sorted(model.tags.items())],
        "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(model.aliases.items())],
    }


def _tags(pairs: list[KeyValue]) -> list[RunTag]:
    return [RunTag(p.key, p.value) for p in pairs]


# -- registered models ----------------------------------------------------------------
class CreateModelBody(_Body):
    name: str = Field(max_length=250)
    tags: list[KeyValue] = Field(default_factory=list, max_length=1000)
    description: str = Field(default="", max_length=5000)


@router.post("/registered-models/create")
def create_registered_model(body: CreateModelBody, store: Store, actor: Actor) -> dict[str, Any]:
    """Create a registered model."""
    made = store.create_registered_model(body.name, body.description, _tags(body.tags), actor)
    return {"registered_model": _model_json(store, made)}


@router.get("/registered-models/get")
def get_registered_model(
    store: Store, name: Annotated[str, Query(max_length=250)]
) -> dict[str, Any]:
    """One registered model with its latest version and aliases."""
    return {"registered_model": _model_json(store, store.get_registered_model(name))}


@router.get("/registered-models/search")
def search_registered_models(
    store: Store,
    filter: Annotated[str | None, Query(max_length=1000)] = None,
    max_results: Annotated[int, Query(ge=1, le=_MAX)] = 100,
    page_token: Annotated[str | None, Query(max_length=1000)] = None,
) -> dict[str, Any]:
    """Registered models by name (filter: ``name = '…'`` or ``name LIKE '…'``)."""
    terms = filter_terms(filter, _MODEL_FILTER)
    names = [(op, v) for f, op, v in terms if f == "name"]
    pattern = names[0][1] if names else None
    page = store.search_registered_models(pattern, max_results, page_token)
    models = [
        m
        for m in page
        if all(op != "=" or m.name == v for op, v in names) and tags_match(m.tags, terms)
    ]
    out: dict[str, Any] = {"registered_models": [_model_json(store, m) for m in models]}
    if page.token:
        out["next_page_token"] = page.token
    return out


class UpdateModelBody(_Body):
    name: str = Field(max_length=250)
    description: str = Field(default="", max_length=5000)


@router.patch("/registered-models/update")
def update_registered_model(body: UpdateModelBody, store: Store, actor: Actor) -> dict[str, Any]:
    """Replace a registered model's description."""
    return {
        "registered_model": _model_json(
            store, store.update_registered_model(body.name, body.description, actor)
        )
    }


class NameBody(_Body):
    name: str = Field(max_length=250)


@router.delete("/registered-models/delete")
def delete_registered_model(body: NameBody, store: Store, actor: Actor) -> dict[str, Any]:
    """Delete a registered model with its versions (as MLflow does)."""
    store.delete_registered_model(body.name, actor, force=True)
    return {}


class RenameModelBody(_Body):
    name: str = Field(max_length=250)
    new_name: str = Field(max_length=250)


@router.post("/registered-models/rename")
def rename_registered_model(body: RenameModelBody, store: Store, actor: Actor) -> dict[str, Any]:
    """Rename a registered model with its versions and aliases (refused while a loopml
    deployment or monitor names it)."""
    from loopml.registry.renaming import rename_model

    renamed = rename_model(store, body.name, body.new_name, actor=actor)
    return {"registered_model": _model_json(store, renamed)}


class ModelTagBody(_Body):
    name: str = Field(max_length=250)
    key: str = Field(max_length=250)
    value: str = Field(default="", max_length=8000)


@router.post("/registered-models/set-tag")
def set_registered_model_tag(body: ModelTagBody, store: Store, actor: Actor) -> dict[str, Any]:
    """Set a tag on a registered model."""
    store.set_registered_model_tag(body.name, body.key, body.value, actor)
    return {}


class ModelTagKeyBody(_Body):
    name: str = Field(max_length=250)
    key: str = Field(max_length=250)


@router.delete("/registered-models/delete-tag")
def delete_registered_model_tag(
    body: ModelTagKeyBody, store: Store, actor: Actor
) -> dict[str, Any]:
    """Remove a tag from a registered model."""
    store.delete_registered_model_tag(body.name, body.key, actor)
    return {}


class LatestVersionsBody(_Body):
    name: str = Field(max_length=250)
    stages: list[str] = Field(default_factory=list, max_length=10)


@router.post("/registered-models/get-latest-versions")
def get_latest_versions(body: LatestVersionsBody, store: Store) -> dict[str, Any]:
    """The latest version (loopml keeps no stages: only the stage ``None`` has one)."""
    model = store.get_registered_model(body.name)
    if model.latest_version is None or (
        body.stages and not {s.lower() for s in body.stages} & {"none"}
    ):
        return {"model_versions": []}
    return {
        "model_versions": [_version_json(store.get_model_version(body.name, model.latest_version))]
    }


# -- aliases --------------------------------------------------------------------------
class AliasBody(_Body):
    name: str = Field(max_length=250)
    alias: str = Field(max_length=250)
    version: str = Field(max_length=20)


@router.post("/registered-models/alias")
def set_alias(body: AliasBody, store: Store, actor: Actor) -> dict[str, Any]:
    """Point an alias at a version (``champion`` needs an approved version)."""
    store.set_alias(body.name, body.alias, _version_number(body.version), actor)
    return {}


class AliasKeyBody(_Body):
    name: str = Field(max_length=250)
    alias: str = Field(max_length=250)


@router.delete("/registered-models/alias")
def delete_alias(body: AliasKeyBody, store: Store, actor: Actor) -> dict[str, Any]:
    """Remove an alias."""
    store.delete_alias(body.name, body.alias, actor)
    return {}


@router.get("/registered-models/alias")
def get_version_by_alias(
    store: Store,
    name: Annotated[str, Query(max_length=250)],
    alias: Annotated[str, Query(max_length=250)],
) -> dict[str, Any]:
    """The version an alias points at."""
    return {"model_version": _version_json(store.get_version_by_alias(name, alias))}


# -- versions -------------------------------------------------------------------------
class CreateVersionBody(_Body):
    name: str = Field(max_length=250)
    source: str = Field(min_length=1, max_length=1000)
    run_id: str | None = Field(default=None, max_length=64)
    tags: list[KeyValue] = Field(default_factory=list, max_length=1000)
    description: str = Field(default="", max_length=5000)
    model_id: str | None = Field(default=None, max_length=64)


def _logged_model_id(source: str) -> str:
    text = source.strip()
    return text[len("models:/") :].strip("/") if text.startswith("models:/m-") else ""


def _concrete_source(store: MetadataStore, body: CreateVersionBody) -> tuple[str, str | None]:
    """The runs:/ URI where the version's files are, and its run id.

    Only sources inside the server's stores are accepted: a logged model (``models:/m-…``),
    a run path (``runs:/…``) or the artifact proxy (``mlflow-artifacts:/…``). A ``file://``
    URL, a bare path or any other scheme is refused, so a version never points at files
    outside the stores.
    """
    source = body.source.strip()
    model_id = body.model_id or _logged_model_id(source)
    if model_id:
        return logged_model_source(store, model_id)
    if source.startswith("runs:"):
        ref = parse_runs_uri(source)
        normalize_relative_path(ref.path, allow_empty=True)
        return str(ref).rstrip("/"), ref.run_id
    if source.startswith("mlflow-artifacts:/"):
        _, run_id, path = parse_artifact_path(source[len("mlflow-artifacts:/") :], allow_root=True)
        return f"runs:/{check_run_id(run_id)}/{path}".rstrip("/"), run_id
    raise InvalidInputError(
        f"model version source {source!r} is not inside this server's stores; use a logged "
        "model (models:/m-…), runs:/<run_id>/<path> or mlflow-artifacts:/<experiment_id>/"
        "<run_id>/artifacts/<path>"
    )


@router.post("/model-versions/create")
def create_model_version(body: CreateVersionBody, store: Store, actor: Actor) -> dict[str, Any]:
    """Register the next version of a model from a logged model or a run's files."""
    source, run_id = _concrete_source(store, body)
    if run_id:
        try:
            store.get_run(run_id)
        except RunNotFoundError as exc:
            raise InvalidInputError(f"the source names run {run_id}, which does not exist") from exc
    tags = _tags(body.tags)
    model_id = body.model_id or _logged_model_id(body.source)
    if model_id:
        tags.append(RunTag(MODEL_ID_TAG, model_id))
    made = store.create_model_version(body.name, source, run_id, body.description, tags, actor)
    return {"model_version": _version_json(made)}


@router.get("/model-versions/get")
def get_model_version(
    store: Store,
    name: Annotated[str, Query(max_length=250)],
    version: Annotated[str, Query(max_length=20)],
) -> dict[str, Any]:
    """One version."""
    return {"model_version": _version_json(store.get_model_version(name, _version_number(version)))}


@router.get("/model-versions/search")
def search_model_versions(
    store: Store,
    filter: Annotated[str | None, Query(max_length=1000)] = None,
    max_results: Annotated[int, Query(ge=1, le=_MAX)] = 10_000,
    page_token: Annotated[str | None, Query(max_length=1000)] = None,
) -> dict[str, Any]:
    """Versions (filter: ``name = '…'`` and/or ``run_id = '…'``, joined by AND)."""
    found = filter_terms(filter, _VERSION_FILTER)
    terms = {f: v for f, op, v in found if f in ("name", "run_id")}
    page = store.search_model_versions(
        terms.get("name"), terms.get("run_id"), min(max_results, _MAX), page_token
    )
    kept = [v for v in page if tags_match(v.tags, found)]
    out: dict[str, Any] = {"model_versions": [_version_json(v) for v in kept]}
    if page.token:
        out["next_page_token"] = page.token
    return out


class UpdateVersionBody(_Body):
    name: str = Field(max_length=250)
    version: str = Field(max_length=20)
    description: str = Field(default="", max_length=5000)


@router.patch("/model-versions/update")
def update_model_version(body: UpdateVersionBody, store: Store, actor: Actor) -> dict[str, Any]:
    """Replace a version's description."""
    made = store.update_model_version(
        body.name, _version_number(body.version), body.description, actor
    )
    return {"model_version": _version_json(made)}


class VersionKeyBody(_Body):
    name: str = Field(max_length=250)
    version: str = Field(max_length=20)


@router.delete("/model-versions/delete")
def delete_model_version(body: VersionKeyBody, store: Store, actor: Actor) -> dict[str, Any]:
    """Delete a version (MLflow removes its aliases with it, so this does too)."""
    store.delete_model_version(body.name, _version_number(body.version), actor, force=True)
    return {}


class VersionTagBody(_Body):
    name: str = Field(max_length=250)
    version: str = Field(max_length=20)
    key: str = Field(max_length=250)
    value: str = Field(default="", max_length=8000)


@router.post("/model-versions/set-tag")
def set_model_version_tag(body: VersionTagBody, store: Store, actor: Actor) -> dict[str, Any]:
    """Set a tag on a version."""
    store.set_model_version_tag(
        body.name, _version_number(body.version), body.key, body.value, actor
    )
    return {}


class VersionTagKeyBody(_Body):
    name: str = Field(max_length=250)
    version: str = Field(max_length=20)
    key: str = Field(max_length=250)


@router.delete("/model-versions/delete-tag")
def delete_model_version_tag(body: VersionTagKeyBody, store: Store, actor: Actor) -> dict[str, Any]:
    """Remove a tag from a version."""
    store.delete_model_version_tag(body.name, _version_number(body.version), body.key, actor)
    return {}


@router.get("/model-versions/get-download-uri")
def get_download_uri(
    store: Store,
    name: Annotated[str, Query(max_length=250)],
    version: Annotated[str, Query(max_length=20)],
) -> dict[str, Any]:
    """Where a version's files can be downloaded through the artifact proxy."""
    found = store.get_model_version(name, _version_number(version))
    if found.source.startswith("runs:"):
        ref = parse_runs_uri(found.source)
        run = store.get_run(ref.run_id)
        base = artifact_uri(run.info.experiment_id, ref.run_id)
        return {"artifact_uri": f"{base}/{ref.path}".rstrip("/")}
    return {"artifact_uri": found.source}
