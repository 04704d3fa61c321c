"""FastAPI dependencies: the stores live on the app (made by the factory), never in globals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

if TYPE_CHECKING:
    from loopml.storage import Stores

__all__ = ["get_stores"]


def get_stores(request: Request) -> Stores:
    """The stores of the app handling this request."""
    stores: Stores = request.app.state.stores
    return stores
