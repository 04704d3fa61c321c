"""Point-in-time feature joins: loopml vs Feast's offline retrieval, on the same Parquet data.

    .venv/bin/python benchmarks/bench_features.py [--repeats 3] [--sizes 100000:1000000,...]

A size is ``ENTITY_ROWS:FEATURE_ROWS:UPDATES``: FEATURE_ROWS split evenly over two feature
tables, ``driver_stats`` (conv_rate, acc_rate, trips; a ttl of 6 hours) and
``driver_activity`` (avg_speed, active_hours, rides; no ttl), with UPDATES rows per driver
and table spread over UPDATES x 7.2 hours (30 days for 100 updates: one every 7.2 hours on
average, whatever the size). The entities (row_id, driver_id, event_timestamp, label) are
spread over the same time and a day either side, and 2 % of them name drivers no table
knows. Feast's file store joins every entity row with every row of its driver before it
filters, so its memory grows with ENTITY_ROWS x UPDATES; the larger default size has
fewer updates per driver to fit in memory. The data is
seeded and written once per size to Parquet (not timed), then:

- loopml: both tables logged as dataset versions (``lm.data.log_dataset``, not timed);
  timed is ``lm.data.join_features`` from the entities' Parquet file and the two versions
  to the pandas result (two calls, as the ttl applies to one table only);
- Feast (``benchmarks/.venvs/feast``, ``PINS["feast"]``): a repo with the file offline
  store, the entity and two ``FeatureView``s over ``FileSource``s of the same Parquet
  files, ``apply``-ed once (not timed); timed is reading the entities' file and
  ``get_historical_features(...).to_df()``.

Each figure is a fresh worker (``_features_worker.py``), the tools alternating: the wall
clock, the CPU time of the process over the same span (all threads: Feast's Dask uses
several) and the peak RSS. The
results are compared row by row (by ``row_id``, NaN-aware) with each other and, on a
sample of entity rows, with a brute-force answer computed here from the Parquet files.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _venv import PeerInstallError, peer_python, peer_version  # noqa: E402
from common import Row, WorkerError, command_line, dump_json, machine, print_table, run_worker  # noqa: E402

TIMEOUT_S = 3600.0
WORKER = HERE / "_features_worker.py"
TTL_S = 6 * 3600
START_S = 1_767_225_600  # 2026-01-01T00:00:00Z
SPEC = {
    "stats": ["conv_rate", "acc_rate", "trips"],
    "activity": ["avg_speed", "active_hours", "rides"],
    "kinds": {"conv_rate": "float", "acc_rate": "float", "trips": "int",
              "avg_speed": "float", "active_hours": "float", "rides": "int"},
    "ttl_s": TTL_S,
}  # fmt: skip
BRUTE_SAMPLE = 2000


def write_data(
    folder: Path, entities: int, feature_rows: int, updates: int, seed: int = 11
) -> Path:
    """The entities and the two feature tables as Parquet, and spec.json, in ``folder``."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    per_table = feature_rows // 2
    drivers = max(1, per_table // updates)
    span = updates * 25_920  # 7.2 hours a driver on average

    def stamps(seconds: Any) -> Any:
        return pa.array(seconds * 1_000_000, pa.timestamp("us", tz="UTC"))

    def table(columns: list[str], known: int) -> Any:
        ids = rng.integers(0, known, per_table)
        ts = START_S + rng.integers(0, span, per_table)
        # one row per driver and second: which of two rows at the same time is "the
        # latest" is up to each tool, and the comparison is about the join, not that
        pairs = np.unique(np.stack([ids, ts]), axis=1)
        order = rng.permutation(pairs.shape[1])  # files are not sorted
        ids, ts = pairs[0][order], pairs[1][order]
        n = ids.size
        data: dict[str, Any] = {"driver_id": pa.array(ids, pa.int64()), "updated_at": stamps(ts)}
        for column in columns:
            if SPEC["kinds"][column] == "float":
                data[column] = pa.array(rng.random(n) * 100)
            else:
                data[column] = pa.array(rng.integers(0, 1000, n), pa.int64())
        return pa.table(data)

    pq.write_table(
        table(SPEC["stats"], drivers), folder / "driver_stats.parquet", compression="zstd"
    )
    # the activity table knows nine drivers in ten
    activity = table(SPEC["activity"], max(1, drivers * 9 // 10))
    pq.write_table(activity, folder / "driver_activity.parquet", compression="zstd")
    unknown = rng.random(entities) < 0.02
    ids = np.where(unknown, drivers + rng.integers(0, 1000, entities),
                   rng.integers(0, drivers, entities))  # fmt: skip
    ts = START_S - 86_400 + rng.integers(0, span + 2 * 86_400, entities)
    pq.write_table(
        pa.table({
            "row_id": pa.array(np.arange(entities), pa.int64()),
            "driver_id": pa.array(ids, pa.int64()),
            "event_timestamp": stamps(ts),
            "label": pa.array(rng.integers(0, 2, entities), pa.int64()),
        }),
        folder / "entities.parquet",
        compression="zstd",
    )  # fmt: skip
    (folder / "spec.json").write_text(json.dumps(SPEC))
    return folder


def log_versions(data: Path, store: Path) -> None:
    """loopml's set-up: the feature tables as versions 1 of their datasets."""
    import pyarrow.parquet as pq

    import loopml as lm

    lm.set_tracking_uri(str(store))
    for name in ("driver_stats", "driver_activity"):
        lm.data.log_dataset(name, pq.read_table(data / f"{name}.parquet"))


def brute_force(data: Path, sample: int) -> Any:
    """The expected features of ``sample`` entity rows, found the slow and obvious way:
    every row of the driver, kept when at or before the event (and within the ttl), the
    latest taken."""
    import numpy as np
    import pandas as pd

    entities = pd.read_parquet(data / "entities.parquet")
    rows = entities.sample(min(sample, len(entities)), random_state=3).sort_values("row_id")
    expected = rows[["row_id"]].copy().reset_index(drop=True)
    for name, columns, ttl in (("driver_stats", SPEC["stats"], TTL_S),
                               ("driver_activity", SPEC["activity"], None)):  # fmt: skip
        table = pd.read_parquet(data / f"{name}.parquet")
        by_driver = dict(iter(table.groupby("driver_id")))
        values: dict[str, list[float]] = {c: [] for c in columns}
        for driver, when in zip(rows["driver_id"], rows["event_timestamp"], strict=True):
            group = by_driver.get(driver)
            found = None
            if group is not None:
                ok = group["updated_at"] <= when
                if ttl is not None:
                    ok &= group["updated_at"] >= when - pd.Timedelta(seconds=ttl)
                if ok.any():
                    found = group[ok].sort_values("updated_at").iloc[-1]
            for column in columns:
                values[column].append(math.nan if found is None else float(found[column]))
        for column in columns:
            expected[column] = np.array(values[column], dtype="float64")
    return expected


def compare(result: Any, expected: Any, columns: list[str]) -> str:
    """ "match", or what differs: rows missing or extra, and how many values per column."""
    import numpy as np

    problems = []
    got = result.drop_duplicates("row_id").set_index("row_id")
    if len(got) != len(result):
        problems.append(f"{len(result) - len(got):,} duplicated rows")
    want = expected.set_index("row_id")
    missing = want.index.difference(got.index)
    extra = got.index.difference(want.index)
    if len(missing):
        problems.append(f"{len(missing):,} entity rows missing")
    if len(extra):
        problems.append(f"{len(extra):,} rows that are no entity row")
    common = want.index.intersection(got.index)
    for column in columns:
        if column not in got.columns:
            problems.append(f"no column {column}")
            continue
        a = got.loc[common, column].to_numpy(dtype="float64", na_value=np.nan)
        b = want.loc[common, column].to_numpy(dtype="float64", na_value=np.nan)
        differ = int((~((a == b) | (np.isnan(a) & np.isnan(b)))).sum())
        if differ:
            problems.append(f"{column}: {differ:,} values differ")
    if not problems:
        return "match"
    if not any("differ" in p or "no column" in p for p in problems):
        problems.append(f"the {len(common):,} rows both have hold the same values")
    return "MISMATCH: " + "; ".join(problems)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--sizes", default="100000:1000000:100,1000000:5000000:20",
        help="ENTITY_ROWS:FEATURE_ROWS (both tables together):UPDATES (per driver and table)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="10,000 x 100,000 rows, 1 repeat")
    parser.add_argument("--no-feast", action="store_true", help="measure loopml only")
    parser.add_argument("--json", help="also write the raw figures here")
    args = parser.parse_args()
    sizes = [(10_000, 100_000, 100)] if args.quick else [
        tuple(int(n) for n in s.split(":")) for s in args.sizes.split(",")
    ]  # fmt: skip
    repeats = 1 if args.quick else args.repeats

    tools: dict[str, list[str]] = {"loopml": [sys.executable, str(WORKER), "loopml"]}
    feast_version, install_failed = "not installed", ""
    if not args.no_feast:
        try:
            python = peer_python("feast")
            tools["feast"] = [str(python), str(WORKER), "feast"]
            feast_version = peer_version(python, "feast")
        except PeerInstallError as exc:
            install_failed = str(exc).splitlines()[0]

    columns = SPEC["stats"] + SPEC["activity"]
    rows_out: list[Row] = []
    checks: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-features-") as root:
        for n_entities, n_features, updates in sizes:
            label = f"{n_entities:,} x {n_features:,} rows, {updates}/driver"
            tag = f"{n_entities}-{n_features}-{updates}"
            data = write_data(Path(root) / f"data-{tag}",
                              n_entities, n_features, updates)  # fmt: skip
            where = {"loopml": Path(root) / f"store-{tag}"}
            log_versions(data, where["loopml"])
            failures: dict[str, str] = {}
            if "feast" in tools:
                where["feast"] = Path(root) / f"feast-{tag}"
                try:
                    run_worker([*tools["feast"], "--apply", str(where["feast"]), str(data)], HERE)
                except WorkerError as exc:
                    failures["feast"] = str(exc).strip().splitlines()[-1][:300]
            figures: dict[str, dict[str, list[float]]] = {
                t: {"seconds": [], "cpu_s": [], "peak_mb": []} for t in tools
            }
            outputs: dict[str, Path] = {}
            for rep in range(repeats):
                order = list(tools) if rep % 2 == 0 else list(reversed(tools))
                for tool in order:
                    if tool in failures:
                        continue
                    out = Path(root) / f"{tool}-{tag}.parquet"
                    try:
                        got = run_worker([*tools[tool], str(where[tool]), str(data), str(out)],
                                         HERE, timeout=TIMEOUT_S)  # fmt: skip
                    except WorkerError as exc:
                        failures[tool] = str(exc).strip().splitlines()[-1][:300]
                        continue
                    outputs[tool] = out
                    figures[tool]["seconds"].append(got["seconds"])
                    figures[tool]["cpu_s"].append(got["cpu_s"])
                    figures[tool]["peak_mb"].append(got["peak_mb"])
                    print(
                        f"{label}, repeat {rep + 1}, {tool}: {got['seconds']:.2f} s, CPU "
                        f"{got['cpu_s']:.2f} s, {got['peak_mb']:.0f} MB, {got['rows']:,} rows",
                        file=sys.stderr,
                    )
            checks.extend(_checks(label, data, outputs, columns))
            failed = {("loopml" if t == "loopml" else "peer"): e for t, e in failures.items()}
            if install_failed:
                failed["peer"] = install_failed
            none: dict[str, list[float]] = {"seconds": [], "cpu_s": [], "peak_mb": []}
            ours, theirs = figures["loopml"], figures.get("feast", none)
            for what, unit, key in (("join", "s", "seconds"), ("join, CPU time", "s", "cpu_s"),
                                    ("peak RSS", "MB", "peak_mb")):  # fmt: skip
                row = Row(f"{what}, {label}", unit, ours[key], theirs[key], False)
                row.failed = failed
                rows_out.append(row)
    meta = {
        "peer": f"feast {feast_version} (file offline store)",
        "agreement": "\n".join(checks),
        **machine(),
        "command": command_line(),
    }
    print_table("Point-in-time feature join: loopml vs Feast", "Feast", rows_out, meta)
    if args.json:
        dump_json(args.json, rows_out, meta)
    mismatch = any("MISMATCH" in c for c in checks)
    sys.exit(1 if any(r.failed for r in rows_out) or mismatch else 0)


def _checks(label: str, data: Path, outputs: dict[str, Path], columns: list[str]) -> list[str]:
    """Each tool against the brute force on a sample, and the two tools against each other."""
    import pandas as pd

    results = {tool: pd.read_parquet(path) for tool, path in outputs.items()}
    expected = brute_force(data, BRUTE_SAMPLE)
    lines = []
    for tool, frame in results.items():
        sample = frame[frame["row_id"].isin(expected["row_id"])]
        verdict = compare(sample, expected, columns)
        absent = expected[~expected["row_id"].isin(frame["row_id"])]
        if len(absent):  # which rows a tool leaves out: those lacking a value somewhere?
            gaps = absent[columns].isna().any(axis=1)
            both = int(absent[columns].isna().all(axis=1).sum())
            verdict = verdict.replace(
                "entity rows missing",
                f"entity rows missing ({int(gaps.sum()):,} of them lack a value in a table, "
                f"{both:,} in both)",
            )
        lines.append(f"{label}: {tool} vs brute force on {len(expected):,} rows: {verdict}")
    if len(results) == 2:
        ours = results["loopml"]
        verdict = compare(results["feast"], ours[["row_id", *columns]], columns)
        lines.append(f"{label}: feast vs loopml, all {len(ours):,} entity rows: {verdict}")
    return lines


if __name__ == "__main__":
    main()
