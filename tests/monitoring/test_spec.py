"""Monitor specs: durations, actions, policies and their conditions, windows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from loopml.errors import InvalidInputError
from loopml.monitoring import MonitorSpec, parse_action, parse_policy
from loopml.monitoring.check import last_complete_window
from loopml.monitoring.spec import parse_duration
from loopml.monitoring.window import parse_time, window_of


def test_durations() -> None:
    assert [parse_duration(v) for v in ("90", "90s", "15m", "1h", "1.5h", "2d", "1w", 60)] == [
        90, 90, 900, 3600, 5400, 172800, 604800, 60,
    ]  # fmt: skip
    for bad in ("soon", "-1h", "1.5s", True, "1y"):
        with pytest.raises(InvalidInputError):
            parse_duration(bad)


def test_actions() -> None:
    assert parse_action("webhook:http://127.0.0.1:9000/hook").target == "http://127.0.0.1:9000/hook"
    assert (
        parse_action("alert:webhook:https://ops.example/h").key == "webhook:https://ops.example/h"
    )
    assert parse_action("log").key == "log"
    retrain = parse_action("retrain:pipelines.train:training")
    assert (retrain.kind, retrain.target) == ("retrain", "pipelines.train:training")
    assert parse_action("retrain:flows/train.py:training").target == "flows/train.py:training"
    assert parse_action("retrain:pipelines.training").target == "pipelines:training"
    for bad, message in (
        ("webhook:ftp://x", "http:// or https://"),
        ("retrain:training", "retrain:MODULE:PIPELINE"),
        ("retrain:pipelines.", "retrain:MODULE:PIPELINE"),
        ("email:ops", "unknown action"),
        ("", "an action is one of"),
    ):
        with pytest.raises(InvalidInputError, match=message):
            parse_action(bad)


def test_policies_fire_on_their_figure_and_skip_missing_ones() -> None:
    rmse = parse_policy("performance.rmse > 5 -> retrain:p.q:r, log")
    assert (rmse.name, rmse.figure, rmse.op, rmse.value) == (
        "performance.rmse > 5", "performance.rmse", ">", 5.0,
    )  # fmt: skip
    assert [a.key for a in rmse.actions] == ["retrain:p.q:r", "log"]
    assert rmse.check({"performance.rmse": 5.5}) is True
    assert rmse.check({"performance.rmse": 5.0}) is False
    assert rmse.check({"drift_share": 1.0}) is None  # no labels yet: not evaluated
    flag = parse_policy("drift.fare")
    assert flag.check({"drift.fare": 1.0}) and not flag.check({"drift.fare": 0.0})
    low = parse_policy("business.revenue.sum<=1e3")
    assert low.name == "business.revenue.sum <= 1e3" and low.check({"business.revenue.sum": 999.0})
    for bad in ("drift_share >>> 1", "rmse > ", "1abc > 2", "x -> ", "rmse > inf"):
        with pytest.raises(InvalidInputError):
            parse_policy(bad)


def test_a_spec_has_the_builtin_policies_and_round_trips() -> None:
    spec = MonitorSpec.build(
        [parse_policy("dataset_drift -> log"), parse_policy("dataset_drift -> log"),
         parse_policy("rows < 10")],
        deployment="pricing", reference="datasets:/rides/3", window=3600,
        alerts=(parse_action("webhook:http://h/x"),),
    )  # fmt: skip
    assert [p.name for p in spec.policies] == ["dataset_drift", "quality.errors > 0", "rows < 10"]
    assert [a.key for a in spec.policies[0].actions] == ["log"]  # repeats merged
    assert MonitorSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(InvalidInputError, match="newer loopml"):
        MonitorSpec.from_dict({**spec.to_dict(), "surprise": 1})
    with pytest.raises(InvalidInputError, match="not an alert target"):
        MonitorSpec.build(deployment="d", reference="r", window=60,
                          alerts=(parse_action("retrain:a.b:c"),))  # fmt: skip
    with pytest.raises(InvalidInputError, match="routes"):
        MonitorSpec.build(deployment="d", reference="r", window=60, routes=("blue",))
    with pytest.raises(InvalidInputError, match="significance level"):
        MonitorSpec.build(deployment="d", reference="r", window=60, threshold=1.5)


def test_windows_are_aligned_to_the_epoch_and_complete_after_the_delay() -> None:
    moment = parse_time("2026-11-01T08:42:10Z")
    hour = window_of(moment, 3600)
    assert hour.label == "2026-11-01T08:00:00Z/2026-11-01T09:00:00Z"
    assert window_of(parse_time("2026-11-01"), 86400).start == parse_time("2026-11-01T00:00:00")
    spec = MonitorSpec.build(deployment="d", reference="r", window=3600, delay=120)
    assert last_complete_window(spec, parse_time("2026-11-01T09:01:00Z")).label == (
        "2026-11-01T07:00:00Z/2026-11-01T08:00:00Z"  # 08:00-09:00 needs until 09:02
    )
    assert last_complete_window(spec, parse_time("2026-11-01T09:02:00Z")).start == hour.start
    assert parse_time(datetime(2026, 11, 1, 8, tzinfo=UTC)) == hour.start
    with pytest.raises(InvalidInputError, match="ISO-8601"):
        parse_time("yesterday")
