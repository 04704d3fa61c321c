"""Storage of pipeline schedules. A due slot is claimed atomically before it runs, so two
schedulers, or one restarted mid-way, never run the same slot twice.

Example::

    store.create_schedule("nightly", "pipelines.train:training", "0 3 * * *", {}, next_ms)
    due = [s for s in store.list_schedules() if s.next_run_time <= now_ms]
    if store.claim_schedule("nightly", due[0].next_run_time, following_ms):
        ...  # run it, then store.record_schedule_run("nightly", run_id, "FINISHED")
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from loopml.entities import Schedule

__all__ = ["ScheduleStore"]


class ScheduleStore(ABC):
    """Schedules: create, read, delete, claim a due slot, record what ran.

    Errors: :class:`~loopml.errors.AlreadyExistsError` for a name clash,
    :class:`~loopml.errors.NotFoundError` for an unknown name.
    """

    @abstractmethod
    def create_schedule(
        self,
        name: str,
        target: str,
        cron: str,
        params: Mapping[str, Any],
        next_run_time: int,
        created_by: str = "",
    ) -> Schedule:
        """Add a schedule (its name must be new)."""

    @abstractmethod
    def get_schedule(self, name: str) -> Schedule:
        """One schedule."""

    @abstractmethod
    def list_schedules(self) -> list[Schedule]:
        """Every schedule, by name."""

    @abstractmethod
    def delete_schedule(self, name: str) -> None:
        """Remove a schedule."""

    @abstractmethod
    def claim_schedule(self, name: str, due: int, next_run_time: int) -> bool:
        """Move a schedule from its due time ``due`` to ``next_run_time``; True only for
        the one caller that found it still due at ``due`` (the one that should run it)."""

    @abstractmethod
    def record_schedule_run(self, name: str, run_id: str | None, status: str) -> None:
        """Record the run a claimed slot started and how it ended."""
