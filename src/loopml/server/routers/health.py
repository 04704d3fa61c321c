"""``/health``: the server is up and its metadata store answers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from loopml.server.deps import get_stores
from loopml.storage import Stores

router = APIRouter(tags=["health"])


@router.get("/health")
def health(stores: Annotated[Stores, Depends(get_stores)]) -> dict[str, Any]:
    """``{"status": "ok"}`` when the metadata store answers."""
    stores.metadata.get_experiment("0")
    return {"status": "ok"}
