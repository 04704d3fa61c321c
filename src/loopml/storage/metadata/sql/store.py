"""The SQL metadata store: SQLite (embedded default) and PostgreSQL through SQLAlchemy 2."""

from __future__ import annotations

import dataclasses
import functools
import importlib
import math
import time
import uuid
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError as SqlIntegrityError
from sqlalchemy.exc import SQLAlchemyError

from loopml.entities import (
    ArtifactRecord,
    Experiment,
    LifecycleStage,
    Metric,
    PagedList,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from loopml.entities.validation import (
    check_experiment_name,
    check_key,
    check_metric_value,
    check_param_value,
    check_run_id,
    check_tag_value,
    normalize_relative_path,
)
from loopml.errors import (
    AlreadyExistsError,
    ExperimentNotFoundError,
    InvalidInputError,
    InvalidStateError,
    NotFoundError,
    ParamConflictError,
    RunNotFoundError,
    StoreError,
)
from loopml.storage.metadata.base import (
    SEARCH_MAX_RESULTS_DEFAULT,
    SEARCH_MAX_RESULTS_LIMIT,
    MetadataStore,
)
from loopml.storage.metadata.names import generate_run_name
from loopml.storage.metadata.search import (
    decode_page_token,
    encode_page_token,
    parse_filter,
    parse_order_by,
)
from loopml.storage.metadata.sql.datasets import SqlDatasetMixin
from loopml.storage.metadata.sql.deployments import SqlDeploymentMixin
from loopml.storage.metadata.sql.engine import make_engine, upgrade_schema, write_transaction
from loopml.storage.metadata.sql.models import (
    ARTIFACTS,
    EXPERIMENT_TAGS,
    EXPERIMENTS,
    LATEST_METRICS,
    METRICS,
    PARAMS,
    RUNS,
    TAGS,
)
from loopml.storage.metadata.sql.monitors import SqlMonitorMixin
from loopml.storage.metadata.sql.registry import SqlRegistryMixin
from loopml.storage.metadata.sql.schedules import SqlScheduleMixin
from loopml.storage.metadata.sql.search import run_search_query

__all__ = ["SqlMetadataStore"]

_METRICS = METRICS
_LATEST = LATEST_METRICS
_PARAMS = PARAMS
_TAGS = TAGS
_ARTIFACTS = ARTIFACTS
_IN_CHUNK = 5000  # bound on bound parameters per IN (...) list
_MetricRow = tuple[str, str, float, int, int, bool]
_RUN_COLUMNS = (
    "run_uuid, experiment_id, name, user_id, status, start_time, end_time, "
    "lifecycle_stage, artifact_uri"
)


@functools.lru_cache(maxsize=256)
def _search_query(
    pks: tuple[int, ...], stages: tuple[str, ...], filter_string: str, order_by: tuple[str, ...]
) -> Any:
    """The id query for a search; dashboards repeat the same searches, so it is cached."""
    return run_search_query(pks, stages, parse_filter(filter_string), parse_order_by(order_by))


# Statements of the hot paths, built once: building one (and its cache key) costs about
# as much as executing it on SQLite. Values travel as bound parameters.
_RUN_BY_ID = select(RUNS).where(RUNS.c.run_uuid == bindparam("run_id"))
_EXPERIMENT_BY_ID = select(EXPERIMENTS).where(EXPERIMENTS.c.experiment_id == bindparam("pk"))
_INSERT_RUN = insert(RUNS)
_INSERT_TAGS = insert(TAGS)
_INSERT_PARAMS = insert(PARAMS)
_PARAMS_OF_RUN = select(PARAMS.c.key, PARAMS.c.value).where(
    PARAMS.c.run_uuid == bindparam("run_id"), PARAMS.c.key.in_(bindparam("keys", expanding=True))
)
_ARTIFACT_ROWS = select(ARTIFACTS.c.path, ARTIFACTS.c.digest, ARTIFACTS.c.size).where(
    ARTIFACTS.c.run_uuid == bindparam("run_id")
)
_ARTIFACTS_OF_RUN = _ARTIFACT_ROWS.order_by(ARTIFACTS.c.path)
_ARTIFACTS_UNDER = _ARTIFACT_ROWS.where(
    or_(
        ARTIFACTS.c.path == bindparam("path"),
        ARTIFACTS.c.path.like(bindparam("pattern"), escape="\\"),
    )
).order_by(ARTIFACTS.c.path)


@functools.lru_cache(maxsize=16)
def _run_update(columns: tuple[str, ...]) -> Any:
    """``UPDATE runs SET <columns> WHERE run_uuid = :run_id``; values bound as ``new_<column>``."""
    return (
        update(RUNS)
        .where(RUNS.c.run_uuid == bindparam("run_id"))
        .values({c: bindparam(f"new_{c}") for c in columns})
    )


_STATUSES = {s.value: s for s in RunStatus}
_STAGES = {s.value: s for s in LifecycleStage}


def _info_from_tuple(row: tuple[Any, ...]) -> RunInfo:
    return RunInfo(
        run_id=row[0],
        experiment_id=str(row[1]),
        run_name=row[2],
        user_id=row[3],
        status=_STATUSES[row[4]],
        start_time=row[5],
        end_time=row[6],
        lifecycle_stage=_STAGES[row[7]],
        artifact_uri=row[8],
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


def _experiment_pk(experiment_id: str | int) -> int:
    try:
        value = int(experiment_id)
    except (TypeError, ValueError) as exc:
        raise ExperimentNotFoundError(
            f"{experiment_id!r} is not an experiment id; ids are integers "
            "(see `loopml experiments list`)"
        ) from exc
    if value < 0 or value > 2**31 - 1:
        raise ExperimentNotFoundError(f"no experiment with id {experiment_id!r}")
    return value


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


class SqlMetadataStore(
    SqlDatasetMixin,
    SqlScheduleMixin,
    SqlDeploymentMixin,
    SqlMonitorMixin,
    SqlRegistryMixin,
    MetadataStore,
):
    """Metadata in SQLite or PostgreSQL; the schema is kept current by Alembic migrations.

    Args:
        url: ``sqlite:///path/metadata.db`` or ``postgresql://user@host/db``.
        busy_timeout_ms: how long SQLite waits for another process's write lock.
        allow_unapproved_champion: let the alias ``champion`` point at a version that is
            not approved.
        require_passing_gate: approve only versions whose latest release-gate verdict
            (tag ``loopml.gate``) passed.
    """

    def __init__(
        self,
        url: str,
        busy_timeout_ms: int = 60_000,
        allow_unapproved_champion: bool = False,
        require_passing_gate: bool = False,
    ) -> None:
        self.url = url
        self.allow_unapproved_champion = allow_unapproved_champion
        self.require_passing_gate = require_passing_gate
        self.engine = make_engine(url, busy_timeout_ms)
        upgrade_schema(self.engine)
        # Only the dialect in use is imported (PostgreSQL's pulls in asyncio and asyncpg).
        name = "sqlite" if self.engine.dialect.name == "sqlite" else "postgresql"
        dialect = importlib.import_module(f"sqlalchemy.dialects.{name}")
        self._insert = dialect.insert
        tags = dialect.insert(TAGS)
        self._upsert_tags = tags.on_conflict_do_update(
            index_elements=["run_uuid", "key"], set_={"value": tags.excluded.value}
        )
        artifacts = dialect.insert(ARTIFACTS)
        self._upsert_artifacts = artifacts.on_conflict_do_update(
            index_elements=["run_uuid", "path"],
            set_={
                "digest": artifacts.excluded.digest,
                "size": artifacts.excluded.size,
                "created_time": artifacts.excluded.created_time,
            },
        )
        mark = self._mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        self._metric_insert_sql = (
            'INSERT INTO metrics (run_uuid, "key", value, "timestamp", step, is_nan) '
            f"VALUES ({', '.join([mark] * 6)})"
        )

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"SqlMetadataStore({self.engine.url.render_as_string()!r})"

    # -- helpers -----------------------------------------------------------------------
    def _read(self) -> Connection:
        return self.engine.connect()

    def _write(self) -> AbstractContextManager[Connection]:
        return write_transaction(self.engine)

    @staticmethod
    def _experiment_row(conn: Connection, experiment_id: str | int) -> Any:
        row = conn.execute(_EXPERIMENT_BY_ID, {"pk": _experiment_pk(experiment_id)}).first()
        if row is None:
            raise ExperimentNotFoundError(
                f"no experiment with id {experiment_id!r} (see `loopml experiments list`)"
            )
        return row

    @staticmethod
    def _to_experiment(row: Any, tags: dict[str, str]) -> Experiment:
        return Experiment(
            experiment_id=str(row.experiment_id),
            name=row.name,
            artifact_location=row.artifact_location,
            lifecycle_stage=LifecycleStage(row.lifecycle_stage),
            creation_time=row.creation_time,
            last_update_time=row.last_update_time,
            tags=tags,
        )

    @staticmethod
    def _experiment_tags(conn: Connection, pks: Sequence[int]) -> dict[int, dict[str, str]]:
        out: dict[int, dict[str, str]] = {pk: {} for pk in pks}
        if pks:
            rows = conn.execute(
                select(
                    EXPERIMENT_TAGS.c.experiment_id, EXPERIMENT_TAGS.c.key, EXPERIMENT_TAGS.c.value
                ).where(EXPERIMENT_TAGS.c.experiment_id.in_(list(pks)))
            )
            for pk, key, value in rows:
                out[pk][key] = value
        return out

    @staticmethod
    def _run_row(conn: Connection, run_id: str) -> Any:
        check_run_id(run_id)
        row = conn.execute(_RUN_BY_ID, {"run_id": run_id}).first()
        if row is None:
            raise RunNotFoundError(f"no run with id {run_id!r} (see `loopml runs list`)")
        return row

    def _active_run(self, conn: Connection, run_id: str) -> Any:
        row = self._run_row(conn, run_id)
        if row.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidStateError(
                f"run {run_id} is deleted; restore it (`loopml runs restore {run_id}`) "
                "before logging to it"
            )
        return row

    @staticmethod
    def _to_info(row: Any) -> RunInfo:
        return RunInfo(
            run_id=row.run_uuid,
            experiment_id=str(row.experiment_id),
            run_name=row.name,
            user_id=row.user_id,
            status=RunStatus(row.status),
            start_time=row.start_time,
            end_time=row.end_time,
            lifecycle_stage=LifecycleStage(row.lifecycle_stage),
            artifact_uri=row.artifact_uri,
        )

    def _load_runs(self, conn: Connection, run_ids: Sequence[str]) -> list[Run]:
        """Runs with their data, in the order of ``run_ids``.

        Searches return hundreds of runs, so this reads with plain SQL through the driver
        (four statements per chunk of ids), skipping SQLAlchemy's per-row processing.
        """
        infos: dict[str, tuple[Any, ...]] = {}
        metrics: dict[str, dict[str, float]] = {r: {} for r in run_ids}
        params: dict[str, dict[str, str]] = {r: {} for r in run_ids}
        tags: dict[str, dict[str, str]] = {r: {} for r in run_ids}
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            for chunk in _chunks(run_ids):
                ids = tuple(chunk)
                marks = ", ".join([self._mark] * len(ids))
                cursor.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_uuid IN ({marks})", ids)
                for row in cursor.fetchall():
                    infos[row[0]] = row
                cursor.execute(
                    'SELECT run_uuid, "key", value, is_nan FROM latest_metrics '
                    f"WHERE run_uuid IN ({marks})",
                    ids,
                )
                for run, key, value, is_nan in cursor.fetchall():
                    metrics[run][key] = math.nan if is_nan else value
                for table, target in (("params", params), ("tags", tags)):
                    cursor.execute(
                        f'SELECT run_uuid, "key", value FROM {table} WHERE run_uuid IN ({marks})',
                        ids,
                    )
                    for run, key, value in cursor.fetchall():
                        target[run][key] = value
        finally:
            cursor.close()
        return [
            Run(_info_from_tuple(infos[r]), RunData(metrics[r], params[r], tags[r]))
            for r in run_ids
            if r in infos
        ]

    # -- experiments -------------------------------------------------------------------
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Sequence[RunTag] = ()
    ) -> str:
        check_experiment_name(name)
        tag_rows = [(check_key("tag", t.key), check_tag_value(t.key, t.value)) for t in tags]
        now = _now_ms()
        try:
            with self._write() as conn:
                if conn.execute(
                    select(EXPERIMENTS.c.experiment_id).where(EXPERIMENTS.c.name == name)
                ).first():
                    raise AlreadyExistsError(
                        f"an experiment named {name!r} already exists; pick another name or "
                        "use it with set_experiment()"
                    )
                pk = conn.execute(
                    insert(EXPERIMENTS).values(
                        name=name,
                        artifact_location=artifact_location or "",
                        lifecycle_stage=LifecycleStage.ACTIVE.value,
                        creation_time=now,
                        last_update_time=now,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
                if tag_rows:
                    conn.execute(
                        insert(EXPERIMENT_TAGS),
                        [{"experiment_id": pk, "key": k, "value": v} for k, v in tag_rows],
                    )
        except SqlIntegrityError as exc:
            # Another process created the same name between our check and insert.
            raise AlreadyExistsError(f"an experiment named {name!r} already exists") from exc
        return str(pk)

    def get_experiment(self, experiment_id: str) -> Experiment:
        with self._read() as conn:
            row = self._experiment_row(conn, experiment_id)
            tags = self._experiment_tags(conn, [row.experiment_id])
        return self._to_experiment(row, tags[row.experiment_id])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with self._read() as conn:
            row = conn.execute(select(EXPERIMENTS).where(EXPERIMENTS.c.name == name)).first()
            if row is None:
                return None
            tags = self._experiment_tags(conn, [row.experiment_id])
        return self._to_experiment(row, tags[row.experiment_id])

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        page_token: str | None = None,
        name_like: str | None = None,
    ) -> PagedList[Experiment]:
        _check_max_results(max_results)
        offset = decode_page_token(page_token)
        query = select(EXPERIMENTS).where(
            EXPERIMENTS.c.lifecycle_stage.in_([s.value for s in ViewType(view_type).stages()])
        )
        if name_like:
            query = query.where(EXPERIMENTS.c.name.ilike(name_like))
        query = query.order_by(
            EXPERIMENTS.c.creation_time.desc(), EXPERIMENTS.c.experiment_id.desc()
        )
        with self._read() as conn:
            rows = conn.execute(query.offset(offset).limit(max_results + 1)).all()
            page = rows[:max_results]
            tags = self._experiment_tags(conn, [r.experiment_id for r in page])
        token = encode_page_token(offset + max_results) if len(rows) > max_results else None
        return PagedList([self._to_experiment(r, tags[r.experiment_id]) for r in page], token)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        check_experiment_name(new_name)
        try:
            with self._write() as conn:
                row = self._experiment_row(conn, experiment_id)
                clash = conn.execute(
                    select(EXPERIMENTS.c.experiment_id).where(EXPERIMENTS.c.name == new_name)
                ).scalar()
                if clash is not None and clash != row.experiment_id:
                    raise AlreadyExistsError(f"an experiment named {new_name!r} already exists")
                conn.execute(
                    update(EXPERIMENTS)
                    .where(EXPERIMENTS.c.experiment_id == row.experiment_id)
                    .values(name=new_name, last_update_time=_now_ms())
                )
        except SqlIntegrityError as exc:
            raise AlreadyExistsError(f"an experiment named {new_name!r} already exists") from exc

    def _set_experiment_stage(self, experiment_id: str, stage: LifecycleStage) -> None:
        with self._write() as conn:
            row = self._experiment_row(conn, experiment_id)
            if stage == LifecycleStage.DELETED and row.experiment_id == 0:
                raise InvalidInputError("the Default experiment (id 0) cannot be deleted")
            conn.execute(
                update(EXPERIMENTS)
                .where(EXPERIMENTS.c.experiment_id == row.experiment_id)
                .values(lifecycle_stage=stage.value, last_update_time=_now_ms())
            )

    def delete_experiment(self, experiment_id: str) -> None:
        self._set_experiment_stage(experiment_id, LifecycleStage.DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        self._set_experiment_stage(experiment_id, LifecycleStage.ACTIVE)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        check_key("tag", key)
        value = check_tag_value(key, value)
        with self._write() as conn:
            row = self._experiment_row(conn, experiment_id)
            stmt = self._insert(EXPERIMENT_TAGS).values(
                experiment_id=row.experiment_id, key=key, value=value
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["experiment_id", "key"], set_={"value": stmt.excluded.value}
                )
            )

    # -- runs --------------------------------------------------------------------------
    def create_run(
        self,
        experiment_id: str,
        run_name: str | None,
        start_time: int,
        tags: Sequence[RunTag] = (),
        user_id: str = "",
        run_id: str | None = None,
    ) -> Run:
        run_uuid = check_run_id(run_id) if run_id else uuid.uuid4().hex
        name = run_name or generate_run_name()
        if len(name) > 250:
            raise InvalidInputError(f"run name is {len(name)} characters; the limit is 250")
        tag_map = {check_key("tag", t.key): check_tag_value(t.key, t.value) for t in tags}
        with self._write() as conn:
            exp = self._experiment_row(conn, experiment_id)
            if exp.lifecycle_stage != LifecycleStage.ACTIVE:
                raise InvalidStateError(
                    f"experiment {exp.name!r} is deleted; restore it before adding runs"
                )
            artifact_uri = f"runs:/{run_uuid}/"
            try:
                conn.execute(
                    _INSERT_RUN,
                    {
                        "run_uuid": run_uuid,
                        "experiment_id": exp.experiment_id,
                        "name": name,
                        "user_id": user_id or "",
                        "status": RunStatus.RUNNING.value,
                        "start_time": start_time,
                        "end_time": None,
                        "lifecycle_stage": LifecycleStage.ACTIVE.value,
                        "artifact_uri": artifact_uri,
                    },
                )
            except SqlIntegrityError as exc:
                raise AlreadyExistsError(f"a run with id {run_uuid} already exists") from exc
            if tag_map:
                conn.execute(
                    _INSERT_TAGS,
                    [{"run_uuid": run_uuid, "key": k, "value": v} for k, v in tag_map.items()],
                )
        info = RunInfo(
            run_id=run_uuid,
            experiment_id=str(exp.experiment_id),
            run_name=name,
            user_id=user_id or "",
            status=RunStatus.RUNNING,
            start_time=start_time,
            end_time=None,
            lifecycle_stage=LifecycleStage.ACTIVE,
            artifact_uri=artifact_uri,
        )
        return Run(info, RunData(tags=tag_map))

    def get_run(self, run_id: str) -> Run:
        check_run_id(run_id)
        with self._read() as conn:
            runs = self._load_runs(conn, [run_id])
        if not runs:
            raise RunNotFoundError(f"no run with id {run_id!r} (see `loopml runs list`)")
        return runs[0]

    def update_run_info(
        self,
        run_id: str,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = RunStatus(status).value
        if end_time is not None:
            values["end_time"] = end_time
        if run_name is not None:
            if not run_name or len(run_name) > 250:
                raise InvalidInputError("run name must be 1-250 characters")
            values["name"] = run_name
        with self._write() as conn:
            info = self._to_info(self._active_run(conn, run_id))
            if values:
                conn.execute(
                    _run_update(tuple(values)),
                    {"run_id": run_id, **{f"new_{k}": v for k, v in values.items()}},
                )
        return dataclasses.replace(
            info,
            status=RunStatus(values.get("status", info.status)),
            end_time=values.get("end_time", info.end_time),
            run_name=values.get("name", info.run_name),
        )

    def _set_run_stage(self, run_id: str, stage: LifecycleStage) -> None:
        with self._write() as conn:
            self._run_row(conn, run_id)
            conn.execute(
                update(RUNS)
                .where(RUNS.c.run_uuid == run_id)
                .values(
                    lifecycle_stage=stage.value,
                    deleted_time=_now_ms() if stage == LifecycleStage.DELETED else None,
                )
            )

    def delete_run(self, run_id: str) -> None:
        self._set_run_stage(run_id, LifecycleStage.DELETED)

    def restore_run(self, run_id: str) -> None:
        self._set_run_stage(run_id, LifecycleStage.ACTIVE)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        param_map = _dedupe_params(params)
        tag_map = {check_key("tag", t.key): check_tag_value(t.key, t.value) for t in tags}
        rows = _metric_rows(run_id, metrics)
        try:
            with self._write() as conn:
                self._active_run(conn, run_id)
                if param_map:
                    self._write_params(conn, run_id, param_map)
                if tag_map:
                    conn.execute(
                        self._upsert_tags,
                        [{"run_uuid": run_id, "key": k, "value": v} for k, v in tag_map.items()],
                    )
                if rows:
                    # The history append is the hot path: plain DBAPI executemany with
                    # tuples, skipping SQLAlchemy's per-row parameter processing.
                    conn.exec_driver_sql(self._metric_insert_sql, rows)
                    self._update_latest(conn, rows)
        except SQLAlchemyError as exc:
            raise StoreError(f"could not write to run {run_id}: {exc}") from exc

    def _write_params(self, conn: Connection, run_id: str, params: dict[str, str]) -> None:
        found = conn.execute(_PARAMS_OF_RUN, {"run_id": run_id, "keys": list(params)}).all()
        existing: dict[str, str] = dict(found)
        for key, value in params.items():
            old = existing.get(key)
            if old is not None and old != value:
                raise ParamConflictError(
                    f"param {key!r} of run {run_id} is already {old!r}; it cannot be changed to "
                    f"{value!r} (params are immutable: start a new run, or log it as a tag)"
                )
        new = [
            {"run_uuid": run_id, "key": k, "value": v}
            for k, v in params.items()
            if k not in existing
        ]
        if new:
            conn.execute(_INSERT_PARAMS, new)

    def _update_latest(self, conn: Connection, rows: list[_MetricRow]) -> None:
        # rows are (run_uuid, key, value, timestamp, step, is_nan); keep the latest per key
        best: dict[str, _MetricRow] = {}
        for row in rows:
            seen = best.get(row[1])
            if seen is None or (row[4], row[3], row[2]) >= (seen[4], seen[3], seen[2]):
                best[row[1]] = row
        latest = [
            {
                "run_uuid": r[0],
                "key": r[1],
                "value": r[2],
                "timestamp": r[3],
                "step": r[4],
                "is_nan": r[5],
            }
            for r in best.values()
        ]
        stmt = self._insert(_LATEST)
        excluded = stmt.excluded
        newer = or_(
            excluded.step > _LATEST.c.step,
            and_(excluded.step == _LATEST.c.step, excluded.timestamp >= _LATEST.c.timestamp),
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["run_uuid", "key"],
                set_={
                    "value": excluded.value,
                    "timestamp": excluded.timestamp,
                    "step": excluded.step,
                    "is_nan": excluded.is_nan,
                },
                where=newer,
            ),
            latest,
        )

    def delete_tag(self, run_id: str, key: str) -> None:
        check_key("tag", key)
        with self._write() as conn:
            self._active_run(conn, run_id)
            result = conn.execute(
                delete(_TAGS).where(_TAGS.c.run_uuid == run_id, _TAGS.c.key == key)
            )
            if result.rowcount == 0:
                raise NotFoundError(f"run {run_id} has no tag {key!r}")

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Metric]:
        check_key("metric", key)
        offset = decode_page_token(page_token)
        query = (
            select(
                _METRICS.c.key,
                _METRICS.c.value,
                _METRICS.c.timestamp,
                _METRICS.c.step,
                _METRICS.c.is_nan,
            )
            .where(_METRICS.c.run_uuid == run_id, _METRICS.c.key == key)
            .order_by(_METRICS.c.step, _METRICS.c.timestamp, _METRICS.c.id)
        )
        if max_results is not None:
            _check_max_results(max_results, limit=10**7)
            query = query.offset(offset).limit(max_results + 1)
        with self._read() as conn:
            self._run_row(conn, run_id)
            rows = conn.execute(query).all()
        token = None
        if max_results is not None and len(rows) > max_results:
            rows = rows[:max_results]
            token = encode_page_token(offset + max_results)
        return PagedList(
            [Metric(k, math.nan if nan else v, ts, st) for k, v, ts, st, nan in rows], token
        )

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> PagedList[Run]:
        _check_max_results(max_results)
        offset = decode_page_token(page_token)
        pks = [_experiment_pk(e) for e in experiment_ids]
        stages = [s.value for s in ViewType(view_type).stages()]
        query = _search_query(tuple(pks), tuple(stages), filter_string or "", tuple(order_by or ()))
        with self._read() as conn:
            ids = list(conn.execute(query.offset(offset).limit(max_results + 1)).scalars())
            token = encode_page_token(offset + max_results) if len(ids) > max_results else None
            runs = self._load_runs(conn, ids[:max_results])
        return PagedList(runs, token)

    # -- artifacts ---------------------------------------------------------------------
    def record_artifacts(self, run_id: str, records: Sequence[ArtifactRecord]) -> None:
        rows = {
            normalize_relative_path(r.path): {"digest": r.digest, "size": int(r.size)}
            for r in records
        }
        if not rows:
            return
        now = _now_ms()
        with self._write() as conn:
            self._active_run(conn, run_id)
            conn.execute(
                self._upsert_artifacts,
                [
                    {"run_uuid": run_id, "path": p, "created_time": now, **v}
                    for p, v in rows.items()
                ],
            )

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactRecord]:
        clean = normalize_relative_path(prefix, allow_empty=True)
        query, bound = _ARTIFACTS_OF_RUN, {"run_id": run_id}
        if clean:
            escaped = clean.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = _ARTIFACTS_UNDER
            bound.update(path=clean, pattern=escaped + "/%")
        with self._read() as conn:
            self._run_row(conn, run_id)
            rows = conn.execute(query, bound).all()
        return [ArtifactRecord(p, d, s) for p, d, s in rows]


def _check_max_results(max_results: int, limit: int = SEARCH_MAX_RESULTS_LIMIT) -> None:
    if (
        not isinstance(max_results, int)
        or isinstance(max_results, bool)
        or not 1 <= max_results <= limit
    ):
        raise InvalidInputError(
            f"max_results must be an integer from 1 to {limit}, got {max_results!r}"
        )


def _dedupe_params(params: Sequence[Param]) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in params:
        key = check_key("param", p.key)
        value = check_param_value(key, p.value)
        if key in out and out[key] != value:
            raise ParamConflictError(
                f"param {key!r} appears twice in one batch with different values "
                f"({out[key]!r} and {value!r})"
            )
        out[key] = value
    return out


def _metric_rows(run_id: str, metrics: Sequence[Metric]) -> list[_MetricRow]:
    rows: list[_MetricRow] = []
    checked: set[str] = set()
    for m in metrics:
        if m.key not in checked:
            check_key("metric", m.key)
            checked.add(m.key)
        value = m.value if type(m.value) is float else check_metric_value(m.key, m.value)
        if value != value:  # NaN is stored as a flag; SQL has no portable NaN
            rows.append((run_id, m.key, 0.0, int(m.timestamp), int(m.step), True))
        else:
            rows.append((run_id, m.key, value, int(m.timestamp), int(m.step), False))
    return rows
