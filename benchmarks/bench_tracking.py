"""loopml vs MLflow on experiment tracking, both on an embedded SQLite store.

    .venv/bin/python benchmarks/bench_tracking.py [--repeats 3] [--quick] [--json out.json]

Workloads (each measurement in a fresh process on a fresh store; the tools alternate):
  per_call  10,000 points, one log_metric call each, including ending the run (points/s)
  batched   200,000 points in batches of 1,000 through each tool's log_batch (points/s)
  search    search_runs "metrics.rmse < 0.3 and params.depth = '6'" ordered by rmse over
            2,000 runs with 3 params, 3 metrics and 1 tag (median of 5 after a warm-up; ms)
--quick uses a tenth of each size. MLflow runs from benchmarks/.venvs/mlflow (made on first
use); loopml runs under the interpreter that runs this script.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _venv import PINS, PeerInstallError, peer_python, peer_version  # noqa: E402
from common import (  # noqa: E402
    Row,
    WorkerError,
    command_line,
    dump_json,
    machine,
    print_table,
    run_worker,
)

WORKLOADS = {
    # name: (size, unit, higher is better)
    "per_call": (10_000, "points/s", True),
    "batched": (200_000, "points/s", True),
    "search": (2_000, "ms", False),
}
TOOLS = ("loopml", "mlflow")
TIMEOUT_S = 1800.0  # one measurement; MLflow's full per_call takes about a minute


def measure(python: Path, tool: str, workload: str, n: int) -> dict[str, Any]:
    """One worker run on a fresh temporary store; raises WorkerError when it fails."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{tool}-") as folder:
        command = [str(python), str(HERE / "_tracking_worker.py"), "--tool", tool]
        command += ["--workload", workload, "--dir", folder, "--n", str(n)]
        return run_worker(command, cwd=folder, timeout=TIMEOUT_S)


def figure(result: dict[str, Any], unit: str) -> float:
    """The number the table shows: ms for a search, points per second otherwise."""
    if unit == "ms":
        return float(result["seconds"]) * 1000
    return float(result["points"]) / float(result["seconds"])


def search_note(answers: dict[str, list[tuple[int, list[str]]]]) -> tuple[str, bool]:
    """Did both tools find the same runs, in the same order at the top? (note, agree)."""
    distinct = {(matches, tuple(top)) for got in answers.values() for matches, top in got}
    if not distinct:
        return "", True
    if len(distinct) == 1:
        matches = next(iter(distinct))[0]
        both = all(answers.values())
        return f"{matches} matches" + (", same runs in both" if both else ""), True
    counts = {tool: sorted({m for m, _ in got}) for tool, got in answers.items()}
    return f"MISMATCH: matches {counts} or different top runs", False


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a tenth of each size")
    parser.add_argument("--json", help="also write the raw figures to this file")
    parser.add_argument("--only", choices=sorted(WORKLOADS), action="append")
    args = parser.parse_args()

    pythons: dict[str, Path] = {"loopml": Path(sys.executable)}
    broken: dict[str, str] = {}  # tool -> why it cannot run at all
    try:
        pythons["mlflow"] = peer_python("mlflow")
    except PeerInstallError as exc:
        print(exc, file=sys.stderr)
        broken["mlflow"] = str(exc).splitlines()[0]

    rows, ok = [], True
    for workload, (size, unit, higher) in WORKLOADS.items():
        if args.only and workload not in args.only:
            continue
        n = size // 10 if args.quick else size
        figures: dict[str, list[float]] = {tool: [] for tool in TOOLS}
        answers: dict[str, list[tuple[int, list[str]]]] = {tool: [] for tool in TOOLS}
        failed = dict(broken)
        for rep in range(args.repeats):
            order = TOOLS if rep % 2 == 0 else TOOLS[::-1]  # who goes first alternates
            for tool in order:
                if tool in failed:
                    continue  # a failure repeats itself; do not wait for it again
                try:
                    result = measure(pythons[tool], tool, workload, n)
                except WorkerError as exc:
                    print(f"{tool} {workload} failed: {exc}", file=sys.stderr)
                    failed[tool] = str(exc).strip().splitlines()[-1]
                    continue
                figures[tool].append(figure(result, unit))
                if "matches" in result:
                    answers[tool].append((int(result["matches"]), list(result["top"])))
                print(
                    f"[{rep + 1}/{args.repeats}] {tool:<6} {workload:<8} "
                    f"{figures[tool][-1]:,.1f} {unit}"
                    + (f" ({result['matches']} matching runs)" if "matches" in result else ""),
                    file=sys.stderr,
                )
        note, agree = search_note(answers) if workload == "search" else ("", True)
        ok = ok and agree and not failed
        failures = {("loopml" if t == "loopml" else "peer"): why for t, why in failed.items()}
        rows.append(
            Row(
                f"{workload} (n={n:,})",
                unit,
                figures["loopml"],
                figures["mlflow"],
                higher,
                note=note,
                failed=failures,
            )
        )

    meta: dict[str, Any] = {"command": command_line()}
    try:
        meta["loopml"] = importlib.metadata.version("loopml")
    except importlib.metadata.PackageNotFoundError:
        meta["loopml"] = "not installed"
    meta["mlflow"] = (
        peer_version(pythons["mlflow"], "mlflow") if "mlflow" in pythons else broken["mlflow"]
    )
    meta["mlflow pin"] = PINS["mlflow"]
    meta.update(machine())
    print_table("Tracking: loopml vs MLflow (embedded SQLite)", "MLflow", rows, meta)
    if args.json:
        dump_json(args.json, rows, meta)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
