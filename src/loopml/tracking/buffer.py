"""Client-side buffering of metric points, flushed to the store in batches.

A ``log_metric`` call appends to a list and returns: no database round trip per point.
Points are written in one transaction per run when the buffer holds ``max_points``, when
``interval`` seconds have passed (a daemon thread), on ``flush()``, when a run ends and at
interpreter exit. A write that fails with a transient StoreError is retried on the next
flush; any other error is kept and raised from the next ``add`` or ``flush`` call, so the
user sees it in their own thread.
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from collections.abc import Callable

from loopml.entities import Metric
from loopml.errors import LoopmlError, StoreError

__all__ = ["MetricBuffer"]

WriteFn = Callable[[str, list[Metric]], None]
_LIVE: weakref.WeakSet[MetricBuffer] = weakref.WeakSet()
_MAX_TRANSIENT_RETRIES = 5


class MetricBuffer:
    """Thread-safe buffer of metric points per run.

    Args:
        write: called with (run_id, points) to store a batch; must be all-or-nothing.
        max_points: buffered points that trigger a flush in the caller's thread.
        interval: seconds between background flushes.
    """

    def __init__(self, write: WriteFn, max_points: int = 10_000, interval: float = 1.0) -> None:
        self._write = write
        self._max_points = max_points
        self._interval = interval
        self._init_state()
        _LIVE.add(self)

    def _init_state(self) -> None:
        self._lock = threading.Lock()  # guards the pending dict
        self._write_lock = threading.Lock()  # one batch write at a time, so flush() waits
        self._pending: dict[str, list[Metric]] = {}
        self._count = 0
        self._error: LoopmlError | None = None
        self._retries = 0
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def add(self, run_id: str, metric: Metric) -> None:
        """Buffer one point; may flush in this thread when the buffer is full."""
        if self._pid != os.getpid():  # a forked child starts with an empty buffer
            self._init_state()
        if self._error is not None:
            self._raise_pending_error()
        with self._lock:
            bucket = self._pending.get(run_id)
            if bucket is None:
                self._pending[run_id] = [metric]
            else:
                bucket.append(metric)
            self._count += 1
            full = self._count >= self._max_points
            if self._thread is None:
                self._start_thread()
        if full:
            self.flush()

    def add_many(self, run_id: str, metrics: list[Metric]) -> None:
        """Buffer several points of one run."""
        if not metrics:
            return
        with self._lock:
            self._pending.setdefault(run_id, []).extend(metrics)
            self._count += len(metrics)
            full = self._count >= self._max_points
            if self._thread is None:
                self._start_thread()
        if full:
            self.flush()

    def pending(self) -> int:
        """How many points are waiting to be written."""
        return self._count

    def flush(self, run_id: str | None = None) -> None:
        """Write buffered points (of one run, or all) and wait until they are stored.

        Raises:
            LoopmlError: a write failed (now, or earlier in the background).
        """
        self._flush(run_id)
        if self._error is not None:
            self._raise_pending_error()

    def discard(self, run_id: str) -> int:
        """Drop a run's buffered points (used when the run is deleted); returns how many."""
        with self._lock:
            dropped = self._pending.pop(run_id, [])
            self._count -= len(dropped)
        return len(dropped)

    def _raise_pending_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _flush(self, run_id: str | None) -> None:
        with self._write_lock:
            with self._lock:
                if run_id is None:
                    batches, self._pending = self._pending, {}
                else:
                    batches = {run_id: self._pending.pop(run_id)} if run_id in self._pending else {}
                self._count -= sum(len(v) for v in batches.values())
            for rid, points in batches.items():
                try:
                    self._write(rid, points)
                    self._retries = 0
                except StoreError as exc:
                    self._retries += 1
                    if self._retries > _MAX_TRANSIENT_RETRIES:
                        self._error = exc
                    else:
                        self._requeue(rid, points)
                except LoopmlError as exc:
                    self._error = exc

    def _requeue(self, run_id: str, points: list[Metric]) -> None:
        with self._lock:
            self._pending[run_id] = points + self._pending.get(run_id, [])
            self._count += len(points)

    def _start_thread(self) -> None:
        ref = weakref.ref(self)
        thread = threading.Thread(
            target=_background_loop,
            args=(ref, self._wake, self._interval),
            name="loopml-metric-flush",
            daemon=True,
        )
        self._thread = thread
        thread.start()

    def close(self) -> None:
        """Flush what is left and stop the background thread."""
        self._wake.set()
        self._flush(None)


def _background_loop(
    ref: weakref.ref[MetricBuffer], wake: threading.Event, interval: float
) -> None:
    while not wake.wait(interval):
        buffer = ref()
        if buffer is None:
            return
        if buffer.pending():
            buffer._flush(None)
        del buffer


@atexit.register
def _flush_all_at_exit() -> None:
    for buffer in list(_LIVE):
        if buffer._pid == os.getpid():
            buffer._flush(None)
