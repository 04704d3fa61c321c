"""Experiments, runs, artifacts, datasets and lineage in plain SQL over the DB-API.

These are the statements every run, pipeline step and ``loopml data add`` issues. They are
written once, as SQL text that SQLite and PostgreSQL both accept (placeholders and
``ILIKE`` are the only differences, see :class:`SqlFlavor`), and run on a DB-API cursor:

- :class:`~loopml.storage.metadata.sql.store.SqlMetadataStore` runs them on the
  connection of its SQLAlchemy engine, inside the engine's transactions;
- :class:`~loopml.storage.metadata.sql.embedded.EmbeddedSqliteStore` runs them on the
  ``sqlite3`` module directly, so that a command-line process which only logs runs or adds
  data never imports SQLAlchemy (about a quarter of a second here).

This module must not import SQLAlchemy (a test checks it). The schema itself is still made
and changed only by the Alembic migrations beside it; ``models.py`` describes the same
tables for SQLAlchemy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import re
import time
import uuid
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from loopml.entities import (
    ArtifactRecord,
    Dataset,
    DatasetFile,
    DatasetKind,
    DatasetVersion,
    Experiment,
    LifecycleStage,
    LineageDirection,
    LineageEdge,
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
from loopml.entities.tags import DATASET_INPUTS_TAG, json_list_tag, mlflow_input_fields
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
    DatasetNotFoundError,
    DatasetVersionNotFoundError,
    ExperimentNotFoundError,
    InvalidInputError,
    InvalidStateError,
    NotFoundError,
    ParamConflictError,
    RunNotFoundError,
    SearchSyntaxError,
    StoreError,
)
from loopml.storage.artifacts.cas import check_digest
from loopml.storage.metadata.base import SEARCH_MAX_RESULTS_DEFAULT, SEARCH_MAX_RESULTS_LIMIT
from loopml.storage.metadata.datasets_base import check_dataset_name
from loopml.storage.metadata.names import generate_run_name
from loopml.storage.metadata.registry_base import check_model_version, check_text
from loopml.storage.metadata.search import (
    Comparison,
    OrderBy,
    decode_page_token,
    encode_page_token,
    like_matcher,
    parse_filter,
    parse_order_by,
)

__all__ = [
    "Cursor",
    "DirectSqlMixin",
    "SqlFlavor",
    "check_max_results",
    "cursor_errors",
    "mlflow_input_runs",
    "now_ms",
    "run_search_sql",
]

Cursor = Any  # a DB-API 2 cursor (sqlite3 or psycopg)

_IN_CHUNK = 5000  # bound on bound parameters per IN (...) list
_FILE_CHUNK = 5000
_MetricRow = tuple[str, str, float, int, int, bool]
_RUN_COLUMNS = (
    "run_uuid, experiment_id, name, user_id, status, start_time, end_time, "
    "lifecycle_stage, artifact_uri"
)
_EXPERIMENT_COLUMNS = (
    "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time"
)
# The latest version is the highest one that exists (0 when every one was deleted); the
# counter ``last_version`` only numbers new versions, so numbers are never given twice.
_DATASET_COLUMNS = (
    "name, description, COALESCE((SELECT MAX(v.version) FROM dataset_versions v "
    'WHERE v.name = datasets.name), 0), "schema", creation_time, last_update_time'
)
_VERSION_COLUMNS = (
    'name, version, digest, kind, file_count, "size", "rows", source, created_by, run_id, '
    'description, creation_time, "schema", profile'
)
_STATUSES = {s.value: s for s in RunStatus}
_STAGES = {s.value: s for s in LifecycleStage}


@dataclass(frozen=True)
class SqlFlavor:
    """What differs between the databases for the statements of this module.

    Attributes:
        name: ``sqlite`` or ``postgresql``.
        paramstyle: the driver's, ``qmark`` (``?``) or ``format`` (``%s``).
        integrity_error: the driver's exception for a broken constraint.
        error: the driver's base exception.
    """

    name: str
    paramstyle: str
    integrity_error: type[Exception]
    error: type[Exception]

    def sql(self, text: str) -> str:
        """Statement text written with ``?`` placeholders, in the driver's style."""
        return text if self.paramstyle == "qmark" else _to_format_style(text)

    def ilike(self, column: str) -> str:
        """A case-insensitive LIKE of ``column`` against one placeholder."""
        if self.name == "sqlite":
            return f"lower({column}) LIKE lower(?)"
        return f"{column} ILIKE ?"


@functools.lru_cache(maxsize=512)
def _to_format_style(text: str) -> str:
    return text.replace("%", "%%").replace("?", "%s")


def _marks(count: int) -> str:
    return ", ".join(["?"] * count)


def now_ms() -> int:
    """The time now, in whole milliseconds since the epoch (the stores' timestamps)."""
    return int(time.time() * 1000)


def _json(value: Mapping[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, allow_nan=False)


def _loads(text: str | None) -> dict[str, Any] | None:
    return None if text is None else dict(json.loads(text))


def _count(kind: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise InvalidInputError(f"{kind} must be a whole number from 0 to 2**63-1, got {value!r}")
    return value


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


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


def check_max_results(max_results: int, limit: int = SEARCH_MAX_RESULTS_LIMIT) -> None:
    """Refuse a page size that is not a whole number from 1 to ``limit``."""
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


def _latest_rows(rows: list[_MetricRow]) -> list[_MetricRow]:
    """The newest point per key of a batch: (step, timestamp, value) decides, as for history."""
    best: dict[str, _MetricRow] = {}
    for row in rows:
        seen = best.get(row[1])
        if seen is None or (row[4], row[3], row[2]) >= (seen[4], seen[3], seen[2]):
            best[row[1]] = row
    return list(best.values())


def check_files(files: Sequence[DatasetFile]) -> list[tuple[str, str, int]]:
    """Validate a manifest and return its rows (paths normalised, no duplicates)."""
    rows: list[tuple[str, str, int]] = []
    seen: set[str] = set()
    for f in files:
        path = normalize_relative_path(f.path)
        if path in seen:
            raise InvalidInputError(f"the manifest lists {path!r} twice")
        seen.add(path)
        rows.append((path, check_digest(f.digest), _count("size", f.size)))
    return rows


def _info(row: Sequence[Any]) -> RunInfo:
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


def _experiment(row: Sequence[Any], tags: dict[str, str]) -> Experiment:
    return Experiment(
        experiment_id=str(row[0]),
        name=row[1],
        artifact_location=row[2],
        lifecycle_stage=LifecycleStage(row[3]),
        creation_time=row[4],
        last_update_time=row[5],
        tags=tags,
    )


def _dataset(row: Sequence[Any]) -> Dataset:
    return Dataset(row[0], row[1], row[2], row[4], row[5], _loads(row[3]))


def _version(row: Sequence[Any]) -> DatasetVersion:
    return DatasetVersion(
        name=row[0],
        version=row[1],
        digest=row[2],
        kind=DatasetKind(row[3]),
        file_count=row[4],
        size=row[5],
        rows=row[6],
        source=row[7],
        created_by=row[8],
        run_id=row[9],
        description=row[10],
        creation_time=row[11],
        schema=_loads(row[12]),
        profile=_loads(row[13]),
    )


# -- search --------------------------------------------------------------------------
_ATTRIBUTE_COLUMNS = {
    "run_id": "runs.run_uuid",
    "run_name": "runs.name",
    "status": "runs.status",
    "user_id": "runs.user_id",
    "start_time": "runs.start_time",
    "end_time": "runs.end_time",
    "artifact_uri": "runs.artifact_uri",
    "lifecycle_stage": "runs.lifecycle_stage",
}
_PLAIN_OPS = {"=", "!=", "<", "<=", ">", ">=", "LIKE"}


def _compare(flavor: SqlFlavor, column: str, op: str, value: Any) -> tuple[str, list[Any]]:
    if op in _PLAIN_OPS:
        return f"{column} {op} ?", [value]
    if op == "ILIKE":
        return flavor.ilike(column), [value]
    if op in ("IN", "NOT IN"):
        items = list(value)
        if not items:
            return ("1 = 0" if op == "IN" else "1 = 1"), []
        return f"{column} {op} ({_marks(len(items))})", items
    raise SearchSyntaxError(f"comparator {op!r} is not supported here")


def run_search_sql(
    flavor: SqlFlavor,
    experiment_ids: Sequence[int],
    stages: Sequence[str],
    comparisons: Sequence[Comparison],
    orders: Sequence[OrderBy],
    input_runs: Sequence[str] = (),
) -> tuple[str, list[Any]]:
    """The query selecting matching run ids in the requested order, and its parameters.

    A filter on a metric, param or tag joins that row (a run without the key never
    matches); ``IS NULL`` asks that no such row exists. ``datasets.*`` comparisons ask for
    one input dataset version that meets them all, or are among ``input_runs`` (the runs
    whose MLflow-logged inputs meet them, see :func:`mlflow_input_runs`). Runs without an
    ordering key sort
    last in both directions, as MLflow does; ties go by start time (newest first) and run
    id, so pages are stable. Written with ``?`` placeholders.
    """
    joins: list[str] = []
    join_params: list[Any] = []
    where = [
        f"runs.experiment_id IN ({_marks(len(experiment_ids))})",
        f"runs.lifecycle_stage IN ({_marks(len(stages))})",
    ]
    where_params: list[Any] = [*experiment_ids, *stages]
    datasets = [c for c in comparisons if c.kind == "dataset"]
    if datasets:
        clause, params = _dataset_clause(flavor, datasets)
        ids = [r for r in input_runs if _RUN_ID.fullmatch(r)]  # inlined: no parameter limit
        if ids:
            clause = f"({clause} OR runs.run_uuid IN ({', '.join(repr(r) for r in ids)}))"
        where.append(clause)
        where_params.extend(params)
    for index, cmp in enumerate(comparisons):
        op = cmp.op.upper()
        if cmp.kind == "dataset":
            continue
        if cmp.kind == "attribute":
            column = _ATTRIBUTE_COLUMNS.get(cmp.key)
            if column is None:
                raise SearchSyntaxError(f"unknown run attribute {cmp.key!r} in the filter")
            if op in ("IS NULL", "IS NOT NULL"):
                where.append(f"{column} {op}")
                continue
            clause, params = _compare(flavor, column, op, cmp.value)
            where.append(clause)
            where_params.extend(params)
            continue
        if cmp.kind not in ("metric", "param", "tag"):
            raise SearchSyntaxError(
                f"filtering on {cmp.kind}s is not available in this store; filter on metrics, "
                "params, tags or attributes"
            )
        table = {"metric": "latest_metrics", "param": "params", "tag": "tags"}[cmp.kind]
        alias = f"f{cmp.kind[0]}{index}"
        on = f'{alias}.run_uuid = runs.run_uuid AND {alias}."key" = ?'
        if op in ("IS NULL", "IS NOT NULL"):
            exists = f"EXISTS (SELECT {alias}.run_uuid FROM {table} {alias} WHERE {on})"
            where.append(exists if op == "IS NOT NULL" else f"NOT {exists}")
            where_params.append(cmp.key)
            continue
        clause, params = _compare(flavor, f"{alias}.value", op, cmp.value)
        # NaN is stored as a flag, so a NaN point never matches a numeric comparison.
        nan = f" AND NOT {alias}.is_nan" if cmp.kind == "metric" else ""
        joins.append(f"JOIN {table} {alias} ON {on}{nan} AND {clause}")
        join_params.extend([cmp.key, *params])
    sort: list[str] = []
    for index, order in enumerate(orders):
        if order.kind == "attribute":
            column = _ATTRIBUTE_COLUMNS.get(order.key)
            if column is None:
                raise SearchSyntaxError(f"unknown run attribute {order.key!r} in order_by")
        elif order.kind in ("metric", "param", "tag"):
            table = {"metric": "latest_metrics", "param": "params", "tag": "tags"}[order.kind]
            alias = f"o{index}"
            joins.append(
                f"LEFT OUTER JOIN {table} {alias} "
                f'ON {alias}.run_uuid = runs.run_uuid AND {alias}."key" = ?'
            )
            join_params.append(order.key)
            column = f"{alias}.value"
        else:
            raise SearchSyntaxError(f"cannot order runs by {order.kind}s")
        sort.extend([f"{column} IS NULL", f"{column} {'ASC' if order.ascending else 'DESC'}"])
    sort.extend(["runs.start_time DESC", "runs.run_uuid"])
    text = (
        f"SELECT runs.run_uuid FROM runs {' '.join(joins)} WHERE {' AND '.join(where)} "
        f"ORDER BY {', '.join(sort)}"
    )
    return text, [*join_params, *where_params]


_DATASET_FIELD_COLUMNS = {"name": "dv.name", "digest": "dv.digest", "context": "le.role"}


def _dataset_clause(flavor: SqlFlavor, comparisons: Sequence[Comparison]) -> tuple[str, list[Any]]:
    """Runs that read one dataset version meeting every ``datasets.*`` comparison.

    As in MLflow, the comparisons apply together to one input of the run: its dataset's
    name, the version's manifest digest, and the role it was logged with (``context``).
    Outputs do not count.
    """
    conditions, params = [], []
    for cmp in comparisons:
        clause, values = _compare(
            flavor, _DATASET_FIELD_COLUMNS[cmp.key], cmp.op.upper(), cmp.value
        )
        conditions.append(clause)
        params.extend(values)
    return (
        "EXISTS (SELECT le.run_id FROM lineage_edges le JOIN dataset_versions dv ON "
        "le.uri = 'datasets:/' || dv.name || '/' || CAST(dv.version AS VARCHAR(12)) "
        f"WHERE le.run_id = runs.run_uuid AND le.direction = 'input' AND "
        f"{' AND '.join(conditions)})"
    ), params


_RUN_ID = re.compile(r"[0-9a-f]{32}")


def _holds(value: str | None, cmp: Comparison) -> bool:
    """One comparison as SQL has it: a missing value meets none (not even ``!=``)."""
    if value is None:
        return False
    op = cmp.op.upper()
    if op == "=":
        return value == cmp.value
    if op == "!=":
        return value != cmp.value
    if op in ("LIKE", "ILIKE"):
        return like_matcher(str(cmp.value), case=op == "LIKE")(value)
    if op in ("IN", "NOT IN") and isinstance(cmp.value, tuple):
        return (value in cmp.value) == (op == "IN")
    raise SearchSyntaxError(f"comparator {op!r} is not supported on datasets.*")


def mlflow_input_runs(
    rows: Iterable[tuple[str, str]], comparisons: Sequence[Comparison]
) -> list[str]:
    """The runs (of ``(run_id, inputs tag value)`` rows) with one MLflow-logged dataset
    input that meets every ``datasets.*`` comparison; a malformed tag reads as no inputs."""
    found = []
    for run_id, value in rows:
        inputs = json_list_tag({DATASET_INPUTS_TAG: value}, DATASET_INPUTS_TAG)
        if any(
            all(_holds(mlflow_input_fields(item)[c.key], c) for c in comparisons) for item in inputs
        ):
            found.append(run_id)
    return found


@functools.lru_cache(maxsize=256)
def _search(
    flavor: SqlFlavor,
    pks: tuple[int, ...],
    stages: tuple[str, ...],
    filter_string: str,
    order_by: tuple[str, ...],
) -> tuple[str, tuple[Any, ...]]:
    """A search's statement; dashboards and pipelines repeat the same searches."""
    text, params = run_search_sql(
        flavor, pks, stages, parse_filter(filter_string), parse_order_by(order_by)
    )
    return flavor.sql(text + " LIMIT ? OFFSET ?"), tuple(params)


class DirectSqlMixin:
    """Tracking, artifact, dataset and lineage methods of the SQL stores, on a DB-API cursor.

    The class it is mixed into provides :meth:`_cursor` and :attr:`_flavor`.
    """

    _flavor: SqlFlavor

    @abstractmethod
    def _cursor(self, write: bool = False) -> AbstractContextManager[Cursor]:
        """A cursor in a transaction: a write one (committed on success) or a read one.

        Driver errors leave it as :class:`StoreError`, broken constraints included; the
        methods here catch ``self._flavor.integrity_error`` inside it where that means
        something to the user.
        """

    def _q(self, text: str) -> str:
        return self._flavor.sql(text)

    def _one(self, cur: Cursor, text: str, params: Sequence[Any]) -> Any:
        cur.execute(self._q(text), tuple(params))
        return cur.fetchone()

    def _all(self, cur: Cursor, text: str, params: Sequence[Any]) -> list[Any]:
        cur.execute(self._q(text), tuple(params))
        return list(cur.fetchall())

    # -- experiments -------------------------------------------------------------------
    def _experiment_row(self, cur: Cursor, experiment_id: str | int) -> Any:
        row = self._one(
            cur,
            f"SELECT {_EXPERIMENT_COLUMNS} FROM experiments WHERE experiment_id = ?",
            [_experiment_pk(experiment_id)],
        )
        if row is None:
            raise ExperimentNotFoundError(
                f"no experiment with id {experiment_id!r} (see `loopml experiments list`)"
            )
        return row

    def _experiment_tags(self, cur: Cursor, pks: Sequence[int]) -> dict[int, dict[str, str]]:
        out: dict[int, dict[str, str]] = {pk: {} for pk in pks}
        for chunk in _chunks(list(pks)):
            rows = self._all(
                cur,
                'SELECT experiment_id, "key", value FROM experiment_tags '
                f"WHERE experiment_id IN ({_marks(len(chunk))})",
                chunk,
            )
            for pk, key, value in rows:
                out[pk][key] = value
        return out

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Sequence[RunTag] = ()
    ) -> str:
        check_experiment_name(name)
        tag_rows = [(check_key("tag", t.key), check_tag_value(t.key, t.value)) for t in tags]
        now = now_ms()
        clash = AlreadyExistsError(
            f"an experiment named {name!r} already exists; pick another name or use it with "
            "set_experiment()"
        )
        with self._cursor(write=True) as cur:
            if self._one(cur, "SELECT experiment_id FROM experiments WHERE name = ?", [name]):
                raise clash
            try:
                pk = self._one(
                    cur,
                    "INSERT INTO experiments (name, artifact_location, lifecycle_stage, "
                    "creation_time, last_update_time) VALUES (?, ?, ?, ?, ?) "
                    "RETURNING experiment_id",
                    [name, artifact_location or "", LifecycleStage.ACTIVE.value, now, now],
                )[0]
            except self._flavor.integrity_error as exc:
                # Another process created the same name between our check and insert.
                raise clash from exc
            if tag_rows:
                cur.executemany(
                    self._q(
                        'INSERT INTO experiment_tags (experiment_id, "key", value) VALUES (?, ?, ?)'
                    ),
                    [(pk, k, v) for k, v in tag_rows],
                )
        return str(pk)

    def get_experiment(self, experiment_id: str) -> Experiment:
        with self._cursor() as cur:
            row = self._experiment_row(cur, experiment_id)
            tags = self._experiment_tags(cur, [row[0]])
        return _experiment(row, tags[row[0]])

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with self._cursor() as cur:
            row = self._one(
                cur, f"SELECT {_EXPERIMENT_COLUMNS} FROM experiments WHERE name = ?", [name]
            )
            if row is None:
                return None
            tags = self._experiment_tags(cur, [row[0]])
        return _experiment(row, tags[row[0]])

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        page_token: str | None = None,
        name_like: str | None = None,
    ) -> PagedList[Experiment]:
        check_max_results(max_results)
        offset = decode_page_token(page_token)
        stages = [s.value for s in ViewType(view_type).stages()]
        where = f"lifecycle_stage IN ({_marks(len(stages))})"
        params: list[Any] = list(stages)
        if name_like:
            where += " AND " + self._flavor.ilike("name")
            params.append(name_like)
        with self._cursor() as cur:
            rows = self._all(
                cur,
                f"SELECT {_EXPERIMENT_COLUMNS} FROM experiments WHERE {where} "
                "ORDER BY creation_time DESC, experiment_id DESC LIMIT ? OFFSET ?",
                [*params, max_results + 1, offset],
            )
            page = rows[:max_results]
            tags = self._experiment_tags(cur, [r[0] for r in page])
        token = encode_page_token(offset + max_results) if len(rows) > max_results else None
        return PagedList([_experiment(r, tags[r[0]]) for r in page], token)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        check_experiment_name(new_name)
        clash = AlreadyExistsError(f"an experiment named {new_name!r} already exists")
        with self._cursor(write=True) as cur:
            row = self._experiment_row(cur, experiment_id)
            other = self._one(
                cur, "SELECT experiment_id FROM experiments WHERE name = ?", [new_name]
            )
            if other is not None and other[0] != row[0]:
                raise clash
            try:
                cur.execute(
                    self._q(
                        "UPDATE experiments SET name = ?, last_update_time = ? "
                        "WHERE experiment_id = ?"
                    ),
                    (new_name, now_ms(), row[0]),
                )
            except self._flavor.integrity_error as exc:
                raise clash from exc

    def _set_experiment_stage(self, experiment_id: str, stage: LifecycleStage) -> None:
        with self._cursor(write=True) as cur:
            row = self._experiment_row(cur, experiment_id)
            if stage == LifecycleStage.DELETED and row[0] == 0:
                raise InvalidInputError("the Default experiment (id 0) cannot be deleted")
            cur.execute(
                self._q(
                    "UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? "
                    "WHERE experiment_id = ?"
                ),
                (stage.value, now_ms(), row[0]),
            )

    def delete_experiment(self, experiment_id: str) -> None:
        self._set_experiment_stage(experiment_id, LifecycleStage.DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        self._set_experiment_stage(experiment_id, LifecycleStage.ACTIVE)

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        check_key("tag", key)
        value = check_tag_value(key, value)
        with self._cursor(write=True) as cur:
            row = self._experiment_row(cur, experiment_id)
            cur.execute(
                self._q(
                    'INSERT INTO experiment_tags (experiment_id, "key", value) VALUES (?, ?, ?) '
                    'ON CONFLICT (experiment_id, "key") DO UPDATE SET value = excluded.value'
                ),
                (row[0], key, value),
            )

    # -- runs --------------------------------------------------------------------------
    def _run_row(self, cur: Cursor, run_id: str) -> Any:
        check_run_id(run_id)
        row = self._one(cur, f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_uuid = ?", [run_id])
        if row is None:
            raise RunNotFoundError(f"no run with id {run_id!r} (see `loopml runs list`)")
        return row

    def _active_run(self, cur: Cursor, run_id: str) -> Any:
        row = self._run_row(cur, run_id)
        if row[7] != LifecycleStage.ACTIVE.value:
            raise InvalidStateError(
                f"run {run_id} is deleted; restore it (`loopml runs restore {run_id}`) "
                "before logging to it"
            )
        return row

    def _load_runs(self, cur: Cursor, run_ids: Sequence[str]) -> list[Run]:
        """Runs with their data, in the order of ``run_ids`` (four statements per chunk)."""
        infos: dict[str, tuple[Any, ...]] = {}
        metrics: dict[str, dict[str, float]] = {r: {} for r in run_ids}
        params: dict[str, dict[str, str]] = {r: {} for r in run_ids}
        tags: dict[str, dict[str, str]] = {r: {} for r in run_ids}
        for chunk in _chunks(run_ids):
            marks = _marks(len(chunk))
            for row in self._all(
                cur, f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_uuid IN ({marks})", chunk
            ):
                infos[row[0]] = row
            for run, key, value, is_nan in self._all(
                cur,
                f'SELECT run_uuid, "key", value, is_nan FROM latest_metrics '
                f"WHERE run_uuid IN ({marks})",
                chunk,
            ):
                metrics[run][key] = math.nan if is_nan else value
            for table, target in (("params", params), ("tags", tags)):
                for run, key, value in self._all(
                    cur,
                    f'SELECT run_uuid, "key", value FROM {table} WHERE run_uuid IN ({marks})',
                    chunk,
                ):
                    target[run][key] = value
        return [
            Run(_info(infos[r]), RunData(metrics[r], params[r], tags[r]))
            for r in run_ids
            if r in infos
        ]

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
        artifact_uri = f"runs:/{run_uuid}/"
        with self._cursor(write=True) as cur:
            exp = self._experiment_row(cur, experiment_id)
            if exp[3] != LifecycleStage.ACTIVE.value:
                raise InvalidStateError(
                    f"experiment {exp[1]!r} is deleted; restore it before adding runs"
                )
            try:
                cur.execute(
                    self._q(f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES ({_marks(9)})"),
                    (
                        run_uuid,
                        exp[0],
                        name,
                        user_id or "",
                        RunStatus.RUNNING.value,
                        start_time,
                        None,
                        LifecycleStage.ACTIVE.value,
                        artifact_uri,
                    ),
                )
            except self._flavor.integrity_error as exc:
                raise AlreadyExistsError(f"a run with id {run_uuid} already exists") from exc
            if tag_map:
                cur.executemany(
                    self._q('INSERT INTO tags (run_uuid, "key", value) VALUES (?, ?, ?)'),
                    [(run_uuid, k, v) for k, v in tag_map.items()],
                )
        info = RunInfo(
            run_id=run_uuid,
            experiment_id=str(exp[0]),
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
        with self._cursor() as cur:
            runs = self._load_runs(cur, [run_id])
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
        with self._cursor(write=True) as cur:
            info = _info(self._active_run(cur, run_id))
            if values:
                assignments = ", ".join(f"{column} = ?" for column in values)
                cur.execute(
                    self._q(f"UPDATE runs SET {assignments} WHERE run_uuid = ?"),
                    (*values.values(), run_id),
                )
        return dataclasses.replace(
            info,
            status=RunStatus(values.get("status", info.status)),
            end_time=values.get("end_time", info.end_time),
            run_name=values.get("name", info.run_name),
        )

    def _set_run_stage(self, run_id: str, stage: LifecycleStage) -> None:
        with self._cursor(write=True) as cur:
            self._run_row(cur, run_id)
            cur.execute(
                self._q("UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_uuid = ?"),
                (stage.value, now_ms() if stage == LifecycleStage.DELETED else None, run_id),
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
        with self._cursor(write=True) as cur:
            self._active_run(cur, run_id)
            if param_map:
                self._write_params(cur, run_id, param_map)
            if tag_map:
                cur.executemany(
                    self._q(
                        'INSERT INTO tags (run_uuid, "key", value) VALUES (?, ?, ?) '
                        'ON CONFLICT (run_uuid, "key") DO UPDATE SET value = excluded.value'
                    ),
                    [(run_id, k, v) for k, v in tag_map.items()],
                )
            if rows:
                cur.executemany(
                    self._q(
                        'INSERT INTO metrics (run_uuid, "key", value, "timestamp", step, is_nan) '
                        "VALUES (?, ?, ?, ?, ?, ?)"
                    ),
                    rows,
                )
                cur.executemany(
                    self._q(
                        'INSERT INTO latest_metrics (run_uuid, "key", value, "timestamp", step, '
                        'is_nan) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_uuid, "key") DO '
                        'UPDATE SET value = excluded.value, "timestamp" = excluded."timestamp", '
                        "step = excluded.step, is_nan = excluded.is_nan "
                        "WHERE excluded.step > latest_metrics.step OR (excluded.step = "
                        'latest_metrics.step AND excluded."timestamp" >= '
                        'latest_metrics."timestamp")'
                    ),
                    _latest_rows(rows),
                )

    def _write_params(self, cur: Cursor, run_id: str, params: dict[str, str]) -> None:
        keys = list(params)
        existing: dict[str, str] = {}
        for chunk in _chunks(keys):
            existing.update(
                self._all(
                    cur,
                    f'SELECT "key", value FROM params WHERE run_uuid = ? AND "key" IN '
                    f"({_marks(len(chunk))})",
                    [run_id, *chunk],
                )
            )
        for key, value in params.items():
            old = existing.get(key)
            if old is not None and old != value:
                raise ParamConflictError(
                    f"param {key!r} of run {run_id} is already {old!r}; it cannot be changed to "
                    f"{value!r} (params are immutable: start a new run, or log it as a tag)"
                )
        new = [(run_id, k, v) for k, v in params.items() if k not in existing]
        if new:
            cur.executemany(
                self._q('INSERT INTO params (run_uuid, "key", value) VALUES (?, ?, ?)'), new
            )

    def delete_tag(self, run_id: str, key: str) -> None:
        check_key("tag", key)
        with self._cursor(write=True) as cur:
            self._active_run(cur, run_id)
            cur.execute(self._q('DELETE FROM tags WHERE run_uuid = ? AND "key" = ?'), (run_id, key))
            if cur.rowcount == 0:
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
        text = (
            'SELECT "key", value, "timestamp", step, is_nan FROM metrics '
            'WHERE run_uuid = ? AND "key" = ? ORDER BY step, "timestamp", id'
        )
        params: list[Any] = [run_id, key]
        if max_results is not None:
            check_max_results(max_results, limit=10**7)
            text += " LIMIT ? OFFSET ?"
            params += [max_results + 1, offset]
        with self._cursor() as cur:
            self._run_row(cur, run_id)
            rows = self._all(cur, text, params)
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
        check_max_results(max_results)
        offset = decode_page_token(page_token)
        pks = tuple(_experiment_pk(e) for e in experiment_ids)
        stages = tuple(s.value for s in ViewType(view_type).stages())
        if not pks:
            return PagedList([], None)
        with self._cursor() as cur:
            if "datasets." in (filter_string or "").lower():  # inputs an MLflow client logged
                comparisons = parse_filter(filter_string)
                datasets = [c for c in comparisons if c.kind == "dataset"]
                rows = self._all(
                    cur,
                    "SELECT t.run_uuid, t.value FROM tags t JOIN runs ON runs.run_uuid = "
                    f't.run_uuid WHERE t."key" = ? AND runs.experiment_id IN ({_marks(len(pks))})',
                    [DATASET_INPUTS_TAG, *pks],
                )
                raw, found = run_search_sql(
                    self._flavor,
                    pks,
                    stages,
                    comparisons,
                    parse_order_by(tuple(order_by or ())),
                    mlflow_input_runs(rows, datasets) if datasets else (),
                )
                text, params = self._flavor.sql(raw + " LIMIT ? OFFSET ?"), tuple(found)
            else:
                text, params = _search(
                    self._flavor, pks, stages, filter_string or "", tuple(order_by or ())
                )
            cur.execute(text, (*params, max_results + 1, offset))
            ids = [row[0] for row in cur.fetchall()]
            token = encode_page_token(offset + max_results) if len(ids) > max_results else None
            runs = self._load_runs(cur, ids[:max_results])
        return PagedList(runs, token)

    # -- artifacts ---------------------------------------------------------------------
    def record_artifacts(self, run_id: str, records: Sequence[ArtifactRecord]) -> None:
        rows = {normalize_relative_path(r.path): (r.digest, int(r.size)) for r in records}
        if not rows:
            return
        now = now_ms()
        with self._cursor(write=True) as cur:
            self._active_run(cur, run_id)
            cur.executemany(
                self._q(
                    'INSERT INTO run_artifacts (run_uuid, path, digest, "size", created_time) '
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_uuid, path) DO UPDATE SET "
                    'digest = excluded.digest, "size" = excluded."size", '
                    "created_time = excluded.created_time"
                ),
                [(run_id, p, d, s, now) for p, (d, s) in rows.items()],
            )

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[ArtifactRecord]:
        clean = normalize_relative_path(prefix, allow_empty=True)
        text = 'SELECT path, digest, "size" FROM run_artifacts WHERE run_uuid = ?'
        params: list[Any] = [run_id]
        if clean:
            escaped = clean.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            text += " AND (path = ? OR path LIKE ? ESCAPE '\\')"
            params += [clean, escaped + "/%"]
        with self._cursor() as cur:
            self._run_row(cur, run_id)
            rows = self._all(cur, text + " ORDER BY path", params)
        return [ArtifactRecord(p, d, s) for p, d, s in rows]

    # -- datasets ----------------------------------------------------------------------
    def _dataset_row(self, cur: Cursor, name: str) -> Any:
        row = self._one(
            cur,
            f"SELECT {_DATASET_COLUMNS} FROM datasets WHERE name = ?",
            [check_dataset_name(name)],
        )
        if row is None:
            raise DatasetNotFoundError(
                f"no dataset named {name!r}; add one with `loopml data add PATH --name {name}` "
                "or see `loopml data list`"
            )
        return row

    def _dataset_version_row(self, cur: Cursor, name: str, version: int) -> Any:
        number = check_model_version(version)
        dataset = self._dataset_row(cur, name)
        row = self._one(
            cur,
            f"SELECT {_VERSION_COLUMNS} FROM dataset_versions WHERE name = ? AND version = ?",
            [name, number],
        )
        if row is None:
            latest = f"its latest is {dataset[2]}" if dataset[2] else "it has no versions left"
            raise DatasetVersionNotFoundError(
                f"dataset {name!r} has no version {number} (never made, or deleted); "
                f"{latest} (see `loopml data show {name}`)"
            )
        return row

    def create_dataset_version(
        self,
        name: str,
        files: Sequence[DatasetFile],
        *,
        digest: str,
        kind: DatasetKind,
        source: str = "",
        created_by: str = "",
        run_id: str | None = None,
        description: str = "",
        rows: int | None = None,
        schema: Mapping[str, Any] | None = None,
        profile: Mapping[str, Any] | None = None,
    ) -> DatasetVersion:
        """A new version and all its file rows, in one write transaction.

        Version numbers come from a per-dataset counter bumped with an ``UPDATE`` in that
        transaction, so concurrent adds take turns and numbers are never reused.
        """
        check_dataset_name(name)
        check_digest(digest)
        kind = DatasetKind(kind)
        check_text("source", source, 1000)
        check_text("created_by", created_by, 256)
        check_text("description", description, 5000)
        if run_id is not None:
            check_run_id(run_id)
        if rows is not None:
            _count("rows", rows)
        file_rows = check_files(files)
        now = now_ms()
        with self._cursor(write=True) as cur:
            cur.execute(
                self._q(
                    "INSERT INTO datasets (name, description, last_version, creation_time, "
                    "last_update_time) VALUES (?, '', 0, ?, ?) ON CONFLICT (name) DO NOTHING"
                ),
                (name, now, now),
            )
            cur.execute(
                self._q(
                    "UPDATE datasets SET last_version = last_version + 1, last_update_time = ? "
                    "WHERE name = ?"
                ),
                (now, name),
            )
            number = self._one(cur, "SELECT last_version FROM datasets WHERE name = ?", [name])[0]
            values = (
                name,
                number,
                digest,
                kind.value,
                len(file_rows),
                sum(r[2] for r in file_rows),
                rows,
                source,
                created_by,
                run_id,
                description,
                now,
                _json(schema),
                _json(profile),
            )
            cur.execute(
                self._q(f"INSERT INTO dataset_versions ({_VERSION_COLUMNS}) VALUES ({_marks(14)})"),
                values,
            )
            insert_files = self._q(
                'INSERT INTO dataset_files (name, version, path, digest, "size") '
                "VALUES (?, ?, ?, ?, ?)"
            )
            for chunk in _chunks(file_rows, _FILE_CHUNK):
                cur.executemany(insert_files, [(name, number, *r) for r in chunk])
        return _version(values)

    def get_dataset(self, name: str) -> Dataset:
        with self._cursor() as cur:
            return _dataset(self._dataset_row(cur, name))

    def list_datasets(self, name_like: str | None = None) -> list[Dataset]:
        text, params = f"SELECT {_DATASET_COLUMNS} FROM datasets", []
        if name_like:
            text += " WHERE " + self._flavor.ilike("name")
            params.append(name_like)
        with self._cursor() as cur:
            return [_dataset(r) for r in self._all(cur, text + " ORDER BY name", params)]

    def get_dataset_version(self, name: str, version: int) -> DatasetVersion:
        with self._cursor() as cur:
            return _version(self._dataset_version_row(cur, name, version))

    def list_dataset_versions(self, name: str) -> list[DatasetVersion]:
        with self._cursor() as cur:
            self._dataset_row(cur, name)
            rows = self._all(
                cur,
                f"SELECT {_VERSION_COLUMNS} FROM dataset_versions WHERE name = ? "
                "ORDER BY version DESC",
                [name],
            )
        return [_version(r) for r in rows]

    def get_dataset_files(self, name: str, version: int) -> list[DatasetFile]:
        with self._cursor() as cur:
            self._dataset_version_row(cur, name, version)
            rows = self._all(
                cur,
                'SELECT path, digest, "size" FROM dataset_files WHERE name = ? AND version = ? '
                "ORDER BY path",
                [name, version],
            )
        return [DatasetFile(p, d, s) for p, d, s in rows]

    def set_dataset_schema(self, name: str, schema: Mapping[str, Any] | None) -> Dataset:
        with self._cursor(write=True) as cur:
            self._dataset_row(cur, name)
            cur.execute(
                self._q('UPDATE datasets SET "schema" = ?, last_update_time = ? WHERE name = ?'),
                (_json(schema), now_ms(), name),
            )
            return _dataset(self._dataset_row(cur, name))

    def delete_dataset_version(self, name: str, version: int) -> None:
        with self._cursor(write=True) as cur:
            self._dataset_version_row(cur, name, version)
            cur.execute(
                self._q("DELETE FROM dataset_files WHERE name = ? AND version = ?"),
                (name, version),
            )
            cur.execute(
                self._q("DELETE FROM dataset_versions WHERE name = ? AND version = ?"),
                (name, version),
            )
            cur.execute(
                self._q("UPDATE datasets SET last_update_time = ? WHERE name = ?"),
                (now_ms(), name),
            )

    def referenced_digests(self) -> set[str]:
        with self._cursor() as cur:
            rows = self._all(
                cur,
                "SELECT digest FROM dataset_versions UNION SELECT digest FROM dataset_files "
                "UNION SELECT digest FROM run_artifacts",
                [],
            )
        return {r[0] for r in rows}

    # -- lineage -----------------------------------------------------------------------
    def log_lineage(self, run_id: str, edges: Sequence[LineageEdge]) -> None:
        check_run_id(run_id)
        rows = []
        for edge in edges:
            if edge.run_id != run_id:
                raise InvalidInputError(
                    f"a lineage edge of run {edge.run_id} was logged to run {run_id}"
                )
            rows.append(
                (
                    run_id,
                    check_text("uri", edge.uri, 500),
                    LineageDirection(edge.direction).value,
                    check_text("role", edge.role, 250),
                    _count("time", edge.time) or now_ms(),
                )
            )
        if not rows:
            return
        with self._cursor(write=True) as cur:
            self._run_row(cur, run_id)  # RunNotFoundError for an unknown run
            cur.executemany(
                self._q(
                    'INSERT INTO lineage_edges (run_id, uri, direction, role, "time") '
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, uri, direction) DO UPDATE SET "
                    'role = excluded.role, "time" = excluded."time"'
                ),
                rows,
            )

    def list_lineage(
        self, *, run_id: str | None = None, uri: str | None = None
    ) -> list[LineageEdge]:
        if (run_id is None) == (uri is None):
            raise InvalidInputError("list_lineage needs exactly one of run_id and uri")
        if run_id is not None:
            where, value = "run_id = ?", check_run_id(run_id)
        else:
            where, value = "uri = ?", check_text("uri", uri, 500)
        with self._cursor() as cur:
            rows = self._all(
                cur,
                f'SELECT run_id, uri, direction, role, "time" FROM lineage_edges WHERE {where} '
                'ORDER BY "time", uri',
                [value],
            )
        return [LineageEdge(r, u, LineageDirection(d), role, t) for r, u, d, role, t in rows]


@contextlib.contextmanager
def cursor_errors(flavor: SqlFlavor, url: str) -> Iterator[None]:
    """Driver errors raised inside as :class:`StoreError` (for :meth:`_cursor`)."""
    try:
        yield
    except flavor.error as exc:
        raise StoreError(f"the metadata database {url} failed: {exc}") from exc
