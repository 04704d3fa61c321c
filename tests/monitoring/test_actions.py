"""Policies and actions: webhook alerts received by a real HTTP server with the right JSON,
retried and recorded when the receiver fails; retraining triggered once per window even
when the check runs again, rate-limited, with the window's data as a new dataset version
and the links monitor result → pipeline run → model version recorded."""

from __future__ import annotations

import pytest

import loopml as lm
from loopml.tracking.client import TrackingClient
from tests.monitoring.conftest import (
    World,
    after,
    in_window,
    labels_for,
    past_hour,
    rides,
    shifted,
    webhook_server,
    write_log,
)

pytestmark = pytest.mark.slow


def test_a_fired_policy_posts_one_alert_with_the_window_and_numbers(
    world: World, client: TrackingClient
) -> None:
    with webhook_server() as hook:
        lm.monitoring.create_monitor(
            "alerting", deployment="moved", reference="rides@1", delay=0,
            alerts=[f"webhook:{hook.url}", "log"],
        )  # fmt: skip
        checked = lm.monitoring.run_check(
            "alerting", window_start=in_window(world), now=after(world)
        )
        assert len(hook.bodies) == 1
        body = hook.bodies[0]
        assert body["monitor"] == "alerting" and body["deployment"] == "moved"
        assert body["reference"] == "datasets:/rides/1"
        assert body["window"]["start_ms"] == checked.window.start
        assert body["window"]["end"].endswith(":00:00Z")
        assert [f["policy"] for f in body["fired"]] == ["dataset_drift", "quality.errors > 0"]
        assert body["fired"][0]["figure"] == "dataset_drift" and body["fired"][0]["value"] == 1.0
        assert body["drift"]["drifted_columns"] == ["distance"] and body["drift"]["share"] == 0.5
        assert body["drift"]["prediction_drift"] is True
        assert body["quality"]["errors"] == 1 and body["rows"] == 1200
        assert body["run_id"] == checked.run_id
        statuses = {a.action: a.status for a in checked.actions}
        assert statuses[f"alert:dataset_drift:webhook:{hook.url}"] == "done"
        assert statuses["log:dataset_drift"] == "done"
        # checking the window again (even recomputing it) does not alert again
        lm.monitoring.run_check("alerting", window_start=in_window(world), now=after(world))
        lm.monitoring.run_check(
            "alerting", window_start=in_window(world), now=after(world), recompute=True
        )
        assert len(hook.bodies) == 1


def test_a_failing_webhook_is_retried_recorded_and_does_not_fail_the_check(
    world: World, client: TrackingClient
) -> None:
    with webhook_server(statuses=[503, 503, 503]) as hook:
        lm.monitoring.create_monitor("unheard", deployment="moved", reference="rides@1",
                                     delay=0, on_drift=[f"webhook:{hook.url}"])  # fmt: skip
        checked = lm.monitoring.run_check(
            "unheard", window_start=in_window(world), now=after(world)
        )
        assert len(hook.bodies) == 3  # three attempts
    assert checked.status == "alert"
    failed = [a for a in checked.actions if a.kind == "alert"]
    assert [a.status for a in failed] == ["failed"]
    assert failed[0].detail["attempts"] == 3 and failed[0].detail["status_code"] == 503
    # a receiver that is not there at all: recorded as failed too
    lm.monitoring.create_monitor("nobody", deployment="moved", reference="rides@1", delay=0,
                                 alerts=["webhook:http://127.0.0.1:9/hook"])  # fmt: skip
    checked = lm.monitoring.run_check("nobody", window_start=in_window(world), now=after(world))
    alert = next(a for a in checked.actions if a.kind == "alert")
    assert alert.status == "failed" and "ConnectError" in alert.detail["error"]


def test_retraining_runs_once_per_window_is_rate_limited_and_linked(
    world: World, client: TrackingClient
) -> None:
    first, second = past_hour(50), past_hour(49)
    traffic = shifted(rides(300, 11))
    write_log(client, "retrained", first, traffic, world.model, "w1")
    write_log(client, "retrained", second, shifted(rides(300, 12)), world.model, "w2")
    lm.monitoring.log_labels("retrained", labels_for(traffic.iloc[:200], "w1"))
    lm.monitoring.create_monitor(
        "retrainer", deployment="retrained", reference="rides@1", delay=0, target="fare",
        on_drift=["retrain:tests.monitoring.flows:retrain"],
        retrain_params={"model_name": "pricing-retrained"}, retrain_every="24h",
    )  # fmt: skip
    checked = lm.monitoring.run_check("retrainer", window_start=first)
    assert checked.status == "alert"
    (action,) = [a for a in checked.actions if a.kind == "retrain"]
    assert action.status == "done", action.detail
    detail = action.detail
    assert detail["model_versions"] == ["pricing-retrained/1"]
    assert detail["dataset"] == "datasets:/retrainer-window/1"
    assert (detail["rows"], detail["labeled"]) == (300, 200)
    # the window's data, versioned: features, and the label under the target's name
    window = lm.data.load(detail["dataset"])
    assert list(window.columns) == ["distance", "hour", "fare"]
    assert window["fare"].notna().sum() == 200
    # the links: check run made the dataset, the pipeline run read it and made the model
    store = client.stores.metadata
    made = {(e.run_id, e.direction.value) for e in store.list_lineage(uri=detail["dataset"])}
    assert made == {(checked.run_id, "output"), (detail["pipeline_run"], "input")}
    pipeline_run = client.get_run(detail["pipeline_run"])
    assert pipeline_run.data.tags["loopml.monitor.name"] == "retrainer"
    assert pipeline_run.data.tags["loopml.monitor.check_run"] == checked.run_id
    assert (
        client.get_run(checked.run_id or "").data.tags["loopml.monitor.retrain_run"]
        == (detail["pipeline_run"])
    )
    step_run = client.get_run(lm.registry.get_version("pricing-retrained", 1).run_id or "")
    assert step_run.data.tags["loopml.pipeline.run"] == detail["pipeline_run"]

    # checking the window again, even recomputing it, does not retrain again
    again = lm.monitoring.run_check("retrainer", window_start=first, recompute=True)
    assert [a.status for a in again.actions if a.kind == "retrain"] == ["done"]
    assert len(store.search_model_versions(name="pricing-retrained")) == 1
    # the next window drifts too, but one retraining a day is the limit
    later = lm.monitoring.run_check("retrainer", window_start=second)
    (limited,) = [a for a in later.actions if a.kind == "retrain"]
    assert limited.status == "rate_limited"
    assert limited.detail["last_window_start"] == checked.window.start
    assert len(store.search_model_versions(name="pricing-retrained")) == 1
    shown = lm.monitoring.monitor_report("retrainer").to_dict()
    assert [w["actions"][0]["status"] for w in shown["windows"]] == ["done", "rate_limited"]


def test_a_failing_retraining_is_recorded_not_raised(world: World, client: TrackingClient) -> None:
    when = past_hour(60)
    write_log(client, "badtrain", when, shifted(rides(200, 13)), world.model, "b")
    lm.monitoring.create_monitor(
        "badtrain", reference="rides@1", delay=0, target="fare",
        on_drift=["retrain:tests.monitoring.flows:retrain"],
    )  # fmt: skip
    checked = lm.monitoring.run_check("badtrain", window_start=when)  # no labels: fit fails
    (action,) = [a for a in checked.actions if a.kind == "retrain"]
    assert action.status == "failed" and "failed at step" in action.detail["error"]
    assert action.detail["pipeline_run"]  # resumable
    assert checked.status == "alert" and checked.result.status == "alert"
