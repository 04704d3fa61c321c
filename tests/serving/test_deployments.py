"""Deployments: records, promote and rollback through the registry, and live swaps under
load with no failed request."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import httpx
import pytest

import loopml as lm
from loopml.errors import (
    AlreadyExistsError,
    InvalidInputError,
    InvalidStateError,
    NotFoundError,
)
from loopml.tracking.client import TrackingClient
from tests.serving import models as test_models
from tests.serving.conftest import frame, logistic, register, serving, split_body, typed_frame

BODY = split_body([[0.1, 0.2, 0.3, 0.4], [2.0, -1.0, 0.0, 1.0]])


@pytest.fixture
def two_versions(store: TrackingClient) -> TrackingClient:
    """pricing/1 approved champion; pricing/2 the challenger, pending review."""
    register(logistic(0), frame(5), "pricing", alias="champion", approve=True)
    register(logistic(1), frame(5), "pricing", alias="challenger")
    return store


def test_records_resolve_versions_and_refuse_bad_input(two_versions: TrackingClient) -> None:
    made = lm.serving.create_deployment(
        "pricing", "pricing@champion", canary="pricing@challenger", canary_weight=10,
        shadow="pricing/1", port=9000,
    )  # fmt: skip
    assert made.spec["model"] == "models:/pricing@champion" and made.spec["canary_weight"] == 10
    assert {r: (v["name"], v["version"]) for r, v in made.versions.items()} == {
        "primary": ("pricing", 1),
        "canary": ("pricing", 2),
        "shadow": ("pricing", 1),
    }
    with pytest.raises(AlreadyExistsError):
        lm.serving.create_deployment("pricing", "pricing@champion")
    with pytest.raises(NotFoundError):
        lm.serving.create_deployment("other", "pricing@nope")
    with pytest.raises(InvalidInputError, match="percent"):
        lm.serving.create_deployment("other", "pricing/1", canary="pricing/2", canary_weight=150)
    with pytest.raises(InvalidInputError, match="MODEL:PERCENT"):
        lm.serving.parse_canary("pricing@challenger")
    assert lm.serving.parse_canary("pricing@challenger:25") == ("models:/pricing@challenger", 25.0)
    changed = lm.serving.update_deployment("pricing", canary=None, shadow=None)
    assert (
        changed.revision == 2
        and changed.spec["canary"] is None
        and changed.spec["canary_weight"] == 0
    )
    assert set(changed.versions) == {"primary"}


def test_promote_moves_the_alias_and_respects_the_champion_rule(
    two_versions: TrackingClient,
) -> None:
    lm.serving.create_deployment(
        "pricing", "pricing@champion", canary="pricing@challenger", canary_weight=10
    )
    with pytest.raises(InvalidStateError, match="approved"):
        lm.serving.promote("pricing")  # version 2 is still pending review
    assert lm.registry.resolve("pricing@champion").version == 1
    lm.registry.approve("pricing", 2)
    promoted = lm.serving.promote("pricing", actor="ana")
    assert lm.registry.resolve("pricing@champion").version == 2
    assert promoted.spec["model"] == "models:/pricing@champion" and promoted.spec["canary"] is None
    assert promoted.versions["primary"]["version"] == 2
    with pytest.raises(InvalidStateError, match="no canary"):
        lm.serving.promote("pricing")
    back = lm.serving.rollback("pricing")
    assert lm.registry.resolve("pricing@champion").version == 1
    assert back.versions["primary"]["version"] == 1
    events = lm.serving.deployment_history("pricing")
    assert [(e.action, e.versions["primary"]["version"]) for e in events] == [
        ("create", 1),
        ("promote", 2),
        ("rollback", 1),
    ]
    assert events[1].actor == "ana"


def test_a_pinned_primary_is_repinned_and_a_fresh_one_cannot_roll_back(
    two_versions: TrackingClient,
) -> None:
    lm.serving.create_deployment("pricing", "pricing/1", canary="pricing/2", canary_weight=50)
    with pytest.raises(InvalidStateError, match="no other primary version"):
        lm.serving.rollback("pricing")
    promoted = lm.serving.promote("pricing")
    assert promoted.spec["model"] == "models:/pricing/2"
    assert lm.registry.resolve("pricing@champion").version == 1  # no alias was involved
    assert lm.serving.rollback("pricing").spec["model"] == "models:/pricing/1"


@pytest.mark.slow
def test_an_alias_move_swaps_under_load_with_no_failed_request(
    two_versions: TrackingClient,
) -> None:
    settings = two_versions.settings.replace(deployment_poll_interval=0.2)
    client = TrackingClient(settings=settings)
    stop = threading.Event()
    seen: Counter[str] = Counter()
    failures: list[str] = []
    try:
        with serving("pricing@champion", client=client) as (url, state):

            def hammer() -> None:
                with httpx.Client(base_url=url, timeout=30) as http:
                    while not stop.is_set():
                        response = http.post("/invocations", json=BODY)
                        if response.status_code != 200:
                            failures.append(response.text)
                        else:
                            seen[response.headers["x-loopml-model-version"]] += 1

            threads = [threading.Thread(target=hammer) for _ in range(6)]
            for t in threads:
                t.start()
            time.sleep(0.5)
            lm.registry.approve("pricing", 2)
            lm.registry.set_alias("pricing", "champion", 2)
            deadline = time.monotonic() + 20
            while state.table.primary.version_label != "2" and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)  # more load on the new version
            stop.set()
            for t in threads:
                t.join()
            assert state.table.primary.version_label == "2"
            text = httpx.get(f"{url}/metrics").text
    finally:
        stop.set()
        client.close()
    assert failures == []
    assert seen["1"] > 0 and seen["2"] > 0
    assert 'loopml_serving_model_swaps_total{deployment="pricing",route="primary"} 1.0' in text


@pytest.mark.slow
def test_a_deployment_server_follows_updates_and_keeps_serving_a_bad_version(
    two_versions: TrackingClient,
) -> None:
    register(test_models.Raiser(), typed_frame()[["x"]], "raiser")
    settings = two_versions.settings.replace(deployment_poll_interval=0.2)
    client = TrackingClient(settings=settings)
    try:
        lm.serving.create_deployment("pricing", "pricing@champion", client=client)
        with serving(deployment="pricing", client=client) as (url, state):

            def wait(check: Any) -> None:
                deadline = time.monotonic() + 20
                while not check() and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert check()

            lm.serving.update_deployment(
                "pricing", canary="pricing/2", canary_weight=100, client=client
            )
            wait(lambda: state.table.canary is not None)
            assert (
                httpx.post(f"{url}/invocations", json=BODY).headers["x-loopml-model-version"] == "2"
            )
            assert state.revision == 2
            # a version whose files are gone does not replace the one serving
            mv = lm.registry.get_version("pricing", 2)
            blobs = client.stores.blobs
            for record in client.list_artifacts(mv.run_id, "model"):
                if record.path.endswith("model.joblib"):
                    blobs.bytes.delete(blobs.key_for(record.digest))
            lm.serving.update_deployment("pricing", canary=None, client=client)
            wait(lambda: state.table.canary is None)
            lm.serving.update_deployment("pricing", shadow="pricing/2", client=client)
            wait(lambda: "shadow" in state.load_errors)
            assert state.table.shadow is None
            assert httpx.post(f"{url}/invocations", json=BODY).status_code == 200
            assert (
                "cannot load pricing/2" in httpx.get(f"{url}/stats").json()["load_errors"]["shadow"]
            )
    finally:
        client.close()


@pytest.mark.slow
def test_a_live_deployment_follows_a_forced_rename_with_no_failed_request(
    two_versions: TrackingClient,
) -> None:
    settings = two_versions.settings.replace(deployment_poll_interval=0.2)
    client = TrackingClient(settings=settings)
    stop = threading.Event()
    failures: list[str] = []
    served = 0
    try:
        lm.serving.create_deployment("pricing", "pricing@champion", client=client)
        with serving(deployment="pricing", client=client) as (url, state):

            def hammer() -> None:
                nonlocal served
                with httpx.Client(base_url=url, timeout=30) as http:
                    while not stop.is_set():
                        response = http.post("/invocations", json=BODY)
                        if response.status_code != 200:
                            failures.append(response.text)
                        served += 1

            threads = [threading.Thread(target=hammer) for _ in range(4)]
            for t in threads:
                t.start()
            time.sleep(0.3)
            with pytest.raises(InvalidStateError, match="deployment 'pricing'"):
                lm.registry.rename("pricing", "fares")
            lm.registry.rename("pricing", "fares", force=True)
            deadline = time.monotonic() + 20
            while state.table.primary.model_label != "fares" and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)
            stop.set()
            for t in threads:
                t.join()
            assert (state.table.primary.model_label, state.revision) == ("fares", 2)
            assert state.table.primary.version_label == "1"
            status = httpx.get(f"{url}/stats").json()
    finally:
        stop.set()
        client.close()
    assert failures == [] and served > 0
    assert status["routes"][0]["ref"] == "models:/fares@champion"
    assert status["load_errors"] == {}
