"""Adaptive batching with many concurrent clients, the canary split, and the shadow."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from loopml.serving.routing import RouteTable, key_bucket
from loopml.tracking.client import TrackingClient
from tests.serving import models as test_models
from tests.serving.conftest import frame, logistic, register, serving, split_body, typed_frame
from tests.serving.test_protocols import metric

pytestmark = pytest.mark.slow


def _echo_body(client: int, request: int, rows: int) -> dict[str, Any]:
    base = client * 1000 + request * 10
    return {
        "dataframe_split": {
            "columns": ["x", "name", "flag", "w"],
            "data": [[base + r, f"c{client}r{request}n{r}", True, 0.5] for r in range(rows)],
        }
    }


def test_concurrent_requests_are_batched_and_each_gets_its_own_rows(
    store: TrackingClient,
) -> None:
    register(test_models.Echo(), typed_frame(), "echo")
    with serving("echo/1", client=store, max_batch_size=64, max_latency_ms=20) as (url, _):

        def client(n: int) -> list[bool]:
            ok = []
            with httpx.Client(base_url=url, timeout=30) as http:
                for request in range(6):
                    rows = 1 + (n + request) % 3  # 1-3 rows: batches are counted in rows
                    body = _echo_body(n, request, rows)
                    response = http.post("/invocations", json=body)
                    sent = body["dataframe_split"]["data"]
                    want = [{"doubled": r[0] * 2, "label": r[1].upper()} for r in sent]
                    ok.append(
                        response.status_code == 200 and response.json()["predictions"] == want
                    )
            return ok

        with ThreadPoolExecutor(16) as pool:
            results = [ok for part in pool.map(client, range(16)) for ok in part]
        assert len(results) == 96 and all(results)
        text = httpx.get(f"{url}/metrics").text
        labels = {"deployment": "echo", "route": "primary"}
        calls = metric(text, "loopml_serving_batch_rows_count", **labels)
        rows = metric(text, "loopml_serving_batch_rows_sum", **labels)
        sent_rows = sum(1 + (n + r) % 3 for n in range(16) for r in range(6))
        assert rows == sent_rows  # every row predicted once
        assert calls < 96  # fewer predict calls than requests: batches of several
        assert metric(text, "loopml_serving_batch_rows_bucket", **labels, le="1.0") < calls


def _hammer(url: str, body: dict[str, Any], clients: int = 8, requests: int = 12) -> bool:
    def client(_: int) -> bool:
        with httpx.Client(base_url=url, timeout=30) as http:
            return all(
                http.post("/invocations", json=body).status_code == 200 for _ in range(requests)
            )

    with ThreadPoolExecutor(clients) as pool:
        return all(pool.map(client, range(clients)))


def test_by_default_row_wise_flavors_batch_and_python_models_do_not(
    store: TrackingClient,
) -> None:
    register(logistic(), frame(5), "pricing")
    register(test_models.Echo(), typed_frame(), "echo")
    with serving("pricing/1", client=store) as (url, _):  # scikit-learn: batched
        assert _hammer(url, split_body(frame(1).to_numpy().tolist()))
        assert [r["batch_rows"] for r in httpx.get(f"{url}/stats").json()["routes"]] == [64]
        text = httpx.get(f"{url}/metrics").text
        labels = {"deployment": "pricing", "route": "primary"}
        calls = metric(text, "loopml_serving_batch_rows_count", **labels)
        assert metric(text, "loopml_serving_batch_rows_sum", **labels) == 96
        assert calls < 96  # concurrent requests shared predict calls
    with serving("echo/1", client=store) as (url, _):  # a Python model: one request a call
        assert _hammer(url, _echo_body(0, 0, 1))
        assert [r["batch_rows"] for r in httpx.get(f"{url}/stats").json()["routes"]] == [1]
        text = httpx.get(f"{url}/metrics").text
        labels = {"deployment": "echo", "route": "primary"}
        assert metric(text, "loopml_serving_batch_rows_count", **labels) == 96
        assert metric(text, "loopml_serving_batch_rows_bucket", **labels, le="1.0") == 96


def test_a_failing_request_in_a_batch_fails_alone(store: TrackingClient) -> None:
    register(test_models.Raiser(), typed_frame()[["x"]], "raiser")
    with serving("raiser/1", client=store, max_batch_size=32, max_latency_ms=50) as (url, _):

        def send(x: int) -> tuple[int, int]:
            response = httpx.post(f"{url}/invocations", json={"inputs": {"x": [x]}}, timeout=30)
            return x, response.status_code

        with ThreadPoolExecutor(8) as pool:
            codes = dict(pool.map(send, [1, 2, -3, 4, 5, 6, -7, 8]))
        assert codes == {1: 200, 2: 200, -3: 500, 4: 200, 5: 200, 6: 200, -7: 500, 8: 200}


def test_canary_split_follows_the_weight_and_keys_are_stable(store: TrackingClient) -> None:
    register(logistic(0), frame(5), "pricing", alias="champion", approve=True)
    register(logistic(1), frame(5), "pricing", alias="challenger")
    from loopml.serving import DeploymentSpec

    spec = DeploymentSpec("pricing@champion", canary="pricing@challenger", canary_weight=30)
    with serving(spec, client=store) as (url, _), httpx.Client(base_url=url) as http:
        body = split_body([[0.1, 0.2, 0.3, 0.4]])
        versions = [http.post("/invocations", json=body).headers["x-loopml-model-version"]
                    for _ in range(400)]  # fmt: skip
        share = versions.count("2") / len(versions)
        assert 0.22 < share < 0.38, share  # 30 % +- 4 standard deviations
        for key in ("user-1", "user-2", "user-3", "user-42"):
            seen = {
                http.post("/invocations", json=body, headers={"x-routing-key": key}).headers[
                    "x-loopml-model-version"
                ]
                for _ in range(10)
            }
            assert len(seen) == 1, key
            assert seen == {"2" if key_bucket(key) < 3000 else "1"}
        oip = http.post(
            "/v2/models/pricing/versions/2/infer",
            json={
                "inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]
            },
        )
        assert oip.json()["model_version"] == "2"  # a version in the path picks the route


def test_keyed_split_matches_the_weight_over_many_keys() -> None:
    class _Route:
        def __init__(self, name: str) -> None:
            self.name = name

    table = RouteTable(_Route("primary"), _Route("canary"), 10.0)  # type: ignore[arg-type]
    picks = [table.choose(f"customer-{i}").name for i in range(5000)]
    assert 0.085 < picks.count("canary") / 5000 < 0.115
    assert RouteTable(_Route("primary"), _Route("canary"), 0.0).choose("k").name == "primary"  # type: ignore[arg-type]
    assert RouteTable(_Route("primary"), _Route("canary"), 100.0).choose().name == "canary"  # type: ignore[arg-type]


def test_the_shadow_is_logged_never_returned_and_never_slows_the_primary(
    store: TrackingClient,
) -> None:
    register(test_models.Echo(), typed_frame(), "echo")
    register(test_models.Slow(0.5), typed_frame(), "slow")
    from loopml.serving import DeploymentSpec, read_predictions

    spec = DeploymentSpec("echo/1", shadow="slow/1")
    settings = store.settings.replace(shadow_queue_size=2, prediction_log_flush_interval=0.2)
    client = TrackingClient(settings=settings)
    try:
        with serving(spec, client=client, name="echo") as (url, state):
            body = _echo_body(1, 1, 1)
            took = []
            for _ in range(6):
                started = time.perf_counter()
                response = httpx.post(f"{url}/invocations", json=body)
                took.append(time.perf_counter() - started)
                assert response.json() == {"predictions": [{"doubled": 2020, "label": "C1R1N0"}]}
                assert response.headers["x-loopml-route"] == "primary"
            assert max(took) < 0.4  # the shadow sleeps 0.5 s per request
            assert state.shadow_worker.dropped >= 1  # 6 quick requests, a queue of 2
            dropped = state.shadow_worker.dropped
        logged = read_predictions("echo", client=client)
    finally:
        client.close()
    shadow = logged[logged.route == "shadow"]
    assert len(shadow) == 6 - dropped >= 1
    assert (shadow["output.prediction"] == 1010 + 1000).all()  # x + 1000
    assert (shadow.model_name == "slow").all() and (shadow.status == 200).all()
    assert set(shadow.request_id) <= set(logged[logged.route == "primary"].request_id)
