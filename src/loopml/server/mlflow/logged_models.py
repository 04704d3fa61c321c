"""MLflow 3's logged models (``/api/2.0/mlflow/logged-models...``) over loopml's runs.

``mlflow.<flavor>.log_model`` creates a logged model, uploads its files to the model's
artifact location and finalizes it. loopml keeps a logged model with the run that made it:

- its id is ``m-<run_id><8 hex>``, so the run is found from the id alone;
- its record (name, status, tags, params, times) is the JSON run tag
  ``loopml.mlflow.model.<8 hex>``, and the run tag ``loopml.mlflow.logged_models`` lists the
  run's models so searches find them;
- its files are ordinary artifacts of the run under ``<name>`` (``<name>-<8 hex>`` when the
  run already has a model of that name), so ``runs:/<run_id>/<name>`` names them for loopml.

A model logged with no run gets a run of its own in the experiment to hold it.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from loopml.entities import Run, RunTag, ViewType
from loopml.entities.tags import json_list_tag, json_object_tag
from loopml.entities.validation import MAX_TAG_VALUE_LENGTH, check_run_id
from loopml.errors import InvalidInputError, NotFoundError, RunNotFoundError
from loopml.server.deps import get_stores
from loopml.server.mlflow.convert import artifact_uri, filter_terms
from loopml.server.mlflow.schemas import KeyValue
from loopml.storage import Stores
from loopml.storage.metadata.base import MetadataStore

__all__ = ["LoggedModelNotFoundError", "find_logged_model", "logged_model_source", "router"]

router = APIRouter(tags=["mlflow"])
StoresDep = Annotated[Stores, Depends(get_stores)]

INDEX_TAG = "loopml.mlflow.logged_models"
RECORD_PREFIX = "loopml.mlflow.model."
OUTPUTS_TAG = "loopml.mlflow.outputs"
_ID_RE = re.compile(r"^m-([0-9a-f]{32})([0-9a-f]{8})$")
_STATUSES = {"LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"}
_EQ = frozenset({"="})
_FILTER = {"name": _EQ, "source_run_id": _EQ, "model_id": _EQ, "status": _EQ}


class LoggedModelNotFoundError(NotFoundError):
    """No logged model with that id."""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _split_id(model_id: str) -> tuple[str, str]:
    match = _ID_RE.match(model_id or "")
    if match is None:
        raise LoggedModelNotFoundError(f"no logged model with id {model_id!r}")
    return match.group(1), match.group(2)


def _record(run: Run, short: str) -> dict[str, Any] | None:
    return json_object_tag(run.data.tags, RECORD_PREFIX + short)


def find_logged_model(store: MetadataStore, model_id: str) -> tuple[Run, str, dict[str, Any]]:
    """The run holding a logged model, the model's short id, and its record.

    Raises:
        LoggedModelNotFoundError: no such model.
    """
    run_id, short = _split_id(model_id)
    try:
        run = store.get_run(run_id)
    except RunNotFoundError as exc:
        raise LoggedModelNotFoundError(f"no logged model with id {model_id!r}") from exc
    record = _record(run, short)
    if record is None or record.get("deleted"):
        raise LoggedModelNotFoundError(f"no logged model with id {model_id!r}")
    return run, short, record


def logged_model_source(store: MetadataStore, model_id: str) -> tuple[str, str]:
    """``(runs:/<run_id>/<path>, run_id)`` where a logged model's files are."""
    run, _, record = find_logged_model(store, model_id)
    return f"runs:/{run.info.run_id}/{record['artifact_path']}", run.info.run_id


def _model_json(run: Run, short: str, record: dict[str, Any]) -> dict[str, Any]:
    model_id = f"m-{run.info.run_id}{short}"
    base = artifact_uri(run.info.experiment_id, run.info.run_id)
    info = {
        "model_id": model_id,
        "experiment_id": run.info.experiment_id,
        "name": record["name"],
        "creation_timestamp_ms": record["created"],
        "last_updated_timestamp_ms": record["updated"],
        "artifact_uri": f"{base}/{record['artifact_path']}",
        "status": record["status"],
        "model_type": record.get("model_type") or "",
        "source_run_id": "" if record.get("own_run") else run.info.run_id,
        "status_message": record.get("status_message", ""),
        "tags": [{"key": k, "value": v} for k, v in sorted(record["tags"].items())],
        "registrations": [],
    }
    params = [{"key": k, "value": v} for k, v in sorted(record["params"].items())]
    return {"info": info, "data": {"params": params, "metrics": []}}


def _update(
    store: MetadataStore, model_id: str, change: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """Apply ``change`` to a logged model's record, store it, and return the model's JSON."""
    run, short, record = find_logged_model(store, model_id)
    change(record)
    record["updated"] = _now_ms()
    text = json.dumps(record, sort_keys=True)
    store.log_batch(run.info.run_id, tags=[RunTag(RECORD_PREFIX + short, text)])
    return _model_json(run, short, record)


def _index(run: Run) -> list[str]:
    return [str(v) for v in json_list_tag(run.data.tags, INDEX_TAG)]


class CreateLoggedModelBody(BaseModel):
    """``logged-models`` (create)."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    experiment_id: str = Field(min_length=1, max_length=32)
    name: str | None = Field(default=None, max_length=250)
    model_type: str | None = Field(default=None, max_length=250)
    source_run_id: str | None = Field(default=None, max_length=64)
    params: list[KeyValue] = Field(default_factory=list, max_length=1000)
    tags: list[KeyValue] = Field(default_factory=list, max_length=1000)


@router.post("/logged-models")
def create_logged_model(body: CreateLoggedModelBody, stores: StoresDep) -> dict[str, Any]:
    """Create a logged model (status pending) with its artifact location in its run."""
    store = stores.metadata
    store.get_experiment(body.experiment_id)
    name = body.name or f"model-{secrets.token_hex(3)}"
    if "/" in name or name in (".", ".."):
        raise InvalidInputError(f"logged model name {name!r} must not contain '/'")
    own_run = not body.source_run_id
    if body.source_run_id:
        run = store.get_run(check_run_id(body.source_run_id))
        if run.info.experiment_id != body.experiment_id:
            raise InvalidInputError(
                f"run {body.source_run_id} belongs to experiment {run.info.experiment_id}, "
                f"not {body.experiment_id}"
            )
    else:
        run = store.create_run(
            body.experiment_id, name, _now_ms(), [RunTag("loopml.mlflow.holds_model", name)]
        )
    short = secrets.token_hex(4)
    taken = {(_record(run, s) or {}).get("artifact_path") for s in _index(run)} | {
        a.path.split("/")[0] for a in store.list_artifacts(run.info.run_id, "")
    }
    path = name if name not in taken else f"{name}-{short}"
    now = _now_ms()
    record = {
        "name": name,
        "status": "LOGGED_MODEL_PENDING",
        "model_type": body.model_type or "",
        "artifact_path": path,
        "params": {p.key: p.value for p in body.params},
        "tags": {t.key: t.value for t in body.tags},
        "created": now,
        "updated": now,
        "own_run": own_run,
    }
    store.log_batch(
        run.info.run_id,
        tags=[
            RunTag(RECORD_PREFIX + short, json.dumps(record, sort_keys=True)),
            RunTag(INDEX_TAG, json.dumps([*_index(run), short])),
        ],
    )
    return {"model": _model_json(store.get_run(run.info.run_id), short, record)}


@router.get("/logged-models/{model_id}")
def get_logged_model(model_id: str, stores: StoresDep) -> dict[str, Any]:
    """One logged model."""
    run, short, record = find_logged_model(stores.metadata, model_id)
    return {"model": _model_json(run, short, record)}


class FinalizeBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: str | int = "LOGGED_MODEL_READY"


@router.patch("/logged-models/{model_id}")
def finalize_logged_model(model_id: str, body: FinalizeBody, stores: StoresDep) -> dict[str, Any]:
    """Set a logged model's final status (ready, or upload failed)."""
    names = {2: "LOGGED_MODEL_READY", 3: "LOGGED_MODEL_UPLOAD_FAILED", 1: "LOGGED_MODEL_PENDING"}
    status = names.get(body.status, "") if isinstance(body.status, int) else body.status
    if status not in _STATUSES:
        raise InvalidInputError(f"status must be one of {sorted(_STATUSES)}, got {body.status!r}")
    return {"model": _update(stores.metadata, model_id, lambda r: r.update(status=status))}


@router.delete("/logged-models/{model_id}")
def delete_logged_model(model_id: str, stores: StoresDep) -> dict[str, Any]:
    """Mark a logged model deleted (its files stay with the run)."""
    _update(stores.metadata, model_id, lambda r: r.update(deleted=True))
    return {}


class TagsBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tags: list[KeyValue] = Field(default_factory=list, max_length=1000)


@router.patch("/logged-models/{model_id}/tags")
def set_logged_model_tags(model_id: str, body: TagsBody, stores: StoresDep) -> dict[str, Any]:
    """Set tags on a logged model."""
    _update(
        stores.metadata, model_id, lambda r: r["tags"].update({t.key: t.value for t in body.tags})
    )
    return {}


@router.delete("/logged-models/{model_id}/tags/{key:path}")
def delete_logged_model_tag(model_id: str, key: str, stores: StoresDep) -> dict[str, Any]:
    """Remove a tag from a logged model."""

    def drop(record: dict[str, Any]) -> None:
        if record["tags"].pop(key, None) is None:
            raise NotFoundError(f"logged model {model_id} has no tag {key!r}")

    _update(stores.metadata, model_id, drop)
    return {}


class ParamsBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    params: list[KeyValue] = Field(default_factory=list, max_length=1000)


@router.post("/logged-models/{model_id}/params")
def log_logged_model_params(model_id: str, body: ParamsBody, stores: StoresDep) -> dict[str, Any]:
    """Add params to a logged model."""
    _update(
        stores.metadata,
        model_id,
        lambda r: r["params"].update({p.key: p.value for p in body.params}),
    )
    return {}


class SearchLoggedModelsBody(BaseModel):
    """``logged-models/search``: experiments, and a filter of ``field = 'value'`` terms
    joined by AND over ``name``, ``source_run_id``, ``model_id`` and ``status``."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    experiment_ids: list[str] = Field(default_factory=list, max_length=1000)
    filter: str | None = Field(default=None, max_length=5000)
    max_results: int | None = Field(default=None, ge=1, le=10_000)
    page_token: str | None = Field(default=None, max_length=100)


@router.post("/logged-models/search")
def search_logged_models(body: SearchLoggedModelsBody, stores: StoresDep) -> dict[str, Any]:
    """Logged models of the experiments that match the filter, newest first."""
    store = stores.metadata
    terms = {field: value for field, _, value in filter_terms(body.filter, _FILTER)}
    offset = int(body.page_token) if body.page_token and body.page_token.isdigit() else 0
    limit = body.max_results or 100
    found: list[tuple[int, dict[str, Any]]] = []
    experiments = [e for e in body.experiment_ids if e.isdigit()]
    if experiments:
        runs = store.search_runs(experiments, f"tags.`{INDEX_TAG}` != ''", ViewType.ALL, 50_000)
        for run in runs:
            for short in _index(run):
                record = _record(run, short)
                if record is None or record.get("deleted"):
                    continue
                model = _model_json(run, short, record)
                info = model["info"]
                if all(str(info.get(k, "")) == v for k, v in terms.items()):
                    found.append((int(record["created"]), model))
    found.sort(key=lambda pair: -pair[0])
    page = [m for _, m in found[offset : offset + limit]]
    token = str(offset + limit) if offset + limit < len(found) else None
    return {"models": page, **({"next_page_token": token} if token else {})}


class LogOutputsBody(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    run_id: str = Field(min_length=1, max_length=64)
    models: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)


@router.post("/runs/outputs")
def log_outputs(body: LogOutputsBody, stores: StoresDep) -> dict[str, Any]:
    """Record the models a run produced (kept as JSON in the ``loopml.mlflow.outputs`` tag)."""
    run = stores.metadata.get_run(check_run_id(body.run_id))
    known = json_list_tag(run.data.tags, OUTPUTS_TAG)
    for item in body.models:
        entry = {"model_id": str(item.get("model_id", "")), "step": int(item.get("step") or 0)}
        if entry["model_id"] and entry not in known:
            known.append(entry)
    stores.metadata.log_batch(run.info.run_id, tags=[RunTag(OUTPUTS_TAG, json.dumps(known))])
    return {}


class LogModelBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    run_id: str = Field(min_length=1, max_length=64)
    model_json: str = Field(max_length=100_000)


@router.post("/runs/log-model")
def log_model(body: LogModelBody, stores: StoresDep) -> dict[str, Any]:
    """Append a model's MLmodel description to the run's ``mlflow.log-model.history`` tag."""
    try:
        description = json.loads(body.model_json)
    except ValueError as exc:
        raise InvalidInputError("model_json is not JSON") from exc
    run = stores.metadata.get_run(check_run_id(body.run_id))
    key = "mlflow.log-model.history"
    history = json_list_tag(run.data.tags, key)
    history.append(description)
    text = json.dumps(history)
    while len(text) > MAX_TAG_VALUE_LENGTH and len(history) > 1:  # keep the newest that fit the tag
        history.pop(0)
        text = json.dumps(history)
    stores.metadata.log_batch(run.info.run_id, tags=[RunTag(key, text)])
    return {}
