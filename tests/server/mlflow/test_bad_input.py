"""Bad requests to the MLflow API get 4xx JSON errors in MLflow's shape, never a 500."""

from __future__ import annotations

import http.client
import json
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

import loopml as lm
from tests.server.mlflow.conftest import MlflowServer

pytestmark = pytest.mark.slow

API = "/api/2.0/mlflow"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture
def api(mlflow_server: MlflowServer) -> Any:
    with httpx.Client(base_url=mlflow_server.url, timeout=10) as client:
        yield client


@pytest.fixture
def run_ref(api: httpx.Client) -> tuple[str, str]:
    """(experiment_id, run_id) of a fresh run."""
    exp = api.post(f"{API}/experiments/create", json={"name": f"bad-{uuid.uuid4().hex[:8]}"})
    exp_id = exp.json()["experiment_id"]
    run = api.post(f"{API}/runs/create", json={"experiment_id": exp_id, "start_time": 1})
    return exp_id, run.json()["run"]["info"]["run_id"]


def _raw(server: MlflowServer, method: str, path: str, body: bytes = b"") -> tuple[int, Any]:
    """Send the path exactly as given (httpx would normalise '..' away)."""
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request(method, path, body=body)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        conn.close()


def _assert_error(status: int, body: Any, code: str = "INVALID_PARAMETER_VALUE") -> None:
    assert 400 <= status < 500, (status, body)
    assert body["error_code"] == code, body
    assert body["message"]


@pytest.mark.parametrize(
    "tail",
    [
        "../../../escape.txt",
        "sub/../../../escape.txt",
        "%2e%2e/%2e%2e/escape.txt",
        "%2E%2E%2F%2E%2E%2Fescape.txt",
        "..%2F..%2Fescape.txt",
        "sub%2Fescape.txt",
        "..%5c..%5cescape.txt",
        "ok%00.txt",
        "..\\..\\escape.txt",
    ],
)
def test_upload_traversal_is_refused_and_nothing_is_written(
    mlflow_server: MlflowServer,
    loopml_client: lm.TrackingClient,
    run_ref: tuple[str, str],
    tail: str,
) -> None:
    exp_id, run_id = run_ref
    status, body = _raw(
        mlflow_server, "PUT", f"{PROXY}/{exp_id}/{run_id}/artifacts/{tail}", b"payload"
    )
    _assert_error(status, body)
    assert loopml_client.list_artifacts(run_id) == []
    assert not list(mlflow_server.folder.parent.rglob("escape.txt"))


@pytest.mark.parametrize(
    "path",
    [
        f"{PROXY}//etc/passwd",
        f"{PROXY}/../../etc/passwd",
        f"{PROXY}/1/{'0' * 32}/other/x.txt",
        f"{PROXY}/x/{'0' * 32}/artifacts/x.txt",
        f"{PROXY}/1/not-a-run-id/artifacts/x.txt",
    ],
)
def test_malformed_artifact_paths_are_4xx(mlflow_server: MlflowServer, path: str) -> None:
    for method in ("PUT", "GET"):
        status, body = _raw(mlflow_server, method, path, b"x")
        assert 400 <= status < 500, (method, path, status, body)
        assert "error_code" in body and "message" in body


def test_artifact_in_wrong_experiment_or_missing_is_404(
    api: httpx.Client, run_ref: tuple[str, str]
) -> None:
    exp_id, run_id = run_ref
    wrong = api.put(f"{PROXY}/0/{run_id}/artifacts/a.txt", content=b"x")
    _assert_error(wrong.status_code, wrong.json(), "RESOURCE_DOES_NOT_EXIST")
    missing = api.get(f"{PROXY}/{exp_id}/{run_id}/artifacts/nothing.txt")
    _assert_error(missing.status_code, missing.json(), "RESOURCE_DOES_NOT_EXIST")


def test_upload_download_and_list_over_raw_http(
    api: httpx.Client, run_ref: tuple[str, str]
) -> None:
    exp_id, run_id = run_ref
    base = f"{PROXY}/{exp_id}/{run_id}/artifacts"
    assert api.put(f"{base}/dir/one.txt", content=b"1").json() == {}
    assert api.put(f"{base}/two.txt", content=iter([b"t", b"wo"])).status_code == 200
    assert api.get(f"{base}/two.txt").content == b"two"
    listing = api.get(PROXY, params={"path": f"{exp_id}/{run_id}/artifacts"}).json()
    assert listing == {
        "files": [
            {"path": "dir", "is_dir": True},
            {"path": "two.txt", "is_dir": False, "file_size": 3},
        ]
    }
    tracking = api.get(f"{API}/artifacts/list", params={"run_id": run_id, "path": "dir"}).json()
    assert tracking["files"] == [{"path": "dir/one.txt", "is_dir": False, "file_size": 1}]
    assert tracking["root_uri"] == f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts"


@pytest.mark.parametrize(
    "path",
    ["1/x/artifacts/../../..", "../etc", "/etc/passwd", "1/abc\x00/artifacts", "1"],
)
def test_list_traversal_is_refused(api: httpx.Client, path: str) -> None:
    response = api.get(PROXY, params={"path": path})
    _assert_error(response.status_code, response.json())


@pytest.mark.parametrize(
    ("endpoint", "content"),
    [
        ("experiments/create", b"{not json"),
        ("experiments/create", b"[1, 2]"),
        ("experiments/create", b""),
        ("runs/create", b'{"experiment_id": "0", "start_time": "soon"}'),
        ("runs/log-batch", b'{"run_id": "x", "metrics": "many"}'),
        ("runs/log-metric", b'{"run_id": "x", "key": "m", "value": "high", "timestamp": 1}'),
        ("runs/search", b'{"experiment_ids": "0"}'),
        ("runs/search", b'{"experiment_ids": ["0"], "max_results": "lots"}'),
        ("experiments/search", b'{"view_type": {"a": 1}}'),
    ],
)
def test_malformed_bodies_are_400(api: httpx.Client, endpoint: str, content: bytes) -> None:
    response = api.post(
        f"{API}/{endpoint}", content=content, headers={"Content-Type": "application/json"}
    )
    _assert_error(response.status_code, response.json())


@pytest.mark.parametrize(
    ("endpoint", "body", "field"),
    [
        ("experiments/create", {}, "name"),
        ("experiments/update", {"experiment_id": "0"}, "new_name"),
        ("runs/log-parameter", {"key": "k", "value": "v"}, "run_id"),
        ("runs/log-metric", {"run_id": "0" * 32, "key": "m", "timestamp": 1}, "value"),
        ("runs/set-tag", {"run_id": "0" * 32, "value": "v"}, "key"),
    ],
)
def test_missing_fields_are_named(
    api: httpx.Client, endpoint: str, body: dict[str, Any], field: str
) -> None:
    response = api.post(f"{API}/{endpoint}", json=body)
    _assert_error(response.status_code, response.json())
    assert field in response.json()["message"]


def test_bad_values_are_4xx_not_500(api: httpx.Client, run_ref: tuple[str, str]) -> None:
    exp_id, run_id = run_ref
    cases = [
        ("POST", "runs/search", {"experiment_ids": [exp_id], "filter": "metrics.x <<< 1"}),
        ("POST", "runs/search", {"experiment_ids": [exp_id], "run_view_type": "SOMETIMES"}),
        ("POST", "runs/search", {"experiment_ids": [exp_id], "max_results": 0}),
        ("POST", "runs/search", {"experiment_ids": [exp_id], "page_token": "garbage"}),
        ("POST", "runs/update", {"run_id": run_id, "status": "ASLEEP"}),
        ("POST", "runs/log-metric", {"run_id": run_id, "key": "../m", "value": 1, "timestamp": 1}),
        ("POST", "runs/log-parameter", {"run_id": run_id, "key": "k", "value": "x" * 7000}),
        ("POST", "runs/log-inputs", {"run_id": run_id, "datasets": [{"no": "dataset"}]}),
        ("POST", "experiments/search", {"filter": "owner ~ 'me'"}),
        ("POST", "experiments/search", {"order_by": ["colour"]}),
        ("POST", "experiments/search", {"page_token": "%%%"}),
        ("GET", "runs/get", {"run_id": "not-a-run-id"}),
        ("GET", "runs/get", {}),
        ("GET", "metrics/get-history", {"run_id": run_id}),
        ("GET", "metrics/get-history-bulk-interval", {"metric_key": "m"}),
        ("GET", "experiments/get", {}),
        ("GET", "experiments/get", {"experiment_id": "not-a-number"}),
    ]
    for method, endpoint, payload in cases:
        if method == "GET":
            response = api.get(f"{API}/{endpoint}", params=payload)
        else:
            response = api.post(f"{API}/{endpoint}", json=payload)
        assert 400 <= response.status_code < 500, (endpoint, payload, response.text)
        assert response.json()["error_code"], (endpoint, payload)


def test_ajax_api_prefix_serves_the_same_routes(
    api: httpx.Client, run_ref: tuple[str, str]
) -> None:
    _, run_id = run_ref
    got = api.get("/ajax-api/2.0/mlflow/runs/get", params={"run_id": run_id})
    assert got.status_code == 200 and got.json()["run"]["info"]["run_id"] == run_id
    unknown = api.get("/api/2.0/mlflow/no-such-endpoint")
    _assert_error(unknown.status_code, unknown.json(), "ENDPOINT_NOT_FOUND")


def test_nan_metrics_travel_as_mlflow_sends_them(
    api: httpx.Client, run_ref: tuple[str, str]
) -> None:
    _, run_id = run_ref
    metrics = [
        {"key": "m", "value": "NaN", "timestamp": 1, "step": 0},
        {"key": "m", "value": "Infinity", "timestamp": 2, "step": 1},
        {"key": "m", "value": "-Infinity", "timestamp": 3, "step": 2},
    ]
    assert (
        api.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics}).json() == {}
    )
    history = api.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"})
    assert [m["value"] for m in history.json()["metrics"]] == ["NaN", "Infinity", "-Infinity"]
    bulk = api.get(
        f"{API}/metrics/get-history-bulk-interval",
        params={"run_ids": [run_id], "metric_key": "m", "max_results": 2},
    ).json()["metrics"]
    assert [(m["step"], m["run_id"]) for m in bulk] == [(0, run_id), (2, run_id)]


def test_a_run_search_on_datasets_with_a_bad_comparator_is_a_400(
    api: httpx.Client, run_ref: tuple[str, str]
) -> None:
    exp_id, _ = run_ref
    response = api.post(
        f"{API}/runs/search",
        json={"experiment_ids": [exp_id], "filter": "datasets.name > 'rides'"},
    )
    _assert_error(response.status_code, response.json())
    assert "datasets" in response.json()["message"] or ">" in response.json()["message"]
