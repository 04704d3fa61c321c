"""Windows of the prediction log: their bounds, and their rows streamed into one local
Parquet file that the drift tests and the quality checks read column by column.

Windows are aligned to the epoch in UTC: a one-hour window starts on the hour, a day at
midnight. A window counts as complete ``delay`` seconds after its end, so the server's last
flush of the log (every ``prediction_log_flush_interval`` seconds) is in.

The window's rows are selected by DuckDB over the date partitions the window touches
(``timestamp`` in ``[start, end)``, the monitor's routes) and written batch by batch, so
a window of any size is never held in memory whole. In that file the ``input.<feature>``
columns are named ``<feature>`` (as in the reference), the ``output.<name>`` columns keep
their names, and the log's own columns start with ``__``. Rows keep the log's order (DuckDB
preserves the order of the files, which are sorted by name), so the same window always gives
the same file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError
from loopml.monitoring.logfiles import (
    PREDICTIONS,
    arrow_reader,
    arrow_table,
    day_of,
    list_keys,
    local_files,
)

if TYPE_CHECKING:
    from loopml.storage import Stores

__all__ = ["Window", "WindowData", "align", "iso", "parse_time", "read_window", "window_of"]

ID, ROW, STATUS, ROUTE, VERSION = "__request_id", "__row", "__status", "__route", "__version"
_BATCH_ROWS = 131_072


def parse_time(value: datetime | date | str | int | float) -> int:
    """Milliseconds since the epoch from a datetime (naive means UTC), a date, ISO-8601
    text, or a number of milliseconds.

    Raises:
        InvalidInputError: none of these.
    """
    if isinstance(value, bool):
        raise InvalidInputError(f"{value!r} is not a time")
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidInputError(
                f"{text!r} is not an ISO-8601 time (e.g. 2026-11-01T08:00:00Z)"
            ) from exc
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() * 1000)
    raise InvalidInputError(f"{value!r} is not a time; give a datetime or ISO-8601 text")


def iso(ms: int) -> str:
    """``2026-11-01T08:00:00Z``."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Window:
    """One window: ``[start, end)`` in ms since the epoch."""

    start: int
    end: int

    @property
    def label(self) -> str:
        """``2026-11-01T08:00:00Z/2026-11-01T09:00:00Z`` (ISO-8601 interval)."""
        return f"{iso(self.start)}/{iso(self.end)}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: the bounds in ms and as ISO-8601 text."""
        return {"start": iso(self.start), "end": iso(self.end),
                "start_ms": self.start, "end_ms": self.end}  # fmt: skip


def align(moment_ms: int, window: int) -> int:
    """The start of the window (of ``window`` seconds) holding a moment."""
    size = window * 1000
    return moment_ms - moment_ms % size


def window_of(start_ms: int, window: int) -> Window:
    """The window starting at (or holding) ``start_ms``."""
    start = align(start_ms, window)
    return Window(start, start + window * 1000)


@dataclass
class WindowData:
    """A window's rows in a local Parquet file, and counts of what the log held.

    Attributes:
        path: the file (features, outputs, the log's columns), or None with no rows.
        rows: rows with features: answered (2xx) and failed by the model (5xx).
        features: feature columns (the ``input.`` prefix dropped), in log order.
        outputs: ``output.<name>`` columns.
        counts: ``rows_logged``, ``requests``, ``rejected_rows`` (4xx: the input did not
            fit the signature, so no features), ``failed_requests`` (5xx),
            ``error_rate``, ``routes`` (rows per route), ``model_versions``.
    """

    path: Path | None
    rows: int
    features: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_window(
    stores: Stores,
    deployment: str,
    window: Window,
    routes: Sequence[str],
    folder: Path,
    columns: Sequence[str] | None = None,
) -> WindowData:
    """Stream a window's rows of the prediction log into ``folder/window.parquet``.

    Args:
        columns: only these log columns besides the log's own (default: every
            ``input.`` and ``output.`` column).
    """
    import duckdb
    import pyarrow.parquet as pq

    store = stores.blobs.bytes
    keys = list_keys(store, PREDICTIONS, deployment, day_of(window.start), day_of(window.end - 1))
    if not keys:
        return WindowData(None, 0, counts=_no_counts())
    start = datetime.fromtimestamp(window.start / 1000, tz=UTC)
    end = datetime.fromtimestamp(window.end / 1000, tz=UTC)
    with local_files(store, keys) as paths:
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            source = "read_parquet(?, union_by_name = true, hive_partitioning = false)"
            names = arrow_table(con, f"SELECT * FROM {source} LIMIT 0", [paths])
            logged = names.column_names
            marks = ", ".join("?" for _ in routes)
            where = f"timestamp >= ? AND timestamp < ? AND route IN ({marks})"
            params: list[Any] = [paths, start, end, *routes]
            counts = _counts(con, source, where, params)
            wanted = [c for c in logged if c.startswith(("input.", "output."))]
            if columns is not None:
                wanted = [c for c in wanted if c in set(columns)]
            features = [c[len("input.") :] for c in wanted if c.startswith("input.")]
            outputs = [c for c in wanted if c.startswith("output.")]
            select = [
                f"request_id AS {ID}", f'"row" AS {ROW}', f"status AS {STATUS}",
                f"route AS {ROUTE}", f"model_version AS {VERSION}",
                *(f"{_quote(c)} AS {_quote(c[len('input.'):])}" if c.startswith("input.")
                  else _quote(c) for c in wanted),
            ]  # fmt: skip
            sql = (
                f"SELECT {', '.join(select)} FROM {source} WHERE {where}"
                " AND NOT (status >= 400 AND status < 500)"
            )
            reader = arrow_reader(con, sql, params, _BATCH_ROWS)
            path = folder / "window.parquet"
            rows = 0
            import pyarrow as pa

            text = [f.name for f in reader.schema if pa.types.is_string(f.type)]
            # a scratch file read once: no compression, and dictionaries only for text
            # (dictionary-encoding floats is most of the time of writing them)
            options = {"compression": "none", "use_dictionary": text, "write_statistics": False}
            with pq.ParquetWriter(path, reader.schema, **options) as writer:
                for batch in reader:
                    if batch.num_rows:
                        writer.write_batch(batch)
                        rows += batch.num_rows
        finally:
            con.close()
    return WindowData(path if rows else None, rows, features, outputs, counts)


def _no_counts() -> dict[str, Any]:
    return {"rows_logged": 0, "requests": 0, "rejected_rows": 0, "failed_requests": 0,
            "error_rate": 0.0, "routes": {}, "model_versions": []}  # fmt: skip


def _counts(con: Any, source: str, where: str, params: list[Any]) -> dict[str, Any]:
    row = con.execute(
        "SELECT count(*), count(DISTINCT request_id),"
        " count(*) FILTER (WHERE status >= 400 AND status < 500),"
        " count(DISTINCT request_id) FILTER (WHERE status >= 500),"
        " list(DISTINCT model_name || '/' || CAST(model_version AS VARCHAR))"
        f"  FILTER (WHERE model_version IS NOT NULL)"
        f" FROM {source} WHERE {where}",
        params,
    ).fetchone()
    routes = con.execute(
        f"SELECT route, count(*) FROM {source} WHERE {where} GROUP BY route ORDER BY route",
        params,
    ).fetchall()
    logged, requests, rejected, failed, versions = row
    return {
        "rows_logged": int(logged),
        "requests": int(requests),
        "rejected_rows": int(rejected),
        "failed_requests": int(failed),
        "error_rate": (failed / requests) if requests else 0.0,
        "routes": {r: int(n) for r, n in routes},
        "model_versions": sorted(versions or []),
    }
