"""`loopml serve` and `loopml deploy …` as a user runs them: real server processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loopml.tracking.client import TrackingClient
from tests._servers import free_port
from tests.serving.conftest import frame, logistic, register, split_body
from tests.serving.test_protocols import metric

pytestmark = pytest.mark.slow

LOOPML = str(Path(sys.executable).with_name("loopml"))
BODY = split_body([[0.1, 0.2, 0.3, 0.4]])


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [LOOPML, *args], capture_output=True, text=True, timeout=180, env=os.environ
    )
    if check and out.returncode != 0:
        raise AssertionError(f"loopml {' '.join(args)} exited {out.returncode}:\n{out.stderr}")
    return out


@pytest.fixture
def two_versions(store: TrackingClient) -> TrackingClient:
    register(logistic(0), frame(5), "pricing", alias="champion", approve=True)
    register(logistic(1), frame(5), "pricing", alias="challenger", approve=True)
    return store


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"the server did not get ready: {log.read_text()[-3000:]}")


@pytest.fixture
def served(two_versions: TrackingClient, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [LOOPML, "serve", "models:/pricing@champion", "--port", str(port), "--workers", "2",
             "--max-batch-size", "8", "--max-latency-ms", "1"],
            stdout=sink, stderr=sink,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    _wait_ready(url, proc, log)
    yield url, log
    proc.terminate()
    proc.wait(timeout=30)


def test_loopml_serve_with_workers_shares_its_metrics(served: tuple[str, Path]) -> None:
    url, log = served
    with httpx.Client(base_url=url) as http:
        for _ in range(20):
            response = http.post("/invocations", json=BODY)
            assert response.status_code == 200 and len(response.json()["predictions"]) == 1
        pids = {http.get("/stats").json()["pid"] for _ in range(20)}
        text = http.get("/metrics").text
    # every worker's requests are counted whichever worker answers /metrics
    assert metric(text, "loopml_serving_requests_total", status="200") == 20
    assert len(pids) >= 1
    assert "ready in" in log.read_text() and "idle memory" in log.read_text()


def test_deploy_cycle_end_to_end(two_versions: TrackingClient) -> None:
    port = str(free_port())
    created = run("deploy", "create", "pricing", "--model", "pricing@champion", "--canary",
                  "pricing@challenger:50", "--port", port, "--detach")  # fmt: skip
    assert "serving pricing at http://127.0.0.1:" in created.stdout
    try:
        listed = json.loads(run("deploy", "list", "--json").stdout)
        url = listed[0]["endpoint"]["url"]
        with httpx.Client(base_url=url) as http:
            versions = {http.post("/invocations", json=BODY).headers["x-loopml-model-version"]
                        for _ in range(40)}  # fmt: skip
        assert versions == {"1", "2"}
        status = json.loads(run("deploy", "status", "pricing", "--json").stdout)
        assert status["running"] is True
        live = {(r["route"], r["version"]): r for r in status["live"]["routes"]}
        assert live[("primary", "1")]["traffic_percent"] == 50
        assert sum(r["requests"] for r in status["live"]["stats"]["routes"]) == 40
        assert status["live"]["startup_seconds"] > 0 and status["endpoint"]["idle_memory_mib"] > 0
        table = run("deploy", "status", "pricing").stdout
        assert "canary" in table and "p99 ms" in table
        assert "promoted" in run("deploy", "promote", "pricing").stdout
        _until(lambda: _served_versions(url) == {"2"})
        assert "rolled back" in run("deploy", "rollback", "pricing").stdout
        _until(lambda: _served_versions(url) == {"1"})
        run("deploy", "update", "pricing", "--shadow", "pricing/2")
        history = run("deploy", "history", "pricing").stdout
        assert "promote" in history and "rollback" in history
        refused = run("deploy", "delete", "pricing", check=False)
        assert refused.returncode == 4 and "--force" in refused.stderr
    finally:
        stopped = run("deploy", "stop", "pricing")
    assert "stopped pricing" in stopped.stdout
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/v2/health/live", timeout=1)
    offline = json.loads(run("deploy", "status", "pricing", "--json").stdout)
    assert offline["running"] is False and offline["endpoint"] is None
    assert sum(r["requests"] for r in offline["log"] if r["route"] != "shadow") >= 40
    run("deploy", "delete", "pricing")
    assert run("deploy", "status", "pricing", check=False).returncode == 3


def _served_versions(url: str) -> set[str]:
    with httpx.Client(base_url=url) as http:
        return {http.post("/invocations", json=BODY).headers["x-loopml-model-version"]
                for _ in range(10)}  # fmt: skip


def _until(check: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    assert check()  # type: ignore[operator]


def test_serve_refuses_what_it_cannot_serve(store: TrackingClient, tmp_path: Path) -> None:
    missing = run("serve", "pricing@champion", "--port", str(free_port()), check=False)
    assert missing.returncode == 3 and "no registered model named 'pricing'" in missing.stderr
    folder = run("serve", str(tmp_path / "nothing"), check=False)
    assert folder.returncode == 2 and "not a model folder" in folder.stderr
