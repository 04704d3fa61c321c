"""The MonitorStore methods of the REST store: calls to ``/api/v1/monitors``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from loopml.entities import Monitor, MonitorAction, MonitorColumn, MonitorResult
from loopml.errors import InvalidInputError
from loopml.schemas.monitoring import (
    action_from_json,
    column_from_json,
    column_to_json,
    monitor_from_json,
    result_from_json,
)
from loopml.storage.metadata.monitors_base import DEFAULT_LEASE_MS, MonitorStore

if TYPE_CHECKING:
    from loopml.storage.metadata.rest._http import HttpSession

__all__ = ["RestMonitorMixin"]

_API = "/api/v1/monitors"


def _checked(kind: str, value: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON object the server will accept (JSON has no NaN or infinity)."""
    try:
        json.dumps(dict(value), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"a monitor's {kind} must hold JSON values: {exc}") from exc
    return dict(value)


def _one(name: str) -> str:
    return f"{_API}/{quote(str(name), safe='')}"


def _window(name: str, window_start: int) -> str:
    if not isinstance(window_start, int) or isinstance(window_start, bool) or window_start < 0:
        raise InvalidInputError(
            f"window_start is milliseconds since the epoch, got {window_start!r}"
        )
    return f"{_one(name)}/windows/{window_start}"


class RestMonitorMixin(MonitorStore):
    """Monitor calls over the store's ``http`` session."""

    http: HttpSession

    def create_monitor(
        self,
        name: str,
        deployment: str,
        reference: str,
        window: int,
        spec: Mapping[str, Any],
        created_by: str = "",
    ) -> Monitor:
        body = {
            "name": name,
            "deployment": deployment,
            "reference": reference,
            "window": window,
            "spec": _checked("spec", spec),
            "created_by": created_by,
        }
        return monitor_from_json(self.http.json("POST", _API, json=body))

    def update_monitor(
        self,
        name: str,
        reference: str,
        spec: Mapping[str, Any],
        updated_by: str = "",
        expected_revision: int | None = None,
    ) -> Monitor:
        body = {
            "reference": reference,
            "spec": _checked("spec", spec),
            "updated_by": updated_by,
            "expected_revision": expected_revision,
        }
        return monitor_from_json(self.http.json("PUT", _one(name), json=body))

    def get_monitor(self, name: str) -> Monitor:
        return monitor_from_json(self.http.json("GET", _one(name)))

    def list_monitors(self) -> list[Monitor]:
        return [monitor_from_json(m) for m in self.http.json("GET", _API)["monitors"]]

    def delete_monitor(self, name: str) -> None:
        self.http.json("DELETE", _one(name))

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
        body = {
            "window_end": window_end,
            "owner": owner,
            "replace": replace,
            "lease_ms": lease_ms,
            "revision": revision,
        }
        path = f"{_window(name, window_start)}/claim"
        return bool(self.http.json("POST", path, json=body)["claimed"])

    def record_monitor_result(
        self, result: MonitorResult, columns: Sequence[MonitorColumn], owner: str
    ) -> MonitorResult:
        rows = []
        for column in columns:
            data = column_to_json(column)
            data.pop("monitor")
            data.pop("window_start")
            data["detail"] = _checked("column detail", column.detail)
            rows.append(data)
        body = {
            "window_end": result.window_end,
            "status": result.status,
            "rows": result.rows,
            "run_id": result.run_id,
            "summary": _checked("result summary", result.summary),
            "owner": owner,
            "columns": rows,
        }
        path = _window(result.monitor, result.window_start)
        return result_from_json(self.http.json("PUT", path, json=body))

    def release_monitor_window(self, name: str, window_start: int, owner: str) -> None:
        self.http.json("POST", f"{_window(name, window_start)}/release", json={"owner": owner})

    def get_monitor_result(self, name: str, window_start: int) -> MonitorResult:
        return result_from_json(self.http.json("GET", _window(name, window_start)))

    def list_monitor_results(
        self,
        name: str,
        since: int | None = None,
        until: int | None = None,
        limit: int = 1000,
    ) -> list[MonitorResult]:
        params = {k: v for k, v in (("since", since), ("until", until)) if v is not None}
        found = self.http.json("GET", f"{_one(name)}/windows", params={**params, "limit": limit})
        return [result_from_json(r) for r in found["results"]]

    def list_monitor_columns(self, name: str, window_starts: Sequence[int]) -> list[MonitorColumn]:
        starts = sorted(set(window_starts))
        out: list[MonitorColumn] = []
        for i in range(0, len(starts), 200):  # keeps the query string short
            found = self.http.json(
                "GET", f"{_one(name)}/columns", params={"window_start": starts[i : i + 200]}
            )
            out += [column_from_json(c) for c in found["columns"]]
        return out

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
        body = {
            "action": action,
            "kind": kind,
            "rate_key": rate_key,
            "min_interval_ms": min_interval_ms,
            "detail": _checked("action detail", detail or {}),
        }
        found = self.http.json("POST", f"{_window(name, window_start)}/actions/claim", json=body)
        return bool(found["claimed"]), action_from_json(found["action"])

    def record_monitor_action(
        self,
        name: str,
        window_start: int,
        action: str,
        status: str,
        detail: Mapping[str, Any],
    ) -> MonitorAction:
        body = {"action": action, "status": status, "detail": _checked("action detail", detail)}
        path = f"{_window(name, window_start)}/actions"
        return action_from_json(self.http.json("PUT", path, json=body))

    def list_monitor_actions(
        self, name: str, window_start: int | None = None
    ) -> list[MonitorAction]:
        params = {} if window_start is None else {"window_start": window_start}
        found = self.http.json("GET", f"{_one(name)}/actions", params=params)
        return [action_from_json(a) for a in found["actions"]]
