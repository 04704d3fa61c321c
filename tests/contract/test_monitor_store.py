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
    RevisionConflictError,
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


def test_update_replaces_spec_and_reference_and_keeps_the_results(store: MetadataStore) -> None:
    made = store.create_monitor("pricing", "pricing", "datasets:/rides/3", 3600, SPEC, "ana")
    assert (made.revision, made.updated_by, made.update_time) == (1, "ana", made.creation_time)
    assert store.claim_monitor_window("pricing", T0, T0 + HOUR, "w")
    store.record_monitor_result(_result(), [_column("fare", True)], owner="w")
    spec = {**SPEC, "threshold": 0.01}
    changed = store.update_monitor("pricing", "datasets:/rides/4", spec, "bo", expected_revision=1)
    assert (changed.reference, dict(changed.spec), changed.revision) == (
        "datasets:/rides/4",
        spec,
        2,
    )
    assert (changed.updated_by, changed.created_by, changed.creation_time) == (
        "bo", "ana", made.creation_time,
    )  # fmt: skip
    assert changed.update_time > made.update_time
    assert (changed.deployment, changed.window) == ("pricing", 3600)
    assert store.get_monitor("pricing") == changed
    assert store.list_monitors() == [changed]
    # the windows checked before the change keep their results
    assert store.get_monitor_result("pricing", T0).status == "alert"
    assert [c.column for c in store.list_monitor_columns("pricing", [T0])] == ["fare"]
    # a change made from an older revision is refused, and writes nothing
    with pytest.raises(RevisionConflictError, match="revision 2"):
        store.update_monitor("pricing", "datasets:/rides/5", SPEC, "cy", expected_revision=1)
    assert store.get_monitor("pricing") == changed
    again = store.update_monitor("pricing", "datasets:/rides/4", SPEC)  # no check asked for
    assert again.revision == 3 and dict(again.spec) == SPEC
    with pytest.raises(MonitorNotFoundError):
        store.update_monitor("nope", "datasets:/rides/4", SPEC)
    for bad in (
        lambda: store.update_monitor("pricing", "", SPEC),
        lambda: store.update_monitor("pricing", "datasets:/rides/4", {"x": math.nan}),
        lambda: store.update_monitor("pricing", "datasets:/r/1", SPEC, expected_revision=-1),
    ):
        with pytest.raises(InvalidInputError):
            bad()
    assert store.get_monitor("pricing") == again


def test_concurrent_updates_from_one_revision_have_one_winner(store: MetadataStore) -> None:
    store.create_monitor("pricing", "pricing", "datasets:/rides/3", 3600, SPEC)
    wins: list[int] = []
    lost: list[int] = []

    def change(i: int) -> None:
        try:
            store.update_monitor("pricing", f"datasets:/rides/{i}", SPEC, expected_revision=1)
            wins.append(i)
        except RevisionConflictError:
            lost.append(i)

    threads = [threading.Thread(target=change, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and len(lost) == 4
    found = store.get_monitor("pricing")
    assert found.revision == 2 and found.reference == f"datasets:/rides/{wins[0]}"


def test_a_claim_at_a_revision_is_a_compare_and_set(store: MetadataStore) -> None:
    store.create_monitor("pricing", "pricing", "datasets:/rides/3", 3600, SPEC)
    assert not store.claim_monitor_window("pricing", T0, T0 + HOUR, "a", revision=1)  # none yet
    assert store.claim_monitor_window("pricing", T0, T0 + HOUR, "a")
    store.record_monitor_result(_result("no_data", 0), [], owner="a")
    seen = store.get_monitor_result("pricing", T0).revision
    # a no_data window is re-checked only on purpose, and only from the revision read
    assert not store.claim_monitor_window("pricing", T0, T0 + HOUR, "b")
    assert store.claim_monitor_window("pricing", T0, T0 + HOUR, "b", replace=True, revision=seen)
    store.record_monitor_result(_result("ok"), [], owner="b")
    # c read the no_data result before b stored its own: c's retry is refused
    assert not store.claim_monitor_window("pricing", T0, T0 + HOUR, "c", True, revision=seen)
    assert store.get_monitor_result("pricing", T0).status == "ok"
    # a failed window is retried from the revision read, once
    start = T0 + HOUR
    assert store.claim_monitor_window("pricing", start, start + HOUR, "a")
    store.record_monitor_result(_result("failed", 0, start), [], owner="a")
    failed = store.get_monitor_result("pricing", start).revision
    assert store.claim_monitor_window("pricing", start, start + HOUR, "b", revision=failed)
    store.record_monitor_result(_result("failed", 0, start), [], owner="b")
    assert not store.claim_monitor_window("pricing", start, start + HOUR, "c", revision=failed)
    assert store.claim_monitor_window("pricing", start, start + HOUR, "c", revision=failed + 1)
    with pytest.raises(InvalidInputError):
        store.claim_monitor_window("pricing", start, start + HOUR, "d", revision=-1)


def test_concurrent_retries_of_a_failed_window_have_one_winner(store: MetadataStore) -> None:
    store.create_monitor("pricing", "pricing", "datasets:/rides/3", 3600, SPEC)
    assert store.claim_monitor_window("pricing", T0, T0 + HOUR, "first")
    store.record_monitor_result(_result("failed", 0), [], owner="first")
    seen = store.get_monitor_result("pricing", T0).revision
    wins: list[str] = []

    def retry(owner: str) -> None:
        if store.claim_monitor_window("pricing", T0, T0 + HOUR, owner, revision=seen):
            wins.append(owner)
            store.record_monitor_result(_result("failed", 0), [], owner=owner)

    threads = [threading.Thread(target=retry, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert store.get_monitor_result("pricing", T0).revision == seen + 1


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
