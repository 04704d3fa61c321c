"""The MLflow REST API on the loopml server, so MLflow clients log to loopml unchanged.

Tracking routes live under ``/api/2.0/mlflow`` and, for MLflow's web UI, the same routes
under ``/ajax-api/2.0/mlflow``; the artifact proxy under ``/api/2.0/mlflow-artifacts``.
Requests and responses use MLflow's JSON shapes; errors are ``{"error_code", "message"}``
with MLflow's codes. Every route is a thin shell over the same stores loopml's own API uses,
so what one API writes the other reads.
"""

from __future__ import annotations

from fastapi import FastAPI

__all__ = ["include"]

_PREFIXES = ("/api/2.0", "/ajax-api/2.0")


def include(app: FastAPI) -> None:
    """Mount the MLflow-compatible routes on the app.

    The ``/ajax-api`` copies are left out of the OpenAPI schema: they are the same routes.
    """
    from loopml.server.mlflow import (
        artifacts,
        experiments,
        logged_models,
        metrics,
        registry,
        runs,
    )

    for prefix in _PREFIXES:
        shown = prefix == _PREFIXES[0]
        routers = (
            experiments.router,
            runs.router,
            metrics.router,
            artifacts.tracking_router,
            logged_models.router,
            registry.router,
        )
        for router in routers:
            app.include_router(router, prefix=f"{prefix}/mlflow", include_in_schema=shown)
        app.include_router(
            artifacts.proxy_router, prefix=f"{prefix}/mlflow-artifacts", include_in_schema=shown
        )
