"""MLflow's artifact proxy (``/api/2.0/mlflow-artifacts/artifacts/...``) over the blob store.

Runs served through the MLflow API carry ``artifact_uri =
mlflow-artifacts:/<experiment_id>/<run_id>/artifacts``, so the MLflow client uploads and
downloads through these routes. A file is stored once in the content-addressed store and
recorded on the run under its path; the same files are therefore visible through loopml's
own API. Paths are parsed strictly: anything that could leave the run (``..``, absolute
paths, percent-encoded separators or dots, NUL) is refused before a byte is stored.
"""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from loopml.entities import ArtifactRecord, LifecycleStage
from loopml.entities.validation import normalize_relative_path
from loopml.errors import (
    ArtifactNotFoundError,
    InvalidPathError,
    InvalidStateError,
    RunNotFoundError,
)
from loopml.server.deps import get_stores
from loopml.server.mlflow.convert import artifact_uri, parse_artifact_path
from loopml.server.mlflow.schemas import RunIdBody
from loopml.storage import Stores

__all__ = ["proxy_router", "tracking_router"]

proxy_router = APIRouter(tags=["mlflow-artifacts"])
tracking_router = APIRouter(tags=["mlflow"])
StoresDep = Annotated[Stores, Depends(get_stores)]

_CHUNK = 1 << 20
# Percent-encoded '/', '\', '.' and NUL: a real client never encodes these, and decoding
# them after routing is how traversal slips past path checks.
_ENCODED_TRAPS = (b"%2f", b"%5c", b"%2e", b"%00")


def _checked_path(request: Request, path: str, *, allow_root: bool = False) -> tuple[str, str, str]:
    raw = request.scope.get("raw_path") or b""
    if any(trap in raw.lower() for trap in _ENCODED_TRAPS):
        raise InvalidPathError(
            "artifact paths must not percent-encode '/', '\\', '.' or NUL; send them as they are"
        )
    return parse_artifact_path(path, allow_root=allow_root)


def _run_in(stores: Stores, experiment_id: str, run_id: str) -> LifecycleStage:
    """The run's lifecycle stage, after checking it belongs to the experiment."""
    info = stores.metadata.get_run(run_id).info
    if info.experiment_id != experiment_id:
        raise RunNotFoundError(f"run {run_id} is not in experiment {experiment_id}")
    return info.lifecycle_stage


def _listing(records: list[ArtifactRecord], rel: str) -> list[tuple[str, bool, int | None]]:
    """The entries directly inside directory ``rel``: (name, is_dir, size or None)."""
    base = f"{rel}/" if rel else ""
    entries: dict[str, tuple[bool, int | None]] = {}
    for record in records:
        if not record.path.startswith(base) or record.path == rel:
            continue
        name, _, rest = record.path[len(base) :].partition("/")
        entries[name] = (True, None) if rest else entries.get(name, (False, record.size))
    return [(name, *entries[name]) for name in sorted(entries)]


def _files_json(
    entries: list[tuple[str, bool, int | None]], prefix: str = ""
) -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = []
    for name, is_dir, size in entries:
        item: dict[str, Any] = {"path": posixpath.join(prefix, name), "is_dir": is_dir}
        if size is not None:
            item["file_size"] = size
        files.append(item)
    return files


@proxy_router.put("/artifacts/{path:path}")
async def upload_artifact(path: str, request: Request, stores: StoresDep) -> dict[str, Any]:
    """Store the request body as a file of the run; it is streamed, never held in memory."""
    from loopml.server.uploads import receive_blob

    exp_id, run_id, rel = _checked_path(request, path)
    stage = await run_in_threadpool(_run_in, stores, exp_id, run_id)
    if stage is not LifecycleStage.ACTIVE:
        raise InvalidStateError(f"run {run_id} is deleted; restore it before logging artifacts")
    info = await receive_blob(request, stores)
    record = ArtifactRecord(rel, info.digest, info.size)
    await run_in_threadpool(stores.record_held, run_id, [record])
    return {}


def _find(stores: Stores, exp_id: str, run_id: str, rel: str) -> ArtifactRecord:
    _run_in(stores, exp_id, run_id)
    for record in stores.metadata.list_artifacts(run_id, rel):
        if record.path == rel:
            return record
    raise ArtifactNotFoundError(f"run {run_id} has no artifact file {rel!r}")


@proxy_router.get("/artifacts/{path:path}")
def download_artifact(path: str, request: Request, stores: StoresDep) -> StreamingResponse:
    """A file of a run, streamed and verified against its digest as it is read."""
    exp_id, run_id, rel = _checked_path(request, path)
    record = _find(stores, exp_id, run_id, rel)
    stream = stores.blobs.open_verified(record.digest)

    def chunks() -> Iterator[bytes]:
        with stream:
            while chunk := stream.read(_CHUNK):
                yield chunk

    media_type = mimetypes.guess_type(rel)[0] or "application/octet-stream"
    return StreamingResponse(
        chunks(), media_type=media_type, headers={"Content-Length": str(record.size)}
    )


@proxy_router.get("/artifacts")
def list_artifacts(
    request: Request,
    stores: StoresDep,
    path: Annotated[str, Query(min_length=1, max_length=2000)],
) -> dict[str, Any]:
    """The files and directories directly inside ``<exp>/<run>/artifacts/<dir>``.

    Names are relative to the listed directory; a path naming a file lists nothing.
    """
    exp_id, run_id, rel = _checked_path(request, path, allow_root=True)
    _run_in(stores, exp_id, run_id)
    records = stores.metadata.list_artifacts(run_id, rel)
    return {"files": _files_json(_listing(records, rel))}


@tracking_router.get("/artifacts/list")
def list_run_artifacts(
    stores: StoresDep,
    run_id: Annotated[str | None, Query(max_length=64)] = None,
    run_uuid: Annotated[str | None, Query(max_length=64)] = None,
    path: Annotated[str | None, Query(max_length=2000)] = None,
    page_token: Annotated[str | None, Query(max_length=1000)] = None,
) -> dict[str, Any]:
    """The tracking service's listing: paths relative to the run's artifact root."""
    ref = RunIdBody(run_id=run_id, run_uuid=run_uuid).the_run_id()
    rel = normalize_relative_path(path or "", allow_empty=True)
    info = stores.metadata.get_run(ref).info
    records = stores.metadata.list_artifacts(ref, rel)
    return {
        "root_uri": artifact_uri(info.experiment_id, info.run_id),
        "files": _files_json(_listing(records, rel), rel),
    }
