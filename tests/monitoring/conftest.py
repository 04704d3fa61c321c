"""Fixtures of the monitor tests: one store per module with a reference dataset, a real
model served with real traffic (unshifted and shifted) written to the prediction log, past
windows written by the log's own writer, and a local HTTP server that receives webhooks."""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

import loopml as lm
from loopml.config import Settings
from loopml.tracking.client import TrackingClient

FEATURES = ["distance", "hour"]
HOUR = 3_600_000


def rides(n: int, seed: int) -> pd.DataFrame:
    """The reference: distance, hour, city and the fare a model learns."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "distance": rng.gamma(2.0, 3.0, n),
            "hour": rng.integers(0, 24, n).astype("int64"),
            "city": rng.choice(["paris", "lyon", "lille"], n),
        }
    )
    frame["fare"] = 2.5 + 1.8 * frame["distance"] + 0.1 * frame["hour"] + rng.normal(0, 1, n)
    return frame


def shifted(frame: pd.DataFrame) -> pd.DataFrame:
    """Longer rides: distance moved by about two standard deviations."""
    return frame.assign(distance=frame["distance"] * 1.8 + 4.0)


@dataclass
class World:
    """The module's store and what is in it."""

    folder: str
    settings: Settings
    reference: pd.DataFrame
    model: Any
    traffic: dict[str, pd.DataFrame] = field(default_factory=dict)
    sent_at: datetime = field(default_factory=lambda: datetime.now(tz=UTC))

    def client(self) -> TrackingClient:
        """A new client of the store."""
        return TrackingClient(settings=self.settings)


def _wait_clear_of_an_hour_boundary() -> None:
    now = datetime.now(tz=UTC)
    left = 3600 - (now.minute * 60 + now.second + now.microsecond / 1e6)
    if left < 15:  # the traffic must land in one window
        time.sleep(left + 0.5)


def _send(url: str, frame: pd.DataFrame, prefix: str, per_request: int = 20) -> None:
    for i in range(0, len(frame), per_request):
        chunk = frame.iloc[i : i + per_request]
        body = {"dataframe_split": {"columns": FEATURES, "data": chunk[FEATURES].values.tolist()}}
        response = httpx.post(
            f"{url}/invocations",
            json=body,
            headers={"x-request-id": f"{prefix}-{i // per_request}"},
        )
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """A store with ``rides`` v1 (the reference), ``pricing/1`` (a LinearRegression on it),
    and two deployments of it served for real: ``steady`` got traffic like the reference,
    ``moved`` got longer rides; request ids are ``<deployment>-<n>``, 20 rows each."""
    from sklearn.linear_model import LinearRegression

    from tests._servers.loopml import serve_in_thread

    folder = str(tmp_path_factory.mktemp("monitoring") / "store")
    settings = Settings(
        tracking_uri=folder, capture_packages=False, prediction_log_flush_interval=0.2
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOOPML_CAPTURE_PACKAGES", "false")
        lm.set_tracking_uri(folder)
        reference = rides(3000, 1)
        lm.data.log_dataset("rides", reference)
        model = LinearRegression().fit(reference[FEATURES], reference["fare"])
        with lm.start_run():
            info = lm.models.log_model(model, "model", input_example=reference[FEATURES].head(5))
        version = lm.registry.register(info.uri, "pricing")
        lm.registry.approve("pricing", version.version)
        lm.registry.set_alias("pricing", "champion", version.version)
        made = World(folder, settings, reference, model)
        client = made.client()
        traffic = {"steady": rides(1200, 2), "moved": shifted(rides(1200, 3))}
        _wait_clear_of_an_hour_boundary()
        made.sent_at = datetime.now(tz=UTC)
        for name, frame in traffic.items():
            lm.serving.create_deployment(name, "pricing@champion", client=client)
            app = lm.serving.create_serving_app(deployment=name, client=client)
            with serve_in_thread(app) as url:
                _send(url, frame, name)
            made.traffic[name] = frame
        client.close()
        from loopml.tracking import fluent

        if fluent._client is not None:
            fluent._client.close()
            fluent._client = None
    return made


@pytest.fixture
def client(world: World, monkeypatch: pytest.MonkeyPatch) -> TrackingClient:
    """The module's store as this test's default store (the fluent API uses it too)."""
    monkeypatch.setenv("LOOPML_TRACKING_URI", world.folder)
    monkeypatch.setenv("LOOPML_CAPTURE_PACKAGES", "false")
    lm.set_tracking_uri(world.folder)
    from loopml.tracking.fluent import get_client

    return get_client()


def write_log(
    client: TrackingClient,
    deployment: str,
    when: datetime,
    frame: pd.DataFrame,
    model: Any,
    prefix: str,
    per_request: int = 20,
    version: tuple[str, int] = ("pricing", 1),
) -> list[str]:
    """Rows of ``frame`` as a model server logs them, at ``when`` (the log's own writer),
    answered by the registered ``version``; returns the request ids."""
    from loopml.serving.predlog import LogEntry, PredictionLogger

    logger = PredictionLogger(client.stores.blobs.bytes, deployment, flush_interval=60)
    logger.start()
    ids = []
    for i in range(0, len(frame), per_request):
        chunk = frame.iloc[i : i + per_request]
        request_id = f"{prefix}-{i // per_request}"
        us = int(when.timestamp() * 1e6) + i
        logger.record(
            LogEntry(
                request_id, us, "primary", version[0], version[1], None, 200, 1.5, None, len(chunk),
                {c: chunk[c].to_numpy() for c in FEATURES},
                {"prediction": model.predict(chunk[FEATURES])},
            )
        )  # fmt: skip
        ids.append(request_id)
    logger.close()
    return ids


def labels_for(frame: pd.DataFrame, prefix: str, per_request: int = 20) -> pd.DataFrame:
    """The true fares of ``frame`` keyed as :func:`write_log` and the server logged them."""
    index = np.arange(len(frame))
    return pd.DataFrame(
        {
            "request_id": [f"{prefix}-{i // per_request}" for i in index],
            "row": (index % per_request).astype("int64"),
            "label": frame["fare"].to_numpy(),
        }
    )


def past_hour(hours_ago: int) -> datetime:
    """The start of an hour some hours back, plus a minute (a time inside that window)."""
    now = datetime.now(tz=UTC).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(hours=hours_ago) + timedelta(minutes=1)


@dataclass
class Hook:
    """A local HTTP server that records the JSON bodies POSTed to it."""

    url: str
    bodies: list[dict[str, Any]]
    statuses: list[int]  # answers to give, in order (then 200)


@contextlib.contextmanager
def webhook_server(statuses: list[int] | None = None) -> Iterator[Hook]:
    """A real webhook receiver on a free loopback port."""
    bodies: list[dict[str, Any]] = []
    answers = list(statuses or [])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            bodies.append(json.loads(self.rfile.read(length)))
            status = answers.pop(0) if answers else 200
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Hook(f"http://127.0.0.1:{server.server_address[1]}/hook", bodies, answers)
    finally:
        server.shutdown()
        server.server_close()


def in_window(world: World) -> str:
    """A time inside the window the served traffic landed in."""
    return world.sent_at.isoformat()


def after(world: World) -> datetime:
    """A moment when that window is complete."""
    return world.sent_at + timedelta(hours=2)
