"""loopml vs MLflow on experiment tracking, both on an embedded SQLite store.

    .venv/bin/python benchmarks/bench_tracking.py [--repeats 3] [--quick] [--json out.json]

Workloads (each in a fresh process and a fresh store, tools alternating):
  per_call  10,000 points, one log_metric call each, including the end of the run
  batched   200,000 points in batches of 1,000 through each tool's log_batch
  search    search_runs "metrics.rmse < 0.3 and params.depth = '6'" ordered by rmse over
            2,000 runs with 3 params, 3 metrics and 1 tag (median of 5 after a warm-up)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _venv import peer_python, peer_version  # noqa: E402
from common import Row, dump_json, machine, print_table  # noqa: E402

WORKLOADS = {
    # name: (size, quick size, unit, higher is better)
    "per_call": (10_000, 1_000, "points/s", True),
    "batched": (200_000, 20_000, "points/s", True),
    "search": (2_000, 200, "ms", False),
}


def measure(python: Path, tool: str, workload: str, n: int) -> dict:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory(prefix=f"bench-{tool}-") as folder:
        proc = subprocess.run(
            [
                str(python),
                str(HERE / "_tracking_worker.py"),
                "--tool",
                tool,
                "--workload",
                workload,
                "--dir",
                folder,
                "--n",
                str(n),
            ],
            capture_output=True,
            text=True,
            cwd=folder,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"{tool} {workload} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def figure(result: dict, unit: str) -> float:  # type: ignore[type-arg]
    if unit == "ms":
        return float(result["seconds"] * 1000)
    return float(result["points"] / result["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1/10 of the sizes")
    parser.add_argument("--json", help="also write the raw figures to this file")
    parser.add_argument("--only", choices=sorted(WORKLOADS), action="append")
    args = parser.parse_args()

    mlflow_python = peer_python("mlflow", "mlflow", "mlflow")
    rows = []
    for workload, (size, quick, unit, higher) in WORKLOADS.items():
        if args.only and workload not in args.only:
            continue
        n = quick if args.quick else size
        ours, theirs = [], []
        for rep in range(args.repeats):
            order = [("loopml", Path(sys.executable)), ("mlflow", mlflow_python)]
            if rep % 2:
                order.reverse()  # alternate who goes first
            for tool, python in order:
                result = measure(python, tool, workload, n)
                (ours if tool == "loopml" else theirs).append(figure(result, unit))
                if "matches" in result:
                    print(
                        f"  {tool} {workload}: {result['matches']} matching runs", file=sys.stderr
                    )
        rows.append(Row(f"{workload} (n={n:,})", unit, ours, theirs, higher))
    meta = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "mlflow": peer_version(mlflow_python, "mlflow"),
        **machine(),
    }
    print_table("Tracking: loopml vs MLflow (embedded SQLite)", "MLflow", rows, meta)
    if args.json:
        dump_json(args.json, rows, meta)


if __name__ == "__main__":
    main()
