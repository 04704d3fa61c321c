"""The ScheduleStore methods of the REST store: calls to ``/api/v1/schedules``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from loopml.entities import Schedule
from loopml.schemas.datasets import schedule_from_json
from loopml.storage.metadata.schedules_base import ScheduleStore

if TYPE_CHECKING:
    from loopml.storage.metadata.rest._http import HttpSession

__all__ = ["RestScheduleMixin"]

_API = "/api/v1/schedules"


def _one(name: str) -> str:
    return f"{_API}/{quote(str(name), safe='')}"


class RestScheduleMixin(ScheduleStore):
    """Schedule calls over the store's ``http`` session."""

    http: HttpSession

    def create_schedule(
        self,
        name: str,
        target: str,
        cron: str,
        params: Mapping[str, Any],
        next_run_time: int,
        created_by: str = "",
    ) -> Schedule:
        body = {
            "name": name,
            "target": target,
            "cron": cron,
            "params": dict(params),
            "next_run_time": next_run_time,
            "created_by": created_by,
        }
        return schedule_from_json(self.http.json("POST", _API, json=body))

    def get_schedule(self, name: str) -> Schedule:
        return schedule_from_json(self.http.json("GET", _one(name)))

    def list_schedules(self) -> list[Schedule]:
        return [schedule_from_json(s) for s in self.http.json("GET", _API)["schedules"]]

    def delete_schedule(self, name: str) -> None:
        self.http.json("DELETE", _one(name))

    def claim_schedule(self, name: str, due: int, next_run_time: int) -> bool:
        body = {"due": due, "next_run_time": next_run_time}
        return bool(self.http.json("POST", f"{_one(name)}/claim", json=body)["claimed"])

    def record_schedule_run(self, name: str, run_id: str | None, status: str) -> None:
        body = {"run_id": run_id, "status": status}
        self.http.json("POST", f"{_one(name)}/runs", json=body)
