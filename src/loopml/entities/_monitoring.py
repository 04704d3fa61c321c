"""Entities of monitoring: monitors, their per-window results and per-column drift, and the
actions a window's policies took."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Monitor", "MonitorAction", "MonitorColumn", "MonitorResult"]


@dataclass(frozen=True, slots=True)
class Monitor:
    """A named monitor: which deployment's prediction log it checks, against which
    reference, in windows of what length, and what its policies do.

    Attributes:
        deployment: the deployment whose prediction log is checked.
        reference: the reference dataset version, ``datasets:/rides/3``.
        window: the window length in seconds; windows are aligned to the epoch (UTC).
        spec: the rest (tests, thresholds, policies, actions, rate limits, the outputs'
            reference profile), as defined by :class:`loopml.monitoring.MonitorSpec`.
        revision: 1 when created, one more for each change of its spec or reference.
        updated_by, update_time: who changed it last, and when (ms since the epoch); the
            creator and creation time until it is changed.
    """

    name: str
    deployment: str
    reference: str
    window: int
    spec: Mapping[str, Any]
    created_by: str
    creation_time: int
    revision: int = 1
    updated_by: str = ""
    update_time: int = 0


@dataclass(frozen=True, slots=True)
class MonitorResult:
    """What a check found in one window of a monitor.

    Attributes:
        window_start, window_end: the window, ms since the epoch (end exclusive).
        status: ``running`` (claimed, being computed), ``ok`` (no policy fired),
            ``alert`` (a policy fired), ``no_data`` (no rows in the window) or ``failed``.
        rows: predicted rows the window held.
        run_id: the check's run (experiment ``loopml-monitoring``).
        summary: drift share, drifted columns, data quality, performance, business
            metrics, fired policies (see ``docs/monitoring.md``).
        claimed_by: who holds the claim to compute it (empty when nobody does).
        revision: 1 for the first computation, one more for each recomputation.
    """

    monitor: str
    window_start: int
    window_end: int
    status: str
    rows: int
    run_id: str | None
    summary: Mapping[str, Any]
    claimed_by: str
    creation_time: int
    update_time: int
    revision: int = 0


@dataclass(frozen=True, slots=True)
class MonitorColumn:
    """One column's drift in one window (the fields of :class:`loopml.monitoring.ColumnDrift`
    a report needs; ``detail`` holds its statistics and plotted distributions)."""

    monitor: str
    window_start: int
    column: str
    role: str
    kind: str
    test: str | None
    statistic: float | None
    p_value: float | None
    threshold: float | None
    distance: float | None
    distance_threshold: float | None
    drifted: bool | None
    ref_count: int
    cur_count: int
    ref_nulls: int
    cur_nulls: int
    note: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MonitorAction:
    """An action a window's policies triggered, claimed once per window.

    Attributes:
        action: the action's key within the window (``retrain:pipelines.train:training``,
            ``alert:dataset_drift:webhook:http://…``, ``log:dataset_drift``).
        kind: ``alert``, ``log`` or ``retrain``.
        rate_key: actions of one monitor sharing this key are rate-limited together.
        status: ``claimed`` (being done, or interrupted), ``done``, ``failed`` or
            ``rate_limited`` (not done: a like action ran too recently).
        time: when it was claimed (ms since the epoch).
        detail: what happened: the HTTP status and attempts of a webhook, the pipeline run,
            dataset version and model versions of a retraining, the error of a failure.
    """

    monitor: str
    window_start: int
    action: str
    kind: str
    rate_key: str
    status: str
    time: int
    detail: Mapping[str, Any] = field(default_factory=dict)
