"""The data cycle in SQL: a mixin of :class:`SqlMetadataStore` sharing its engine.

A version and all its file rows are inserted in one write transaction. Version numbers come
from a per-dataset counter bumped with an ``UPDATE`` in that transaction, so concurrent adds
take turns and numbers are never reused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from loopml.entities import (
    Dataset,
    DatasetFile,
    DatasetKind,
    DatasetVersion,
    LineageDirection,
    LineageEdge,
)
from loopml.entities.validation import check_run_id, normalize_relative_path
from loopml.errors import (
    DatasetNotFoundError,
    DatasetVersionNotFoundError,
    InvalidInputError,
)
from loopml.storage.artifacts.cas import check_digest
from loopml.storage.metadata.datasets_base import DatasetStore, check_dataset_name
from loopml.storage.metadata.registry_base import check_model_version, check_text
from loopml.storage.metadata.sql import data_models as _tables
from loopml.storage.metadata.sql.engine import write_transaction

__all__ = ["SqlDatasetMixin"]

_DATASETS = _tables.DATASETS
_VERSIONS = _tables.DATASET_VERSIONS
_FILES = _tables.DATASET_FILES
_EDGES = _tables.LINEAGE_EDGES
_CHUNK = 5_000


def _now_ms() -> int:
    return int(time.time() * 1000)


def _json(value: Mapping[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, allow_nan=False)


def _loads(text: str | None) -> dict[str, Any] | None:
    return None if text is None else dict(json.loads(text))


def _count(kind: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise InvalidInputError(f"{kind} must be a whole number from 0 to 2**63-1, got {value!r}")
    return value


def _to_version(row: Any) -> DatasetVersion:
    return DatasetVersion(
        name=row.name,
        version=row.version,
        digest=row.digest,
        kind=DatasetKind(row.kind),
        file_count=row.file_count,
        size=row.size,
        source=row.source,
        created_by=row.created_by,
        creation_time=row.creation_time,
        run_id=row.run_id,
        description=row.description,
        rows=row.rows,
        schema=_loads(row.schema),
        profile=_loads(row.profile),
    )


def _to_dataset(row: Any) -> Dataset:
    return Dataset(
        row.name,
        row.description,
        row.last_version,
        row.creation_time,
        row.last_update_time,
        _loads(row.schema),
    )


def check_files(files: Sequence[DatasetFile]) -> list[dict[str, Any]]:
    """Validate a manifest and return its rows (paths normalised, no duplicates)."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for f in files:
        path = normalize_relative_path(f.path)
        if path in seen:
            raise InvalidInputError(f"the manifest lists {path!r} twice")
        seen.add(path)
        rows.append(
            {"path": path, "digest": check_digest(f.digest), "size": _count("size", f.size)}
        )
    return rows


class SqlDatasetMixin(DatasetStore):
    """The :class:`DatasetStore` methods of the SQL store.

    Needs ``engine``, ``_insert`` and ``_run_row`` from the class it is mixed into.
    """

    engine: Engine
    _insert: Callable[..., Any]
    _run_row: Callable[[Connection, str], Any]

    @staticmethod
    def _dataset_row(conn: Connection, name: str) -> Any:
        row = conn.execute(
            select(_DATASETS).where(_DATASETS.c.name == check_dataset_name(name))
        ).first()
        if row is None:
            raise DatasetNotFoundError(
                f"no dataset named {name!r}; add one with `loopml data add PATH --name {name}` "
                "or see `loopml data list`"
            )
        return row

    def _dataset_version_row(self, conn: Connection, name: str, version: int) -> Any:
        number = check_model_version(version)
        dataset = self._dataset_row(conn, name)
        row = conn.execute(
            select(_VERSIONS).where(_VERSIONS.c.name == name, _VERSIONS.c.version == number)
        ).first()
        if row is None:
            raise DatasetVersionNotFoundError(
                f"dataset {name!r} has no version {number}; its latest is "
                f"{dataset.last_version} (see `loopml data show {name}`)"
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
        now = _now_ms()
        with write_transaction(self.engine) as conn:
            conn.execute(
                self._insert(_DATASETS)
                .values(
                    name=name,
                    description="",
                    last_version=0,
                    creation_time=now,
                    last_update_time=now,
                )
                .on_conflict_do_nothing(index_elements=["name"])
            )
            conn.execute(
                update(_DATASETS)
                .where(_DATASETS.c.name == name)
                .values(last_version=_DATASETS.c.last_version + 1, last_update_time=now)
            )
            number = conn.execute(
                select(_DATASETS.c.last_version).where(_DATASETS.c.name == name)
            ).scalar_one()
            conn.execute(
                insert(_VERSIONS).values(
                    name=name,
                    version=number,
                    digest=digest,
                    kind=kind.value,
                    file_count=len(file_rows),
                    size=sum(r["size"] for r in file_rows),
                    rows=rows,
                    source=source,
                    created_by=created_by,
                    run_id=run_id,
                    description=description,
                    creation_time=now,
                    schema=_json(schema),
                    profile=_json(profile),
                )
            )
            for start in range(0, len(file_rows), _CHUNK):
                chunk = file_rows[start : start + _CHUNK]
                conn.execute(
                    insert(_FILES), [{"name": name, "version": number, **r} for r in chunk]
                )
        return self.get_dataset_version(name, number)

    def get_dataset(self, name: str) -> Dataset:
        with self.engine.connect() as conn:
            return _to_dataset(self._dataset_row(conn, name))

    def list_datasets(self, name_like: str | None = None) -> list[Dataset]:
        query = select(_DATASETS).order_by(_DATASETS.c.name)
        if name_like:
            query = query.where(_DATASETS.c.name.ilike(name_like))
        with self.engine.connect() as conn:
            return [_to_dataset(r) for r in conn.execute(query)]

    def get_dataset_version(self, name: str, version: int) -> DatasetVersion:
        with self.engine.connect() as conn:
            return _to_version(self._dataset_version_row(conn, name, version))

    def list_dataset_versions(self, name: str) -> list[DatasetVersion]:
        with self.engine.connect() as conn:
            self._dataset_row(conn, name)
            query = select(_VERSIONS).where(_VERSIONS.c.name == name)
            return [
                _to_version(r) for r in conn.execute(query.order_by(_VERSIONS.c.version.desc()))
            ]

    def get_dataset_files(self, name: str, version: int) -> list[DatasetFile]:
        with self.engine.connect() as conn:
            self._dataset_version_row(conn, name, version)
            query = (
                select(_FILES.c.path, _FILES.c.digest, _FILES.c.size)
                .where(_FILES.c.name == name, _FILES.c.version == version)
                .order_by(_FILES.c.path)
            )
            return [DatasetFile(p, d, s) for p, d, s in conn.execute(query)]

    def set_dataset_schema(self, name: str, schema: Mapping[str, Any] | None) -> Dataset:
        with write_transaction(self.engine) as conn:
            self._dataset_row(conn, name)
            conn.execute(
                update(_DATASETS)
                .where(_DATASETS.c.name == name)
                .values(schema=_json(schema), last_update_time=_now_ms())
            )
        return self.get_dataset(name)

    def log_lineage(self, run_id: str, edges: Sequence[LineageEdge]) -> None:
        check_run_id(run_id)
        rows = []
        for edge in edges:
            if edge.run_id != run_id:
                raise InvalidInputError(
                    f"a lineage edge of run {edge.run_id} was logged to run {run_id}"
                )
            rows.append(
                {
                    "run_id": run_id,
                    "uri": check_text("uri", edge.uri, 500),
                    "direction": LineageDirection(edge.direction).value,
                    "role": check_text("role", edge.role, 250),
                    "time": _count("time", edge.time) or _now_ms(),
                }
            )
        if not rows:
            return
        with write_transaction(self.engine) as conn:
            self._run_row(conn, run_id)  # RunNotFoundError for an unknown run
            for row in rows:
                stmt = self._insert(_EDGES).values(**row)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["run_id", "uri", "direction"],
                        set_={"role": stmt.excluded.role, "time": stmt.excluded.time},
                    )
                )

    def list_lineage(
        self, *, run_id: str | None = None, uri: str | None = None
    ) -> list[LineageEdge]:
        if (run_id is None) == (uri is None):
            raise InvalidInputError("list_lineage needs exactly one of run_id and uri")
        query = select(_EDGES)
        if run_id is not None:
            query = query.where(_EDGES.c.run_id == check_run_id(run_id))
        else:
            query = query.where(_EDGES.c.uri == check_text("uri", uri, 500))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(_EDGES.c.time, _EDGES.c.uri)).all()
        return [
            LineageEdge(r.run_id, r.uri, LineageDirection(r.direction), r.role, r.time)
            for r in rows
        ]
