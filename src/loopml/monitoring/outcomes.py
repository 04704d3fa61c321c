"""What arrives after a window's predictions: labels (so performance) and business metrics.

**Performance**: the window's predictions joined with the latest label of each request id
and row (DuckDB), then the metrics of :mod:`loopml.evaluation.metrics` — MAE, RMSE, MAPE,
R² for regression; accuracy, precision, recall, F1 (macro and weighted) for
classification. The task is the monitor's, else read from the labels: text or booleans are
classes; whole numbers with at most 20 distinct values, predicted as whole numbers, are
classes; anything else is regression.

**Business metrics**: the values logged with a time inside the window, per name: mean,
sum, count, min, max and the last one.

Both can change after a window was checked (labels arrive for days), so a check records a
fingerprint of the files it read; a later check of the window recomputes this part when
new files arrived (see :func:`late_fingerprint`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.monitoring.labels import latest_labels_sql
from loopml.monitoring.logfiles import (
    BUSINESS,
    LABELS,
    arrow_table,
    day_of,
    list_keys,
    local_files,
)
from loopml.monitoring.window import ID, ROW, Window

if TYPE_CHECKING:
    from loopml.storage import Stores

__all__ = ["business_metrics", "labeled_rows", "late_fingerprint", "late_keys", "performance"]

_MAX_CLASSES = 20
AGGREGATES = ("mean", "sum", "count", "min", "max", "last")


def late_keys(stores: Stores, deployment: str, window: Window) -> tuple[list[str], list[str]]:
    """(label files logged since the window began, business metric files of its days)."""
    store = stores.blobs.bytes
    labels = list_keys(store, LABELS, deployment, first_day=day_of(window.start))
    business = list_keys(store, BUSINESS, deployment, day_of(window.start), day_of(window.end - 1))
    return labels, business


def late_fingerprint(labels: list[str], business: list[str]) -> str:
    """A digest of the late files a window's result was computed from."""
    text = "\n".join([*labels, "--", *business])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def labeled_rows(stores: Stores, window_file: Path, label_keys: list[str], select: str) -> Any:
    """The window's rows joined with their latest labels (left join: ``label`` is null
    where none arrived), as an Arrow table of ``select`` columns plus ``label``."""
    import duckdb

    with local_files(stores.blobs.bytes, label_keys) as paths:
        con = duckdb.connect()
        try:
            if paths:
                sql = (
                    f"SELECT {select}, l.label AS label FROM read_parquet(?) w LEFT JOIN"
                    f" ({latest_labels_sql('?')}) l"
                    f' ON w.{ID} = l.request_id AND w.{ROW} = l."row"'
                )
                return arrow_table(con, sql, [str(window_file), paths])
            sql = f"SELECT {select}, NULL AS label FROM read_parquet(?) w"
            return arrow_table(con, sql, [str(window_file)])
        finally:
            con.close()


def _task(labels: Any, predictions: Any) -> str:
    import numpy as np

    if labels.dtype.kind in "OUSb" or predictions.dtype.kind in "OUSb":
        return "classification"
    whole = bool(np.all(np.mod(labels.astype(float), 1) == 0))
    whole_pred = bool(np.all(np.mod(predictions.astype(float), 1) == 0))
    if whole and whole_pred and np.unique(labels).size <= _MAX_CLASSES:
        return "classification"
    return "regression"


def performance(
    stores: Stores,
    window_file: Path | None,
    rows: int,
    label_keys: list[str],
    prediction: str,
    outputs: list[str],
    task: str | None,
) -> dict[str, Any]:
    """The window's performance figures: ``labeled`` rows, ``coverage``, ``task`` and
    ``metrics`` (empty, with a ``note``, before labels arrive)."""
    import numpy as np

    base: dict[str, Any] = {"rows": rows, "labeled": 0, "coverage": 0.0, "task": task,
                            "metrics": {}}  # fmt: skip
    if window_file is None or not label_keys:
        return {**base, "note": "no labels yet"}
    if prediction not in outputs:
        note = f"the prediction log has no {prediction!r} column to compare labels with"
        return {**base, "note": note + (f" (outputs: {', '.join(outputs)})" if outputs else "")}
    table = labeled_rows(stores, window_file, label_keys, f"w.{_quote(prediction)} AS prediction")
    import pyarrow.compute as pc

    table = table.filter(pc.is_valid(table.column("label")))
    table = table.filter(pc.is_valid(table.column("prediction")))
    labeled = table.num_rows
    base.update(labeled=labeled, coverage=labeled / rows if rows else 0.0)
    if labeled == 0:
        return {**base, "note": "no label matches a prediction of this window yet"}
    y = table.column("label").to_numpy(zero_copy_only=False)
    pred = table.column("prediction").to_numpy(zero_copy_only=False)
    kind = task or _task(np.asarray(y), np.asarray(pred))
    try:
        from loopml.evaluation.metrics import classification_metrics, regression_metrics

        if kind == "regression":
            if y.dtype.kind in "OUSb":
                return {**base, "task": kind, "note": "regression needs numeric labels"}
            metrics = regression_metrics(y.astype(float), pred.astype(float))
        else:
            metrics = classification_metrics(y, pred).metrics
    except ImportError as exc:
        note = f"performance metrics need {exc.name}: pip install 'loopml[monitor]'"
        return {**base, "task": kind, "note": note}
    metrics.pop("count", None)
    return {**base, "task": kind, "metrics": {k: float(v) for k, v in sorted(metrics.items())}}


def business_metrics(stores: Stores, window: Window, keys: list[str]) -> dict[str, Any]:
    """Per business metric name: the mean, sum, count, min, max and last value logged
    with a time inside the window."""
    import duckdb

    if not keys:
        return {}
    from datetime import UTC, datetime

    start = datetime.fromtimestamp(window.start / 1000, tz=UTC)
    end = datetime.fromtimestamp(window.end / 1000, tz=UTC)
    with local_files(stores.blobs.bytes, keys) as paths:
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            rows = con.execute(
                "SELECT name, avg(value), sum(value), count(*), min(value), max(value),"
                " arg_max(value, timestamp) FROM read_parquet(?, union_by_name = true,"
                " hive_partitioning = false) WHERE timestamp >= ? AND timestamp < ?"
                " GROUP BY name ORDER BY name",
                [paths, start, end],
            ).fetchall()
        finally:
            con.close()
    return {
        name: dict(
            zip(
                AGGREGATES,
                (float(m), float(s), int(c), float(lo), float(hi), float(last)),
                strict=True,
            )
        )
        for name, m, s, c, lo, hi, last in rows
    }
