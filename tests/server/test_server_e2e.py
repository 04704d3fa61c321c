"""`loopml server` as a user starts it, and the Python API and CLI pointed at it over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import loopml as lm
from loopml.config import Settings
from tests._servers import free_port

pytestmark = pytest.mark.slow


def _start(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    backend = tmp_path / "backend"
    port = free_port()
    exe = Path(sys.executable).with_name("loopml")
    log = tmp_path / "server.log"
    args = [str(exe), "server", "--backend-uri", str(backend), "--port", str(port)]
    with open(log, "wb") as sink:
        proc = subprocess.Popen([*args, "--log-level", "warning", *extra], stdout=sink, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url, backend
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"server did not start: {log.read_text()[-3000:]}")
        time.sleep(0.1)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    proc, url, backend = _start(tmp_path)
    yield url, backend
    proc.terminate()
    proc.wait(timeout=10)


def test_training_script_logs_to_the_server(server: tuple[str, Path], tmp_path: Path) -> None:
    url, backend = server
    script = textwrap.dedent(
        """
        import loopml as lm
        lm.set_experiment("remote")
        with lm.start_run(run_name="over-http") as run:
            lm.log_params({"lr": 0.1, "depth": 6})
            for i in range(500):
                lm.log_metric("loss", 1 / (i + 1), step=i)
            lm.log_dict({"cols": ["a", "b"]}, "features.json")
            lm.set_tag("team", "pricing")
        print(run.info.run_id)
        """
    )
    env = {**os.environ, "LOOPML_TRACKING_URI": url, "LOOPML_CAPTURE_PACKAGES": "false"}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    run_id = out.stdout.strip()
    # the server's backend folder holds everything, as if logged locally
    local = lm.TrackingClient(settings=Settings(tracking_uri=str(backend)))
    run = local.get_run(run_id)
    assert run.info.status == lm.RunStatus.FINISHED
    assert run.data.params == {"lr": "0.1", "depth": "6"}
    assert len(local.get_metric_history(run_id, "loss")) == 500
    assert local.load_dict(run_id, "features.json") == {"cols": ["a", "b"]}
    local.close()
    # and the CLI reads it back through the server
    cli = subprocess.run(
        [
            str(Path(sys.executable).with_name("loopml")),
            "runs",
            "list",
            "remote",
            "--json",
            "--tracking-uri",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert [r["info"]["run_id"] for r in json.loads(cli.stdout)] == [run_id]
    dest = tmp_path / "dl"
    remote = lm.TrackingClient(url)
    assert remote.download_artifacts(run_id, "features.json", dest).read_text().startswith("{")
    remote.close()


def test_openapi_docs_and_health(server: tuple[str, Path]) -> None:
    url, _ = server
    spec = httpx.get(f"{url}/openapi.json").json()
    assert "/api/v1/runs/search" in spec["paths"]
    assert httpx.get(f"{url}/docs").status_code == 200
    assert httpx.get(f"{url}/health").json() == {"status": "ok"}


def test_bad_requests_get_json_4xx(server: tuple[str, Path]) -> None:
    url, _ = server
    cases = [
        ("GET", "/api/v1/runs/not-a-run", None, 400),
        ("GET", f"/api/v1/runs/{'a' * 32}", None, 404),
        ("POST", "/api/v1/runs/search", {"experiment_ids": ["0"], "filter": "metrics.x 1"}, 400),
        ("POST", "/api/v1/experiments", {"name": 5}, 400),
        ("POST", "/api/v1/experiments", {"nom": "x"}, 400),
        ("GET", "/api/v1/experiments/abc", None, 404),
        ("PUT", f"/api/v1/blobs/{'0' * 64}", None, 400),  # body does not hash to the digest
        ("GET", "/api/v1/blobs/..%2F..%2Fetc%2Fpasswd", None, 404),  # no such route
        ("GET", "/api/v1/blobs/..%2e%2e", None, 400),
    ]
    for method, path, body, status in cases:
        response = httpx.request(method, url + path, json=body)
        assert response.status_code == status, (path, response.text)
        assert "message" in response.json()
    garbage = httpx.post(
        f"{url}/api/v1/runs/search",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert garbage.status_code == 400


def test_several_workers_share_the_stores(tmp_path: Path) -> None:
    proc, url, _ = _start(tmp_path, "--workers", "2")
    try:
        client = lm.TrackingClient(url)
        exp = client.create_experiment("multi")
        ids = {client.create_run(exp).run_id for _ in range(20)}
        assert {r.run_id for r in client.search_runs([exp], max_results=100)} == ids
        client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
