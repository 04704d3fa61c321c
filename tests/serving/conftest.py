"""Fixtures of the serving tests: a store with real registered models, and live servers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import pytest

import loopml as lm
from loopml.config import Settings
from loopml.entities import ModelVersion
from loopml.tracking.client import TrackingClient
from tests.serving import models as test_models

cloudpickle.register_pickle_by_value(test_models)

FEATURES = ["a", "b", "c", "d"]


def frame(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    """Four float features."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(rows, 4)), columns=FEATURES)


def typed_frame() -> pd.DataFrame:
    """An int, a text, a bool and a float column (the Echo model's signature)."""
    return pd.DataFrame(
        {
            "x": np.array([1, 2, 3], dtype="int64"),
            "name": ["oslo", "rome", "lima"],
            "flag": [True, False, True],
            "w": [0.5, 1.5, 2.5],
        }
    )


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TrackingClient:
    """An embedded store that the fluent API (and servers built here) use."""
    folder = str(tmp_path / "store")
    monkeypatch.setenv("LOOPML_CAPTURE_PACKAGES", "false")
    monkeypatch.setenv("LOOPML_TRACKING_URI", folder)
    lm.set_tracking_uri(folder)
    from loopml.tracking.fluent import get_client

    return get_client()


def register(
    model: Any,
    example: Any,
    name: str,
    *,
    alias: str | None = None,
    approve: bool = False,
) -> ModelVersion:
    """Log a model in a new run and register it (optionally approved, behind an alias)."""
    with lm.start_run():
        info = lm.models.log_model(model, "model", input_example=example)
    version = lm.registry.register(info.uri, name)
    if approve:
        lm.registry.approve(name, version.version)
    if alias:
        lm.registry.set_alias(name, alias, version.version)
    return version


def logistic(seed: int = 0) -> Any:
    """A LogisticRegression on the four features; seeds give different models."""
    from sklearn.linear_model import LogisticRegression

    X = frame(300, seed)
    y = (X["a"] + (seed + 1) * X["b"] > 0).astype(int)
    return LogisticRegression().fit(X, y)


@pytest.fixture
def pricing(store: TrackingClient) -> ModelVersion:
    """pricing/1: an approved LogisticRegression behind the champion alias."""
    return register(logistic(), frame(5), "pricing", alias="champion", approve=True)


def settings_of(client: TrackingClient, **changes: Any) -> Settings:
    """The store's settings with some changed (fast log flushes for the tests)."""
    return client.settings.replace(**changes)


@contextlib.contextmanager
def serving(
    model: Any = None, client: TrackingClient | None = None, **kwargs: Any
) -> Iterator[tuple[str, Any]]:
    """A live server (uvicorn in a thread) for a model or a deployment; yields its URL
    and its ServingState."""
    from loopml.serving import create_serving_app
    from tests._servers.loopml import serve_in_thread

    app = create_serving_app(model, client=client, **kwargs)
    with serve_in_thread(app) as url:
        yield url, app.state.serving


def split_body(rows: list[list[float]], columns: list[str] | None = None) -> dict[str, Any]:
    """An /invocations dataframe_split body."""
    return {"dataframe_split": {"columns": columns or FEATURES, "data": rows}}
