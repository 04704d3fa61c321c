"""Storage of monitors, their per-window results, and the actions their policies took.

A window is computed by whoever claims it: the claim is one conditional write, so of two
checkers (two ``loopml monitor serve`` processes, or one restarted mid-way) exactly one
computes a window, and a claim left by a crashed process expires after its lease. An action
is claimed once per window and action, and refused when a like action (same ``rate_key``)
of the monitor started within its minimum interval: a re-run check never retrains twice,
and retraining is rate-limited.

Example::

    store.create_monitor("pricing", "pricing", "datasets:/rides/3", 3600, spec)
    if store.claim_monitor_window("pricing", start, end, owner="host:4242"):
        ...  # compute, then
        store.record_monitor_result(result, columns, owner="host:4242")
    claimed, action = store.claim_monitor_action(
        "pricing", start, "retrain:pipelines.train:training", "retrain", "retrain",
        min_interval_ms=24 * 3600 * 1000)
    if claimed:
        ...  # run it, then
        store.record_monitor_action("pricing", start, action.action, "done", {...})
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from loopml.entities import Monitor, MonitorAction, MonitorColumn, MonitorResult

__all__ = ["ACTION_STATUSES", "DEFAULT_LEASE_MS", "RESULT_STATUSES", "MonitorStore"]

RESULT_STATUSES = ("running", "ok", "alert", "no_data", "failed")
ACTION_STATUSES = ("claimed", "done", "failed", "rate_limited")
DEFAULT_LEASE_MS = 30 * 60 * 1000


class MonitorStore(ABC):
    """Monitors: create, read, delete; claim and record windows; claim and record actions.

    Names follow the dataset naming rule. Errors: :class:`~loopml.errors.AlreadyExistsError`
    for a name clash, :class:`~loopml.errors.MonitorNotFoundError` for an unknown monitor or
    window, :class:`~loopml.errors.InvalidStateError` for recording a window without
    holding its claim.
    """

    @abstractmethod
    def create_monitor(
        self,
        name: str,
        deployment: str,
        reference: str,
        window: int,
        spec: Mapping[str, Any],
        created_by: str = "",
    ) -> Monitor:
        """Add a monitor (its name must be new); ``window`` is in seconds."""

    @abstractmethod
    def update_monitor(
        self,
        name: str,
        reference: str,
        spec: Mapping[str, Any],
        updated_by: str = "",
        expected_revision: int | None = None,
    ) -> Monitor:
        """Replace a monitor's reference and spec in one write; its revision goes up by one
        and ``updated_by`` and the time are recorded. Its deployment, window and stored
        results stay as they were.

        Args:
            expected_revision: the revision the change was made from; when another change
                landed since, nothing is written and
                :class:`~loopml.errors.RevisionConflictError` is raised (read the monitor
                again and redo the change).
        """

    @abstractmethod
    def get_monitor(self, name: str) -> Monitor:
        """One monitor."""

    @abstractmethod
    def list_monitors(self) -> list[Monitor]:
        """Every monitor, by name."""

    @abstractmethod
    def delete_monitor(self, name: str) -> None:
        """Remove a monitor with its results, column results and actions (its check runs
        stay in the tracking store)."""

    @abstractmethod
    def claim_monitor_window(
        self,
        name: str,
        window_start: int,
        window_end: int,
        owner: str,
        replace: bool = False,
        lease_ms: int = DEFAULT_LEASE_MS,
        revision: int | None = None,
    ) -> bool:
        """Claim a window to compute it. True for the one caller that should: the window
        has no result yet, or a ``failed`` one, or (with ``replace``) any result — and no
        other claim younger than ``lease_ms`` holds it. A stored result stays readable
        until :meth:`record_monitor_result` replaces it.

        With ``revision``, the window must hold a result of exactly that revision (a
        compare-and-set: a retry of a window read as ``failed`` or ``no_data`` never
        replaces what another checker stored since)."""

    @abstractmethod
    def record_monitor_result(
        self, result: MonitorResult, columns: Sequence[MonitorColumn], owner: str
    ) -> MonitorResult:
        """Store a window's result and its column results in one transaction, replacing
        what the window held, and release the claim; the revision goes up by one.

        Raises:
            InvalidStateError: ``owner`` does not hold the window's claim (it expired and
                another checker took it over).
        """

    @abstractmethod
    def release_monitor_window(self, name: str, window_start: int, owner: str) -> None:
        """Give up a claim without a result (a window never computed is forgotten)."""

    @abstractmethod
    def get_monitor_result(self, name: str, window_start: int) -> MonitorResult:
        """One window's result (``MonitorNotFoundError`` when it has none)."""

    @abstractmethod
    def list_monitor_results(
        self,
        name: str,
        since: int | None = None,
        until: int | None = None,
        limit: int = 1000,
    ) -> list[MonitorResult]:
        """Results with ``since <= window_start < until``, newest window first."""

    @abstractmethod
    def list_monitor_columns(self, name: str, window_starts: Sequence[int]) -> list[MonitorColumn]:
        """The column results of these windows, by window then column."""

    @abstractmethod
    def claim_monitor_action(
        self,
        name: str,
        window_start: int,
        action: str,
        kind: str,
        rate_key: str,
        min_interval_ms: int = 0,
        detail: Mapping[str, Any] | None = None,
    ) -> tuple[bool, MonitorAction]:
        """Claim an action for a window. ``(True, record)`` for the one caller that should
        do it; ``(False, record)`` when the window already has it (whatever its status), or
        when an action of this monitor with the same ``rate_key`` was claimed less than
        ``min_interval_ms`` ago — then it is recorded as ``rate_limited`` with that one's
        time and window in its detail."""

    @abstractmethod
    def record_monitor_action(
        self,
        name: str,
        window_start: int,
        action: str,
        status: str,
        detail: Mapping[str, Any],
    ) -> MonitorAction:
        """Set a claimed action's outcome (``done`` or ``failed``) and what happened."""

    @abstractmethod
    def list_monitor_actions(
        self, name: str, window_start: int | None = None
    ) -> list[MonitorAction]:
        """A monitor's actions (of one window, or all), oldest first."""
