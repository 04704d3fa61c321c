"""One measurement, in its own process: `--tool loopml|mlflow --workload W --dir D`.

Runs with the project's interpreter (loopml) or the peer's venv (mlflow) and prints one
JSON line. Set-up (store creation, migrations, data for searches) is never timed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time


def data_for_search(n_runs: int) -> list[dict]:  # type: ignore[type-arg]
    rng = random.Random(1234)
    runs = []
    for i in range(n_runs):
        runs.append(
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
        )
    return runs


FILTER = "metrics.rmse < 0.3 and params.depth = '6'"
ORDER = ["metrics.rmse ASC"]


def run_loopml(workload: str, folder: str, n: int, uri: str | None) -> dict:  # type: ignore[type-arg]
    import loopml as lm

    lm.set_tracking_uri(uri or folder)
    exp = lm.set_experiment("bench")
    client = lm.TrackingClient(uri or folder)
    if workload == "per_call":
        with lm.start_run(run_name="warm"):
            lm.log_metric("warm", 1.0)
        t0 = time.perf_counter()
        with lm.start_run(run_name="r"):
            for i in range(n):
                lm.log_metric("loss", i * 0.001, step=i)
        return {"seconds": time.perf_counter() - t0, "points": n}
    if workload == "batched":
        run = client.create_run(exp.experiment_id, run_name="r")
        ts = int(time.time() * 1000)
        batches = [
            [lm.Metric("loss", (b * 1000 + j) * 0.001, ts, b * 1000 + j) for j in range(1000)]
            for b in range(n // 1000)
        ]
        t0 = time.perf_counter()
        for batch in batches:
            client.log_batch(run.run_id, metrics=batch)
        return {"seconds": time.perf_counter() - t0, "points": n}
    if workload == "search":
        ts = int(time.time() * 1000)
        for spec in data_for_search(n):
            run = client.create_run(exp.experiment_id, run_name=spec["name"])
            client.log_batch(
                run.run_id,
                metrics=[lm.Metric(k, v, ts, 0) for k, v in spec["metrics"].items()],
                params=[lm.Param(k, v) for k, v in spec["params"].items()],
                tags=[lm.RunTag("team", spec["tag"])],
            )
            client.set_terminated(run.run_id)
        found = client.search_runs([exp.experiment_id], FILTER, order_by=ORDER, max_results=5000)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            found = client.search_runs(
                [exp.experiment_id], FILTER, order_by=ORDER, max_results=5000
            )
            times.append(time.perf_counter() - t0)
        times.sort()
        return {"seconds": times[2], "matches": len(found)}
    raise SystemExit(f"unknown workload {workload}")


def run_mlflow(workload: str, folder: str, n: int, uri: str | None) -> dict:  # type: ignore[type-arg]
    import mlflow
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(uri or f"sqlite:///{folder}/mlflow.db")
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
        run = client.create_run(exp_id, run_name="r")
        ts = int(time.time() * 1000)
        batches = [
            [Metric("loss", (b * 1000 + j) * 0.001, ts, b * 1000 + j) for j in range(1000)]
            for b in range(n // 1000)
        ]
        t0 = time.perf_counter()
        for batch in batches:
            client.log_batch(run.info.run_id, metrics=batch)
        return {"seconds": time.perf_counter() - t0, "points": n}
    if workload == "search":
        ts = int(time.time() * 1000)
        for spec in data_for_search(n):
            run = client.create_run(exp_id, run_name=spec["name"])
            client.log_batch(
                run.info.run_id,
                metrics=[Metric(k, v, ts, 0) for k, v in spec["metrics"].items()],
                params=[Param(k, v) for k, v in spec["params"].items()],
                tags=[RunTag("team", spec["tag"])],
            )
            client.set_terminated(run.info.run_id)
        found = client.search_runs([exp_id], FILTER, order_by=ORDER, max_results=5000)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            found = client.search_runs([exp_id], FILTER, order_by=ORDER, max_results=5000)
            times.append(time.perf_counter() - t0)
        times.sort()
        return {"seconds": times[2], "matches": len(found)}
    raise SystemExit(f"unknown workload {workload}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tool", required=True, choices=["loopml", "mlflow"])
    parser.add_argument("--workload", required=True, choices=["per_call", "batched", "search"])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--uri", help="a tracking server URL instead of an embedded store")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    runner = run_loopml if args.tool == "loopml" else run_mlflow
    result = runner(args.workload, args.dir, args.n, args.uri)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
