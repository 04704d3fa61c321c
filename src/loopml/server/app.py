"""The server factory: ``create_app(settings)`` builds the FastAPI app over the stores."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from loopml.config import Settings, load_settings
from loopml.server.errors import install_error_handlers
from loopml.storage import open_stores

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> FastAPI:
    """A loopml tracking server over the stores the settings name.

    Routers: ``/health``, loopml's own API under ``/api/v1``, and the MLflow REST API under
    ``/api/2.0/mlflow`` and ``/ajax-api/2.0/mlflow`` (plus the MLflow artifact proxy), and
    the web UI at ``/ui/`` (``/`` redirects there). With ``server_auth_file`` set, every
    request but ``/health``, the API docs and the UI's static files needs a token from that
    file (:mod:`loopml.server.auth`).

    Raises:
        ConfigurationError: the token file is missing, unreadable or malformed.
    """
    from loopml import __version__

    settings = settings or load_settings()
    tokens = None
    if settings.server_auth_file:
        from loopml.auth import open_token_file

        tokens = open_token_file(settings.server_auth_file)
    stores = open_stores(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        stores.close()

    app = FastAPI(
        title="loopml",
        version=__version__,
        description="loopml tracking server: loopml's REST API and MLflow's.",
        lifespan=lifespan,
    )
    app.state.stores = stores
    app.state.settings = settings
    install_error_handlers(app)

    from loopml.server.routers import (
        datasets,
        deployments,
        health,
        monitors,
        objects,
        registry,
        schedules,
        tracking,
    )

    app.include_router(health.router)
    app.include_router(tracking.router, prefix="/api/v1")
    app.include_router(registry.router, prefix="/api/v1")
    app.include_router(datasets.router, prefix="/api/v1")
    app.include_router(schedules.router, prefix="/api/v1")
    app.include_router(deployments.router, prefix="/api/v1")
    app.include_router(monitors.router, prefix="/api/v1")
    app.include_router(objects.router, prefix="/api/v1")
    from loopml.server import mlflow as mlflow_api

    mlflow_api.include(app)
    from loopml.server import ui

    ui.include(app)
    if tokens is not None:
        from loopml.server.auth import AuthMiddleware

        app.add_middleware(AuthMiddleware, tokens=tokens)
    return app
