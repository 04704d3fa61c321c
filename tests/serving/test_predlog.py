"""The prediction log: every column, failed requests, shadow rows, drops, the reader."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from loopml.errors import InvalidInputError
from loopml.serving import read_predictions
from loopml.serving.predlog import LogEntry, PredictionLogger
from loopml.storage.artifacts import ByteStore, LocalByteStore
from loopml.tracking.client import TrackingClient
from tests.serving import models as test_models
from tests.serving.conftest import register, serving, typed_frame

BASE = [
    "request_id", "row", "timestamp", "deployment", "model_name", "model_version",
    "model_run_id", "route", "status", "latency_ms", "error",
]  # fmt: skip


@pytest.mark.slow
def test_every_request_is_logged_with_features_outputs_and_version(store: TrackingClient) -> None:
    version = register(test_models.Echo(), typed_frame(), "echo")
    before = datetime.now(tz=UTC)
    with serving("echo/1", client=store) as (url, _):
        rows = typed_frame().to_dict("split")
        ok = httpx.post(
            f"{url}/invocations",
            json={"dataframe_split": {"columns": rows["columns"], "data": rows["data"]}},
            headers={"x-request-id": "three-rows"},
        )
        assert ok.status_code == 200
        bad = httpx.post(f"{url}/invocations", json={"inputs": {"x": [1]}})
        assert bad.status_code == 400
    # the server stopped cleanly: everything it had is on disk
    df = read_predictions("echo")
    assert list(df.columns[: len(BASE)]) == BASE
    assert {"input.x", "input.name", "input.flag", "input.w"} <= set(df.columns)
    assert {"output.doubled", "output.label"} <= set(df.columns)
    good = df[df.request_id == "three-rows"].sort_values("row")
    assert good.row.tolist() == [0, 1, 2]
    assert good["input.x"].tolist() == [1, 2, 3] and good["input.flag"].tolist() == [
        True,
        False,
        True,
    ]
    assert good["input.name"].tolist() == ["oslo", "rome", "lima"]
    assert good["output.doubled"].tolist() == [2, 4, 6]
    assert good["output.label"].tolist() == ["OSLO", "ROME", "LIMA"]
    first = good.iloc[0]
    assert (first.deployment, first.model_name, first.model_version) == ("echo", "echo", 1)
    assert first.model_run_id == version.run_id and first.route == "primary"
    assert first.status == 200 and pd.isna(first.error) and first.latency_ms > 0
    assert good.timestamp.nunique() == 1 and good.timestamp.iloc[0] >= pd.Timestamp(before)
    assert str(df.timestamp.dtype) == "datetime64[us, UTC]"
    failed = df[df.request_id == bad.json()["request_id"]]
    assert len(failed) == 1 and failed.iloc[0].status == 400
    assert "missing columns" in failed.iloc[0].error and pd.isna(failed.iloc[0]["input.x"])
    files = list(
        (Path(store.stores.blobs.bytes.url) / "predictions" / "echo").glob("date=*/*.parquet")
    )
    assert files and files[0].parent.name == f"date={datetime.now(tz=UTC):%Y-%m-%d}"


@pytest.mark.slow
def test_a_raising_model_logs_its_features_and_the_error(store: TrackingClient) -> None:
    register(test_models.Raiser(), typed_frame()[["x"]], "raiser")
    with serving("raiser/1", client=store) as (url, _):
        response = httpx.post(f"{url}/invocations", json={"inputs": {"x": [4, -1]}})
    df = read_predictions("raiser")
    assert df.status.tolist() == [500, 500] and df["input.x"].tolist() == [4, -1]
    assert df.request_id.tolist() == [response.json()["request_id"]] * 2
    assert "negative x" in df.error.iloc[0]


class _SlowStore(LocalByteStore):
    """A local store whose writes take a while (a slow or distant object store)."""

    def put_bytes(self, key: str, data: bytes) -> None:
        time.sleep(0.3)
        super().put_bytes(key, data)


def _entry(i: int, when_us: int | None = None) -> LogEntry:
    return LogEntry(
        f"r{i}",
        when_us or time.time_ns() // 1000,
        "primary",
        "m",
        1,
        None,
        200,
        1.0,
        None,
        1,
        {"x": np.array([i])},
        {"prediction": np.array([i * 2.0])},
    )


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    store: ByteStore = _SlowStore(tmp_path / "root")
    dropped: list[int] = []
    logger = PredictionLogger(
        store, "dep", queue_size=5, flush_interval=0.05, on_drop=lambda: dropped.append(1)
    )
    logger.start()
    started = time.perf_counter()
    accepted = sum(logger.record(_entry(i)) for i in range(200))
    assert time.perf_counter() - started < 0.2  # never waited for the slow store
    assert accepted < 200 and logger.dropped == 200 - accepted == len(dropped)
    logger.close()
    assert logger.written_rows == accepted  # what was accepted is written on close


def test_rows_go_to_the_partition_of_their_utc_date_and_the_reader_filters(
    store: TrackingClient,
) -> None:
    day = datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC)
    logger = PredictionLogger(store.stores.blobs.bytes, "dep", flush_interval=60)
    logger.start()
    for i, when in enumerate([day, day + timedelta(seconds=2), day + timedelta(days=3)]):
        logger.record(_entry(i, int(when.timestamp() * 1e6)))
    canary = _entry(9, int(day.timestamp() * 1e6))
    canary.route, canary.model_version = "canary", 2
    logger.record(canary)
    logger.close()
    keys = sorted(store.stores.blobs.bytes.list("predictions/dep"))
    assert [k.split("/")[2] for k in keys] == [
        "date=2026-03-01",
        "date=2026-03-02",
        "date=2026-03-04",
    ]
    assert len(read_predictions("dep")) == 4
    assert read_predictions("dep", since="2026-03-02").request_id.tolist() == ["r1", "r2"]
    assert read_predictions("dep", until=day + timedelta(seconds=1)).request_id.tolist() == [
        "r0",
        "r9",
    ]
    assert read_predictions("dep", route="canary").request_id.tolist() == ["r9"]
    assert read_predictions("dep", model_version=2).request_id.tolist() == ["r9"]
    assert read_predictions("dep", since=timedelta(days=1)).empty
    assert read_predictions("nothing-here").columns.tolist()[:3] == [
        "request_id",
        "row",
        "timestamp",
    ]
    with pytest.raises(InvalidInputError, match="since"):
        read_predictions("dep", since="yesterday")
    with pytest.raises(InvalidInputError, match="route"):
        read_predictions("dep", route="other")


@pytest.mark.slow
def test_the_log_can_be_turned_off(store: TrackingClient) -> None:
    register(test_models.Echo(), typed_frame(), "echo")
    with serving("echo/1", client=store, log_predictions=False) as (url, _):
        assert (
            httpx.post(
                f"{url}/invocations", json={"dataframe_records": typed_frame().to_dict("records")}
            ).status_code
            == 200
        )
    assert read_predictions("echo").empty


def _log_and_read(client: TrackingClient) -> pd.DataFrame:
    logger = PredictionLogger(client.stores.blobs.bytes, "remote", flush_interval=60)
    logger.start()
    for i in range(3):
        logger.record(_entry(i))
    logger.close()
    assert logger.written_rows == 3 and logger.write_errors == 0
    return read_predictions("remote", client=client)


@pytest.mark.slow
def test_the_log_is_written_and_read_through_a_loopml_server(tmp_path: Path) -> None:
    from loopml.config import Settings
    from loopml.server.app import create_app
    from tests._servers.loopml import serve_in_thread

    app = create_app(Settings(tracking_uri=str(tmp_path / "server"), capture_packages=False))
    with serve_in_thread(app) as url:
        client = TrackingClient(settings=Settings(tracking_uri=url, capture_packages=False))
        try:
            df = _log_and_read(client)
            assert df.request_id.tolist() == ["r0", "r1", "r2"]
            assert df["output.prediction"].tolist() == [0.0, 2.0, 4.0]
            refused = httpx.put(f"{url}/api/v1/objects/blobs/ab/cd", content=b"x")
            assert refused.status_code == 400 and "not a log object" in refused.json()["message"]
            escape = httpx.get(f"{url}/api/v1/objects", params={"prefix": "predictions/../runs"})
            assert escape.status_code == 400
        finally:
            client.close()
    files = list((tmp_path / "server" / "artifacts" / "predictions" / "remote").glob("*/*.parquet"))
    assert len(files) == 1


@pytest.mark.s3
def test_the_log_is_written_and_read_on_s3(
    s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    from loopml.config import Settings

    settings = Settings(
        tracking_uri=str(tmp_path / "store"),
        artifact_uri=f"s3://{s3_bucket}/loopml",
        s3_endpoint_url=s3_endpoint,
        capture_packages=False,
    )
    client = TrackingClient(settings=settings)
    try:
        assert _log_and_read(client).request_id.tolist() == ["r0", "r1", "r2"]
    finally:
        client.close()
