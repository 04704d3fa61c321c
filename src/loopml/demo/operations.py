"""The operations half of the demo: serve the champion, watch production, retrain.

After the model cycle has a champion, the demo deploys it behind a real model server (a
detached ``loopml deploy serve`` process on a free loopback port), sends two windows of
traffic — an ordinary day, then a day when the city changes (longer rides, more airport
trips, a stronger surge) — and lets a monitor check each window against the training data's
stored profile. The fares arrive later as labels. The shifted window drifts, so the
monitor's policy retrains the model on that window's data (the pipeline in
:mod:`loopml.demo.retraining`); the new version is gated against the champion on fresh data
of the new kind and, when it passes, becomes the challenger that the deployment sends a
share of its traffic to. Windows are a few seconds long so the whole loop takes seconds.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DEMO_DEPLOYMENT", "OperationsResult", "run_operations", "shifted_rides"]

DEMO_DEPLOYMENT = "ride-fares"
WINDOW_SECONDS = 5
REQUEST_ROWS = 10  # rides per request
CANARY_PERCENT = 10.0


@dataclass
class OperationsResult:
    """What the operations half did: traffic, the two windows' checks, the retraining.

    Attributes:
        steady, shifted: the two windows' check status (``ok``/``alert``) and figures.
        retrained_version: ``name/version`` the retraining registered ("" when none ran).
        trace: one prediction followed back to its model version, run, data and commit.
    """

    deployment: str = DEMO_DEPLOYMENT
    url: str = ""
    requests: int = 0
    rows_logged: int = 0
    steady_status: str = ""
    steady_mae: float | None = None
    shifted_status: str = ""
    shifted_mae: float | None = None
    drifted_columns: list[str] = field(default_factory=list)
    prediction_drift: bool = False
    retrain_run_id: str = ""
    retrained_version: str = ""
    retrained_gate_passed: bool | None = None
    report_path: str = ""
    trace: dict[str, Any] = field(default_factory=dict)


def shifted_rides(n: int, seed: int) -> Any:
    """Rides after the city changed: longer trips, three times the airport share, and a
    surge the training data never saw. Fares follow the same rule as before."""
    import numpy as np

    from loopml.demo import make_rides

    rides = make_rides(n, seed=seed)
    rng = np.random.default_rng(seed + 1000)
    rides["distance_km"] = (rides["distance_km"] * 1.5).round(2)
    rides["is_airport"] = (rng.random(n) < 0.36).astype(int)
    rides["surge"] = (rides["surge"] * 1.8).round(2)
    fare = 3.0 + 1.6 * rides["distance_km"] + 7.5 * rides["is_airport"] + 0.4 * rides["passengers"]
    fare = fare * rides["surge"] + rng.normal(0, 1.5, n)
    rides["fare"] = fare.round(2)
    return rides


def _deploy(model_name: str) -> None:
    """The demo's deployment: the champion alone, on a free port (revision 1, or a new
    revision of an earlier demo's record)."""
    import loopml as lm
    from loopml.errors import DeploymentNotFoundError

    champion = f"models:/{model_name}@champion"
    try:
        lm.serving.get_deployment(DEMO_DEPLOYMENT)
    except DeploymentNotFoundError:
        lm.serving.create_deployment(DEMO_DEPLOYMENT, champion, port=0)
        return
    with contextlib.suppress(Exception):  # a server an earlier demo left running
        lm.serving.stop_deployment(DEMO_DEPLOYMENT)
    lm.serving.update_deployment(DEMO_DEPLOYMENT, model=champion, canary=None, port=0)


def _monitor(model_name: str, dataset_uri: str) -> None:
    """A monitor of the deployment against the training data, retraining on drift."""
    import loopml as lm
    from loopml.demo.retraining import RETRAIN_TARGET
    from loopml.errors import MonitorNotFoundError

    with contextlib.suppress(MonitorNotFoundError):  # an earlier demo's monitor
        lm.monitoring.delete_monitor(DEMO_DEPLOYMENT)
    lm.monitoring.create_monitor(
        DEMO_DEPLOYMENT,
        reference=dataset_uri,
        window=f"{WINDOW_SECONDS}s",
        delay=0,
        target="fare",
        on_drift=[f"retrain:{RETRAIN_TARGET}"],
        retrain_params={"model_name": model_name},
        policies=["performance.mae > 3 -> log"],
    )


def _send_window(url: str, rides: Any, tag: str) -> tuple[int, Any]:
    """Send ``rides`` inside one fresh window; returns the window's start (ms) and the
    labels that will arrive for them (request id, row, fare)."""
    import httpx
    import pandas as pd

    from loopml.demo import FEATURES

    now = time.time()
    start = (int(now) // WINDOW_SECONDS + 1) * WINDOW_SECONDS
    time.sleep(start - now + 0.05)  # the traffic starts just inside a new window
    labels = []
    with httpx.Client(base_url=url, timeout=30) as http:
        for first in range(0, len(rides), REQUEST_ROWS):
            chunk = rides.iloc[first : first + REQUEST_ROWS]
            request_id = f"{tag}-{first // REQUEST_ROWS}"  # unique per demo run (tag)
            body = {
                "dataframe_split": {"columns": FEATURES, "data": chunk[FEATURES].values.tolist()}
            }
            answer = http.post("/invocations", json=body, headers={"X-Request-ID": request_id})
            answer.raise_for_status()
            labels += [(request_id, row, fare) for row, fare in enumerate(chunk["fare"])]
    return start * 1000, pd.DataFrame(labels, columns=["request_id", "row", "label"])


def _performance(check: Any) -> float | None:
    metrics = check.summary.get("performance", {}).get("metrics", {})
    mae = metrics.get("mae")
    return None if mae is None else float(mae)


def _trace(model_name: str, since_ms: int) -> dict[str, Any]:
    """The first prediction logged since ``since_ms``, followed back: model version → run →
    data → commit (what `loopml trace` prints)."""
    from datetime import UTC, datetime

    import loopml as lm

    since = datetime.fromtimestamp(since_ms / 1000, tz=UTC)
    logged = lm.serving.read_predictions(DEMO_DEPLOYMENT, since=since)
    if logged.empty:
        return {}
    first = logged.sort_values(["timestamp", "row"]).iloc[0]
    trace = lm.serving.trace_prediction(DEMO_DEPLOYMENT, str(first["request_id"]), since=since)
    model = trace.model_uri.removeprefix("models:/")
    return {
        "request_id": trace.request_id,
        "row": int(first["row"]),
        "model": model or model_name,
        "run_id": trace.run_id,
        "data": [d["uri"] for d in trace.datasets],
        "git_commit": trace.git_commit,
    }


def run_operations(
    model_name: str,
    dataset_uri: str,
    report_dir: Path,
    on_progress: Callable[[str], None] | None = None,
) -> OperationsResult:
    """Deploy, send traffic, monitor both windows, retrain on drift, gate the new version.

    Args:
        model_name: the registered model whose champion is served.
        dataset_uri: the training data's version: the monitor's reference.
        report_dir: where the monitor's HTML report is written.
        on_progress: told what is happening.
    """
    from datetime import UTC, datetime

    import loopml as lm
    from loopml.demo import make_rides

    say = on_progress or (lambda stage: None)
    result = OperationsResult()
    say("deploying the champion and creating its monitor")
    _deploy(model_name)
    _monitor(model_name, dataset_uri)
    endpoint = lm.serving.serve_deployment(DEMO_DEPLOYMENT, detach=True) or {}
    result.url = str(endpoint.get("url", ""))
    try:
        say("serving an ordinary day of rides")
        run = uuid.uuid4().hex[:8]  # request ids (and so labels) of this demo run only
        steady_start, steady_labels = _send_window(
            result.url, make_rides(600, seed=11), f"{run}-day1"
        )
        say("serving a day after the city changed")
        shifted_start, shifted_labels = _send_window(
            result.url, shifted_rides(600, seed=12), f"{run}-day2"
        )
        result.requests = (len(steady_labels) + len(shifted_labels)) // REQUEST_ROWS
    finally:
        lm.serving.stop_deployment(DEMO_DEPLOYMENT)  # a clean stop writes the whole log
    time.sleep(max(0.0, shifted_start / 1000 + WINDOW_SECONDS - time.time()))
    since = datetime.fromtimestamp(steady_start / 1000, tz=UTC)
    result.rows_logged = len(lm.serving.read_predictions(DEMO_DEPLOYMENT, since=since))
    say("the fares arrive: labels; checking both windows")
    lm.monitoring.log_labels(DEMO_DEPLOYMENT, steady_labels)
    lm.monitoring.log_labels(DEMO_DEPLOYMENT, shifted_labels)
    steady = lm.monitoring.run_check(DEMO_DEPLOYMENT, window_start=steady_start)
    result.steady_status, result.steady_mae = steady.status, _performance(steady)
    shifted = lm.monitoring.run_check(DEMO_DEPLOYMENT, window_start=shifted_start)
    result.shifted_status, result.shifted_mae = shifted.status, _performance(shifted)
    drift = shifted.summary.get("drift", {})
    result.drifted_columns = list(drift.get("drifted_columns", []))
    result.prediction_drift = bool(drift.get("prediction_drift"))
    for action in shifted.actions:
        if action.kind == "retrain" and action.status == "done":
            result.retrain_run_id = str(action.detail.get("pipeline_run", ""))
            versions = action.detail.get("model_versions") or []
            result.retrained_version = versions[-1] if versions else ""
    if result.retrained_version:
        say("gating the retrained model against the champion")
        _promote_retrained(model_name, result)
    report = report_dir / f"monitor-{DEMO_DEPLOYMENT}.html"
    lm.monitoring.monitor_report(DEMO_DEPLOYMENT).save_html(report)
    result.report_path = str(report)
    result.trace = _trace(model_name, steady_start)
    return result


def _promote_retrained(model_name: str, result: OperationsResult) -> None:
    """Gate the retrained version against the champion on fresh rides of the new kind; if
    it is no worse, approve it, make it the challenger and give it a canary share."""
    import loopml as lm

    fresh = lm.data.log_dataset(f"{DEMO_DEPLOYMENT}-after-change", shifted_rides(400, seed=13))
    version = int(result.retrained_version.rsplit("/", 1)[1])
    verdict = lm.gate(
        f"models:/{result.retrained_version}",
        against=f"models:/{model_name}@champion",
        policy={"mae": {"max_relative_increase": 0.0}},
        data=fresh,
        target="fare",
        task="regression",
    )
    result.retrained_gate_passed = verdict.passed
    if not verdict.passed:
        return
    lm.registry.approve(
        model_name, version, comment="retrained on drifted traffic; passed its gate"
    )
    lm.registry.set_alias(model_name, "challenger", version)
    lm.serving.update_deployment(
        DEMO_DEPLOYMENT,
        canary=f"models:/{model_name}@challenger",
        canary_weight=CANARY_PERCENT,
    )
