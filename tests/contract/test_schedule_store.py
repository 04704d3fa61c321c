"""Contract of ScheduleStore on every implementation (SQLite, PostgreSQL, REST)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from loopml.storage.metadata import MetadataStore, open_metadata_store
from tests.contract.conftest import IMPLEMENTATIONS, make_store_uri


@pytest.fixture(params=IMPLEMENTATIONS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    uri = make_store_uri(request.param, tmp_path, request)
    opened = open_metadata_store(uri, Settings(tracking_uri=uri))
    yield opened
    opened.close()


def test_create_read_list_delete(store: MetadataStore) -> None:
    made = store.create_schedule(
        "nightly", "pipelines.train:training", "0 3 * * *", {"lr": 0.1}, 1000, "ana"
    )
    assert (made.name, made.cron, made.params, made.next_run_time) == (
        "nightly",
        "0 3 * * *",
        {"lr": 0.1},
        1000,
    )
    assert made.last_run_id is None and made.created_by == "ana"
    store.create_schedule("hourly", "p:q", "0 * * * *", {}, 2000)
    assert [s.name for s in store.list_schedules()] == ["hourly", "nightly"]
    with pytest.raises(AlreadyExistsError):
        store.create_schedule("nightly", "p:q", "0 * * * *", {}, 1)
    store.delete_schedule("hourly")
    with pytest.raises(NotFoundError):
        store.get_schedule("hourly")
    with pytest.raises(NotFoundError):
        store.delete_schedule("hourly")
    with pytest.raises(InvalidInputError):
        store.create_schedule("bad name!", "p:q", "* * * * *", {}, 1)


def test_a_due_slot_is_claimed_exactly_once(store: MetadataStore) -> None:
    store.create_schedule("nightly", "p:q", "0 3 * * *", {}, 1000)
    results: list[bool] = []

    def claim() -> None:
        results.append(store.claim_schedule("nightly", 1000, 5000))

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, False, False, True]
    assert store.get_schedule("nightly").next_run_time == 5000
    assert store.claim_schedule("nightly", 1000, 9000) is False  # that slot is gone
    with pytest.raises(NotFoundError):
        store.claim_schedule("nope", 1, 2)


def test_the_last_run_is_recorded(store: MetadataStore) -> None:
    store.create_schedule("nightly", "p:q", "0 3 * * *", {}, 1000)
    store.record_schedule_run("nightly", "a" * 32, "FAILED")
    got = store.get_schedule("nightly")
    assert (got.last_run_id, got.last_status) == ("a" * 32, "FAILED")
    assert got.last_run_time is not None and got.last_run_time > 0
