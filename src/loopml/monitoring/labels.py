"""Late labels and business metrics: logged against a deployment, read back per window.

    lm.monitoring.log_labels("pricing", df)      # request_id, row (default 0), label
    lm.monitoring.read_labels("pricing")         # the latest label of every (request_id, row)
    lm.monitoring.log_business_metric("pricing", "revenue_per_ride", 12.4)

Labels are stored as Parquet under ``labels/<deployment>/date=<day logged>/``, one file per
call (written whole, atomically), with the time they were logged. A request id + row
labelled twice keeps the **latest** label: within one call the last row wins, across calls
the later call. Labels are joined to the prediction log by ``request_id`` and ``row``;
labels whose request id the log does not hold (yet) are counted and reported, and kept, so
they join once the predictions are logged.

Business metrics are values (revenue per ride, conversion, complaints) logged with a time
under ``business-metrics/<deployment>/date=<day of the value>/``; a check aggregates the
values whose time falls in its window (mean, sum, count, min, max, last).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError
from loopml.monitoring.logfiles import (
    BUSINESS,
    LABELS,
    PREDICTIONS,
    check_deployment,
    day_of,
    list_keys,
    local_files,
    new_key,
    put_table,
)

if TYPE_CHECKING:
    import pandas as pd

    from loopml.storage import Stores
    from loopml.tracking.client import TrackingClient

__all__ = [
    "LabelsReport",
    "latest_labels_sql",
    "log_business_metric",
    "log_labels",
    "read_business_metrics",
    "read_labels",
    "write_business_metric",
    "write_labels",
]

_EXAMPLES = 5


@dataclass(frozen=True)
class LabelsReport:
    """What :func:`log_labels` stored.

    Attributes:
        stored: labels written (one per request id + row).
        matched: of those, labels whose request id and row the prediction log holds.
        unknown: labels for predictions the log does not hold (yet); kept.
        unknown_examples: a few of their request ids.
        duplicates: rows of the input that repeated a request id + row (the last kept).
        replaced: labels that replace ones logged before (the latest wins).
        missing: rows without a label value (not stored).
        key: the file's key under the artifact root.
    """

    deployment: str
    stored: int
    matched: int
    unknown: int
    unknown_examples: list[str] = field(default_factory=list)
    duplicates: int = 0
    replaced: int = 0
    missing: int = 0
    key: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return asdict(self)


def _client(client: TrackingClient | None) -> TrackingClient:
    if client is not None:
        return client
    from loopml.tracking.fluent import get_client

    return get_client()


def _table(data: Any) -> Any:
    from loopml.data.tables import read_table, to_arrow

    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.is_file():
            raise InvalidInputError(f"{path} is not a file; give a Parquet or CSV file of labels")
        if path.suffix.lower() not in (".csv", ".parquet", ".pq"):
            raise InvalidInputError(f"{path} is not a .parquet or .csv file")
        return read_table([(path.name, str(path))])
    return to_arrow(data)


def _column(table: Any, name: str, what: str, option: str) -> Any:
    if name not in table.column_names:
        raise InvalidInputError(
            f"the labels have no {what} column {name!r}; their columns: "
            f"{', '.join(table.column_names) or 'none'} (name it with {option})"
        )
    return table.column(name)


def _kind(arrow_type: Any) -> str:
    import pyarrow as pa

    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return "number"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "text"
    if pa.types.is_dictionary(arrow_type):
        return _kind(arrow_type.value_type)
    return str(arrow_type)


def _prepare(
    table: Any, id_column: str, row_column: str | None, label_column: str
) -> tuple[Any, int, int]:
    """(request_id, row, label table with one row per key, duplicates, missing labels)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = _column(table, id_column, "request id", "--id-column / id_column=")
    labels = _column(table, label_column, "label", "--label-column / label_column=")
    if _kind(labels.type) not in ("boolean", "number", "text"):
        raise InvalidInputError(
            f"the label column {label_column!r} holds {labels.type} values; labels are "
            "numbers, text or booleans"
        )
    if pa.types.is_dictionary(labels.type):
        labels = labels.cast(labels.type.value_type)
    if ids.null_count:
        raise InvalidInputError(
            f"{ids.null_count} label row(s) have no request id in {id_column!r}; every label "
            "needs the request id its prediction was answered with (the X-Request-ID header)"
        )
    ids = pc.cast(ids, pa.string())
    if row_column is not None and row_column in table.column_names:
        rows = table.column(row_column)
        if not (pa.types.is_integer(rows.type) or pa.types.is_floating(rows.type)):
            raise InvalidInputError(
                f"the row column {row_column!r} holds {rows.type} values; it must hold the "
                "row's index inside its request (0, 1, 2, …)"
            )
        values = rows.to_numpy(zero_copy_only=False).astype(float)
        bad = ~np.isfinite(values) | (values < 0) | (values != np.floor(values)) | (values > 2**31)
        if bad.any():
            raise InvalidInputError(
                f"{int(bad.sum())} value(s) of the row column {row_column!r} are not row "
                "indexes (whole numbers from 0)"
            )
        rows = pa.array(values.astype(np.int32), pa.int32())
    else:
        rows = pa.array(np.zeros(len(ids), dtype=np.int32), pa.int32())
    frame = pa.table({"request_id": ids, "row": rows, "label": labels})
    present = pc.is_valid(frame.column("label"))
    missing = len(frame) - int(pc.sum(present).as_py() or 0)
    frame = frame.filter(present)
    # the last row of a repeated key wins: keep each key's last position
    frame = frame.append_column("_pos", pa.array(np.arange(len(frame), dtype=np.int64)))
    last = frame.group_by(["request_id", "row"]).aggregate([("_pos", "max")])
    keep = np.sort(last.column("_pos_max").to_numpy())
    duplicates = len(frame) - len(keep)
    frame = frame.take(pa.array(keep)).drop_columns(["_pos"])
    return frame, duplicates, missing


def latest_labels_sql(label_files: str = "?") -> str:
    """SQL of the latest label of each (request_id, row) over label files (DuckDB)."""
    return (
        'SELECT request_id, "row", label FROM ('
        ' SELECT request_id, "row", label, row_number() OVER ('
        '  PARTITION BY request_id, "row" ORDER BY logged_at DESC, filename DESC) AS rank'
        f" FROM read_parquet({label_files}, union_by_name = true, filename = true,"
        "  hive_partitioning = false)) WHERE rank = 1"
    )


def _joins(
    stores: Stores, deployment: str, frame: Any, label_keys: list[str]
) -> tuple[int, int, list[str]]:
    """(labels whose prediction is logged, labels replacing earlier ones, unknown ids)."""
    import duckdb

    store = stores.blobs.bytes
    prediction_keys = list_keys(store, PREDICTIONS, deployment)
    con = duckdb.connect()
    try:
        con.register("new_labels", frame)
        matched, unknown_ids = 0, []
        if prediction_keys:
            with local_files(store, prediction_keys) as paths:
                found = con.execute(
                    "SELECT count(*) FILTER (WHERE p.request_id IS NOT NULL) AS matched,"
                    " list(DISTINCT n.request_id) FILTER (WHERE p.request_id IS NULL) AS unknown"
                    ' FROM new_labels n LEFT JOIN (SELECT DISTINCT request_id, "row" FROM'
                    " read_parquet(?, union_by_name = true, hive_partitioning = false)) p"
                    ' ON n.request_id = p.request_id AND n."row" = p."row"',
                    [paths],
                ).fetchone()
            assert found is not None
            matched, unknown_ids = int(found[0]), list(found[1] or [])
        else:
            unknown_ids = frame.column("request_id").unique().to_pylist()
        replaced = 0
        if label_keys:
            with local_files(store, label_keys) as paths:
                row = con.execute(
                    'SELECT count(*) FROM new_labels n JOIN (SELECT DISTINCT request_id, "row"'
                    " FROM read_parquet(?, union_by_name = true, hive_partitioning = false)) o"
                    ' ON n.request_id = o.request_id AND n."row" = o."row"',
                    [paths],
                ).fetchone()
            replaced = int(row[0]) if row else 0
        return matched, replaced, sorted(unknown_ids)
    finally:
        con.close()


def _check_label_type(stores: Stores, frame: Any, keys: list[str]) -> None:
    import pyarrow.parquet as pq

    if not keys:
        return
    with local_files(stores.blobs.bytes, keys[-1:]) as paths:
        earlier = pq.read_schema(paths[0]).field("label").type
    new = frame.schema.field("label").type
    if _kind(earlier) != _kind(new):
        raise InvalidInputError(
            f"these labels are {_kind(new)} values, but the deployment's earlier labels are "
            f"{_kind(earlier)} values; log labels of one type (cast the label column)"
        )


def write_labels(
    stores: Stores,
    deployment: str,
    data: Any,
    *,
    id_column: str = "request_id",
    row_column: str | None = "row",
    label_column: str = "label",
) -> LabelsReport:
    """:func:`log_labels` against given stores (what the tracking server's route calls)."""
    import pyarrow as pa

    check_deployment(stores, deployment)
    frame, duplicates, missing = _prepare(_table(data), id_column, row_column, label_column)
    if len(frame) == 0:
        raise InvalidInputError(
            "there are no labels to store: every row's label is missing"
            if missing
            else "there are no labels to store: the input has no rows"
        )
    store = stores.blobs.bytes
    keys = list_keys(store, LABELS, deployment)
    _check_label_type(stores, frame, keys)
    matched, replaced, unknown = _joins(stores, deployment, frame, keys)
    now = datetime.now(tz=UTC)
    logged = pa.array([int(now.timestamp() * 1e6)] * len(frame), pa.timestamp("us", tz="UTC"))
    key = new_key(LABELS, deployment, now.strftime("%Y-%m-%d"))
    put_table(store, key, frame.append_column("logged_at", logged))
    return LabelsReport(
        deployment, len(frame), matched, len(frame) - matched, unknown[:_EXAMPLES],
        duplicates, replaced, missing, key,
    )  # fmt: skip


def log_labels(
    deployment: str,
    labels: Any,
    *,
    id_column: str = "request_id",
    row_column: str | None = "row",
    label_column: str = "label",
    client: TrackingClient | None = None,
) -> LabelsReport:
    """Store ground-truth labels that arrived after the predictions, keyed by request id.

    Args:
        deployment: the deployment whose predictions they label.
        labels: a table (pandas, polars, Arrow, a dict of columns) or a Parquet or CSV path
            with a request id column, a label column and optionally a row column (the
            row's index inside its request; 0 when there is none).
        id_column, row_column, label_column: the column names.

    Returns:
        A :class:`LabelsReport`: stored, matched and unknown counts, duplicates.

    Raises:
        InvalidInputError: a missing id or label column, ids missing, bad row indexes, no
            labels, or labels of another type than the deployment's earlier ones.
        DeploymentNotFoundError: no such deployment and no prediction log for it.
    """
    return write_labels(
        _client(client).stores, deployment, labels,
        id_column=id_column, row_column=row_column, label_column=label_column,
    )  # fmt: skip


def read_labels(deployment: str, client: TrackingClient | None = None) -> pd.DataFrame:
    """The latest label of every request id + row of a deployment, as a DataFrame with
    ``request_id``, ``row`` and ``label`` (empty when none was logged)."""
    import duckdb
    import pandas as pd

    stores = _client(client).stores
    keys = list_keys(stores.blobs.bytes, LABELS, deployment)
    if not keys:
        return pd.DataFrame({"request_id": [], "row": [], "label": []})
    with local_files(stores.blobs.bytes, keys) as paths:
        con = duckdb.connect()
        try:
            sql = latest_labels_sql() + ' ORDER BY request_id, "row"'
            return con.execute(sql, [paths]).df()
        finally:
            con.close()


# -- business metrics ---------------------------------------------------------------------
def _moment(value: datetime | date | str | None) -> datetime:
    if value is None:
        return datetime.now(tz=UTC)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidInputError(
                f"timestamp {value!r} is not ISO-8601 (e.g. 2026-11-01T08:30:00Z)"
            ) from exc
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise InvalidInputError(f"timestamp must be a datetime or ISO-8601 text, got {value!r}")


def write_business_metric(
    stores: Stores,
    deployment: str,
    name: str,
    value: float,
    timestamp: datetime | date | str | None = None,
) -> dict[str, Any]:
    """:func:`log_business_metric` against given stores; returns what was stored."""
    import pyarrow as pa

    from loopml.entities.validation import check_key

    check_deployment(stores, deployment)
    check_key("business metric", name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInputError(f"a business metric's value must be a finite number, got {value!r}")
    moment = _moment(timestamp)
    us = int(moment.timestamp() * 1e6)
    now_us = int(datetime.now(tz=UTC).timestamp() * 1e6)
    table = pa.table(
        {
            "name": pa.array([name], pa.string()),
            "value": pa.array([float(value)], pa.float64()),
            "timestamp": pa.array([us], pa.timestamp("us", tz="UTC")),
            "logged_at": pa.array([now_us], pa.timestamp("us", tz="UTC")),
        }
    )
    key = new_key(BUSINESS, deployment, day_of(us // 1000))
    put_table(stores.blobs.bytes, key, table)
    return {"deployment": deployment, "name": name, "value": float(value),
            "timestamp": moment.astimezone(UTC).isoformat(), "key": key}  # fmt: skip


def log_business_metric(
    deployment: str,
    name: str,
    value: float,
    timestamp: datetime | date | str | None = None,
    *,
    client: TrackingClient | None = None,
) -> dict[str, Any]:
    """Log a user-defined metric (revenue per ride, conversions) against a deployment at
    ``timestamp`` (default now); checks aggregate it per window beside the model's metrics,
    and policies can bound it (``business.revenue_per_ride < 10``).

    Raises:
        InvalidInputError: a bad name, a value that is not a finite number, a bad time.
        DeploymentNotFoundError: no such deployment and no prediction log for it.
    """
    return write_business_metric(_client(client).stores, deployment, name, value, timestamp)


def read_business_metrics(
    deployment: str,
    since: datetime | date | str | None = None,
    until: datetime | date | str | None = None,
    client: TrackingClient | None = None,
) -> pd.DataFrame:
    """A deployment's business metric values (``name``, ``value``, ``timestamp``), oldest
    first; ``until`` is exclusive."""
    import duckdb
    import pandas as pd

    stores = _client(client).stores
    start = None if since is None else _moment(since)
    end = None if until is None else _moment(until)
    keys = list_keys(
        stores.blobs.bytes, BUSINESS, deployment,
        None if start is None else start.astimezone(UTC).strftime("%Y-%m-%d"),
        None if end is None else end.astimezone(UTC).strftime("%Y-%m-%d"),
    )  # fmt: skip
    if not keys:
        return pd.DataFrame({"name": [], "value": [], "timestamp": []})
    where, params = [], []
    for clause, bound in (("timestamp >= ?", start), ("timestamp < ?", end)):
        if bound is not None:
            where.append(clause)
            params.append(bound)
    with local_files(stores.blobs.bytes, keys) as paths:
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            sql = (
                "SELECT name, value, timestamp FROM read_parquet(?, union_by_name = true,"
                " hive_partitioning = false)"
                + (f" WHERE {' AND '.join(where)}" if where else "")
                + " ORDER BY timestamp, name"
            )
            return con.execute(sql, [paths, *params]).df()
        finally:
            con.close()
