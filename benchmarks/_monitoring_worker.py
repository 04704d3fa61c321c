"""One drift measurement in a fresh process; prints one JSON line.

    python _monitoring_worker.py TOOL REFERENCE.parquet CURRENT.parquet SPEC.json
    python _monitoring_worker.py TOOL --calibration TRIALS N_REF N_CUR SEED
    python _monitoring_worker.py loopml --window STORE WINDOW_START_MS

TOOL is loopml, evidently or nannyml; this file runs in that tool's interpreter (loopml:
the project's .venv; a peer: its venv under benchmarks/.venvs). SPEC.json names the
numeric and categorical columns. The figure is the wall-clock time from reading the two
Parquet files to every column's drift decision (the tool's modules imported beforehand),
and the peak RSS (the process's high-water mark, imports included). ``--window`` times a
monitor's whole check (``run_check``: the window read from the prediction log, drift
against the stored profile, data quality, labels, policies) of monitor ``bench`` in STORE.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def loopml_drift(ref: str, cur: str, spec: dict[str, list[str]]) -> dict[str, bool]:
    import loopml as lm

    report = lm.monitoring.drift(ref, cur, columns=spec["numeric"] + spec["categorical"])
    return {c.column: bool(c.drifted) for c in report.columns}


def _evidently_drifts(snapshot: Any, columns: list[str]) -> dict[str, bool]:
    """Per-column decisions from an Evidently 0.7 snapshot: each ValueDrift metric's value
    against its method's threshold (p-value tests drift below it, distances at or above)."""
    drifted: dict[str, bool] = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        if config.get("type", "").split(":")[-1] != "ValueDrift":
            continue
        column, value = config["column"], float(metric["value"])
        method = str(config.get("method") or "")
        threshold = float(config["threshold"])
        p_value_test = "p_value" in method or method in {
            "K-S p_value", "chi-square p_value", "Z-test p_value",
        }  # fmt: skip
        drifted[column] = value < threshold if p_value_test else value >= threshold
    return {c: drifted[c] for c in columns if c in drifted}


def evidently_drift(ref: str, cur: str, spec: dict[str, list[str]]) -> dict[str, bool]:
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(
        numerical_columns=spec["numeric"], categorical_columns=spec["categorical"]
    )
    reference = Dataset.from_pandas(pd.read_parquet(ref), data_definition=definition)
    current = Dataset.from_pandas(pd.read_parquet(cur), data_definition=definition)
    snapshot = Report([DataDriftPreset()]).run(current, reference)
    return _evidently_drifts(snapshot, spec["numeric"] + spec["categorical"])


def nannyml_drift(ref: str, cur: str, spec: dict[str, list[str]]) -> dict[str, bool]:
    import nannyml as nml
    import pandas as pd

    reference, current = pd.read_parquet(ref), pd.read_parquet(cur)
    columns = spec["numeric"] + spec["categorical"]
    # NannyML thresholds come from the spread of the statistic over reference chunks:
    # ten chunks a side; a column drifts when any current chunk raises an alert
    calc = nml.UnivariateDriftCalculator(
        column_names=columns,
        treat_as_categorical=spec["categorical"],
        chunk_number=10,
    )
    calc.fit(reference)
    result = calc.calculate(current).filter(period="analysis").to_df()
    drifted = {}
    for column in columns:
        method = "jensen_shannon"
        alerts = result[(column, method, "alert")]
        drifted[column] = bool(alerts.any())
    return drifted


def calibration(tool: str, trials: int, n_ref: int, n_cur: int, seed: int) -> dict[str, Any]:
    """Share of no-shift trials raised as drift on one 10-level categorical column, at the
    tool's default settings (each trial one column of one check)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    p = np.array([0.25, 0.18, 0.14, 0.11, 0.09, 0.07, 0.06, 0.05, 0.03, 0.02])
    levels = np.array([f"level-{i}" for i in range(10)])
    names = [f"c{t}" for t in range(trials)]
    ref = pd.DataFrame({c: levels[rng.choice(10, n_ref, p=p)] for c in names})
    cur = pd.DataFrame({c: levels[rng.choice(10, n_cur, p=p)] for c in names})
    if tool == "loopml":
        import loopml as lm

        report = lm.monitoring.drift(ref, cur)
        flagged = len(report.drifted_columns)
    else:
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        definition = DataDefinition(categorical_columns=names)
        snapshot = Report([DataDriftPreset()]).run(
            Dataset.from_pandas(cur, data_definition=definition),
            Dataset.from_pandas(ref, data_definition=definition),
        )
        flagged = sum(_evidently_drifts(snapshot, names).values())
    return {"trials": trials, "false_alarms": flagged, "rate": flagged / trials}


def _warm(tool: str) -> None:
    """Import the tool's modules before the clock starts: the figure is the computation."""
    import pandas  # noqa: F401

    if tool == "loopml":
        import scipy.stats  # noqa: F401

        import loopml.monitoring  # noqa: F401
    elif tool == "evidently":
        from evidently import Report  # noqa: F401
        from evidently.presets import DataDriftPreset  # noqa: F401
    else:
        import nannyml  # noqa: F401


def window_check(store: str, start_ms: int) -> dict[str, Any]:
    """One monitor check of the window starting at ``start_ms``, computed again each time."""
    import loopml as lm

    lm.set_tracking_uri(store)
    _warm("loopml")
    import loopml.monitoring.check

    started = time.perf_counter()
    result = lm.monitoring.run_check("bench", window_start=start_ms, recompute=True)
    seconds = time.perf_counter() - started
    drifted = {c.column: bool(c.drifted) for c in result.columns}
    return {"seconds": seconds, "peak_mb": _peak_mb(), "drifted": drifted,
            "rows": result.result.rows}  # fmt: skip


def main() -> None:
    tool = sys.argv[1]
    if sys.argv[2] == "--window":
        print(json.dumps(window_check(sys.argv[3], int(sys.argv[4]))))
        return
    if sys.argv[2] == "--calibration":
        trials, n_ref, n_cur, seed = map(int, sys.argv[3:7])
        print(json.dumps(calibration(tool, trials, n_ref, n_cur, seed)))
        return
    ref, cur, spec_file = sys.argv[2:5]
    with open(spec_file) as handle:
        spec = json.load(handle)
    run = {"loopml": loopml_drift, "evidently": evidently_drift, "nannyml": nannyml_drift}[tool]
    _warm(tool)
    start = time.perf_counter()
    drifted = run(ref, cur, spec)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_mb": _peak_mb(), "drifted": drifted}))


if __name__ == "__main__":
    main()
