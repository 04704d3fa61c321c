"""loopml's own tracking API (``/api/v1``): each route parses, calls the store, renders."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from loopml.entities import ArtifactRecord, Param, RunTag, ViewType
from loopml.entities.validation import normalize_relative_path
from loopml.errors import ExperimentNotFoundError, InvalidInputError
from loopml.schemas.tracking import (
    ArtifactRecordsBody,
    CreateExperimentBody,
    CreateRunBody,
    LogBatchBody,
    RenameExperimentBody,
    SearchRunsBody,
    TagBody,
    UpdateRunBody,
    artifact_to_json,
    experiment_to_json,
    metric_from_json,
    metric_to_json,
    run_info_to_json,
    run_to_json,
)
from loopml.server.deps import get_stores
from loopml.storage import Stores

router = APIRouter(tags=["tracking"])
StoresDep = Annotated[Stores, Depends(get_stores)]


def _view(view: str) -> ViewType:
    try:
        return ViewType(view)
    except ValueError as exc:
        raise InvalidInputError(
            f"view must be one of {', '.join(v.value for v in ViewType)}"
        ) from exc


# -- experiments -----------------------------------------------------------------------
@router.post("/experiments")
def create_experiment(body: CreateExperimentBody, stores: StoresDep) -> dict[str, str]:
    """Create an experiment."""
    tags = [RunTag(k, v) for k, v in body.tags.items()]
    return {
        "experiment_id": stores.metadata.create_experiment(body.name, body.artifact_location, tags)
    }


@router.get("/experiments")
def search_experiments(
    stores: StoresDep,
    view: str = "active_only",
    max_results: Annotated[int, Query(ge=1, le=50_000)] = 1000,
    page_token: Annotated[str | None, Query(max_length=1000)] = None,
    name_like: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """List experiments, newest first."""
    page = stores.metadata.search_experiments(_view(view), max_results, page_token, name_like)
    return {"experiments": [experiment_to_json(e) for e in page], "next_page_token": page.token}


@router.get("/experiments/by-name")
def get_experiment_by_name(
    stores: StoresDep, name: Annotated[str, Query(max_length=500)]
) -> dict[str, Any]:
    """The experiment with this name (404 when there is none)."""
    exp = stores.metadata.get_experiment_by_name(name)
    if exp is None:
        raise ExperimentNotFoundError(f"no experiment named {name!r}")
    return experiment_to_json(exp)


@router.get("/experiments/{experiment_id}")
def get_experiment(experiment_id: str, stores: StoresDep) -> dict[str, Any]:
    """One experiment."""
    return experiment_to_json(stores.metadata.get_experiment(experiment_id))


@router.patch("/experiments/{experiment_id}")
def rename_experiment(
    experiment_id: str, body: RenameExperimentBody, stores: StoresDep
) -> dict[str, Any]:
    """Rename an experiment."""
    stores.metadata.rename_experiment(experiment_id, body.name)
    return {}


@router.post("/experiments/{experiment_id}/delete")
def delete_experiment(experiment_id: str, stores: StoresDep) -> dict[str, Any]:
    """Soft-delete an experiment."""
    stores.metadata.delete_experiment(experiment_id)
    return {}


@router.post("/experiments/{experiment_id}/restore")
def restore_experiment(experiment_id: str, stores: StoresDep) -> dict[str, Any]:
    """Restore a deleted experiment."""
    stores.metadata.restore_experiment(experiment_id)
    return {}


@router.post("/experiments/{experiment_id}/tags")
def set_experiment_tag(experiment_id: str, body: TagBody, stores: StoresDep) -> dict[str, Any]:
    """Set a tag on an experiment."""
    stores.metadata.set_experiment_tag(experiment_id, body.key, body.value)
    return {}


# -- runs ------------------------------------------------------------------------------
@router.post("/runs")
def create_run(body: CreateRunBody, stores: StoresDep) -> dict[str, Any]:
    """Create a run."""
    tags = [RunTag(k, v) for k, v in body.tags.items()]
    run = stores.metadata.create_run(
        body.experiment_id, body.run_name, body.start_time, tags, body.user_id, body.run_id
    )
    return run_to_json(run)


@router.post("/runs/search")
def search_runs(body: SearchRunsBody, stores: StoresDep) -> dict[str, Any]:
    """Runs matching a filter, one page at a time."""
    page = stores.metadata.search_runs(
        body.experiment_ids,
        body.filter,
        _view(body.view),
        body.max_results,
        body.order_by,
        body.page_token,
    )
    return {"runs": [run_to_json(r) for r in page], "next_page_token": page.token}


@router.get("/runs/{run_id}")
def get_run(run_id: str, stores: StoresDep) -> dict[str, Any]:
    """One run with its data."""
    return run_to_json(stores.metadata.get_run(run_id))


@router.patch("/runs/{run_id}")
def update_run(run_id: str, body: UpdateRunBody, stores: StoresDep) -> dict[str, Any]:
    """Change a run's status, end time or name."""
    info = stores.metadata.update_run_info(run_id, body.status, body.end_time, body.run_name)
    return run_info_to_json(info)


@router.post("/runs/{run_id}/delete")
def delete_run(run_id: str, stores: StoresDep) -> dict[str, Any]:
    """Soft-delete a run."""
    stores.metadata.delete_run(run_id)
    return {}


@router.post("/runs/{run_id}/restore")
def restore_run(run_id: str, stores: StoresDep) -> dict[str, Any]:
    """Restore a deleted run."""
    stores.metadata.restore_run(run_id)
    return {}


@router.post("/runs/{run_id}/log-batch")
def log_batch(run_id: str, body: LogBatchBody, stores: StoresDep) -> dict[str, Any]:
    """Write metrics, params and tags in one transaction."""
    stores.metadata.log_batch(
        run_id,
        [metric_from_json(m) for m in body.metrics],
        [Param(k, v) for k, v in body.params.items()],
        [RunTag(k, v) for k, v in body.tags.items()],
    )
    return {}


@router.post("/runs/{run_id}/tags/delete")
def delete_tag(run_id: str, body: TagBody, stores: StoresDep) -> dict[str, Any]:
    """Remove a tag from a run."""
    stores.metadata.delete_tag(run_id, body.key)
    return {}


@router.get("/runs/{run_id}/metrics/history")
def metric_history(
    run_id: str,
    stores: StoresDep,
    key: Annotated[str, Query(min_length=1, max_length=250)],
    max_results: Annotated[int | None, Query(ge=1, le=10_000_000)] = None,
    page_token: Annotated[str | None, Query(max_length=1000)] = None,
) -> dict[str, Any]:
    """Every point of one metric, as ``[key, value, timestamp, step]`` rows."""
    page = stores.metadata.get_metric_history(run_id, key, max_results, page_token)
    return {"metrics": [metric_to_json(m) for m in page], "next_page_token": page.token}


@router.post("/runs/{run_id}/artifacts")
def record_artifacts(run_id: str, body: ArtifactRecordsBody, stores: StoresDep) -> dict[str, Any]:
    """Record files of a run; every blob must already be stored."""
    records = [ArtifactRecord(normalize_relative_path(p), d, s) for p, d, s in body.records]
    stores.record_held(run_id, records)
    return {}


@router.get("/runs/{run_id}/artifacts")
def list_artifacts(
    run_id: str, stores: StoresDep, prefix: Annotated[str, Query(max_length=1024)] = ""
) -> dict[str, Any]:
    """A run's artifact records under a path prefix."""
    return {
        "records": [artifact_to_json(r) for r in stores.metadata.list_artifacts(run_id, prefix)]
    }


# -- blobs -----------------------------------------------------------------------------
@router.head("/blobs/{digest}")
def blob_exists(digest: str, stores: StoresDep) -> Response:
    """200 with Content-Length when the blob is stored, 404 otherwise."""
    from loopml.errors import ArtifactNotFoundError

    if not stores.blobs.has(digest):
        raise ArtifactNotFoundError(f"no blob {digest}")
    return Response(status_code=200, headers={"Content-Length": str(stores.blobs.size(digest))})


@router.get("/blobs/{digest}")
def get_blob(digest: str, stores: StoresDep) -> StreamingResponse:
    """The blob's bytes, streamed and verified against the digest as they are read."""
    size = stores.blobs.size(digest)
    stream = stores.blobs.open_verified(digest)

    def chunks() -> Any:
        with stream:
            while chunk := stream.read(1 << 20):
                yield chunk

    return StreamingResponse(
        chunks(), media_type="application/octet-stream", headers={"Content-Length": str(size)}
    )


@router.put("/blobs/{digest}")
async def put_blob(digest: str, request: Request, stores: StoresDep) -> dict[str, Any]:
    """Store a blob; the body is streamed to disk and must hash to ``digest``."""
    from loopml.server.uploads import receive_blob

    info = await receive_blob(request, stores, expected_digest=digest)
    return {"digest": info.digest, "size": info.size}
