"""Pipeline schedules in SQL: a mixin of :class:`SqlMetadataStore` sharing its engine.

A slot is claimed with one conditional ``UPDATE … WHERE next_run_time = :due``: of several
schedulers, exactly one sees a row change, and only that one runs the slot.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from loopml.entities import Schedule
from loopml.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from loopml.storage.metadata.datasets_base import check_dataset_name
from loopml.storage.metadata.registry_base import check_text
from loopml.storage.metadata.schedules_base import ScheduleStore
from loopml.storage.metadata.sql import data_models as _tables
from loopml.storage.metadata.sql.engine import write_transaction

__all__ = ["SqlScheduleMixin"]

_SCHEDULES = _tables.SCHEDULES


def _to_schedule(row: Any) -> Schedule:
    return Schedule(
        row.name,
        row.target,
        row.cron,
        json.loads(row.params),
        row.next_run_time,
        row.created_by,
        row.creation_time,
        row.last_run_id,
        row.last_status,
        row.last_run_time,
    )


def _time(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise InvalidInputError(f"a time is milliseconds since the epoch, got {value!r}")
    return value


def _missing(name: str) -> NotFoundError:
    return NotFoundError(f"no schedule named {name!r} (see `loopml schedule list`)")


class SqlScheduleMixin(ScheduleStore):
    """The :class:`ScheduleStore` methods of the SQL store (needs ``engine``)."""

    engine: Engine

    def create_schedule(
        self,
        name: str,
        target: str,
        cron: str,
        params: Mapping[str, Any],
        next_run_time: int,
        created_by: str = "",
    ) -> Schedule:
        check_dataset_name(name)  # the same simple naming rule
        _time(next_run_time)
        check_text("target", target, 1000)
        check_text("cron", cron, 250)
        try:
            text = json.dumps(dict(params), sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"schedule parameters must be JSON values: {exc}") from exc
        clash = AlreadyExistsError(
            f"a schedule named {name!r} exists; remove it first or pick another --name"
        )
        try:
            with write_transaction(self.engine) as conn:
                if conn.execute(select(_SCHEDULES.c.name).where(_SCHEDULES.c.name == name)).first():
                    raise clash
                conn.execute(
                    insert(_SCHEDULES).values(
                        name=name,
                        target=target,
                        cron=cron,
                        params=text,
                        next_run_time=next_run_time,
                        created_by=created_by,
                        creation_time=int(time.time() * 1000),
                        last_status="",
                    )
                )
        except SqlIntegrityError as exc:
            raise clash from exc
        return self.get_schedule(name)

    def get_schedule(self, name: str) -> Schedule:
        with self.engine.connect() as conn:
            row = conn.execute(select(_SCHEDULES).where(_SCHEDULES.c.name == name)).first()
        if row is None:
            raise _missing(name)
        return _to_schedule(row)

    def list_schedules(self) -> list[Schedule]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(_SCHEDULES).order_by(_SCHEDULES.c.name)).all()
        return [_to_schedule(r) for r in rows]

    def delete_schedule(self, name: str) -> None:
        with write_transaction(self.engine) as conn:
            if conn.execute(delete(_SCHEDULES).where(_SCHEDULES.c.name == name)).rowcount == 0:
                raise _missing(name)

    def claim_schedule(self, name: str, due: int, next_run_time: int) -> bool:
        _time(due)
        _time(next_run_time)
        with write_transaction(self.engine) as conn:
            changed = conn.execute(
                update(_SCHEDULES)
                .where(_SCHEDULES.c.name == name, _SCHEDULES.c.next_run_time == due)
                .values(next_run_time=next_run_time)
            ).rowcount
            if (
                changed == 0
                and not conn.execute(
                    select(_SCHEDULES.c.name).where(_SCHEDULES.c.name == name)
                ).first()
            ):
                raise _missing(name)
        return changed == 1

    def record_schedule_run(self, name: str, run_id: str | None, status: str) -> None:
        check_text("status", status, 20)
        with write_transaction(self.engine) as conn:
            changed = conn.execute(
                update(_SCHEDULES)
                .where(_SCHEDULES.c.name == name)
                .values(
                    last_run_id=run_id,
                    last_status=status,
                    last_run_time=int(time.time() * 1000),
                )
            ).rowcount
        if changed == 0:
            raise _missing(name)
