"""Running every monitor's checks as their windows complete (``loopml monitor serve``).

    lm.monitoring.run_due()          # one pass: what `loopml monitor serve --once` does
    lm.monitoring.serve_monitors()   # passes every 30 s until stopped

A pass checks, for each monitor, every complete window since the monitor was created (at
most ``catch_up`` of the newest, 24 by default) that has no stored result, oldest first, and
refreshes the late part (performance, business metrics) of the last ``catch_up`` windows
when labels or metrics arrived since they were checked. Windows are claimed in the metadata
store before they are computed: a restarted server, or a second one, never checks a window
twice. A ``failed`` or ``no_data`` window is checked again a bounded number of times with
backoff (settings ``monitor_retries`` and ``monitor_retry_backoff``; see
:mod:`loopml.monitoring.retry`). One log line per check.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from loopml.errors import InvalidInputError, InvalidStateError, LoopmlError
from loopml.monitoring.check import CheckResult, last_complete_window, run_check
from loopml.monitoring.retry import check_again, retry_due
from loopml.monitoring.spec import MonitorSpec
from loopml.monitoring.window import parse_time, window_of

if TYPE_CHECKING:
    from datetime import datetime

    from loopml.tracking.client import TrackingClient

__all__ = ["run_due", "serve_monitors"]

log = logging.getLogger("loopml.monitoring")


def run_due(
    now: datetime | str | int | None = None,
    *,
    catch_up: int = 24,
    retries: int | None = None,
    retry_backoff: float | None = None,
    client: TrackingClient | None = None,
) -> list[CheckResult]:
    """One pass over every monitor (see the module); returns the checks it made.

    Args:
        now: the current time (for tests and replays; default: now).
        catch_up: the newest windows of each monitor the pass looks at.
        retries, retry_backoff: re-checks of a failed or empty window and the seconds
            before the first (default: the settings ``monitor_retries`` and
            ``monitor_retry_backoff``).
    """
    if client is None:
        from loopml.tracking.fluent import get_client

        client = get_client()
    if catch_up < 1:
        raise InvalidInputError(f"catch_up must be at least 1 window, got {catch_up}")
    retries = client.settings.monitor_retries if retries is None else retries
    backoff = client.settings.monitor_retry_backoff if retry_backoff is None else retry_backoff
    if retries < 0 or not backoff >= 0:
        raise InvalidInputError(
            f"retries and retry_backoff must be >= 0, got {retries} and {backoff}"
        )
    now_ms = int(time.time() * 1000) if now is None else parse_time(now)
    store = client.stores.metadata
    done: list[CheckResult] = []
    for monitor in store.list_monitors():
        try:
            spec = MonitorSpec.from_dict(monitor.spec)
        except LoopmlError as exc:
            log.error("monitor %s: %s", monitor.name, exc.message)
            continue
        size = spec.window * 1000
        last = last_complete_window(spec, now_ms)
        first = max(window_of(monitor.creation_time, spec.window).start,
                    last.start - (catch_up - 1) * size)  # fmt: skip
        if first > last.start:
            continue
        stored = {r.window_start: r for r in store.list_monitor_results(monitor.name, since=first)}
        for start in range(first, last.start + size, size):
            existing = stored.get(start)
            if (
                existing is not None
                and existing.status in ("failed", "no_data", "running")
                and not retry_due(existing, now_ms, retries, backoff)
            ):
                continue
            try:
                if existing is not None and existing.status in ("failed", "no_data"):
                    again = check_again(client, monitor, spec, existing)
                    if again is None:
                        continue  # another checker took it
                    result = again
                else:
                    result = run_check(monitor.name, window_start=start, now=now_ms,
                                       client=client)  # fmt: skip
            except InvalidStateError:
                continue  # another checker holds the window
            except LoopmlError as exc:
                log.error("monitor %s window at %s: %s", monitor.name, start, exc.message)
                continue
            except Exception:
                log.exception("monitor %s window at %s failed", monitor.name, start)
                continue
            if result.reused:
                continue
            log.info("%s", result.line())
            done.append(result)
    return done


def serve_monitors(
    interval: float = 30.0,
    stop: threading.Event | None = None,
    *,
    catch_up: int = 24,
    retries: int | None = None,
    retry_backoff: float | None = None,
    client: TrackingClient | None = None,
) -> None:
    """Run :func:`run_due` every ``interval`` seconds until ``stop`` is set."""
    stop = stop or threading.Event()
    while not stop.is_set():
        run_due(catch_up=catch_up, retries=retries, retry_backoff=retry_backoff, client=client)
        stop.wait(interval)
