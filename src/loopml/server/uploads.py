"""Receiving uploads without holding them in memory: spool to a temp file while hashing."""

from __future__ import annotations

import contextlib
import os
import tempfile

from blake3 import blake3
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from loopml.errors import InvalidInputError
from loopml.storage import Stores
from loopml.storage.artifacts import BlobInfo
from loopml.storage.artifacts.cas import check_digest

__all__ = ["receive_blob"]


async def receive_blob(
    request: Request, stores: Stores, expected_digest: str | None = None
) -> BlobInfo:
    """Stream the request body into the content-addressed store.

    Raises:
        InvalidInputError: the body does not hash to ``expected_digest``.
    """
    if expected_digest is not None:
        check_digest(expected_digest)
    hasher = blake3()
    size = 0
    fd, tmp = tempfile.mkstemp(prefix="loopml-upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            async for chunk in request.stream():
                hasher.update(chunk)
                size += len(chunk)
                handle.write(chunk)
        digest = hasher.hexdigest()
        if expected_digest is not None and digest != expected_digest:
            raise InvalidInputError(
                f"the uploaded bytes hash to {digest}, not {expected_digest}; the upload was "
                "damaged or the digest is wrong — nothing was stored"
            )
        if not await run_in_threadpool(stores.blobs.has, digest):
            await run_in_threadpool(stores.blobs.bytes.put_file, stores.blobs.key_for(digest), tmp)
        return BlobInfo(digest, size)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
