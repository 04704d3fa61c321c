"""The prediction log: every request's features, outputs and model version, as Parquet.

Layout under the artifact root (written through the byte store, so a folder, S3 and a loopml
server work alike; a file is complete when it appears)::

    predictions/<deployment>/date=<YYYY-MM-DD>/<unix_ms>-<pid>-<seq>.parquet

One row per predicted input row: ``request_id``, ``row``, ``timestamp`` (UTC, when the
request arrived), ``deployment``, ``model_name``, ``model_version``, ``model_run_id``,
``route`` (primary, canary, shadow), ``status``, ``latency_ms``, ``error``, then
``input.<feature>`` and ``output.<name>`` columns. A request that failed validation is one
row without features.

The writer is a background thread behind a bounded queue: the response path only appends.
When the queue is full, the entry is dropped and counted, never waited for. Rows are flushed
every ``flush_interval`` seconds, earlier when the queue is half full or ``max_rows`` rows
wait, and on close (nothing queued before a clean stop is lost).
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loopml.storage.artifacts import ByteStore

__all__ = ["PREFIX", "LogEntry", "PredictionLogger", "log_key"]

log = logging.getLogger("loopml.serving")

PREFIX = "predictions"


@dataclass(slots=True)
class LogEntry:
    """One request (or a shadow's answer to it), as the response path hands it over."""

    request_id: str
    timestamp_us: int
    route: str
    model_name: str | None
    model_version: int | None
    model_run_id: str | None
    status: int
    latency_ms: float
    error: str | None
    rows: int
    features: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None


_seq = itertools.count()


def log_key(deployment: str, date: str, now_ms: int | None = None) -> str:
    """The key of a new log file: ``predictions/<deployment>/date=<date>/<ms>-<pid>-<seq>``."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return f"{PREFIX}/{deployment}/date={date}/{ms}-{os.getpid()}-{next(_seq)}.parquet"


class PredictionLogger:
    """Appends :class:`LogEntry` rows to Parquet files from a background thread.

    The response path appends to a list and returns: no lock, no wake-up of the writer per
    request (a thread woken for every request would take the interpreter from the event
    loop thousands of times a second). The writer wakes every ``flush_interval`` seconds,
    or early when half the queue or ``max_rows`` rows are waiting, and writes what is there.

    Args:
        queue_size: entries that may wait for the writer; past that, entries are dropped.
        on_drop: called (from the response path) for every entry dropped on a full queue.
        on_written: called with the row count of every file written.
    """

    def __init__(
        self,
        store: ByteStore,
        deployment: str,
        queue_size: int = 10_000,
        flush_interval: float = 5.0,
        max_rows: int = 100_000,
        on_drop: Callable[[], None] = lambda: None,
        on_written: Callable[[int], None] = lambda rows: None,
    ) -> None:
        self.store = store
        self.deployment = deployment
        self.queue_size = queue_size
        self.flush_interval = flush_interval
        self.max_rows = max_rows
        self.dropped = 0
        self.written_rows = 0
        self.write_errors = 0
        self._on_drop = on_drop
        self._on_written = on_written
        self._pending: deque[LogEntry] = deque()
        self._pending_rows = 0  # a hint for waking early; exactness is not needed
        self._early = max(1, queue_size // 2)
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the writer thread (once)."""
        with self._lock:
            if self._thread is None:
                # Imported now, at start-up, not at the first flush while requests wait.
                import pyarrow.parquet  # noqa: F401

                self._thread = threading.Thread(
                    target=self._run, name=f"loopml-predlog-{self.deployment}", daemon=True
                )
                self._thread.start()

    def record(self, entry: LogEntry) -> bool:
        """Queue an entry; False (and counted) when the queue is full. Never blocks."""
        pending = self._pending
        if len(pending) >= self.queue_size:
            self.dropped += 1
            self._on_drop()
            return False
        pending.append(entry)
        self._pending_rows += entry.rows
        if len(pending) >= self._early or self._pending_rows >= self.max_rows:
            self._wake.set()
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued so far, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping = True
        self._wake.set()
        thread.join(timeout)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            stopping = self._stopping
            self._drain()
            if stopping:
                self._drain()  # what was appended while the last batch was written
                return

    def _drain(self) -> None:
        pending = self._pending
        taken = [pending.popleft() for _ in range(len(pending))]
        self._pending_rows = 0
        batch: list[LogEntry] = []
        rows = 0
        for entry in taken:  # files of at most max_rows rows (a request is never split)
            if batch and rows + entry.rows > self.max_rows:
                self._flush(batch)
                batch, rows = [], 0
            batch.append(entry)
            rows += entry.rows
        self._flush(batch)

    def _flush(self, entries: list[LogEntry]) -> None:
        if not entries:
            return
        by_date: dict[str, list[LogEntry]] = {}
        for entry in entries:
            day = datetime.fromtimestamp(entry.timestamp_us / 1e6, tz=UTC).strftime("%Y-%m-%d")
            by_date.setdefault(day, []).append(entry)
        for day, group in by_date.items():
            try:
                data = _parquet(self.deployment, group)
                self.store.put_bytes(log_key(self.deployment, day), data)
            except Exception:
                # The log must never take the server down; the loss is counted and logged.
                self.write_errors += 1
                lost = sum(e.rows for e in group)
                log.exception("could not write %d prediction log rows", lost)
                continue
            count = sum(e.rows for e in group)
            self.written_rows += count
            self._on_written(count)


def _layout(entry: LogEntry) -> tuple[Any, ...]:
    features, outputs = entry.features, entry.outputs
    return (
        None if features is None else [(n, a.dtype, a.shape[1:]) for n, a in features.items()],
        None if outputs is None else [(n, a.dtype, a.shape[1:]) for n, a in outputs.items()],
    )


def _parquet(deployment: str, entries: list[LogEntry]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    groups: dict[Any, list[LogEntry]] = {}
    for entry in entries:
        features, outputs = _layout(entry)
        key = (
            None if features is None else tuple(features),
            None if outputs is None else tuple(outputs),
        )
        groups.setdefault(key, []).append(entry)
    tables = [_table(deployment, g) for g in groups.values()]
    table = (
        tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def _table(deployment: str, entries: list[LogEntry]) -> Any:
    import numpy as np
    import pyarrow as pa

    counts = np.array([e.rows for e in entries], dtype=np.int64)
    total = int(counts.sum())

    def each(values: list[Any], kind: Any) -> Any:
        return pa.array(np.repeat(np.array(values, dtype=object), counts), type=kind)

    columns: dict[str, Any] = {
        "request_id": each([e.request_id for e in entries], pa.string()),
        "row": pa.array(  # 0..rows-1 within each request
            (np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)).astype(np.int32),
            type=pa.int32(),
        ),
        "timestamp": pa.array(
            np.repeat(np.array([e.timestamp_us for e in entries], dtype=np.int64), counts),
            type=pa.timestamp("us", tz="UTC"),
        ),
        "deployment": pa.array([deployment] * total, type=pa.string()),
        "model_name": each([e.model_name for e in entries], pa.string()),
        "model_version": each([e.model_version for e in entries], pa.int64()),
        "model_run_id": each([e.model_run_id for e in entries], pa.string()),
        "route": each([e.route for e in entries], pa.string()),
        "status": pa.array(
            np.repeat(np.array([e.status for e in entries], dtype=np.int32), counts),
            type=pa.int32(),
        ),
        "latency_ms": pa.array(
            np.repeat(np.array([e.latency_ms for e in entries], dtype=np.float64), counts)
        ),
        "error": each([e.error for e in entries], pa.string()),
    }
    first = entries[0]
    for prefix, arrays in (("input", first.features), ("output", first.outputs)):
        for name in arrays or {}:
            parts = [
                getattr(e, "features" if prefix == "input" else "outputs")[name] for e in entries
            ]
            columns[f"{prefix}.{name}"] = _arrow(np.concatenate(parts))
    return pa.table(columns)


def _arrow(values: Any) -> Any:
    import pyarrow as pa

    if values.ndim > 1:
        return pa.array([row.tolist() for row in values])
    try:
        return pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # A column of mixed Python values (a model without a signature): keep it as text.
        return pa.array([None if v is None else str(v) for v in values.tolist()])
