"""Monitors over the prediction log of a real served model: drift found in shifted traffic
and not in steady traffic, data quality, the check as a run, stored results reused, late
labels and performance, business metrics, and bad input."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error

import loopml as lm
from loopml.errors import (
    DeploymentNotFoundError,
    InvalidInputError,
    InvalidStateError,
    MonitorNotFoundError,
)
from loopml.tracking.client import TrackingClient
from tests.monitoring.conftest import (
    HOUR,
    World,
    after,
    in_window,
    labels_for,
    past_hour,
    rides,
    write_log,
)

pytestmark = pytest.mark.slow


def test_shifted_traffic_drifts_steady_traffic_does_not(
    world: World, client: TrackingClient
) -> None:
    lm.monitoring.create_monitor("steady", reference="rides@1", window="1h", delay=0)
    lm.monitoring.create_monitor("moved", reference="rides@latest", window="1h", delay=0)
    steady = lm.monitoring.run_check("steady", window_start=in_window(world), now=after(world))
    moved = lm.monitoring.run_check("moved", window_start=in_window(world), now=after(world))

    assert steady.status == "ok" and steady.result.rows == 1200
    drift = steady.summary["drift"]
    assert drift["drifted_columns"] == [] and drift["tested"] == 2 and not drift["dataset_drift"]
    assert drift["prediction_drift"] is False
    assert steady.summary["quality"]["errors"] == 0
    assert steady.summary["quality"]["not_logged"] == ["city", "fare"]  # not model inputs

    assert moved.status == "alert"
    drift = moved.summary["drift"]
    assert drift["drifted_columns"] == ["distance"] and drift["share"] == 0.5
    assert drift["dataset_drift"] and drift["prediction_drift"] is True
    assert drift["drifted_outputs"] == ["output.prediction"]
    assert moved.fired == ["dataset_drift", "quality.errors > 0"]
    quality = moved.summary["quality"]
    assert quality["kinds"] == {"out_of_range": 1}  # longer rides than the reference's max
    assert quality["anomalies"][0]["column"] == "distance"
    by_name = {c.column: c for c in moved.columns}
    assert by_name["distance"].drifted and not by_name["hour"].drifted
    assert by_name["output.prediction"].role == "prediction"
    assert by_name["distance"].detail["basis"].startswith("profile")  # reference rows not read
    assert by_name["distance"].detail["histogram"]["edges"]
    # the monitor pinned the reference version and profiled the model's outputs on it
    monitor = lm.monitoring.get_monitor("moved")
    assert monitor.reference == "datasets:/rides/1"
    assert monitor.spec["model"] == "pricing/1" and monitor.spec["output_profile"]["rows"] == 3000

    # the check is a run, with the reference as its input
    run = client.get_run(moved.run_id or "")
    assert run.data.tags["loopml.monitor.name"] == "moved"
    assert run.data.tags["loopml.monitor.window_start"] == str(moved.window.start)
    assert run.data.metrics["drift_share"] == 0.5 and run.data.metrics["dataset_drift"] == 1.0
    assert run.data.metrics["rows"] == 1200.0
    assert client.get_experiment(run.info.experiment_id).name == "loopml-monitoring"
    edges = client.stores.metadata.list_lineage(run_id=moved.run_id)
    assert [(e.uri, e.direction.value) for e in edges] == [("datasets:/rides/1", "input")]


def test_a_checked_window_is_reused_and_recomputed_identically(
    world: World, client: TrackingClient
) -> None:
    lm.monitoring.create_monitor("again", deployment="moved", reference="rides@1", delay=0)
    first = lm.monitoring.run_check("again", window_start=in_window(world), now=after(world))
    again = lm.monitoring.run_check("again", window_start=in_window(world), now=after(world))
    assert again.reused and again.run_id == first.run_id and again.result.revision == 1
    assert again.summary == first.summary
    recomputed = lm.monitoring.run_check(
        "again", window_start=in_window(world), now=after(world), recompute=True
    )
    assert recomputed.result.revision == 2 and recomputed.run_id != first.run_id
    assert recomputed.summary["drift"] == first.summary["drift"]
    assert [(c.column, c.statistic) for c in recomputed.columns] == [
        (c.column, c.statistic) for c in first.columns
    ]
    results = client.stores.metadata.list_monitor_results("again")
    assert len(results) == 1  # one window, its second revision


def test_a_window_being_checked_elsewhere_is_refused(world: World, client: TrackingClient) -> None:
    lm.monitoring.create_monitor("busy", deployment="steady", reference="rides@1", delay=0)
    start = (int(world.sent_at.timestamp() * 1000) // HOUR) * HOUR
    store = client.stores.metadata
    assert store.claim_monitor_window("busy", start, start + HOUR, "other-host:1")
    with pytest.raises(InvalidStateError, match="being checked by other-host:1"):
        lm.monitoring.run_check("busy", window_start=in_window(world), now=after(world))


def test_late_labels_join_by_request_id_and_give_performance(
    world: World, client: TrackingClient
) -> None:
    lm.monitoring.create_monitor("scored", deployment="steady", reference="rides@1", delay=0)
    before = lm.monitoring.run_check("scored", window_start=in_window(world), now=after(world))
    assert before.summary["performance"]["note"] == "no labels yet"
    frame = world.traffic["steady"]
    labels = labels_for(frame, "steady")
    half = labels.iloc[:600]
    extra = pd.DataFrame(
        {"request_id": ["nobody-1", "nobody-2"], "row": [0, 0], "label": [1.0, 2.0]}
    )
    repeated = pd.concat([half, extra, half.iloc[:5].assign(label=-1.0)])  # last row wins
    report = lm.monitoring.log_labels("steady", repeated)
    assert (report.stored, report.matched, report.unknown) == (602, 600, 2)
    assert report.unknown_examples == ["nobody-1", "nobody-2"] and report.duplicates == 5

    after_labels = lm.monitoring.run_check(
        "scored", window_start=in_window(world), now=after(world)
    )
    assert after_labels.refreshed and after_labels.run_id == before.run_id
    performance = after_labels.summary["performance"]
    assert performance["labeled"] == 600 and performance["coverage"] == 0.5
    assert performance["task"] == "regression"
    predicted = world.model.predict(frame[["distance", "hour"]].iloc[:600])
    truth = frame["fare"].to_numpy()[:600].copy()
    truth[:5] = -1.0  # the repeated rows' later label
    assert performance["metrics"]["mae"] == pytest.approx(mean_absolute_error(truth, predicted))
    assert performance["metrics"]["rmse"] == pytest.approx(
        np.sqrt(mean_squared_error(truth, predicted))
    )
    # relabel: the latest label wins, and the window's performance follows
    fixed = lm.monitoring.log_labels("steady", half.iloc[:5])
    assert fixed.replaced == 5
    latest = lm.monitoring.read_labels("steady")
    assert len(latest) == 602
    assert (
        latest.set_index(["request_id", "row"]).loc[("steady-0", 0), "label"] == half.label.iloc[0]
    )
    final = lm.monitoring.run_check("scored", window_start=in_window(world), now=after(world))
    truth[:5] = frame["fare"].to_numpy()[:5]
    assert final.summary["performance"]["metrics"]["mae"] == pytest.approx(
        mean_absolute_error(truth, predicted)
    )
    history = client.get_metric_history(before.run_id or "", "performance.mae")
    assert len(history) == 2  # one point per refresh: the score's trend


def test_classification_metrics_per_window(client: TrackingClient) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score

    reference = rides(2000, 5)
    reference["late"] = (reference["distance"] > 6).astype("int64")
    lm.data.log_dataset("risk-ref", reference)
    model = LogisticRegression().fit(reference[["distance", "hour"]], reference["late"])
    when = past_hour(30)
    traffic = rides(400, 6)
    write_log(client, "risk", when, traffic, model, "risk")
    with lm.start_run():
        info = lm.models.log_model(
            model, "model", input_example=reference[["distance", "hour"]][:5]
        )
    lm.registry.register(info.uri, "risk")
    lm.monitoring.create_monitor("risk", reference="risk-ref@1", delay=0, model="risk/1")
    truth = (traffic["distance"] > 6).astype("int64").to_numpy()
    labels = labels_for(traffic.assign(fare=truth), "risk")
    lm.monitoring.log_labels("risk", labels)
    checked = lm.monitoring.run_check("risk", window_start=when)
    metrics = checked.summary["performance"]["metrics"]
    predicted = model.predict(traffic[["distance", "hour"]])
    assert checked.summary["performance"]["task"] == "classification"
    assert metrics["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    assert {"f1_macro", "precision_weighted", "recall_macro"} <= set(metrics)
    # the classes are compared as categories, against the model's classes on the reference
    (output,) = [c for c in checked.columns if c.role == "prediction"]
    assert output.kind == "categorical" and output.test == "chi2+jensenshannon"
    assert output.drifted is not None


def test_business_metrics_beside_model_metrics_and_in_policies(
    world: World, client: TrackingClient
) -> None:
    when = past_hour(40)
    write_log(client, "shop", when, rides(200, 7), world.model, "shop")
    lm.monitoring.create_monitor(
        "shop", reference="rides@1", delay=0,
        policies=["business.revenue_per_ride < 10 -> log", "business.orders.sum > 100 -> log"],
    )  # fmt: skip
    start = when.replace(minute=0)
    for minutes, value in ((5, 8.0), (20, 9.0), (59, 10.0)):
        lm.monitoring.log_business_metric(
            "shop", "revenue_per_ride", value, start + timedelta(minutes=minutes)
        )
    lm.monitoring.log_business_metric(
        "shop", "revenue_per_ride", 50.0, start + timedelta(hours=1)
    )  # next
    lm.monitoring.log_business_metric("shop", "orders", 40, start + timedelta(minutes=3))
    checked = lm.monitoring.run_check("shop", window_start=when)
    business = checked.summary["business"]
    assert business["revenue_per_ride"] == {
        "mean": 9.0, "sum": 27.0, "count": 3, "min": 8.0, "max": 10.0, "last": 10.0,
    }  # fmt: skip
    assert business["orders"]["sum"] == 40.0
    assert "business.revenue_per_ride < 10" in checked.fired
    assert "business.orders.sum > 100" not in checked.fired
    assert [a.action for a in checked.actions] == ["log:business.revenue_per_ride < 10"]
    run = client.get_run(checked.run_id or "")
    assert run.data.metrics["business.revenue_per_ride.mean"] == 9.0
    stored = lm.monitoring.read_business_metrics(
        "shop", since=start, until=start + timedelta(hours=1)
    )
    assert stored["value"].tolist() == [40.0, 8.0, 9.0, 10.0]


def test_a_window_with_no_data_is_a_clear_result(world: World, client: TrackingClient) -> None:
    lm.monitoring.create_monitor("quiet", deployment="steady", reference="rides@1", delay=0)
    empty = lm.monitoring.run_check("quiet", window_start=world.sent_at - timedelta(hours=5),
                                    now=after(world))  # fmt: skip
    assert empty.status == "no_data" and empty.run_id is None and empty.result.rows == 0
    assert "no data" in empty.line()
    assert "no predictions in this window" in empty.summary["note"]


def test_bad_input_is_refused_with_clear_errors(world: World, client: TrackingClient) -> None:
    with pytest.raises(DeploymentNotFoundError, match="no deployment named 'ghost'"):
        lm.monitoring.create_monitor("ghost", reference="rides@1")
    Path("files").mkdir()
    Path("files/a.txt").write_text("x")
    lm.data.add("files", name="plain-files")
    with pytest.raises(InvalidInputError, match="not a table"):
        lm.monitoring.create_monitor("plain", deployment="steady", reference="plain-files@1")
    with pytest.raises(InvalidInputError, match="not a policy condition"):
        lm.monitoring.create_monitor("p", deployment="steady", reference="rides@1",
                                     policies=["drift_share >>> 1"])  # fmt: skip
    with pytest.raises(InvalidInputError, match="unknown action"):
        lm.monitoring.create_monitor("p", deployment="steady", reference="rides@1",
                                     on_drift=["email:ops@example.com"])  # fmt: skip
    with pytest.raises(InvalidInputError, match="no parameter 'dataset'"):
        lm.monitoring.create_monitor(
            "p", deployment="steady", reference="rides@1",
            on_drift=["retrain:tests.monitoring.flows:no_data_param"],
        )  # fmt: skip
    with pytest.raises(InvalidInputError, match="window must be a duration"):
        lm.monitoring.create_monitor("p", deployment="steady", reference="rides@1", window="soon")
    with pytest.raises(MonitorNotFoundError):
        lm.monitoring.run_check("never-made")
    lm.monitoring.create_monitor("live", deployment="steady", reference="rides@1")
    with pytest.raises(InvalidInputError, match="not complete until"):
        lm.monitoring.run_check("live", window_start=in_window(world), now=world.sent_at)
    with pytest.raises(InvalidInputError, match="no request id column 'request_id'"):
        lm.monitoring.log_labels("steady", pd.DataFrame({"rid": ["a"], "label": [1.0]}))
    with pytest.raises(InvalidInputError, match="label column"):
        lm.monitoring.log_labels("steady", pd.DataFrame({"request_id": ["a"], "y": [1.0]}))
    lm.monitoring.log_labels("moved", pd.DataFrame({"request_id": ["moved-0"], "label": [3.0]}))
    with pytest.raises(InvalidInputError, match="earlier labels are number"):
        lm.monitoring.log_labels("moved", pd.DataFrame({"request_id": ["a"], "label": ["late"]}))
    with pytest.raises(DeploymentNotFoundError):
        lm.monitoring.log_labels("ghost", pd.DataFrame({"request_id": ["a"], "label": [1.0]}))
    with pytest.raises(InvalidInputError, match="finite number"):
        lm.monitoring.log_business_metric("steady", "revenue", float("nan"))


@pytest.mark.s3
def test_a_check_and_labels_on_an_s3_artifact_store(
    world: World, s3_endpoint: str, s3_bucket: str, tmp_path: Path
) -> None:
    from loopml.config import Settings
    from loopml.data import DataClient

    settings = Settings(
        tracking_uri=str(tmp_path / "store"),
        artifact_uri=f"s3://{s3_bucket}/loopml",
        s3_endpoint_url=s3_endpoint,
        capture_packages=False,
    )
    remote = TrackingClient(settings=settings)
    try:
        data = DataClient(remote)
        data.log_dataset("rides", world.reference)
        data.close()
        when = past_hour(90)
        traffic = rides(200, 41)
        write_log(remote, "on-s3", when, traffic, world.model, "s")
        lm.monitoring.create_monitor("on-s3", reference="rides@1", delay=0, client=remote)
        report = lm.monitoring.log_labels("on-s3", labels_for(traffic, "s"), client=remote)
        assert (report.stored, report.matched) == (200, 200)
        checked = lm.monitoring.run_check("on-s3", window_start=when, client=remote)
        assert checked.status == "ok" and checked.result.rows == 200
        assert checked.summary["performance"]["labeled"] == 200
        keys = list(remote.stores.blobs.bytes.list("labels/on-s3/"))
        assert len(keys) == 1 and keys[0].startswith("labels/on-s3/date=")
    finally:
        remote.close()
