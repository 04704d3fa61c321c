"""Monitors in SQL: a mixin of :class:`SqlMetadataStore` sharing its engine.

A window is claimed with one conditional write: an ``INSERT`` of a ``running`` row (the
primary key lets only one through), or an ``UPDATE … WHERE claimed_by = :seen AND
claim_time = :seen`` over an expired or released claim. An action is claimed the same way,
after the monitor's row is locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` serialises writers already), so two checkers never both pass the
rate limit.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine, and_, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from loopml.entities import Monitor, MonitorAction, MonitorColumn, MonitorResult
from loopml.errors import (
    AlreadyExistsError,
    InvalidInputError,
    InvalidStateError,
    MonitorNotFoundError,
    RevisionConflictError,
)
from loopml.storage.metadata.datasets_base import check_dataset_name
from loopml.storage.metadata.monitors_base import (
    ACTION_STATUSES,
    DEFAULT_LEASE_MS,
    RESULT_STATUSES,
    MonitorStore,
)
from loopml.storage.metadata.registry_base import check_text
from loopml.storage.metadata.sql import monitoring_models as _tables
from loopml.storage.metadata.sql.engine import write_transaction

__all__ = ["SqlMonitorMixin"]

_MONITORS = _tables.MONITORS
_RESULTS = _tables.MONITOR_RESULTS
_COLUMNS = _tables.MONITOR_COLUMNS
_ACTIONS = _tables.MONITOR_ACTIONS
_MAX_SPEC = 2_000_000  # characters: a spec holds the outputs' reference profile
_MAX_JSON = 1_000_000
_IN_CHUNK = 500
_STARTED = ("claimed", "done", "failed")  # action statuses that count for rate limits


def _json(kind: str, value: Mapping[str, Any], limit: int = _MAX_JSON) -> str:
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"a monitor's {kind} must be a JSON object, got {value!r}")
    try:
        text = json.dumps(dict(value), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"a monitor's {kind} must hold JSON values: {exc}") from exc
    if len(text) > limit:
        raise InvalidInputError(
            f"a monitor's {kind} is {len(text)} characters of JSON; the limit is {limit}"
        )
    return text


def _time(what: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**62:
        raise InvalidInputError(f"{what} is milliseconds since the epoch, got {value!r}")
    return value


def _count(what: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**62:
        raise InvalidInputError(f"{what} must be a whole number >= 0, got {value!r}")
    return value


def _number(what: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise InvalidInputError(f"{what} must be a number or null, got {value!r}")
    return float(value)


def _now() -> int:
    return int(time.time() * 1000)


def _missing(name: str) -> MonitorNotFoundError:
    return MonitorNotFoundError(f"no monitor named {name!r} (see `loopml monitor list`)")


def _to_monitor(row: Any) -> Monitor:
    return Monitor(
        row.name,
        row.deployment,
        row.reference,
        row.window_seconds,
        json.loads(row.spec),
        row.created_by,
        row.creation_time,
        row.revision,
        row.updated_by,
        row.update_time,
    )


def _to_result(row: Any) -> MonitorResult:
    return MonitorResult(
        row.monitor,
        row.window_start,
        row.window_end,
        row.status,
        row.rows,
        row.run_id,
        json.loads(row.summary),
        row.claimed_by,
        row.creation_time,
        row.update_time,
        row.revision,
    )


def _to_column(row: Any) -> MonitorColumn:
    return MonitorColumn(
        row.monitor,
        row.window_start,
        row.column_name,
        row.role,
        row.kind,
        row.test,
        row.statistic,
        row.p_value,
        row.threshold,
        row.distance,
        row.distance_threshold,
        row.drifted,
        row.ref_count,
        row.cur_count,
        row.ref_nulls,
        row.cur_nulls,
        row.note,
        json.loads(row.detail),
    )


def _to_action(row: Any) -> MonitorAction:
    return MonitorAction(
        row.monitor,
        row.window_start,
        row.action,
        row.kind,
        row.rate_key,
        row.status,
        row.time,
        json.loads(row.detail),
    )


def _column_values(column: MonitorColumn, monitor: str, window_start: int) -> dict[str, Any]:
    where = f"column {column.column!r}"
    return {
        "monitor": monitor,
        "window_start": window_start,
        "column_name": check_text("a column name", column.column, 500),
        "role": check_text(f"{where}: role", column.role, 20),
        "kind": check_text(f"{where}: kind", column.kind, 20),
        "test": None if column.test is None else check_text(f"{where}: test", column.test, 50),
        "statistic": _number(f"{where}: statistic", column.statistic),
        "p_value": _number(f"{where}: p_value", column.p_value),
        "threshold": _number(f"{where}: threshold", column.threshold),
        "distance": _number(f"{where}: distance", column.distance),
        "distance_threshold": _number(f"{where}: distance_threshold", column.distance_threshold),
        "drifted": column.drifted if column.drifted is None else bool(column.drifted),
        "ref_count": _count(f"{where}: ref_count", column.ref_count),
        "cur_count": _count(f"{where}: cur_count", column.cur_count),
        "ref_nulls": _count(f"{where}: ref_nulls", column.ref_nulls),
        "cur_nulls": _count(f"{where}: cur_nulls", column.cur_nulls),
        "note": check_text(f"{where}: note", column.note, 10_000),
        "detail": _json(f"{where} detail", column.detail),
    }


class SqlMonitorMixin(MonitorStore):
    """The :class:`MonitorStore` methods of the SQL store (needs ``engine``)."""

    engine: Engine

    def _monitor_row(self, conn: Connection, name: str, lock: bool = False) -> Any:
        query = select(_MONITORS).where(_MONITORS.c.name == name)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            raise _missing(name)
        return row

    @staticmethod
    def _result_row(conn: Connection, name: str, window_start: int) -> Any:
        return conn.execute(
            select(_RESULTS).where(
                _RESULTS.c.monitor == name, _RESULTS.c.window_start == window_start
            )
        ).first()

    # -- monitors ----------------------------------------------------------------------
    def create_monitor(
        self,
        name: str,
        deployment: str,
        reference: str,
        window: int,
        spec: Mapping[str, Any],
        created_by: str = "",
    ) -> Monitor:
        check_dataset_name(name)
        check_dataset_name(deployment)
        check_text("reference", reference, 500)
        if not reference:
            raise InvalidInputError("a monitor needs a reference dataset version")
        if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window < 2**40:
            raise InvalidInputError(f"a monitor's window is whole seconds >= 1, got {window!r}")
        check_text("created_by", created_by, 256)
        spec_text = _json("spec", spec, _MAX_SPEC)
        clash = AlreadyExistsError(
            f"a monitor named {name!r} exists; delete it first (`loopml monitor delete "
            f"{name}`) or pick another name"
        )
        now = _now()
        try:
            with write_transaction(self.engine) as conn:
                found = conn.execute(select(_MONITORS.c.name).where(_MONITORS.c.name == name))
                if found.first():
                    raise clash
                conn.execute(
                    insert(_MONITORS).values(
                        name=name,
                        deployment=deployment,
                        reference=reference,
                        window_seconds=window,
                        spec=spec_text,
                        created_by=created_by,
                        creation_time=now,
                        revision=1,
                        updated_by=created_by,
                        update_time=now,
                    )
                )
        except SqlIntegrityError as exc:
            raise clash from exc
        return self.get_monitor(name)

    def update_monitor(
        self,
        name: str,
        reference: str,
        spec: Mapping[str, Any],
        updated_by: str = "",
        expected_revision: int | None = None,
    ) -> Monitor:
        check_text("reference", reference, 500)
        if not reference:
            raise InvalidInputError("a monitor needs a reference dataset version")
        check_text("updated_by", updated_by, 256)
        if expected_revision is not None:
            _count("expected_revision", expected_revision)
        spec_text = _json("spec", spec, _MAX_SPEC)
        with write_transaction(self.engine) as conn:
            row = self._monitor_row(conn, name, lock=True)
            if expected_revision is not None and row.revision != expected_revision:
                raise RevisionConflictError(
                    f"monitor {name!r} was changed by {row.updated_by or 'someone'} since "
                    f"revision {expected_revision} (it is at revision {row.revision}); read "
                    "it again and repeat the change"
                )
            changed = conn.execute(
                update(_MONITORS)
                .where(_MONITORS.c.name == name, _MONITORS.c.revision == row.revision)
                .values(
                    reference=reference,
                    spec=spec_text,
                    revision=row.revision + 1,
                    updated_by=updated_by,
                    update_time=max(_now(), row.update_time + 1),
                )
            ).rowcount
            if changed != 1:  # only without a row lock: another change won the race
                raise RevisionConflictError(
                    f"monitor {name!r} was changed at the same time by another writer; "
                    "read it again and repeat the change"
                )
        return self.get_monitor(name)

    def get_monitor(self, name: str) -> Monitor:
        with self.engine.connect() as conn:
            return _to_monitor(self._monitor_row(conn, name))

    def list_monitors(self) -> list[Monitor]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(_MONITORS).order_by(_MONITORS.c.name)).all()
        return [_to_monitor(r) for r in rows]

    def delete_monitor(self, name: str) -> None:
        with write_transaction(self.engine) as conn:
            self._monitor_row(conn, name, lock=True)
            for table in (_ACTIONS, _COLUMNS, _RESULTS):
                conn.execute(delete(table).where(table.c.monitor == name))
            conn.execute(delete(_MONITORS).where(_MONITORS.c.name == name))

    # -- windows -----------------------------------------------------------------------
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
        _time("window_start", window_start)
        _time("window_end", window_end)
        if window_end <= window_start:
            raise InvalidInputError("a window must end after it starts")
        check_text("owner", owner, 256)
        if not owner:
            raise InvalidInputError("a claim needs an owner (who computes the window)")
        _count("lease_ms", lease_ms)
        if revision is not None:
            _count("revision", revision)
        now = _now()
        try:
            with write_transaction(self.engine) as conn:
                self._monitor_row(conn, name)
                row = self._result_row(conn, name, window_start)
                if revision is not None and (row is None or row.revision != revision):
                    return False  # another checker stored a result since it was read
                if row is None:
                    conn.execute(
                        insert(_RESULTS).values(
                            monitor=name,
                            window_start=window_start,
                            window_end=window_end,
                            status="running",
                            rows=0,
                            run_id=None,
                            summary="{}",
                            claimed_by=owner,
                            claim_time=now,
                            creation_time=now,
                            update_time=now,
                            revision=0,
                        )
                    )
                    return True
                held = bool(row.claimed_by) and row.claim_time is not None
                if held and row.claim_time > now - lease_ms:
                    return False  # someone is computing it now
                if not (replace or row.status in ("running", "failed")):
                    return False  # a result is stored
                seen = (
                    _RESULTS.c.claim_time.is_(None)
                    if row.claim_time is None
                    else _RESULTS.c.claim_time == row.claim_time
                )
                changed = conn.execute(
                    update(_RESULTS)
                    .where(
                        _RESULTS.c.monitor == name,
                        _RESULTS.c.window_start == window_start,
                        _RESULTS.c.claimed_by == row.claimed_by,
                        _RESULTS.c.revision == row.revision,
                        seen,
                    )
                    .values(claimed_by=owner, claim_time=now)
                ).rowcount
                return bool(changed == 1)
        except SqlIntegrityError:
            return False  # another checker inserted the claim first

    def record_monitor_result(
        self, result: MonitorResult, columns: Sequence[MonitorColumn], owner: str
    ) -> MonitorResult:
        name, start = result.monitor, result.window_start
        _time("window_start", start)
        _time("window_end", result.window_end)
        if result.status not in RESULT_STATUSES or result.status == "running":
            final = ", ".join(s for s in RESULT_STATUSES if s != "running")
            raise InvalidInputError(f"a result's status is one of {final}, not {result.status!r}")
        _count("rows", result.rows)
        if result.run_id is not None:
            check_text("run_id", result.run_id, 32)
        summary = _json("result summary", result.summary)
        values = [_column_values(c, name, start) for c in columns]
        if len({v["column_name"] for v in values}) != len(values):
            raise InvalidInputError("a window's column results must name each column once")
        now = _now()
        with write_transaction(self.engine) as conn:
            self._monitor_row(conn, name)
            row = self._result_row(conn, name, start)
            if row is None or row.claimed_by != owner or not owner:
                holder = (
                    f" ({row.claimed_by} holds it)" if row is not None and row.claimed_by else ""
                )
                raise InvalidStateError(
                    f"the window of monitor {name!r} starting at {start} is not claimed by "
                    f"{owner!r}{holder}; claim it before recording its result"
                )
            conn.execute(
                update(_RESULTS)
                .where(_RESULTS.c.monitor == name, _RESULTS.c.window_start == start)
                .values(
                    window_end=result.window_end,
                    status=result.status,
                    rows=result.rows,
                    run_id=result.run_id,
                    summary=summary,
                    claimed_by="",
                    claim_time=None,
                    update_time=now,
                    revision=row.revision + 1,
                )
            )
            conn.execute(
                delete(_COLUMNS).where(_COLUMNS.c.monitor == name, _COLUMNS.c.window_start == start)
            )
            if values:
                conn.execute(insert(_COLUMNS), values)
        return self.get_monitor_result(name, start)

    def release_monitor_window(self, name: str, window_start: int, owner: str) -> None:
        with write_transaction(self.engine) as conn:
            row = self._result_row(conn, name, window_start)
            if row is None or row.claimed_by != owner:
                return
            where = and_(_RESULTS.c.monitor == name, _RESULTS.c.window_start == window_start)
            if row.revision == 0:
                conn.execute(delete(_RESULTS).where(where))
            else:
                conn.execute(update(_RESULTS).where(where).values(claimed_by="", claim_time=None))

    def get_monitor_result(self, name: str, window_start: int) -> MonitorResult:
        with self.engine.connect() as conn:
            row = self._result_row(conn, name, window_start)
            if row is None:
                self._monitor_row(conn, name)
                raise MonitorNotFoundError(
                    f"monitor {name!r} has no result for the window starting at {window_start}; "
                    f"check it with `loopml monitor run {name} --window-start …`"
                )
        return _to_result(row)

    def list_monitor_results(
        self,
        name: str,
        since: int | None = None,
        until: int | None = None,
        limit: int = 1000,
    ) -> list[MonitorResult]:
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100_000:
            raise InvalidInputError(f"limit must be a whole number from 1 to 100000, got {limit!r}")
        query = select(_RESULTS).where(_RESULTS.c.monitor == name)
        if since is not None:
            query = query.where(_RESULTS.c.window_start >= _time("since", since))
        if until is not None:
            query = query.where(_RESULTS.c.window_start < _time("until", until))
        with self.engine.connect() as conn:
            self._monitor_row(conn, name)
            rows = conn.execute(query.order_by(_RESULTS.c.window_start.desc()).limit(limit)).all()
        return [_to_result(r) for r in rows]

    def list_monitor_columns(self, name: str, window_starts: Sequence[int]) -> list[MonitorColumn]:
        starts = sorted({_time("window_start", s) for s in window_starts})
        rows: list[Any] = []
        with self.engine.connect() as conn:
            self._monitor_row(conn, name)
            for i in range(0, len(starts), _IN_CHUNK):
                rows += conn.execute(
                    select(_COLUMNS).where(
                        _COLUMNS.c.monitor == name,
                        _COLUMNS.c.window_start.in_(starts[i : i + _IN_CHUNK]),
                    )
                ).all()
        rows.sort(key=lambda r: (r.window_start, r.column_name))
        return [_to_column(r) for r in rows]

    # -- actions -----------------------------------------------------------------------
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
        _time("window_start", window_start)
        for what, value, limit in (("action", action, 1000), ("kind", kind, 20),
                                   ("rate_key", rate_key, 1000)):  # fmt: skip
            check_text(what, value, limit)
            if not value:
                raise InvalidInputError(f"an action's {what} must not be empty")
        _count("min_interval_ms", min_interval_ms)
        extra = dict(detail or {})
        now = _now()

        def fetch(conn: Connection) -> Any:
            return conn.execute(
                select(_ACTIONS).where(
                    _ACTIONS.c.monitor == name,
                    _ACTIONS.c.window_start == window_start,
                    _ACTIONS.c.action == action,
                )
            ).first()

        try:
            with write_transaction(self.engine) as conn:
                self._monitor_row(conn, name, lock=True)
                existing = fetch(conn)
                if existing is not None:
                    return False, _to_action(existing)
                status = "claimed"
                if min_interval_ms > 0:
                    last = conn.execute(
                        select(_ACTIONS)
                        .where(
                            _ACTIONS.c.monitor == name,
                            _ACTIONS.c.rate_key == rate_key,
                            _ACTIONS.c.status.in_(_STARTED),
                            _ACTIONS.c.time > now - min_interval_ms,
                        )
                        .order_by(_ACTIONS.c.time.desc())
                        .limit(1)
                    ).first()
                    if last is not None:
                        status = "rate_limited"
                        extra.update(
                            {
                                "last_time": last.time,
                                "last_window_start": last.window_start,
                                "min_interval_ms": min_interval_ms,
                                "next_allowed": last.time + min_interval_ms,
                            }
                        )
                conn.execute(
                    insert(_ACTIONS).values(
                        monitor=name,
                        window_start=window_start,
                        action=action,
                        kind=kind,
                        rate_key=rate_key,
                        status=status,
                        time=now,
                        detail=_json("action detail", extra),
                    )
                )
                return status == "claimed", _to_action(fetch(conn))
        except SqlIntegrityError:
            with self.engine.connect() as conn:
                return False, _to_action(fetch(conn))

    def record_monitor_action(
        self,
        name: str,
        window_start: int,
        action: str,
        status: str,
        detail: Mapping[str, Any],
    ) -> MonitorAction:
        if status not in ACTION_STATUSES or status in ("claimed", "rate_limited"):
            raise InvalidInputError(f"an action ends as done or failed, not {status!r}")
        text = _json("action detail", detail)
        where = and_(
            _ACTIONS.c.monitor == name,
            _ACTIONS.c.window_start == window_start,
            _ACTIONS.c.action == action,
        )
        with write_transaction(self.engine) as conn:
            self._monitor_row(conn, name)
            row = conn.execute(select(_ACTIONS).where(where)).first()
            if row is None:
                raise MonitorNotFoundError(
                    f"monitor {name!r} has no action {action!r} in the window starting at "
                    f"{window_start}; claim it first"
                )
            if row.status not in ("claimed",) and row.status != status:
                raise InvalidStateError(
                    f"action {action!r} of monitor {name!r} is {row.status}; only a claimed "
                    "action gets an outcome"
                )
            conn.execute(update(_ACTIONS).where(where).values(status=status, detail=text))
            row = conn.execute(select(_ACTIONS).where(where)).first()
        return _to_action(row)

    def list_monitor_actions(
        self, name: str, window_start: int | None = None
    ) -> list[MonitorAction]:
        query = select(_ACTIONS).where(_ACTIONS.c.monitor == name)
        if window_start is not None:
            query = query.where(_ACTIONS.c.window_start == _time("window_start", window_start))
        with self.engine.connect() as conn:
            self._monitor_row(conn, name)
            rows = conn.execute(query.order_by(_ACTIONS.c.time, _ACTIONS.c.action)).all()
        return [_to_action(r) for r in rows]
