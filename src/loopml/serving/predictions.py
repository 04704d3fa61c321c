"""Reading the prediction log back: DuckDB over the Parquet files of one deployment.

    df = read_predictions("pricing", since=timedelta(hours=1), route="canary")
    labels = pd.read_parquet("labels.parquet")              # request_id, row, label
    joined = df.merge(labels, on=["request_id", "row"])     # late labels join on the id

Only the date partitions between ``since`` and ``until`` are listed and read. Files of a
local artifact folder are read where they are; from S3 or a loopml server they are fetched
into a temporary folder first.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError
from loopml.serving.predlog import PREFIX

if TYPE_CHECKING:
    import pandas as pd

    from loopml.tracking.client import TrackingClient

__all__ = ["BASE_COLUMNS", "read_predictions", "summarize_predictions"]

TimeBound = datetime | date | str | timedelta | None
BASE_COLUMNS = (
    "request_id",
    "row",
    "timestamp",
    "deployment",
    "model_name",
    "model_version",
    "model_run_id",
    "route",
    "status",
    "latency_ms",
    "error",
)
_ROUTES = ("primary", "canary", "shadow")


def _when(name: str, value: TimeBound) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return datetime.now(tz=UTC) - value
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidInputError(
                f"{name}={value!r} is not an ISO-8601 date or time (e.g. 2026-11-01 or "
                "2026-11-01T08:00:00Z)"
            ) from exc
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise InvalidInputError(
        f"{name} must be a datetime, a date, ISO-8601 text or a timedelta, got {value!r}"
    )


def _files(
    deployment: str, since: datetime | None, until: datetime | None, client: TrackingClient
) -> tuple[list[str], tempfile.TemporaryDirectory[str] | None]:
    from loopml.storage.artifacts import LocalByteStore

    store = client.stores.blobs.bytes
    keys = []
    for key in store.list(f"{PREFIX}/{deployment}"):
        parts = key.split("/")
        if len(parts) != 4 or not parts[2].startswith("date=") or not key.endswith(".parquet"):
            continue
        day = parts[2][len("date=") :]
        if since is not None and day < since.astimezone(UTC).strftime("%Y-%m-%d"):
            continue
        if until is not None and day > until.astimezone(UTC).strftime("%Y-%m-%d"):
            continue
        keys.append(key)
    keys.sort()
    if isinstance(store, LocalByteStore):
        return [str(store.path_for(k)) for k in keys], None
    tmp = tempfile.TemporaryDirectory(prefix="loopml-predictions-")
    paths = []
    for i, key in enumerate(keys):
        path = Path(tmp.name) / f"{i:06d}.parquet"
        store.get_file(key, path)
        paths.append(str(path))
    return paths, tmp


def _query(
    deployment: str,
    select: str,
    *,
    since: TimeBound,
    until: TimeBound,
    route: str | None,
    model_version: int | None,
    client: TrackingClient | None,
    tail: str = "",
    per_request: bool = False,
    request_id: str | None = None,
) -> pd.DataFrame | None:
    from loopml.storage.metadata.datasets_base import check_dataset_name

    check_dataset_name(deployment)
    if route is not None and route not in _ROUTES:
        raise InvalidInputError(f"route must be one of {', '.join(_ROUTES)}, got {route!r}")
    if model_version is not None and (
        isinstance(model_version, bool) or not isinstance(model_version, int)
    ):
        raise InvalidInputError(f"model_version must be a version number, got {model_version!r}")
    start, end = _when("since", since), _when("until", until)
    if client is None:
        from loopml.tracking.fluent import get_client

        client = get_client()
    paths, tmp = _files(deployment, start, end, client)
    if not paths:
        return None
    import duckdb

    where: list[str] = ["row = 0"] if per_request else []  # one row per request
    params: list[Any] = []
    for clause, value in (
        ("timestamp >= ?", start),
        ("timestamp < ?", end),
        ("route = ?", route),
        ("model_version = ?", model_version),
        ("request_id = ?", request_id),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    sql = (
        f"SELECT {select} FROM read_parquet(?, union_by_name = true, hive_partitioning = false)"
        + (f" WHERE {' AND '.join(where)}" if where else "")
        + tail
    )
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(sql, [paths, *params]).df()
    finally:
        con.close()
        if tmp is not None:
            tmp.cleanup()


def read_predictions(
    deployment: str,
    *,
    since: TimeBound = None,
    until: TimeBound = None,
    route: str | None = None,
    model_version: int | None = None,
    client: TrackingClient | None = None,
) -> pd.DataFrame:
    """The logged predictions of a deployment, one row per predicted input row, oldest first.

    Args:
        since, until: a datetime (naive means UTC), a date, ISO-8601 text, or a timedelta
            back from now; ``until`` is exclusive.
        route: only ``primary``, ``canary`` or ``shadow`` rows.
        model_version: only rows of this registered version.

    Returns:
        A DataFrame with ``request_id``, ``row``, ``timestamp`` (UTC), ``deployment``,
        ``model_name``, ``model_version``, ``model_run_id``, ``route``, ``status``,
        ``latency_ms``, ``error`` and the ``input.<feature>`` / ``output.<name>`` columns
        (empty, with the base columns, when nothing was logged).

    Raises:
        InvalidInputError: a malformed name, time, route or version.
    """
    import pandas as pd

    df = _query(
        deployment,
        "*",
        since=since,
        until=until,
        route=route,
        model_version=model_version,
        client=client,
        tail=" ORDER BY timestamp, request_id, row",
    )
    if df is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in BASE_COLUMNS})
    return df.reset_index(drop=True)


def summarize_predictions(
    deployment: str,
    *,
    since: TimeBound = None,
    client: TrackingClient | None = None,
) -> list[dict[str, Any]]:
    """Per route and model version: requests, client and server errors, latency p50/p99 (ms)
    — from the prediction log, for a deployment whose server is not running."""
    df = _query(
        deployment,
        "route, model_name, model_version, count(*) AS requests, "
        "count(*) FILTER (WHERE status >= 400 AND status < 500) AS client_errors, "
        "count(*) FILTER (WHERE status >= 500) AS server_errors, "
        "quantile_cont(latency_ms, 0.5) AS latency_p50_ms, "
        "quantile_cont(latency_ms, 0.99) AS latency_p99_ms, "
        "min(timestamp) AS first, max(timestamp) AS last",
        since=since,
        until=None,
        route=None,
        model_version=None,
        client=client,
        tail=" GROUP BY ALL ORDER BY route, model_name, model_version",
        per_request=True,
    )
    if df is None:
        return []
    out = []
    for record in df.to_dict("records"):
        version = record["model_version"]
        out.append(
            {
                "route": record["route"],
                "model": record["model_name"] or "",
                "version": "" if version is None or version != version else str(int(version)),
                "requests": int(record["requests"]),
                "client_errors": int(record["client_errors"]),
                "server_errors": int(record["server_errors"]),
                "latency_p50_ms": round(float(record["latency_p50_ms"]), 3),
                "latency_p99_ms": round(float(record["latency_p99_ms"]), 3),
                "first": record["first"].isoformat(),
                "last": record["last"].isoformat(),
            }
        )
    return out
