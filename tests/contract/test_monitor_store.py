"""Contract of MonitorStore on every implementation (SQLite, PostgreSQL, REST)."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.entities import MonitorColumn, MonitorResult
from loopml.errors import (
    AlreadyExistsError,
    InvalidInputError,
    InvalidStateError,
    MonitorNotFoundError,
)
from loopml.storage.metadata import MetadataStore, open_metadata_store
from tests.contract.conftest import IMPLEMENTATIONS, make_store_uri

SPEC = {"threshold": 0.05, "policies": [{"name": "dataset_drift", "actions": ["log"]}]}
HOUR = 3_600_000
T0 = 1_780_000_000_000 - 1_780_000_000_000 % HOUR


@pytest.fixture(params=IMPLEMENTATIONS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    uri = make_store_uri(request.param, tmp_path, request)
    opened = open_metadata_store(uri, Settings(tracking_uri=uri))
    yield opened
    opened.close()


def _result(status: str = "alert", rows: int = 120, start: int = T0) -> MonitorResult:
    summary = {"drift_share": 0.5, "drifted_columns": ["fare"], "quality": {"errors": 0}}
    return MonitorResult("pricing", start, start + HOUR, status, rows, None, summary, "", 0, 0)


def _column(name: str, drifted: bool | None, distance: float | None = 0.3) -> MonitorColumn:
    return MonitorColumn(
        "pricing", T0, name, "feature", "numeric", "ks+wasserstein", 0.21, 1e-9, 0.05,
        distance, 0.1, drifted, 1000, 120, 0, 3, "", {"stats": {"ks": 0.21}},
    )  # fmt: skip


def test_create_read_list_delete(store: MetadataStore) -> None:
    made = store.create_monitor("pricing", "pricing", "datasets:/rides/3", 3600, SPEC, "ana")
    assert (made.name, made.deployment, made.reference, made.window) == (
        "pricing", "pricing", "datasets:/rides/3", 3600,
    )  # fmt: skip
    assert dict(made.spec) == SPEC and made.created_by == "ana" and made.creation_time > 0
    store.create_monitor("fraud", "fraud-api", "datasets:/tx/1", 900, {})
    assert [m.name for m in store.list_monitors()] == ["fraud", "pricing"]
    assert store.get_monitor("pricing") == made
    with pytest.raises(AlreadyExistsError):
        store.create_monitor("pricing", "pricing", "datasets:/rides/3", 3600, {})
    store.delete_monitor("fraud")
    with pytest.raises(MonitorNotFoundError):
        store.get_monitor("fraud")
    with pytest.raises(MonitorNotFoundError):
        store.delete_monitor("fraud")
    for bad in (
        lambda: store.create_monitor("bad/name", "d", "datasets:/r/1", 60, {}),
        lambda: store.create_monitor("m", "d", "datasets:/r/1", 0, {}),
        lambda: store.create_monitor("m", "d", "", 60, {}),
        lambda: store.create_monitor("m", "d", "datasets:/r/1", 60, {"x": math.nan}),
    ):
        with pytest.raises(InvalidInputError):
            bad()


def test_a_window_is_claimed_once_recorded_and_read_back(store: MetadataStore) -> None:
    store.create_monitor("pricing", "pricing", "datasets:/rides/3", 3600, SPEC)
    assert store.claim_monitor_window("pricing", T0, T0 + HOUR, "a")
    assert not store.claim_monitor_window("pricing", T0, T0 + HOUR, "b")  # held by a
    assert store.get_monitor_result("pricing", T0).status == "running"
    columns = [_column("fare", True, math.inf), _column("city", None, None)]
    with pytest.raises(InvalidStateError):
        store.record_monitor_result(_result(), columns, owner="b")
    stored = store.record_monitor_result(_result(), columns, owner="a")
    assert (stored.status, stored.rows, stored.revision, stored.claimed_by) == ("alert", 120, 1, "")
    assert stored.summary["drifted_columns"] == ["fare"]
    # a stored result is not claimed again, unless replaced on purpose
    assert not store.claim_monitor_window("pricing", T0, T0 + HOUR, "b")
    back = store.list_monitor_columns("pricing", [T0])
    assert [c.column for c in back] == ["city", "fare"]
    fare = back[1]
    assert fare.distance == math.inf and fare.drifted is True and fare.cur_nulls == 3
    assert fare.detail == {"stats": {"ks": 0.21}} and back[0].drifted is None
    assert store.claim_monitor_window("pricing", T0, T0 + HOUR, "b", replace=True)
    # while b recomputes, the old result stays readable
    assert store.get_monitor_result("pricing", T0).status == "alert"
    again = store.record_monitor_result(_result("ok", 121), [_column("fare", False)], owner="b")
    assert (again.status, again.rows, again.revision) == ("ok", 121, 2)
    assert [c.column for c in store.list_monitor_columns("pricing", [T0])] == ["fare"]


def test_results_list_newest_first_with_bounds(store: MetadataStore) -> None:
    store.create_monitor("pricing", "pricing", "datasets:/rides/3", 3600, SPEC)
    for i in range(4):
        start = T0 + i * HOUR
        assert store.claim_monitor_window("pricing", start, start + HOUR, "w")
        store.record_monitor_result(_result(start=start), [], owner="w")
    starts = [r.window_start for r in store.list_monitor_results("pricing")]
    assert starts == [T0 + 3 * HOUR, T0 + 2 * HOUR, T0 + HOUR, T0]
    bounded = store.list_monitor_results("pricing", since=T0 + HOUR, until=T0 + 3 * HOUR)
    assert [r.window_start for r in bounded] == [T0 + 2 * HOUR, T0 + HOUR]
    assert len(store.list_monitor_results("pricing", limit=1)) == 1
    with pytest.raises(MonitorNotFoundError):
        store.get_monitor_result("pricing", T0 + 9 * HOUR)
    with pytest.raises(MonitorNotFoundError):
        store.list_monitor_results("nope")
    store.delete_monitor("pricing")
    store.create_monitor("pricing", "pricing", "datasets:/rides/3", 3600, SPEC)
    assert store.list_monitor_results("pricing") == []  # deleted with the monitor


def test_expired_and_released_claims_and_failed_windows(store: MetadataStore) -> None:
    store.create_monitor("pricing", "pricing", "datasets:/rides/3", 3600, SPEC)
    assert store.claim_monitor_window("pricing", T0, T0 + HOUR, "crashed")
    # a claim older than the lease is taken over (its holder died mid-check)
    assert store.claim_monitor_window("pricing", T0, T0 + HOUR, "next", lease_ms=0)
    with pytest.raises(InvalidStateError):
        store.record_monitor_result(_result(), [], owner="crashed")
    store.release_monitor_window("pricing", T0, "next")
    with pytest.raises(MonitorNotFoundError):
        store.get_monitor_result("pricing", T0)  # a window never computed is forgotten
    assert store.claim_monitor_window("pricing", T0, T0 + HOUR, "w")
    store.record_monitor_result(_result("failed", 0), [], owner="w")
    assert store.claim_monitor_window("pricing", T0, T0 + HOUR, "retry")  # failed: retried
    store.release_monitor_window("pricing", T0, "retry")
    assert store.get_monitor_result("pricing", T0).status == "failed"  # kept, unclaimed
    with pytest.raises(InvalidInputError):
        store.record_monitor_result(_result("running"), [], owner="w")
    with pytest.raises(MonitorNotFoundError):
        store.claim_monitor_window("nope", T0, T0 + HOUR, "w")


def test_concurrent_window_claims_have_one_winner(store: MetadataStore) -> None:
    store.create_monitor("pricing", "pricing", "datasets:/rides/3", 3600, SPEC)
    wins: list[str] = []

    def claim(owner: str) -> None:
        if store.claim_monitor_window("pricing", T0, T0 + HOUR, owner):
            wins.append(owner)

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1


def test_actions_are_claimed_once_per_window_and_rate_limited(store: MetadataStore) -> None:
    store.create_monitor("pricing", "pricing", "datasets:/rides/3", 3600, SPEC)
    key, day = "retrain:pipelines.train:training", 24 * HOUR
    claimed, first = store.claim_monitor_action("pricing", T0, key, "retrain", "retrain", day)
    assert claimed and first.status == "claimed" and first.kind == "retrain"
    again, same = store.claim_monitor_action("pricing", T0, key, "retrain", "retrain", day)
    assert not again and same.status == "claimed" and same.time == first.time
    done = store.record_monitor_action("pricing", T0, key, "done", {"pipeline_run": "r1"})
    assert done.status == "done" and done.detail == {"pipeline_run": "r1"}
    # the next window's retraining is within a day of the first: refused and recorded
    later, limited = store.claim_monitor_action(
        "pricing", T0 + HOUR, key, "retrain", "retrain", day, {"policy": "dataset_drift"}
    )
    assert not later and limited.status == "rate_limited"
    assert limited.detail["last_window_start"] == T0 and limited.detail["policy"] == "dataset_drift"
    assert limited.detail["next_allowed"] == first.time + day
    # without a minimum interval, or under another rate key, it is claimed
    assert store.claim_monitor_action("pricing", T0 + 2 * HOUR, key, "retrain", "retrain")[0]
    alert = "alert:dataset_drift:webhook:http://127.0.0.1:9/hook"
    assert store.claim_monitor_action("pricing", T0 + HOUR, alert, "alert", "alert:x", day)[0]
    store.record_monitor_action("pricing", T0 + HOUR, alert, "failed", {"error": "refused"})
    listed = store.list_monitor_actions("pricing")
    assert [(a.window_start, a.status) for a in listed] == [
        (T0, "done"), (T0 + HOUR, "rate_limited"), (T0 + 2 * HOUR, "claimed"),
        (T0 + HOUR, "failed"),
    ]  # fmt: skip
    assert len(store.list_monitor_actions("pricing", T0 + HOUR)) == 2
    with pytest.raises(MonitorNotFoundError):
        store.record_monitor_action("pricing", T0 + 5 * HOUR, key, "done", {})
    with pytest.raises(InvalidInputError):
        store.record_monitor_action("pricing", T0, key, "rate_limited", {})
    with pytest.raises(InvalidStateError):
        store.record_monitor_action("pricing", T0 + HOUR, key, "done", {})  # rate limited


def test_concurrent_action_claims_pass_the_rate_limit_once(store: MetadataStore) -> None:
    store.create_monitor("pricing", "pricing", "datasets:/rides/3", 3600, SPEC)
    wins: list[int] = []

    def claim(i: int) -> None:
        start = T0 + i * HOUR  # different windows: only the rate limit stops them
        if store.claim_monitor_action(
            "pricing", start, "retrain:p:q", "retrain", "retrain", HOUR * 24
        )[0]:
            wins.append(i)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    statuses = sorted(a.status for a in store.list_monitor_actions("pricing"))
    assert statuses == ["claimed"] + ["rate_limited"] * 4
