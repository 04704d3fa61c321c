"""Data drift: loopml vs Evidently (and NannyML), on the same Parquet files.

    .venv/bin/python benchmarks/bench_monitoring.py [--repeats 3] [--sizes 100000,1000000]

The data: 20 numeric and 5 categorical columns, N rows a side, seeded, written once to
Parquet that every tool reads. Five columns are shifted in the current data:

    num_00  normal, mean +0.5 sd          num_02  lognormal, scale x1.3
    num_01  normal, sd x1.5               cat_00  five levels, shares reversed
                                          cat_01  a new level with 15 % of the rows

Each measurement is a fresh worker process (``_monitoring_worker.py``) in the tool's own
environment: wall-clock time from reading both files to every column's decision, and
the worker's peak RSS. The tools take turns. Under the tables: which columns each tool
flagged, and the calibration figure (false alarms over 1,000 no-shift trials of a
10-level column, 500 rows a side, at each tool's default settings).

Then loopml's whole monitor check of the same current data as one window of a deployment's
prediction log (``--no-window`` skips it): the log written as the model server writes it
(Parquet files of ``input.<column>`` and the log's own columns), the reference logged as a
dataset version, and ``run_check`` timed in a fresh process — reading the window from the
log, drift against the stored profile, data quality against the reference schema,
policies, the check's run and stored result.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _venv import PeerInstallError, peer_python, peer_version  # noqa: E402
from common import Row, WorkerError, command_line, dump_json, machine, print_table, run_worker  # noqa: E402

SHIFTED = ["num_00", "num_01", "num_02", "cat_00", "cat_01"]
TIMEOUT_S = 3600.0
WORKER = HERE / "_monitoring_worker.py"


def write_data(folder: Path, rows: int, seed: int = 7) -> tuple[Path, Path, Path]:
    """The reference and current Parquet files, and the column spec, for one size."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)

    def numeric(i: int, shifted: bool) -> Any:
        kind = i % 5
        if i == 0:
            return rng.normal(0.5 if shifted else 0.0, 1.0, rows)
        if i == 1:
            return rng.normal(0.0, 1.5 if shifted else 1.0, rows)
        if i == 2:
            return rng.lognormal(0.0, 0.5, rows) * (1.3 if shifted else 1.0)
        if kind == 0:
            return rng.normal(10.0, 2.0, rows)
        if kind == 1:
            return rng.exponential(3.0, rows)
        if kind == 2:
            return rng.uniform(0.0, 100.0, rows)
        if kind == 3:
            return rng.integers(0, 50, rows).astype(np.int64)
        return rng.gamma(2.0, 6.0, rows)

    def categorical(i: int, shifted: bool) -> Any:
        levels = np.array([f"v{j}" for j in range(5 + i)])
        p = np.linspace(2.0, 1.0, levels.size)
        if i == 0 and shifted:
            p = p[::-1]  # the shares reversed: Jensen-Shannon distance 0.20
        values = levels[rng.choice(levels.size, rows, p=p / p.sum())]
        if i == 1 and shifted:
            values = np.where(rng.random(rows) < 0.15, "new", values)
        return pa.array(values.tolist(), pa.string())

    spec = {"numeric": [f"num_{i:02d}" for i in range(20)],
            "categorical": [f"cat_{i:02d}" for i in range(5)]}  # fmt: skip
    paths = []
    for side in ("reference", "current"):
        shifted = side == "current"
        table = pa.table(
            {
                **{f"num_{i:02d}": numeric(i, shifted) for i in range(20)},
                **{f"cat_{i:02d}": categorical(i, shifted) for i in range(5)},
            }
        )
        path = folder / f"{side}-{rows}.parquet"
        pq.write_table(table, path, compression="zstd")
        paths.append(path)
    spec_path = folder / "spec.json"
    spec_path.write_text(json.dumps(spec))
    return paths[0], paths[1], spec_path


def write_window(folder: Path, ref: Path, cur: Path, rows: int) -> tuple[Path, int]:
    """A store with ``ref`` as dataset ``ref`` v1, ``cur`` as one hour of deployment
    ``bench``'s prediction log (ten files), and monitor ``bench``; returns the store and
    the window's start (ms)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    import loopml as lm

    store = folder / f"store-{rows}"
    lm.set_tracking_uri(str(store))
    lm.data.log_dataset("ref", pq.read_table(ref))
    start_ms = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    current = pq.read_table(cur)
    log = store / "artifacts" / "predictions" / "bench" / "date=2026-01-01"
    log.mkdir(parents=True)
    parts = 10
    for part, offset in enumerate(range(0, rows, -(-rows // parts))):
        chunk = current.slice(offset, -(-rows // parts))
        n = chunk.num_rows
        index = np.arange(offset, offset + n)
        base = {
            "request_id": pa.array([f"r{i // 10}" for i in index]),
            "row": pa.array(index % 10, pa.int32()),
            "timestamp": pa.array(start_ms * 1000 + index * (3_500_000_000 // rows),
                                  pa.timestamp("us", tz="UTC")),
            "deployment": pa.array(["bench"] * n), "model_name": pa.array(["m"] * n),
            "model_version": pa.array([1] * n, pa.int64()), "model_run_id": pa.array(["x"] * n),
            "route": pa.array(["primary"] * n), "status": pa.array([200] * n, pa.int32()),
            "latency_ms": pa.array(np.full(n, 1.0)), "error": pa.array([None] * n, pa.string()),
        }  # fmt: skip
        inputs = {f"input.{name}": chunk.column(name) for name in chunk.column_names}
        name = f"{start_ms + part}-1-{part}.parquet"
        pq.write_table(pa.table({**base, **inputs}), log / name, compression="zstd")
    lm.monitoring.create_monitor("bench", reference="ref@1", window="1h", delay=0)
    return store, start_ms


def _agreement(name: str, drifted: dict[str, bool]) -> str:
    flagged = sorted(c for c, d in drifted.items() if d)
    found = [c for c in SHIFTED if drifted.get(c)]
    false = [c for c in flagged if c not in SHIFTED]
    return (
        f"{name}: flags {len(flagged)} of {len(drifted)} columns; finds {len(found)}/5 shifted"
        + (f" (misses {', '.join(c for c in SHIFTED if c not in found)})" if len(found) < 5 else "")
        + (f"; also flags {', '.join(false)}" if false else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="100000,1000000", help="rows a side, comma-separated")
    parser.add_argument("--quick", action="store_true", help="10,000 and 100,000 rows, 1 repeat")
    parser.add_argument("--peers", default="evidently,nannyml")
    parser.add_argument("--trials", type=int, default=1000, help="calibration trials")
    parser.add_argument("--json", help="also write the raw figures here")
    parser.add_argument("--no-window", action="store_true", help="skip the monitor check rows")
    args = parser.parse_args()
    sizes = [10_000, 100_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    repeats = 1 if args.quick else args.repeats

    tools: dict[str, list[str]] = {"loopml": [sys.executable, str(WORKER), "loopml"]}
    versions: dict[str, str] = {}
    install_failed: dict[str, str] = {}
    for peer in [p for p in args.peers.split(",") if p]:
        try:
            python = peer_python(peer)
            tools[peer] = [str(python), str(WORKER), peer]
            versions[peer] = peer_version(python, peer)
        except PeerInstallError as exc:
            install_failed[peer] = str(exc).splitlines()[0]
            versions[peer] = "not installed"

    figures: dict[tuple[str, int], dict[str, list[float]]] = {}
    decisions: dict[tuple[str, int], dict[str, bool]] = {}
    failures: dict[tuple[str, int], str] = {}
    windows: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-monitoring-") as root:
        for rows in sizes:
            ref, cur, spec = write_data(Path(root), rows)
            if not args.no_window:
                store, start = write_window(Path(root), ref, cur, rows)
                command = [
                    sys.executable,
                    str(WORKER),
                    "loopml",
                    "--window",
                    str(store),
                    str(start),
                ]
                got = windows.setdefault(rows, {"seconds": [], "peak_mb": []})
                for rep in range(repeats):
                    try:
                        out = run_worker(command, HERE, timeout=TIMEOUT_S)
                    except WorkerError as exc:
                        got["error"] = str(exc).strip().splitlines()[-1][:300]
                        break
                    got["seconds"].append(out["seconds"])
                    got["peak_mb"].append(out["peak_mb"])
                    got["drifted"] = sorted(c for c, d in out["drifted"].items() if d)
                    print(f"{rows:,} rows, monitor check {rep + 1}: {out['seconds']:.2f} s, "
                          f"{out['peak_mb']:.0f} MB", file=sys.stderr)  # fmt: skip
            for rep in range(repeats):
                order = list(tools) if rep % 2 == 0 else list(reversed(tools))
                for tool in order:
                    key = (tool, rows)
                    if key in failures:
                        continue
                    try:
                        out = run_worker([*tools[tool], str(ref), str(cur), str(spec)], HERE,
                                         timeout=TIMEOUT_S)  # fmt: skip
                    except WorkerError as exc:
                        failures[key] = str(exc).strip().splitlines()[-1][:300]
                        continue
                    got = figures.setdefault(key, {"seconds": [], "peak_mb": []})
                    got["seconds"].append(out["seconds"])
                    got["peak_mb"].append(out["peak_mb"])
                    decisions[key] = out["drifted"]
                    print(f"{rows:,} rows, repeat {rep + 1}, {tool}: {out['seconds']:.2f} s, "
                          f"{out['peak_mb']:.0f} MB", file=sys.stderr)  # fmt: skip
        calibration: dict[str, dict[str, Any]] = {}
        for tool in [t for t in ("loopml", "evidently") if t in tools]:
            try:
                calibration[tool] = run_worker(
                    [*tools[tool], "--calibration", str(args.trials), "500", "500", "11"],
                    HERE, timeout=TIMEOUT_S,
                )  # fmt: skip
            except WorkerError as exc:
                calibration[tool] = {"error": str(exc).strip().splitlines()[-1][:300]}

    results: dict[str, Any] = {"figures": {}, "decisions": {}, "calibration": calibration}
    for peer in [t for t in tools if t != "loopml"] + list(install_failed):
        rows_out = []
        for rows in sizes:
            ours = figures.get(("loopml", rows), {"seconds": [], "peak_mb": []})
            theirs = figures.get((peer, rows), {"seconds": [], "peak_mb": []})
            failed = {}
            if ("loopml", rows) in failures:
                failed["loopml"] = failures[("loopml", rows)]
            if (peer, rows) in failures or peer in install_failed:
                failed["peer"] = failures.get((peer, rows)) or install_failed[peer]
            for unit, key in (("s", "seconds"), ("MB", "peak_mb")):
                what = "drift, 25 columns" if key == "seconds" else "peak RSS"
                row = Row(f"{what}, {rows:,} rows a side", unit, ours[key], theirs[key], False)
                row.failed = failed
                rows_out.append(row)
        meta = {
            "peer": f"{peer} {versions.get(peer, '')}",
            "agreement": "\n".join(
                _agreement(f"{tool} @ {rows:,}", decisions[(tool, rows)])
                for rows in sizes
                for tool in ("loopml", peer)
                if (tool, rows) in decisions
            ),
            "calibration (10 levels, 500 rows a side, no shift)": "; ".join(
                f"{tool}: {c['false_alarms']}/{c['trials']} = {c['rate']:.1%}"
                if "rate" in c
                else f"{tool}: failed ({c['error']})"
                for tool, c in calibration.items()
            ),
            **machine(),
            "command": command_line(),
        }
        print_table(f"Data drift: loopml vs {peer}", peer, rows_out, meta)
        results["figures"][peer] = meta
        if args.json:
            dump_json(args.json.replace(".json", f"-{peer}.json"), rows_out, meta)
    if windows:
        _print_windows(windows, figures)
    sys.exit(1 if failures or install_failed else 0)


def _print_windows(
    windows: dict[int, dict[str, Any]], figures: dict[tuple[str, int], dict[str, list[float]]]
) -> None:
    from statistics import median

    print("\n### Monitor check of one window from the prediction log (loopml)\n")
    print("| rows in the window | check (median) | peak RSS | drift alone on the file | drifted |")
    print("|---:|---:|---:|---:|---|")
    for rows, got in windows.items():
        if "error" in got and not got["seconds"]:
            print(f"| {rows:,} | failed: {got['error']} | | | |")
            continue
        alone = figures.get(("loopml", rows), {}).get("seconds", [])
        print(
            f"| {rows:,} | {median(got['seconds']):.2f} s | {median(got['peak_mb']):.0f} MB | "
            + (f"{median(alone):.2f} s" if alone else "")
            + f" | {', '.join(got.get('drifted', []))} |"
        )
    print(f"\n{len(next(iter(windows.values()))['seconds'])} repeat(s)")
    for key, value in machine().items():
        print(f"{key}: {' '.join(str(value).split())}")


if __name__ == "__main__":
    main()
