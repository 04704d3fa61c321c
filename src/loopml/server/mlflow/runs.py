"""MLflow's run endpoints (``/api/2.0/mlflow/runs/...``)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from loopml.entities import Metric, Param, RunTag
from loopml.entities.validation import MAX_TAG_VALUE_LENGTH
from loopml.errors import InvalidInputError
from loopml.server.deps import get_stores
from loopml.server.mlflow.convert import (
    INPUTS_TAG,
    MLFLOW_RUN_NAME_TAG,
    dataset_inputs,
    loopml_tag_key,
    parse_status,
    parse_view_type,
    rewrite_run_search,
    run_info_json,
    run_json,
)
from loopml.server.mlflow.schemas import (
    CreateRunBody,
    KeyValue,
    LogBatchBody,
    LogInputsBody,
    LogMetricBody,
    RunIdBody,
    RunKeyBody,
    RunKeyValueBody,
    SearchRunsBody,
    UpdateRunBody,
)
from loopml.storage import Stores

__all__ = ["router"]

router = APIRouter(tags=["mlflow"])
StoresDep = Annotated[Stores, Depends(get_stores)]
RunIdQuery = Annotated[str | None, Query(max_length=64)]

_DEFAULT_EXPERIMENT = "0"
_SEARCH_DEFAULT_MAX = 1000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _split_tags(pairs: Sequence[KeyValue]) -> tuple[list[RunTag], str | None]:
    """Tags as loopml stores them, and the run name an ``mlflow.runName`` tag carried."""
    tags: list[RunTag] = []
    run_name: str | None = None
    for pair in pairs:
        if pair.key == MLFLOW_RUN_NAME_TAG:
            run_name = pair.value
        else:
            tags.append(RunTag(loopml_tag_key(pair.key), pair.value))
    return tags, run_name


@router.post("/runs/create")
def create_run(body: CreateRunBody, stores: StoresDep) -> dict[str, Any]:
    """Create a RUNNING run; answers ``{"run"}``."""
    tags, tag_name = _split_tags(body.tags)
    run = stores.metadata.create_run(
        body.experiment_id or _DEFAULT_EXPERIMENT,
        body.run_name or tag_name or None,
        _now_ms() if body.start_time is None else body.start_time,
        tags,
        body.user_id or "",
    )
    return {"run": run_json(run)}


@router.get("/runs/get")
def get_run(
    stores: StoresDep, run_id: RunIdQuery = None, run_uuid: RunIdQuery = None
) -> dict[str, Any]:
    """One run with its latest metrics, params, tags and dataset inputs."""
    ref = RunIdBody(run_id=run_id, run_uuid=run_uuid).the_run_id()
    return {"run": run_json(stores.metadata.get_run(ref))}


@router.post("/runs/update")
def update_run(body: UpdateRunBody, stores: StoresDep) -> dict[str, Any]:
    """Change a run's status, end time or name; answers ``{"run_info"}``."""
    status = None if body.status is None else parse_status(body.status)
    info = stores.metadata.update_run_info(
        body.the_run_id(), status, body.end_time, body.run_name or None
    )
    return {"run_info": run_info_json(info)}


@router.post("/runs/delete")
def delete_run(body: RunIdBody, stores: StoresDep) -> dict[str, Any]:
    """Soft-delete a run."""
    stores.metadata.delete_run(body.the_run_id())
    return {}


@router.post("/runs/restore")
def restore_run(body: RunIdBody, stores: StoresDep) -> dict[str, Any]:
    """Restore a deleted run."""
    stores.metadata.restore_run(body.the_run_id())
    return {}


@router.post("/runs/log-metric")
def log_metric(body: LogMetricBody, stores: StoresDep) -> dict[str, Any]:
    """Log one metric point."""
    metric = Metric(body.key, body.value, body.timestamp, body.step)
    stores.metadata.log_batch(body.the_run_id(), metrics=[metric])
    return {}


@router.post("/runs/log-parameter")
def log_param(body: RunKeyValueBody, stores: StoresDep) -> dict[str, Any]:
    """Log one param (params are immutable: another value is INVALID_PARAMETER_VALUE)."""
    stores.metadata.log_batch(body.the_run_id(), params=[Param(body.key, body.value)])
    return {}


@router.post("/runs/set-tag")
def set_tag(body: RunKeyValueBody, stores: StoresDep) -> dict[str, Any]:
    """Set a run tag; ``mlflow.runName`` renames the run."""
    _write_tags(stores, body.the_run_id(), [KeyValue(key=body.key, value=body.value)])
    return {}


@router.post("/runs/delete-tag")
def delete_tag(body: RunKeyBody, stores: StoresDep) -> dict[str, Any]:
    """Remove a run tag."""
    stores.metadata.delete_tag(body.the_run_id(), loopml_tag_key(body.key))
    return {}


@router.post("/runs/log-batch")
def log_batch(body: LogBatchBody, stores: StoresDep) -> dict[str, Any]:
    """Write metrics, params and tags in one transaction."""
    run_id = body.the_run_id()
    tags, run_name = _split_tags(body.tags)
    stores.metadata.log_batch(
        run_id,
        metrics=[Metric(m.key, m.value, m.timestamp, m.step) for m in body.metrics],
        params=[Param(p.key, p.value) for p in body.params],
        tags=tags,
    )
    if run_name:
        stores.metadata.update_run_info(run_id, run_name=run_name)
    return {}


def _write_tags(stores: Stores, run_id: str, pairs: Sequence[KeyValue]) -> None:
    tags, run_name = _split_tags(pairs)
    if tags:
        stores.metadata.log_batch(run_id, tags=tags)
    if run_name:
        stores.metadata.update_run_info(run_id, run_name=run_name)


def _slim(item: dict[str, Any]) -> dict[str, Any]:
    dataset = item.get("dataset")
    if not isinstance(dataset, dict):
        return item
    return {**item, "dataset": {k: v for k, v in dataset.items() if k not in ("schema", "profile")}}


@router.post("/runs/log-inputs")
def log_inputs(body: LogInputsBody, stores: StoresDep) -> dict[str, Any]:
    """Record dataset inputs of a run (kept as JSON in the ``loopml.mlflow.inputs`` tag)."""
    run_id = body.the_run_id()
    if not body.datasets:
        return {}
    for item in body.datasets:
        dataset = item.get("dataset")
        if not isinstance(dataset, dict) or not isinstance(dataset.get("name"), str):
            raise InvalidInputError("each dataset input needs a 'dataset' with a 'name'")
    inputs = dataset_inputs(stores.metadata.get_run(run_id).data.tags)
    for item in body.datasets:
        if item not in inputs:  # MLflow records a dataset input once per run
            inputs.append(item)
    text = json.dumps(inputs, separators=(",", ":"))
    if len(text) > MAX_TAG_VALUE_LENGTH:
        # Schemas and profiles are the bulky parts; the names and digests are what matter.
        text = json.dumps([_slim(i) for i in inputs], separators=(",", ":"))
    if len(text) > MAX_TAG_VALUE_LENGTH:
        raise InvalidInputError(
            f"the run's dataset inputs need {len(text)} characters; at most "
            f"{MAX_TAG_VALUE_LENGTH} can be kept. Log fewer datasets to this run"
        )
    stores.metadata.log_batch(run_id, tags=[RunTag(INPUTS_TAG, text)])
    return {}


@router.post("/runs/search")
def search_runs(body: SearchRunsBody, stores: StoresDep) -> dict[str, Any]:
    """Runs of some experiments that match a filter, in order, one page at a time."""
    filter_string, order_by = rewrite_run_search(body.filter or "", body.order_by)
    page = stores.metadata.search_runs(
        body.experiment_ids,
        filter_string,
        parse_view_type(body.run_view_type),
        _SEARCH_DEFAULT_MAX if body.max_results is None else body.max_results,
        order_by,
        body.page_token or None,
    )
    response: dict[str, Any] = {"runs": [run_json(r) for r in page]}
    if page.token:
        response["next_page_token"] = page.token
    return response
