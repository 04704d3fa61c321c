"""Schedules: run pipelines on a cron, from a scheduler that survives restarts.

    from loopml.pipelines.schedules import add_schedule, run_due
    add_schedule("pipelines.train:training", "0 3 * * *", params={"lr": 0.05})
    run_due()                  # runs what is due now (what `loopml scheduler` does in a loop)

Each schedule stores when it is next due. A scheduler claims a due slot in the metadata
store before running it, moving the schedule to its next time in the same statement, so
neither a second scheduler nor a restarted one runs that slot again. A scheduler that was
down for several slots runs the pipeline once, not once per missed slot.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from loopml.entities import Schedule
from loopml.errors import LoopmlError
from loopml.pipelines.cron import Cron
from loopml.pipelines.runner import load_target
from loopml.tracking.context import current_user
from loopml.tracking.fluent import get_client

__all__ = ["ScheduledRun", "add_schedule", "list_schedules", "remove_schedule", "run_due", "serve"]

_log = logging.getLogger(__name__)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _now() -> datetime:
    return datetime.now(tz=UTC)


def add_schedule(
    target: str,
    cron: str,
    params: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> Schedule:
    """Schedule a pipeline (``module:attribute``) on a cron expression (UTC).

    Raises:
        InvalidInputError: the cron expression or the parameters are invalid, or the
            pipeline cannot be imported (checked now, not at 3 a.m.).
        AlreadyExistsError: the name is taken.
    """
    pipeline = load_target(target)
    pipeline.parameters(dict(params or {}))  # unknown parameters fail now
    first = Cron(cron).next_after(_now())
    store = get_client().stores.metadata
    return store.create_schedule(
        name or pipeline.name, target, cron, dict(params or {}), _ms(first), current_user()
    )


def list_schedules() -> list[Schedule]:
    """Every schedule, by name."""
    return get_client().stores.metadata.list_schedules()


def remove_schedule(name: str) -> None:
    """Delete a schedule."""
    get_client().stores.metadata.delete_schedule(name)


@dataclass(frozen=True)
class ScheduledRun:
    """A slot a scheduler ran: the schedule, its pipeline run, and how it ended."""

    schedule: str
    due: int
    run_id: str | None
    status: str
    error: str = ""


def run_due(now: datetime | None = None) -> list[ScheduledRun]:
    """Run every schedule due at ``now`` (default: the current time) that this process
    manages to claim; return what ran."""
    moment = now or _now()
    store = get_client().stores.metadata
    ran = []
    for schedule in store.list_schedules():
        if schedule.next_run_time > _ms(moment):
            continue
        try:
            following = _ms(Cron(schedule.cron).next_after(moment))
        except LoopmlError as exc:
            _log.error("schedule %s: %s", schedule.name, exc.message)
            continue
        if not store.claim_schedule(schedule.name, schedule.next_run_time, following):
            continue  # another scheduler took this slot
        run_id, status, error = None, "FAILED", ""
        try:
            result = load_target(schedule.target).run(**dict(schedule.params))
            run_id, status = result.run_id, result.status
        except LoopmlError as exc:
            error = exc.message
            run_id = _run_id_in(error)
        except Exception as exc:  # the pipeline's own bug: record it, keep scheduling
            error = f"{type(exc).__name__}: {exc}"
        store.record_schedule_run(schedule.name, run_id, status)
        if error:
            _log.error("schedule %s: %s", schedule.name, error)
        ran.append(ScheduledRun(schedule.name, schedule.next_run_time, run_id, status, error))
    return ran


def _run_id_in(message: str) -> str | None:
    found = re.search(r"resume ([0-9a-f]{32})", message)
    return found.group(1) if found else None


def serve(interval: float = 30.0, stop: threading.Event | None = None) -> None:
    """Run due schedules until ``stop`` is set, checking every ``interval`` seconds."""
    stop = stop or threading.Event()
    while not stop.is_set():
        for done in run_due():
            _log.info("schedule %s ran as %s: %s", done.schedule, done.run_id, done.status)
        stop.wait(interval)
