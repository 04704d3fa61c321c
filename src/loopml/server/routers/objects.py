"""Log objects under the artifact root (``/api/v1/objects``): the prediction log's Parquet
files, and the labels and business metrics monitoring logs beside them, written and read by
model servers, monitors and readers that reach the store through this server. Only keys
under ``predictions/``, ``labels/`` and ``business-metrics/`` are accepted; blobs have their
own routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from loopml.entities.validation import normalize_relative_path
from loopml.errors import InvalidInputError, InvalidPathError
from loopml.server.deps import get_stores
from loopml.storage import Stores

router = APIRouter(tags=["objects"])

StoresDep = Annotated[Stores, Depends(get_stores)]
PREFIXES = ("predictions/", "labels/", "business-metrics/")
_MAX_BYTES = 512 * 2**20  # one log file


def _key(key: str, *, prefix: bool = False) -> str:
    clean = normalize_relative_path(key, allow_empty=prefix)
    if not (clean + "/").startswith(PREFIXES) and not clean.startswith(PREFIXES):
        raise InvalidPathError(
            f"{key!r} is not a log object; this API holds keys under {', '.join(PREFIXES)}"
        )
    if len(clean.split("/")) > 8:
        raise InvalidPathError(f"{key!r} is nested too deeply for a log object")
    return clean


@router.get("/objects")
def list_objects(
    stores: StoresDep, prefix: Annotated[str, Query(min_length=1, max_length=1000)]
) -> dict[str, Any]:
    """Keys under a prefix (``predictions/<deployment>``, ``labels/<deployment>``), sorted."""
    return {"keys": sorted(stores.blobs.bytes.list(_key(prefix, prefix=True)))}


@router.put("/objects/{key:path}")
async def put_object(key: str, request: Request, stores: StoresDep) -> dict[str, Any]:
    """Store an object (atomically, replacing one under the same key)."""
    clean = _key(key)
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > _MAX_BYTES:
            raise InvalidInputError(f"a log object is at most {_MAX_BYTES} bytes")
    await run_in_threadpool(stores.blobs.bytes.put_bytes, clean, data)
    return {"key": clean, "size": len(data)}


@router.get("/objects/{key:path}")
def get_object(key: str, stores: StoresDep) -> Response:
    """An object's bytes."""
    with stores.blobs.bytes.open_read(_key(key)) as handle:
        data = handle.read()
    return Response(data, media_type="application/octet-stream")
