"""Checking again the windows whose check failed or found no predictions.

    lm.monitoring.retry_failed("pricing")                 # every failed window, now
    lm.monitoring.retry_failed("pricing", no_data=True)   # and every empty one

A check can fail for a passing reason (the store or the log unreachable, a full disk), and a
window can be empty when it is checked but not later: a prediction log shipped from another
host, or written by a server that was cut off, may land after the window's delay. So:

- :func:`retry_failed` (``loopml monitor run NAME --retry-failed [--retry-no-data]``)
  checks such windows again at once, however often they were tried;
- ``loopml monitor serve`` (:func:`~loopml.monitoring.run_due`) checks a ``failed`` or
  ``no_data`` window of its catch-up range again up to the setting ``monitor_retries``
  times (3 by default), the first ``monitor_retry_backoff`` seconds (60) after the last
  check, each next one twice as long after (60 s, 120 s, 240 s), then leaves it.

The count of checks in a row that found a window failed or empty is the result's
``summary["attempts"]``. A retry claims the window at the revision it read (a
compare-and-set in the store): of two servers retrying one window, one checks it, and a
window another checker has stored a result for since is left alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.entities import MonitorResult
from loopml.monitoring.check import (
    _RETRIED,
    CheckResult,
    _attempts,
    _Check,
    _compute,
    _guarded,
    _owner,
    open_monitor,
)
from loopml.monitoring.spec import MonitorSpec
from loopml.monitoring.window import Window, parse_time

if TYPE_CHECKING:
    from datetime import datetime

    from loopml.entities import Monitor
    from loopml.tracking.client import TrackingClient

__all__ = ["Retried", "retry_due", "retry_failed"]


@dataclass(frozen=True)
class Retried:
    """One window :func:`retry_failed` tried.

    Attributes:
        before: its result before (``failed`` or ``no_data``).
        check: the new check; None when it failed again (``error``) or another checker
            held the window or stored a result for it since.
        error: why the check failed again ("" when it did not).
    """

    before: MonitorResult
    check: CheckResult | None = None
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return {
            "window_start": self.before.window_start,
            "window_end": self.before.window_end,
            "before": self.before.status,
            "status": self.check.status if self.check else ("failed" if self.error else None),
            "error": self.error,
            "check": None if self.check is None else self.check.to_dict(),
        }


def retry_due(result: MonitorResult, now_ms: int, retries: int, backoff_s: float) -> bool:
    """Whether a pass should check a ``failed`` or ``no_data`` window again now: fewer
    than ``retries`` re-checks so far, and ``backoff_s * 2**(n - 1)`` seconds past since the
    last check (``n``: the checks that found it so)."""
    if result.status not in _RETRIED or result.claimed_by:
        return False
    attempts = _attempts(result)
    if attempts > retries:
        return False
    wait_ms = backoff_s * 1000 * 2 ** max(attempts - 1, 0)
    return bool(now_ms >= result.update_time + wait_ms)


def check_again(
    client: TrackingClient, monitor: Monitor, spec: MonitorSpec, seen: MonitorResult
) -> CheckResult | None:
    """Check a ``failed`` or ``no_data`` window again, claimed at the revision read (None
    when another checker holds it or stored a result since). A failure is stored as a
    ``failed`` result with one more attempt, and raised."""
    store = client.stores.metadata
    window = Window(seen.window_start, seen.window_end)
    check = _Check(client, monitor, spec, window, _owner(), _attempts(seen))
    replace = seen.status == "no_data"  # a stored result, claimed only on purpose
    if not store.claim_monitor_window(
        monitor.name, window.start, window.end, check.owner, replace, revision=seen.revision
    ):
        return None
    revision = seen.revision + 1
    return _guarded(check, lambda folder: _compute(check, folder, revision))


def retry_failed(
    name: str,
    *,
    failed: bool = True,
    no_data: bool = False,
    since: datetime | str | int | None = None,
    now: datetime | str | int | None = None,
    client: TrackingClient | None = None,
) -> list[Retried]:
    """Check every ``failed`` window of a monitor again (and every ``no_data`` one with
    ``no_data``), oldest first, however often they were tried.

    Args:
        name: the monitor.
        failed: check the windows whose check failed.
        no_data: check the windows that had no predictions.
        since: only windows starting at or after this time.
        now: the current time (for tests and replays; windows not complete by then stay).

    Returns:
        A :class:`Retried` per window tried.

    Raises:
        MonitorNotFoundError: no such monitor.
        InvalidInputError: a malformed time.
    """
    from loopml.errors import LoopmlError

    client, monitor, spec = open_monitor(name, client)
    store = client.stores.metadata
    now_ms = int(time.time() * 1000) if now is None else parse_time(now)
    first = None if since is None else parse_time(since)
    wanted = [s for s, on in (("failed", failed), ("no_data", no_data)) if on]
    found = _results(store, name, first)
    out: list[Retried] = []
    for seen in sorted(found, key=lambda r: r.window_start):
        if seen.status not in wanted or seen.claimed_by:
            continue
        if seen.window_end + spec.delay * 1000 > now_ms:
            continue
        try:
            done = check_again(client, monitor, spec, seen)
        except LoopmlError as exc:
            out.append(Retried(seen, None, exc.message))
            continue
        except Exception as exc:  # stored as a failed result; the next window goes on
            out.append(Retried(seen, None, f"{type(exc).__name__}: {exc}"))
            continue
        out.append(Retried(seen, done))
    return out


def _results(store: Any, name: str, since: int | None) -> list[MonitorResult]:
    """Every result of a monitor from ``since`` (pages of 10,000, newest first)."""
    found: list[MonitorResult] = []
    until = None
    while True:
        page: list[MonitorResult] = store.list_monitor_results(
            name, since=since, until=until, limit=10_000
        )
        found += page
        if len(page) < 10_000:
            return found
        until = page[-1].window_start
