"""MLflow's metric-history endpoints (``/api/2.0/mlflow/metrics/...``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from loopml.entities import Metric
from loopml.errors import InvalidInputError
from loopml.server.deps import get_stores
from loopml.server.mlflow.convert import metric_json
from loopml.server.mlflow.schemas import RunIdBody
from loopml.storage import Stores

__all__ = ["router"]

router = APIRouter(tags=["mlflow"])
StoresDep = Annotated[Stores, Depends(get_stores)]

_MAX_BULK_RUNS = 100
_MAX_BULK_STEPS = 2500


@router.get("/metrics/get-history")
def get_metric_history(
    stores: StoresDep,
    metric_key: Annotated[str, Query(min_length=1, max_length=250)],
    run_id: Annotated[str | None, Query(max_length=64)] = None,
    run_uuid: Annotated[str | None, Query(max_length=64)] = None,
    max_results: Annotated[int | None, Query(ge=1, le=10_000_000)] = None,
    page_token: Annotated[str | None, Query(max_length=1000)] = None,
) -> dict[str, Any]:
    """Every point of one metric of a run, by step then timestamp; paged on request."""
    ref = RunIdBody(run_id=run_id, run_uuid=run_uuid).the_run_id()
    page = stores.metadata.get_metric_history(ref, metric_key, max_results, page_token or None)
    response: dict[str, Any] = {"metrics": [metric_json(m) for m in page]}
    if page.token:
        response["next_page_token"] = page.token
    return response


def _sample_steps(steps: list[int], limit: int) -> set[int]:
    """At most ``limit`` of the sorted distinct steps, evenly spread, first and last kept."""
    if len(steps) <= limit:
        return set(steps)
    if limit == 1:
        return {steps[-1]}
    stride = (len(steps) - 1) / (limit - 1)
    return {steps[round(i * stride)] for i in range(limit)}


@router.get("/metrics/get-history-bulk-interval")
def get_metric_history_bulk_interval(
    stores: StoresDep,
    run_ids: Annotated[list[str], Query(min_length=1, max_length=_MAX_BULK_RUNS)],
    metric_key: Annotated[str, Query(min_length=1, max_length=250)],
    start_step: int | None = None,
    end_step: int | None = None,
    max_results: Annotated[int, Query(ge=1, le=_MAX_BULK_STEPS)] = _MAX_BULK_STEPS,
) -> dict[str, Any]:
    """A metric of several runs, sampled to at most ``max_results`` steps per run."""
    if (start_step is None) != (end_step is None):
        raise InvalidInputError("give both start_step and end_step, or neither")
    if start_step is not None and end_step is not None and start_step > end_step:
        raise InvalidInputError(f"start_step {start_step} is after end_step {end_step}")
    found: list[dict[str, Any]] = []
    for run_id in dict.fromkeys(run_ids):
        points: list[Metric] = [
            m
            for m in stores.metadata.get_metric_history(run_id, metric_key)
            if start_step is None or end_step is None or start_step <= m.step <= end_step
        ]
        keep = _sample_steps(sorted({m.step for m in points}), max_results)
        found.extend({**metric_json(m), "run_id": run_id} for m in points if m.step in keep)
    return {"metrics": found}
