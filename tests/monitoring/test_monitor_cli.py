"""The monitor commands as a user types them, `loopml monitor serve --once` across a restart
(two processes), and monitoring through a loopml server: labels posted over HTTP, checks
through the REST store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

import loopml as lm
from loopml.cli.main import main
from loopml.config import Settings
from loopml.tracking.client import TrackingClient
from tests.monitoring.conftest import (
    World,
    after,
    in_window,
    labels_for,
    past_hour,
    rides,
    shifted,
    write_log,
)

pytestmark = pytest.mark.slow


def test_create_list_show_run_report_delete(
    world: World, client: TrackingClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    when = past_hour(70)
    write_log(client, "cli-dep", when, shifted(rides(300, 21)), world.model, "c")
    code = main([
        "monitor", "create", "cli", "--deployment", "cli-dep", "--reference", "rides@1",
        "--window", "1h", "--delay", "0", "--drift-threshold", "0.01", "--test", "hour=psi",
        "--policy", "rows > 100 -> log", "--alert", "log", "--retrain-every", "12h",
    ])  # fmt: skip
    assert code == 0
    assert "monitor cli: deployment cli-dep against datasets:/rides/1" in capsys.readouterr().out
    assert main(["monitor", "list", "--json"]) == 0
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    spec = listed["cli"]["spec"]
    assert spec["threshold"] == 0.01 and spec["tests"] == {"hour": "psi"}
    assert spec["retrain_every"] == 43200 and "output_profile" not in spec
    assert [p["name"] for p in spec["policies"]] == [
        "dataset_drift",
        "quality.errors > 0",
        "rows > 100",
    ]
    start = when.replace(minute=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert main(["monitor", "run", "cli", "--window-start", start]) == 1  # a policy fired
    out = capsys.readouterr().out
    assert "300 rows" in out and "fired: dataset_drift" in out and "DRIFT" in out
    assert main(["monitor", "run", "cli", "--window-start", start, "--json"]) == 1
    shown = json.loads(capsys.readouterr().out)
    assert shown["reused"] and shown["status"] == "alert"
    assert {c["column"]: c["test"] for c in shown["columns"]}["hour"] == "psi"
    assert main(["monitor", "show", "cli"]) == 0
    out = capsys.readouterr().out
    assert "policies: dataset_drift; quality.errors > 0; rows > 100 -> log" in out
    assert "log:rows > 100" in out and "alert" in out
    html = tmp_path / "report.html"
    assert main(["monitor", "report", "cli", "--html", str(html), "--last", "5"]) == 0
    assert "report →" in capsys.readouterr().out
    page = html.read_text()
    assert page.count("<svg") >= 4 and "Drift over time" in page and "distance" in page
    assert main(["monitor", "report", "cli", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["windows"][0]["drifted_columns"] == ["distance"]
    assert report["drift"]["distance"][0]["drifted"] is True
    assert main(["monitor", "delete", "cli"]) == 0
    capsys.readouterr()
    assert main(["monitor", "show", "cli"]) == 3
    assert "no monitor named 'cli'" in capsys.readouterr().err


def test_labels_add_and_metric_add(
    world: World, client: TrackingClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    when = past_hour(80)
    traffic = rides(100, 22)
    write_log(client, "labelled", when, traffic, world.model, "l")
    path = tmp_path / "truth.csv"
    labels_for(traffic, "l").rename(columns={"request_id": "rid", "label": "fare"}).to_csv(
        path, index=False
    )
    assert main(["labels", "add", "labelled", str(path)]) == 2
    assert "no request id column 'request_id'" in capsys.readouterr().err
    args = ["labels", "add", "labelled", str(path), "--id-column", "rid", "--label-column", "fare"]
    assert main(args) == 0
    assert "stored 100 label(s); 100 match logged predictions, 0 do not" in capsys.readouterr().out
    assert main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["replaced"] == 100
    assert main(["labels", "add", "nowhere", str(path), "--id-column", "rid"]) == 3
    capsys.readouterr()
    stamp = (when + timedelta(minutes=5)).isoformat()
    assert (
        main(["monitor", "metric", "add", "labelled", "revenue", "12.5", "--timestamp", stamp]) == 0
    )
    assert "labelled: revenue = 12.5" in capsys.readouterr().out
    assert main(["monitor", "metric", "add", "labelled", "revenue", "x"]) == 2
    assert "Invalid value for 'value'" in capsys.readouterr().err
    frame = lm.monitoring.read_business_metrics("labelled")
    assert frame["value"].tolist() == [12.5]


def _loopml(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("loopml")), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_monitor_serve_once_checks_each_window_once_across_a_restart(
    world: World, client: TrackingClient
) -> None:
    lm.monitoring.create_monitor("ticker", deployment="steady", reference="rides@1",
                                 window="2s", delay=0)  # fmt: skip
    created = lm.monitoring.get_monitor("ticker").creation_time
    start = datetime.fromtimestamp((created // 2000) * 2000 / 1000, tz=UTC)
    write_log(
        client, "steady", start + timedelta(milliseconds=300), rides(60, 31), world.model, "t0"
    )
    write_log(client, "steady", start + timedelta(seconds=2.3), shifted(rides(60, 32)),
              world.model, "t1")  # fmt: skip
    time.sleep(max(0.0, (start + timedelta(seconds=4.2) - datetime.now(tz=UTC)).total_seconds()))
    env = {**os.environ, "LOOPML_TRACKING_URI": world.folder, "LOOPML_CAPTURE_PACKAGES": "false"}
    first = _loopml("monitor", "serve", "--once", env=env)
    assert first.returncode == 0, first.stderr
    store = client.stores.metadata
    results = {r.window_start: r for r in store.list_monitor_results("ticker")}
    t0, t1 = int(start.timestamp() * 1000), int(start.timestamp() * 1000) + 2000
    assert results[t0].status == "ok" and results[t0].rows == 60
    assert results[t1].status == "alert" and results[t1].rows == 60
    assert f"monitor ticker {results[t0].summary['window']['start']}" in first.stderr
    assert "60 rows" in first.stderr
    second = _loopml("monitor", "serve", "--once", env=env)  # a restart
    assert second.returncode == 0, second.stderr
    again = {r.window_start: r for r in store.list_monitor_results("ticker")}
    for window, result in results.items():
        assert again[window].revision == 1 and again[window].run_id == result.run_id
    runs = client.search_runs(
        [client.get_experiment_by_name("loopml-monitoring").experiment_id],  # type: ignore[union-attr]
        "tags.`loopml.monitor.name` = 'ticker'",
    )
    assert len(runs) == 2  # one run per window with data, none repeated


def test_monitoring_through_a_loopml_server(world: World, client: TrackingClient) -> None:
    from loopml.server.app import create_app
    from tests._servers.loopml import serve_in_thread

    app = create_app(Settings(tracking_uri=world.folder, capture_packages=False))
    with serve_in_thread(app) as url:
        remote = TrackingClient(settings=Settings(tracking_uri=url, capture_packages=False))
        lm.monitoring.create_monitor("remote", deployment="moved", reference="rides@1", delay=0,
                                     client=remote)  # fmt: skip
        checked = lm.monitoring.run_check("remote", window_start=in_window(world),
                                          now=after(world), client=remote)  # fmt: skip
        assert checked.status == "alert" and checked.summary["drift"]["drifted_columns"] == [
            "distance"
        ]
        assert (
            client.stores.metadata.get_monitor_result("remote", checked.window.start).rows == 1200
        )
        # labels through the Python API over HTTP, and posted as JSON by any service
        frame = world.traffic["moved"]
        labels = labels_for(frame, "moved")
        report = lm.monitoring.log_labels("moved", labels.iloc[:100], client=remote)
        assert (report.stored, report.matched) == (100, 100)
        body = {
            "request_id": labels.request_id[100:300].tolist(),
            "row": labels.row[100:300].tolist(),
            "label": labels.label[100:300].tolist(),
        }
        posted = httpx.post(f"{url}/api/v1/labels/moved", json=body)
        assert posted.status_code == 200 and posted.json()["matched"] == 200
        bad = httpx.post(f"{url}/api/v1/labels/moved", json={"request_id": ["a"], "label": []})
        assert bad.status_code == 400 and "one of each" in bad.json()["message"]
        ghost = httpx.post(f"{url}/api/v1/labels/ghost", json={"request_id": ["a"], "label": [1]})
        assert ghost.status_code == 404
        value = {"name": "revenue", "value": 3.0, "timestamp": in_window(world)}
        assert httpx.post(f"{url}/api/v1/business-metrics/moved", json=value).status_code == 200
        bad_name = {"name": "bad name!", "value": 1.0}
        assert httpx.post(f"{url}/api/v1/business-metrics/moved", json=bad_name).status_code == 400
        refreshed = lm.monitoring.run_check("remote", window_start=in_window(world),
                                            now=after(world), client=remote)  # fmt: skip
        assert refreshed.refreshed and refreshed.summary["performance"]["labeled"] == 300
        assert refreshed.summary["business"]["revenue"]["sum"] == 3.0
        remote.close()
