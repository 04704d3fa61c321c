"""`loopml server`: the tracking server (loopml's REST API and MLflow's) on uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer


def server(
    backend_uri: Annotated[
        str | None,
        typer.Option("--backend-uri", help="Metadata store: a folder, sqlite:///…, postgresql://…"),
    ] = None,
    artifacts_uri: Annotated[
        str | None,
        typer.Option("--artifacts-uri", help="Artifact store: a folder or s3://bucket/prefix."),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind; 0.0.0.0 for all.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 5000,
    workers: Annotated[
        int, typer.Option("--workers", help="Worker processes (state lives in the stores).")
    ] = 1,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
    auth_file: Annotated[
        str | None,
        typer.Option(
            "--auth-file",
            help="Require a token from this file (`loopml tokens create`) on every request.",
        ),
    ] = None,
) -> None:
    """Serve loopml's REST API (/api/v1, /docs) and MLflow's (/api/2.0/mlflow) over the stores."""
    import os

    import uvicorn

    from loopml.config import load_settings
    from loopml.errors import InvalidInputError

    if workers < 1:
        raise InvalidInputError("--workers must be at least 1")
    settings = load_settings(
        tracking_uri=backend_uri, artifact_uri=artifacts_uri, server_auth_file=auth_file
    )
    if workers == 1:
        from loopml.server.app import create_app

        uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)
        return
    # Several workers import the app by name; they read their stores from these variables.
    os.environ["LOOPML_TRACKING_URI"] = settings.tracking_uri
    if settings.artifact_uri:
        os.environ["LOOPML_ARTIFACT_URI"] = settings.artifact_uri
    if settings.server_auth_file:
        from loopml.auth import open_token_file

        open_token_file(settings.server_auth_file)  # refused here, not in every worker
        os.environ["LOOPML_SERVER_AUTH_FILE"] = settings.server_auth_file
    uvicorn.run(
        "loopml.server.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
    )
