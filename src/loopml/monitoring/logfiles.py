"""The Parquet logs monitoring reads and writes under the artifact root, through the byte
store (a folder, S3, or a loopml server alike)::

    predictions/<deployment>/date=<YYYY-MM-DD>/<unix_ms>-<pid>-<seq>.parquet   (the server's)
    labels/<deployment>/date=<YYYY-MM-DD>/<unix_ms>-<pid>-<seq>.parquet        (when logged)
    business-metrics/<deployment>/date=<YYYY-MM-DD>/<unix_ms>-<pid>-<seq>.parquet  (by value time)

Each file is written whole in one atomic put, so a reader sees it complete or not at all.
DuckDB reads local files where they are; files of S3 or a server are fetched into a
temporary folder first.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import DeploymentNotFoundError

if TYPE_CHECKING:
    from loopml.storage import Stores
    from loopml.storage.artifacts import ByteStore

__all__ = [
    "BUSINESS",
    "LABELS",
    "PREDICTIONS",
    "arrow_reader",
    "arrow_table",
    "check_deployment",
    "day_of",
    "list_keys",
    "local_files",
    "new_key",
    "put_table",
]

PREDICTIONS = "predictions"
LABELS = "labels"
BUSINESS = "business-metrics"
_seq = itertools.count()


def day_of(ms: int) -> str:
    """The UTC date partition (``YYYY-MM-DD``) of a time in ms since the epoch."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def new_key(prefix: str, deployment: str, day: str) -> str:
    """A new file's key: ``<prefix>/<deployment>/date=<day>/<ms>-<pid>-<seq>.parquet``."""
    ms = int(time.time() * 1000)
    return f"{prefix}/{deployment}/date={day}/{ms:013d}-{os.getpid()}-{next(_seq)}.parquet"


def list_keys(
    store: ByteStore, prefix: str, deployment: str, first_day: str | None = None,
    last_day: str | None = None,
) -> list[str]:  # fmt: skip
    """Keys of a deployment's log files in the date partitions from ``first_day`` to
    ``last_day`` (inclusive), sorted."""
    keys = []
    for key in store.list(f"{prefix}/{deployment}/"):
        parts = key.split("/")
        if len(parts) != 4 or not parts[2].startswith("date=") or not key.endswith(".parquet"):
            continue
        day = parts[2][len("date=") :]
        if (first_day and day < first_day) or (last_day and day > last_day):
            continue
        keys.append(key)
    return sorted(keys)


@contextlib.contextmanager
def local_files(store: ByteStore, keys: list[str]) -> Iterator[list[str]]:
    """Local paths of these keys for DuckDB: the files themselves in a local folder, else
    copies in a temporary folder removed afterwards."""
    from loopml.storage.artifacts import LocalByteStore

    if isinstance(store, LocalByteStore):
        yield [str(store.path_for(k)) for k in keys]
        return
    with tempfile.TemporaryDirectory(prefix="loopml-monitoring-") as folder:
        paths = []
        for i, key in enumerate(keys):
            path = Path(folder) / f"{i:06d}-{key.rsplit('/', 1)[-1]}"
            store.get_file(key, path)
            paths.append(str(path))
        yield paths


def put_table(store: ByteStore, key: str, table: Any) -> int:
    """Write an Arrow table as one Parquet object (atomic); returns its size in bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    data = bytes(sink.getvalue().to_pybytes())
    store.put_bytes(key, data)
    return len(data)


def check_deployment(stores: Stores, deployment: str) -> str:
    """The name, when it has a deployment record or a prediction log.

    Raises:
        InvalidNameError: not a valid name.
        DeploymentNotFoundError: neither exists.
    """
    from loopml.storage.metadata.datasets_base import check_dataset_name

    check_dataset_name(deployment)
    with contextlib.suppress(DeploymentNotFoundError):
        stores.metadata.get_deployment(deployment)
        return deployment
    if any(True for _ in list_keys(stores.blobs.bytes, PREDICTIONS, deployment)):
        return deployment
    raise DeploymentNotFoundError(
        f"no deployment named {deployment!r}: it has no record (`loopml deploy list`) and no "
        "prediction log; create it with `loopml deploy create`, or serve a model under that "
        "name (`loopml serve MODEL --name NAME`) first"
    )


def arrow_table(con: Any, sql: str, params: list[Any] | None = None) -> Any:
    """A DuckDB query's result as an Arrow table (through a relation: no extra copy)."""
    relation = con.sql(sql, params=params)
    to_table = getattr(relation, "to_arrow_table", None) or relation.arrow
    return to_table()


def arrow_reader(con: Any, sql: str, params: list[Any] | None, batch_rows: int) -> Any:
    """A DuckDB query's result as a stream of Arrow record batches."""
    relation = con.sql(sql, params=params)
    to_reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
    return to_reader(batch_rows)
