"""A monitor's results over time: the data behind ``loopml monitor report`` and
``monitor show``.

    report = lm.monitoring.monitor_report("pricing", last=24)
    report.to_dict()                # windows, per-feature drift, quality, performance,
                                    # business metrics, actions — JSON for machines
    report.save_html("report.html") # the same with plots

Everything comes from the stored results: no window is read again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import InvalidInputError
from loopml.monitoring.window import iso

if TYPE_CHECKING:
    from loopml.entities import Monitor, MonitorAction, MonitorColumn, MonitorResult
    from loopml.tracking.client import TrackingClient

__all__ = ["PREFERRED", "MonitorReport", "monitor_report"]

PREFERRED = ("rmse", "mae", "r2", "accuracy", "f1_macro", "recall_macro")


@dataclass(frozen=True)
class MonitorReport:
    """A monitor's last windows (oldest first) with their columns and actions."""

    monitor: Monitor
    results: list[MonitorResult]
    columns: dict[int, list[MonitorColumn]] = field(default_factory=dict)
    actions: list[MonitorAction] = field(default_factory=list)

    @property
    def latest(self) -> MonitorResult | None:
        """The newest window with drift results (None when no window had data)."""
        found = [r for r in self.results if r.status in ("ok", "alert")]
        return found[-1] if found else None

    def features(self) -> list[str]:
        """Every feature column seen in the windows, in first-seen order."""
        seen: dict[str, None] = {}
        for result in self.results:
            for column in self.columns.get(result.window_start, []):
                if column.role == "feature":
                    seen.setdefault(column.column)
        return list(seen)

    def drift_series(self) -> dict[str, list[Any]]:
        """Per feature, its drift distance (or statistic) in each window (None: untested)."""
        out: dict[str, list[Any]] = {}
        for name in self.features():
            values = []
            for result in self.results:
                found = next(
                    (c for c in self.columns.get(result.window_start, []) if c.column == name), None
                )
                value = None if found is None else (found.distance if found.distance is not None
                                                    else found.statistic)  # fmt: skip
                values.append({"value": value, "drifted": None if found is None else found.drifted})
            out[name] = values
        return out

    def headline(self, metrics: dict[str, float], count: int = 2) -> list[tuple[str, float]]:
        """The performance metrics to show first: RMSE and MAE, or accuracy and macro F1."""
        first = [m for m in PREFERRED if m in metrics]
        rest = [m for m in metrics if m not in first]
        return [(m, float(metrics[m])) for m in [*first, *rest][:count]]

    def window_rows(self) -> list[dict[str, Any]]:
        """One summary row per window, oldest first."""
        by_window: dict[int, list[MonitorAction]] = {}
        for action in self.actions:
            by_window.setdefault(action.window_start, []).append(action)
        rows = []
        for r in self.results:
            s = r.summary
            drift = s.get("drift", {})
            quality = s.get("quality", {})
            performance = s.get("performance", {})
            rows.append(
                {
                    "window_start": iso(r.window_start),
                    "window_end": iso(r.window_end),
                    "window_start_ms": r.window_start,
                    "status": r.status,
                    "rows": r.rows,
                    "drift_share": drift.get("share"),
                    "dataset_drift": drift.get("dataset_drift"),
                    "drifted_columns": drift.get("drifted_columns", []),
                    "prediction_drift": drift.get("prediction_drift"),
                    "quality_errors": quality.get("errors"),
                    "quality_warnings": quality.get("warnings"),
                    "labeled": performance.get("labeled", 0),
                    "performance": performance.get("metrics", {}),
                    "business": s.get("business", {}),
                    "fired": [f["policy"] for f in s.get("fired", [])],
                    "run_id": r.run_id,
                    "revision": r.revision,
                    "error": s.get("error"),
                    "note": s.get("note"),
                    "attempts": s.get("attempts"),
                    "prediction_note": drift.get("prediction_note") or None,
                    "monitor_revision": s.get("checked_with", {}).get("monitor_revision"),
                    "actions": [
                        {"action": a.action, "status": a.status, "detail": dict(a.detail)}
                        for a in by_window.get(r.window_start, [])
                    ],
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: the monitor, every window's row, per-feature drift over time, the
        latest window's columns and quality anomalies, and every action."""
        from loopml.schemas.monitoring import action_to_json, column_to_json

        latest = self.latest
        latest_columns = [] if latest is None else self.columns.get(latest.window_start, [])
        spec = dict(self.monitor.spec)
        spec.pop("output_profile", None)  # large, and not a result
        return {
            "monitor": {
                "name": self.monitor.name,
                "deployment": self.monitor.deployment,
                "reference": self.monitor.reference,
                "window": self.monitor.window,
                "spec": spec,
                "revision": self.monitor.revision,
                "created_by": self.monitor.created_by,
                "creation_time": self.monitor.creation_time,
                "updated_by": self.monitor.updated_by,
                "update_time": self.monitor.update_time,
            },
            "windows": self.window_rows(),
            "drift": self.drift_series(),
            "latest": None if latest is None else {
                "window_start": iso(latest.window_start),
                "columns": [column_to_json(c) for c in latest_columns],
                "quality": latest.summary.get("quality", {}),
            },
            "actions": [action_to_json(a) for a in self.actions],
        }  # fmt: skip

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON document."""
        return json.dumps(self.to_dict(), indent=2)

    def to_html(self) -> str:
        """A self-contained HTML page with plots (matplotlib, embedded as SVG)."""
        from loopml.monitoring.history_html import render_report

        return render_report(self)

    def save_html(self, path: str | Path) -> Path:
        """Write :meth:`to_html` to a file (through a temporary name); returns the path."""
        from loopml.storage.artifacts import write_text_atomic

        return write_text_atomic(path, self.to_html())


def monitor_report(
    name: str, *, last: int = 24, client: TrackingClient | None = None
) -> MonitorReport:
    """The last ``last`` windows of a monitor with their columns and actions.

    Raises:
        MonitorNotFoundError: no such monitor.
        InvalidInputError: ``last`` below 1.
    """
    if isinstance(last, bool) or not isinstance(last, int) or not 1 <= last <= 10_000:
        raise InvalidInputError(f"last must be a whole number of windows from 1, got {last!r}")
    if client is None:
        from loopml.tracking.fluent import get_client

        client = get_client()
    store = client.stores.metadata
    monitor = store.get_monitor(name)
    results = [r for r in store.list_monitor_results(name, limit=last) if r.status != "running"]
    results.reverse()
    starts = [r.window_start for r in results]
    columns: dict[int, list[MonitorColumn]] = {}
    for column in store.list_monitor_columns(name, starts) if starts else []:
        columns.setdefault(column.window_start, []).append(column)
    actions = [a for a in store.list_monitor_actions(name) if a.window_start in set(starts)]
    return MonitorReport(monitor, results, columns, actions)
