"""Contract of DeploymentStore on every implementation (SQLite, PostgreSQL, REST)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.errors import (
    AlreadyExistsError,
    DeploymentNotFoundError,
    InvalidInputError,
    RevisionConflictError,
)
from loopml.storage.metadata import MetadataStore, open_metadata_store
from tests.contract.conftest import IMPLEMENTATIONS, make_store_uri

SPEC = {"model": "models:/pricing@champion", "port": 8080}
V3 = {"primary": {"name": "pricing", "version": 3}}


@pytest.fixture(params=IMPLEMENTATIONS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    uri = make_store_uri(request.param, tmp_path, request)
    opened = open_metadata_store(uri, Settings(tracking_uri=uri))
    yield opened
    opened.close()


def test_create_read_list_delete(store: MetadataStore) -> None:
    made = store.create_deployment("pricing", SPEC, V3, actor="ana")
    assert (made.name, dict(made.spec), made.revision, made.actor) == ("pricing", SPEC, 1, "ana")
    assert made.versions == V3 and made.endpoint is None
    assert made.creation_time == made.last_update_time > 0
    store.create_deployment("fraud", {"model": "models:/fraud/2"})
    assert [d.name for d in store.list_deployments()] == ["fraud", "pricing"]
    assert store.get_deployment("pricing") == made
    with pytest.raises(AlreadyExistsError):
        store.create_deployment("pricing", SPEC)
    store.delete_deployment("fraud", actor="bo")
    with pytest.raises(DeploymentNotFoundError):
        store.get_deployment("fraud")
    with pytest.raises(DeploymentNotFoundError):
        store.delete_deployment("fraud")
    with pytest.raises(InvalidInputError):
        store.create_deployment("bad/name", SPEC)


def test_updates_bump_the_revision_and_append_history(store: MetadataStore) -> None:
    store.create_deployment("pricing", SPEC, V3, actor="ana")
    shadowed = {**SPEC, "shadow": "models:/pricing/7"}
    changed = store.update_deployment("pricing", shadowed, 1, actor="bo")
    assert changed.revision == 2 and dict(changed.spec) == shadowed
    assert changed.versions == V3  # kept when not given
    v4 = {"primary": {"name": "pricing", "version": 4}}
    promoted = store.update_deployment("pricing", SPEC, 2, v4, actor="cy", action="promote")
    assert promoted.revision == 3 and promoted.versions == v4
    events = store.deployment_history("pricing")
    assert [(e.revision, e.action, e.actor) for e in events] == [
        (1, "create", "ana"),
        (2, "update", "bo"),
        (3, "promote", "cy"),
    ]
    assert events[0].before is None and dict(events[0].after or {}) == SPEC
    assert dict(events[1].before or {}) == SPEC and dict(events[1].after or {}) == shadowed
    assert events[2].versions == v4
    with pytest.raises(DeploymentNotFoundError):
        store.update_deployment("nope", SPEC, 1)
    with pytest.raises(DeploymentNotFoundError):
        store.deployment_history("never")


def test_a_stale_revision_is_refused_and_writes_nothing(store: MetadataStore) -> None:
    store.create_deployment("pricing", SPEC)
    store.update_deployment("pricing", {**SPEC, "port": 1}, 1)
    with pytest.raises(RevisionConflictError):
        store.update_deployment("pricing", {**SPEC, "port": 2}, 1)
    got = store.get_deployment("pricing")
    assert (got.revision, got.spec["port"]) == (2, 1)
    assert len(store.deployment_history("pricing")) == 2


def test_concurrent_updates_of_one_revision_let_exactly_one_win(store: MetadataStore) -> None:
    store.create_deployment("pricing", SPEC)
    outcomes: list[str] = []

    def update(port: int) -> None:
        try:
            store.update_deployment("pricing", {**SPEC, "port": port}, 1)
            outcomes.append("ok")
        except RevisionConflictError:
            outcomes.append("stale")

    threads = [threading.Thread(target=update, args=(9000 + i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "stale", "stale", "stale"]
    assert store.get_deployment("pricing").revision == 2


def test_the_endpoint_is_recorded_without_a_new_revision(store: MetadataStore) -> None:
    store.create_deployment("pricing", SPEC)
    endpoint = {"url": "http://127.0.0.1:8080", "pid": 4242, "host": "box"}
    assert store.set_deployment_endpoint("pricing", endpoint) is True
    got = store.get_deployment("pricing")
    assert dict(got.endpoint or {}) == endpoint and got.revision == 1
    # a stopping server only clears its own endpoint
    assert store.set_deployment_endpoint("pricing", None, expected_pid=1) is False
    assert store.get_deployment("pricing").endpoint is not None
    assert store.set_deployment_endpoint("pricing", None, expected_pid=4242) is True
    assert store.get_deployment("pricing").endpoint is None
    with pytest.raises(DeploymentNotFoundError):
        store.set_deployment_endpoint("nope", endpoint)


def test_history_outlives_a_delete_and_revisions_never_repeat(store: MetadataStore) -> None:
    store.create_deployment("pricing", SPEC)
    store.update_deployment("pricing", SPEC, 1)
    store.delete_deployment("pricing", actor="ana")
    again = store.create_deployment("pricing", SPEC)
    assert again.revision == 4
    events = store.deployment_history("pricing")
    assert [(e.revision, e.action) for e in events] == [
        (1, "create"),
        (2, "update"),
        (3, "delete"),
        (4, "create"),
    ]
