"""The fluent API as a user drives it: runs, logging, statuses, search, history."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import loopml as lm
from loopml.config import Settings, load_settings
from loopml.errors import ConfigurationError


@pytest.fixture
def tracked(tmp_path: Path) -> Path:
    store = tmp_path / "store"
    lm.set_tracking_uri(str(store))
    return store


def test_issue_example_end_to_end(tracked: Path, tmp_path: Path) -> None:
    plot = tmp_path / "plots" / "residuals.png"
    plot.parent.mkdir()
    plot.write_bytes(b"\x89PNG fake image bytes")
    lm.set_experiment("pricing")
    with lm.start_run(run_name="gbm-baseline") as run:
        lm.log_params({"lr": 0.1, "depth": 6})
        for epoch in range(100):
            lm.log_metric("rmse", 1.0 / (epoch + 1), step=epoch)
        lm.log_artifact(str(plot), "plots")
        lm.log_dict({"features": ["a", "b"]}, "features.json")
        lm.set_tag("team", "pricing")
        lm.log_metrics({"mae": 0.2, "r2": 0.9}, step=3)
    runs = lm.search_runs(
        "pricing", filter="metrics.rmse < 0.3 and params.depth = '6'", order_by=["metrics.rmse ASC"]
    )
    assert [r.info.run_id for r in runs] == [run.info.run_id]
    got = runs[0]
    assert got.info.status == lm.RunStatus.FINISHED
    assert got.info.end_time is not None
    assert got.data.params == {"lr": "0.1", "depth": "6"}
    assert got.data.metrics["rmse"] == pytest.approx(0.01)
    assert got.data.tags["team"] == "pricing"
    history = lm.get_metric_history(run.info.run_id, "rmse")
    assert [m.step for m in history] == list(range(100))
    assert all(m.timestamp > 0 for m in history)
    client = lm.TrackingClient(str(tracked))
    assert client.load_dict(run.run_id, "features.json") == {"features": ["a", "b"]}
    assert client.read_artifact(run.run_id, "plots/residuals.png") == plot.read_bytes()


def test_exception_marks_run_failed_and_keeps_metrics(tracked: Path) -> None:
    def train() -> str:
        with lm.start_run() as run:
            lm.log_metric("loss", 0.5)
            raise ZeroDivisionError("bad batch")
        return run.info.run_id

    with pytest.raises(ZeroDivisionError):
        train()
    (run,) = lm.search_runs()
    got = lm.get_run(run.info.run_id)
    assert got.info.status == lm.RunStatus.FAILED
    assert got.data.metrics == {"loss": 0.5}


def test_keyboard_interrupt_marks_run_killed(tracked: Path) -> None:
    with pytest.raises(KeyboardInterrupt), lm.start_run() as run:
        raise KeyboardInterrupt
    assert lm.get_run(run.info.run_id).info.status == lm.RunStatus.KILLED


def test_nested_runs_and_refusal_without_nested(tracked: Path) -> None:
    with lm.start_run(run_name="parent") as parent:
        with pytest.raises(lm.InvalidStateError, match="nested=True"):
            lm.start_run()
        with lm.start_run(run_name="child", nested=True) as child:
            lm.log_metric("m", 1)
        assert lm.active_run().info.run_id == parent.info.run_id  # type: ignore[union-attr]
    got = lm.get_run(child.info.run_id)
    assert got.parent_run_id == parent.info.run_id
    assert got.info.status == lm.RunStatus.FINISHED
    assert lm.active_run() is None


def test_params_are_immutable_with_both_values_named(tracked: Path) -> None:
    with lm.start_run():
        lm.log_param("lr", 0.1)
        lm.log_param("lr", 0.1)
        with pytest.raises(lm.ParamConflictError, match=r"'0\.1'.*'0\.2'"):
            lm.log_param("lr", 0.2)


def test_nan_is_accepted_and_bad_values_are_not(tracked: Path) -> None:
    with lm.start_run() as run:
        lm.log_metric("x", float("nan"))
        with pytest.raises(lm.InvalidNameError, match="number"):
            lm.log_metric("y", "high")  # type: ignore[arg-type]
        with pytest.raises(lm.InvalidNameError):
            lm.log_metric("bad key!", 1.0)
        with pytest.raises(lm.InvalidInputError, match="step"):
            lm.log_metric("z", 1.0, step=1.5)  # type: ignore[arg-type]
    assert math.isnan(lm.get_run(run.info.run_id).data.metrics["x"])


def test_unknown_run_id(tracked: Path) -> None:
    with pytest.raises(lm.RunNotFoundError):
        lm.get_run("a" * 32)
    with pytest.raises(lm.InvalidNameError):
        lm.get_run("not-a-run-id")


@pytest.mark.parametrize("bad", ["../escape.txt", "/etc/passwd", "s3://bucket/key", "a/../../b"])
def test_artifact_paths_are_confined(tracked: Path, bad: str) -> None:
    with lm.start_run(), pytest.raises(lm.InvalidPathError):
        lm.log_text("x", bad)


def test_metrics_are_buffered_until_flush(tmp_path: Path) -> None:
    settings = Settings(
        tracking_uri=str(tmp_path / "s"), flush_interval=3600, capture_context=False
    )
    client = lm.TrackingClient(settings=settings)
    reader = lm.TrackingClient(settings=settings)
    exp = client.create_experiment("buf")
    run = client.create_run(exp)
    for i in range(10):
        client.log_metric(run.run_id, "m", i, step=i)
    # another client does not see buffered points yet: no round trip per call
    assert reader.stores.metadata.get_run(run.run_id).data.metrics == {}
    client.flush()
    assert reader.get_run(run.run_id).data.metrics == {"m": 9.0}
    client.close()
    reader.close()


def test_buffer_flushes_on_size_threshold(tmp_path: Path) -> None:
    settings = Settings(tracking_uri=str(tmp_path / "s"), flush_interval=3600, flush_max_points=50)
    client = lm.TrackingClient(settings=settings)
    run = client.create_run("0")
    for i in range(120):
        client.log_metric(run.run_id, "m", i, step=i)
    stored = client.stores.metadata.get_metric_history(run.run_id, "m")
    assert len(stored) == 100  # two full batches written, 20 points still buffered
    client.close()


def test_synchronous_mode_writes_every_call(tmp_path: Path) -> None:
    settings = Settings(tracking_uri=str(tmp_path / "s"), async_logging=False)
    client = lm.TrackingClient(settings=settings)
    run = client.create_run("0")
    client.log_metric(run.run_id, "m", 1.0)
    assert client.stores.metadata.get_run(run.run_id).data.metrics == {"m": 1.0}
    client.close()


def test_run_context_is_captured(tracked: Path) -> None:
    with lm.start_run() as run:
        pass
    tags = lm.get_run(run.info.run_id).data.tags
    for key in ("loopml.python.version", "loopml.platform", "loopml.host", "loopml.source.argv"):
        assert tags.get(key), key
    env = lm.TrackingClient(str(tracked)).load_dict(run.info.run_id, "_loopml/environment.json")
    assert "sqlalchemy" in {k.lower() for k in env["packages"]}


def test_seed_is_recorded(tracked: Path) -> None:
    import random

    with lm.start_run() as run:
        lm.seed(42)
        first = random.random()
    lm.seed(42)
    assert random.random() == first
    assert lm.get_run(run.info.run_id).data.tags["loopml.seed"] == "42"


def test_experiments_lifecycle_through_fluent_api(tracked: Path) -> None:
    exp_id = lm.create_experiment("a")
    lm.rename_experiment(exp_id, "b")
    assert lm.get_experiment(exp_id).name == "b"
    lm.delete_experiment(exp_id)
    with pytest.raises(lm.InvalidStateError, match="restore"):
        lm.set_experiment("b")
    lm.restore_experiment(exp_id)
    assert lm.set_experiment("b").experiment_id == exp_id


def test_log_table_and_figure(tracked: Path, tmp_path: Path) -> None:
    import pandas as pd
    import pyarrow.parquet as pq
    from matplotlib.figure import Figure

    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    fig = Figure()
    fig.subplots().plot([1, 2, 3])
    with lm.start_run() as run:
        lm.log_table(df, "data/sample.parquet")
        lm.log_figure(fig, "plots/line.png")
        with pytest.raises(lm.InvalidPathError):
            lm.log_table(df, "data/sample.csv")
    out = lm.download_artifacts(f"runs:/{run.info.run_id}/data", dst_path=tmp_path / "dl")
    assert pq.read_table(out / "sample.parquet").to_pandas().equals(df)
    png = lm.TrackingClient(str(tracked)).read_artifact(run.info.run_id, "plots/line.png")
    assert png.startswith(b"\x89PNG")


def test_log_artifacts_folder_and_download(tracked: Path, tmp_path: Path) -> None:
    src = tmp_path / "model"
    (src / "sub").mkdir(parents=True)
    (src / "weights.bin").write_bytes(b"w" * 1000)
    (src / "sub" / "config.json").write_text("{}")
    with lm.start_run() as run:
        records = lm.log_artifacts(str(src), "model")
    assert sorted(r.path for r in records) == ["model/sub/config.json", "model/weights.bin"]
    out = lm.download_artifacts(f"runs:/{run.info.run_id}/model", dst_path=tmp_path / "dl")
    assert (out / "weights.bin").read_bytes() == b"w" * 1000
    assert (out / "sub" / "config.json").read_text() == "{}"
    single = lm.download_artifacts(
        f"runs:/{run.info.run_id}/model/weights.bin", dst_path=tmp_path / "one"
    )
    assert single == tmp_path / "one" / "weights.bin" and single.read_bytes() == b"w" * 1000
    with pytest.raises(lm.ArtifactNotFoundError):
        lm.download_artifacts(f"runs:/{run.info.run_id}/nothing", dst_path=tmp_path / "x")


@pytest.mark.s3
@pytest.mark.slow
def test_artifacts_on_s3(tmp_path: Path, s3_endpoint: str, s3_bucket: str) -> None:
    settings = Settings(
        tracking_uri=str(tmp_path / "meta"),
        artifact_uri=f"s3://{s3_bucket}/loopml",
        s3_endpoint_url=s3_endpoint,
        capture_packages=False,
    )
    client = lm.TrackingClient(settings=settings)
    run = client.create_run("0")
    src = tmp_path / "model.bin"
    src.write_bytes(b"weights" * 1000)
    record = client.log_artifact(run.run_id, src, "model")
    client.log_dict(run.run_id, {"a": 1}, "meta.json")
    assert client.load_dict(run.run_id, "meta.json") == {"a": 1}
    out = client.download_artifacts(run.run_id, "model/model.bin", tmp_path / "dl")
    assert out.read_bytes() == src.read_bytes()
    import boto3

    keys = [
        o["Key"]
        for o in boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(Bucket=s3_bucket)[
            "Contents"
        ]
    ]
    assert f"loopml/blobs/{record.digest[:2]}/{record.digest[2:]}" in keys
    client.close()


def test_background_thread_flushes_on_the_interval(tmp_path: Path) -> None:
    import time

    settings = Settings(tracking_uri=str(tmp_path / "s"), flush_interval=0.1, capture_context=False)
    client = lm.TrackingClient(settings=settings)
    reader = lm.TrackingClient(settings=settings)
    run = client.create_run("0")
    client.log_metric(run.run_id, "m", 1.0)
    deadline = time.monotonic() + 10
    while not reader.stores.metadata.get_run(run.run_id).data.metrics:
        assert time.monotonic() < deadline, "the background flush never wrote the point"
        time.sleep(0.05)
    assert reader.stores.metadata.get_run(run.run_id).data.metrics == {"m": 1.0}
    client.close()
    reader.close()


def test_run_tags_from_the_settings_go_on_every_new_run(
    tracked: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOPML_RUN_TAGS", "ci.build=1234, team = pricing")
    lm.set_tracking_uri(str(tracked))
    with lm.start_run(tags={"team": "fares"}) as run:  # tags given in code win
        pass
    tags = lm.get_run(run.info.run_id).data.tags
    assert tags["ci.build"] == "1234" and tags["team"] == "fares"
    with pytest.raises(ConfigurationError, match="key=value pairs"):
        load_settings({"LOOPML_RUN_TAGS": "ci.build"})
