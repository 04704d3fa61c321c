"""One tracking measurement in its own process; prints one JSON line.

    <python> benchmarks/_tracking_worker.py --tool loopml|mlflow --workload W --dir D --n N

Runs under the project's interpreter (loopml) or the peer's venv (mlflow). ``--uri`` points
either tool at a tracking server instead of an embedded SQLite store in ``--dir``.
Set-up (store creation, migrations, the experiment, the data searched) is never timed.

Output: ``{"seconds": s, "points": n}`` for per_call and batched;
``{"seconds": s, "matches": m, "top": [run names]}`` for search.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import traceback
from typing import Any

FILTER = "metrics.rmse < 0.3 and params.depth = '6'"
ORDER = ["metrics.rmse ASC"]
BATCH = 1_000
SEARCHES = 5  # timed, after one untimed warm-up; the median is reported


def search_data(n_runs: int) -> list[dict[str, Any]]:
    """The same runs for both tools: a fixed seed, 3 params, 3 metrics and 1 tag each."""
    rng = random.Random(1234)
    return [
        {
            "name": f"run-{i}",
            "params": {
                "lr": str(rng.choice([0.01, 0.05, 0.1, 0.3])),
                "depth": str(rng.choice([2, 4, 6, 8])),
                "n_estimators": str(rng.choice([50, 100, 200])),
            },
            "metrics": {"rmse": rng.random(), "mae": rng.random(), "r2": rng.random()},
            "tag": rng.choice(["pricing", "risk", "growth"]),
        }
        for i in range(n_runs)
    ]


def batches(n: int) -> list[list[tuple[float, int]]]:
    """n (value, step) points cut into batches of BATCH."""
    return [
        [((b * BATCH + j) * 0.001, b * BATCH + j) for j in range(BATCH)]
        for b in range(max(1, n // BATCH))
    ]


def time_searches(search: Any) -> dict[str, Any]:
    """One warm-up, then the median of SEARCHES timed calls of ``search()``."""
    found = search()
    times = []
    for _ in range(SEARCHES):
        t0 = time.perf_counter()
        found = search()
        times.append(time.perf_counter() - t0)
    times.sort()
    top = [run.info.run_name for run in list(found)[:3]]
    return {"seconds": times[len(times) // 2], "matches": len(found), "top": top}


def run_loopml(workload: str, folder: str, n: int, uri: str | None) -> dict[str, Any]:
    import loopml as lm

    lm.set_tracking_uri(uri or folder)
    exp = lm.set_experiment("bench")
    client = lm.TrackingClient(uri or folder)
    if workload == "per_call":
        with lm.start_run(run_name="warm"):  # first-run costs out of the timing
            lm.log_metric("warm", 1.0)
        t0 = time.perf_counter()
        with lm.start_run(run_name="r"):
            for i in range(n):
                lm.log_metric("loss", i * 0.001, step=i)
        return {"seconds": time.perf_counter() - t0, "points": n}
    if workload == "batched":
        run_id = client.create_run(exp.experiment_id, run_name="r").run_id
        ts = int(time.time() * 1000)
        prepared = [[lm.Metric("loss", v, ts, s) for v, s in batch] for batch in batches(n)]
        t0 = time.perf_counter()
        for batch in prepared:
            client.log_batch(run_id, metrics=batch)
        return {"seconds": time.perf_counter() - t0, "points": sum(map(len, prepared))}
    if workload == "search":
        ts = int(time.time() * 1000)
        for spec in search_data(n):
            run_id = client.create_run(exp.experiment_id, run_name=spec["name"]).run_id
            client.log_batch(
                run_id,
                metrics=[lm.Metric(k, v, ts, 0) for k, v in spec["metrics"].items()],
                params=[lm.Param(k, v) for k, v in spec["params"].items()],
                tags=[lm.RunTag("team", spec["tag"])],
            )
            client.set_terminated(run_id)
        return time_searches(
            lambda: client.search_runs(
                [exp.experiment_id], FILTER, order_by=ORDER, max_results=5000
            )
        )
    raise SystemExit(f"unknown workload {workload}")


def run_mlflow(workload: str, folder: str, n: int, uri: str | None) -> dict[str, Any]:
    # Before the import: no usage reports (there is no network here to send them over).
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    import mlflow
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(uri or f"sqlite:///{folder}/mlflow.db")
    # Creating the experiment runs the DB migrations: before any timer starts.
    location = None if uri else f"{folder}/artifacts"
    exp_id = mlflow.create_experiment("bench", artifact_location=location)
    mlflow.set_experiment(experiment_id=exp_id)
    client = MlflowClient()
    if workload == "per_call":
        with mlflow.start_run(run_name="warm"):
            mlflow.log_metric("warm", 1.0)
        t0 = time.perf_counter()
        with mlflow.start_run(run_name="r"):
            for i in range(n):
                mlflow.log_metric("loss", i * 0.001, step=i)
        return {"seconds": time.perf_counter() - t0, "points": n}
    if workload == "batched":
        run_id = client.create_run(exp_id, run_name="r").info.run_id
        ts = int(time.time() * 1000)
        prepared = [[Metric("loss", v, ts, s) for v, s in batch] for batch in batches(n)]
        t0 = time.perf_counter()
        for batch in prepared:
            client.log_batch(run_id, metrics=batch)
        return {"seconds": time.perf_counter() - t0, "points": sum(map(len, prepared))}
    if workload == "search":
        ts = int(time.time() * 1000)
        for spec in search_data(n):
            run_id = client.create_run(exp_id, run_name=spec["name"]).info.run_id
            client.log_batch(
                run_id,
                metrics=[Metric(k, v, ts, 0) for k, v in spec["metrics"].items()],
                params=[Param(k, v) for k, v in spec["params"].items()],
                tags=[RunTag("team", spec["tag"])],
            )
            client.set_terminated(run_id)
        # The client's search returns entities (no pandas), one page of up to 5,000 runs.
        return time_searches(
            lambda: client.search_runs([exp_id], FILTER, order_by=ORDER, max_results=5000)
        )
    raise SystemExit(f"unknown workload {workload}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tool", required=True, choices=["loopml", "mlflow"])
    parser.add_argument("--workload", required=True, choices=["per_call", "batched", "search"])
    parser.add_argument("--dir", required=True, help="a fresh folder for the store")
    parser.add_argument("--n", type=int, required=True, help="points, or runs for search")
    parser.add_argument("--uri", help="a tracking server URL instead of an embedded store")
    args = parser.parse_args()
    runner = run_loopml if args.tool == "loopml" else run_mlflow
    try:
        result = runner(args.workload, args.dir, args.n, args.uri)
    except ImportError as exc:
        traceback.print_exc()
        sys.exit(f"{args.tool} cannot be imported by {sys.executable}: {exc}")
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
