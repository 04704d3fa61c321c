"""A real loopml server on a loopback port, and the real MLflow client pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import loopml as lm
from loopml.config import Settings
from loopml.server.app import create_app
from tests._servers.loopml import serve_in_thread


@dataclass(frozen=True)
class MlflowServer:
    """The server's base URL and the folder its stores live in."""

    url: str
    folder: Path


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    folder = tmp_path_factory.mktemp("mlflow-api") / "store"
    app = create_app(Settings(tracking_uri=str(folder), capture_packages=False))
    with serve_in_thread(app) as url:
        yield MlflowServer(url, folder)


@pytest.fixture
def mlflow_client(mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An ``MlflowClient`` for the server; the fluent API points at it too while the test runs."""
    import mlflow

    # Fail fast: no retries, short timeouts.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(mlflow_server.url)
    try:
        yield mlflow.MlflowClient(mlflow_server.url)
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(previous)


@pytest.fixture
def loopml_client(mlflow_server: MlflowServer) -> Iterator[lm.TrackingClient]:
    """loopml's own client on the server's folder: the same store, read directly."""
    client = lm.TrackingClient(
        settings=Settings(tracking_uri=str(mlflow_server.folder), capture_packages=False)
    )
    yield client
    client.close()
