"""Request and response bodies of loopml's monitor API (``/api/v1/monitors``), the labels
and business-metric routes, and their mapping to the entities.

Numbers that may be infinite (a distance against a constant reference) travel as the
strings ``"inf"`` and ``"-inf"``: JSON has no infinity.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from loopml.entities import Monitor, MonitorAction, MonitorColumn, MonitorResult

__all__ = [
    "BusinessMetricBody",
    "ClaimActionBody",
    "ClaimWindowBody",
    "ColumnBody",
    "CreateMonitorBody",
    "LabelsBody",
    "OwnerBody",
    "RecordActionBody",
    "RecordResultBody",
    "UpdateMonitorBody",
    "action_from_json",
    "action_to_json",
    "column_from_json",
    "column_to_json",
    "monitor_from_json",
    "monitor_to_json",
    "result_from_json",
    "result_to_json",
]

_MAX_TIME = 2**62 - 1
_MAX_COUNT = 2**62 - 1
Number = float | Literal["inf", "-inf"] | None


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateMonitorBody(_Body):
    name: str = Field(min_length=1, max_length=250)
    deployment: str = Field(min_length=1, max_length=250)
    reference: str = Field(min_length=1, max_length=500)
    window: int = Field(ge=1, lt=2**40)
    spec: dict[str, Any]
    created_by: str = Field(default="", max_length=256)


class UpdateMonitorBody(_Body):
    reference: str = Field(min_length=1, max_length=500)
    spec: dict[str, Any]
    updated_by: str = Field(default="", max_length=256)
    expected_revision: int | None = Field(default=None, ge=0, le=_MAX_COUNT)


class ClaimWindowBody(_Body):
    window_end: int = Field(ge=0, le=_MAX_TIME)
    owner: str = Field(min_length=1, max_length=256)
    replace: bool = False
    lease_ms: int = Field(default=30 * 60 * 1000, ge=0, le=_MAX_COUNT)
    revision: int | None = Field(default=None, ge=0, le=_MAX_COUNT)


class OwnerBody(_Body):
    owner: str = Field(min_length=1, max_length=256)


class ColumnBody(_Body):
    column: str = Field(min_length=1, max_length=500)
    role: str = Field(min_length=1, max_length=20)
    kind: str = Field(min_length=1, max_length=20)
    test: str | None = Field(default=None, max_length=50)
    statistic: Number = None
    p_value: Number = None
    threshold: Number = None
    distance: Number = None
    distance_threshold: Number = None
    drifted: bool | None = None
    ref_count: int = Field(ge=0, le=_MAX_COUNT)
    cur_count: int = Field(ge=0, le=_MAX_COUNT)
    ref_nulls: int = Field(ge=0, le=_MAX_COUNT)
    cur_nulls: int = Field(ge=0, le=_MAX_COUNT)
    note: str = Field(default="", max_length=10_000)
    detail: dict[str, Any] = Field(default_factory=dict)


class RecordResultBody(_Body):
    window_end: int = Field(ge=0, le=_MAX_TIME)
    status: str = Field(min_length=1, max_length=20)
    rows: int = Field(ge=0, le=_MAX_COUNT)
    run_id: str | None = Field(default=None, max_length=32)
    summary: dict[str, Any]
    owner: str = Field(min_length=1, max_length=256)
    columns: list[ColumnBody] = Field(default_factory=list)


class ClaimActionBody(_Body):
    action: str = Field(min_length=1, max_length=1000)
    kind: str = Field(min_length=1, max_length=20)
    rate_key: str = Field(min_length=1, max_length=1000)
    min_interval_ms: int = Field(default=0, ge=0, le=_MAX_COUNT)
    detail: dict[str, Any] = Field(default_factory=dict)


class RecordActionBody(_Body):
    action: str = Field(min_length=1, max_length=1000)
    status: str = Field(min_length=1, max_length=20)
    detail: dict[str, Any] = Field(default_factory=dict)


class LabelsBody(_Body):
    """Labels as columns: ``request_id`` and ``label`` of equal length, ``row`` optional
    (0 for every label when left out)."""

    request_id: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        min_length=1, max_length=1_000_000
    )
    row: list[Annotated[int, Field(ge=0, lt=2**31)]] | None = None
    label: list[bool | int | float | str | None]


class BusinessMetricBody(_Body):
    name: str = Field(min_length=1, max_length=250)
    value: float
    timestamp: str | None = Field(default=None, max_length=64)


def _num_out(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    if math.isnan(value):
        return None
    return "inf" if value > 0 else "-inf"


def _num_in(value: Any) -> float | None:
    if value is None:
        return None
    if value in ("inf", "-inf"):
        return math.inf if value == "inf" else -math.inf
    return float(value)


def monitor_to_json(monitor: Monitor) -> dict[str, Any]:
    """A monitor as JSON."""
    return {
        "name": monitor.name,
        "deployment": monitor.deployment,
        "reference": monitor.reference,
        "window": monitor.window,
        "spec": dict(monitor.spec),
        "created_by": monitor.created_by,
        "creation_time": monitor.creation_time,
        "revision": monitor.revision,
        "updated_by": monitor.updated_by,
        "update_time": monitor.update_time,
    }


def monitor_from_json(data: dict[str, Any]) -> Monitor:
    """The inverse of :func:`monitor_to_json`."""
    return Monitor(
        data["name"],
        data["deployment"],
        data["reference"],
        int(data["window"]),
        data.get("spec") or {},
        data.get("created_by", ""),
        int(data["creation_time"]),
        int(data.get("revision", 1)),
        data.get("updated_by", data.get("created_by", "")),
        int(data.get("update_time", data["creation_time"])),
    )


def result_to_json(result: MonitorResult) -> dict[str, Any]:
    """A window's result as JSON."""
    return {
        "monitor": result.monitor,
        "window_start": result.window_start,
        "window_end": result.window_end,
        "status": result.status,
        "rows": result.rows,
        "run_id": result.run_id,
        "summary": dict(result.summary),
        "claimed_by": result.claimed_by,
        "creation_time": result.creation_time,
        "update_time": result.update_time,
        "revision": result.revision,
    }


def result_from_json(data: dict[str, Any]) -> MonitorResult:
    """The inverse of :func:`result_to_json`."""
    return MonitorResult(
        data["monitor"],
        int(data["window_start"]),
        int(data["window_end"]),
        data["status"],
        int(data["rows"]),
        data.get("run_id"),
        data.get("summary") or {},
        data.get("claimed_by", ""),
        int(data["creation_time"]),
        int(data["update_time"]),
        int(data.get("revision", 0)),
    )


def column_to_json(column: MonitorColumn) -> dict[str, Any]:
    """One column result as JSON (infinite numbers as ``"inf"``)."""
    return {
        "column": column.column,
        "role": column.role,
        "kind": column.kind,
        "test": column.test,
        "statistic": _num_out(column.statistic),
        "p_value": _num_out(column.p_value),
        "threshold": _num_out(column.threshold),
        "distance": _num_out(column.distance),
        "distance_threshold": _num_out(column.distance_threshold),
        "drifted": column.drifted,
        "ref_count": column.ref_count,
        "cur_count": column.cur_count,
        "ref_nulls": column.ref_nulls,
        "cur_nulls": column.cur_nulls,
        "note": column.note,
        "detail": dict(column.detail),
        "monitor": column.monitor,
        "window_start": column.window_start,
    }


def column_from_json(
    data: dict[str, Any], monitor: str = "", window_start: int = 0
) -> MonitorColumn:
    """The inverse of :func:`column_to_json` (monitor and window from the data when there)."""
    return MonitorColumn(
        data.get("monitor", monitor),
        int(data.get("window_start", window_start)),
        data["column"],
        data["role"],
        data["kind"],
        data.get("test"),
        _num_in(data.get("statistic")),
        _num_in(data.get("p_value")),
        _num_in(data.get("threshold")),
        _num_in(data.get("distance")),
        _num_in(data.get("distance_threshold")),
        data.get("drifted"),
        int(data["ref_count"]),
        int(data["cur_count"]),
        int(data["ref_nulls"]),
        int(data["cur_nulls"]),
        data.get("note", ""),
        data.get("detail") or {},
    )


def action_to_json(action: MonitorAction) -> dict[str, Any]:
    """An action record as JSON."""
    return {
        "monitor": action.monitor,
        "window_start": action.window_start,
        "action": action.action,
        "kind": action.kind,
        "rate_key": action.rate_key,
        "status": action.status,
        "time": action.time,
        "detail": dict(action.detail),
    }


def action_from_json(data: dict[str, Any]) -> MonitorAction:
    """The inverse of :func:`action_to_json`."""
    return MonitorAction(
        data["monitor"],
        int(data["window_start"]),
        data["action"],
        data["kind"],
        data["rate_key"],
        data["status"],
        int(data["time"]),
        data.get("detail") or {},
    )
