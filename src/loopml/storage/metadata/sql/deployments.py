"""Deployments in SQL: a mixin of :class:`SqlMetadataStore` sharing its engine.

An update is one conditional ``UPDATE … WHERE revision = :expected``: of two writers that
read the same revision, exactly one sees a row change; the other gets a
RevisionConflictError and nothing of its change is written. The history row is inserted in
the same transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from loopml.entities import Deployment, DeploymentEvent
from loopml.errors import (
    AlreadyExistsError,
    DeploymentNotFoundError,
    InvalidInputError,
    RevisionConflictError,
)
from loopml.storage.metadata.datasets_base import check_dataset_name
from loopml.storage.metadata.deployments_base import DeploymentStore
from loopml.storage.metadata.registry_base import check_text
from loopml.storage.metadata.sql import serving_models as _tables
from loopml.storage.metadata.sql.engine import write_transaction

__all__ = ["SqlDeploymentMixin"]

_DEPLOYMENTS = _tables.DEPLOYMENTS
_HISTORY = _tables.DEPLOYMENT_HISTORY
_MAX_JSON = 100_000  # characters of a spec, a versions map or an endpoint


def _json(kind: str, value: Mapping[str, Any] | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"a deployment's {kind} must be a JSON object, got {value!r}")
    try:
        text = json.dumps(dict(value), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"a deployment's {kind} must hold JSON values: {exc}") from exc
    if len(text) > _MAX_JSON:
        raise InvalidInputError(
            f"a deployment's {kind} is {len(text)} characters of JSON; the limit is {_MAX_JSON}"
        )
    return text


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _to_deployment(row: Any) -> Deployment:
    return Deployment(
        row.name,
        json.loads(row.spec),
        row.revision,
        json.loads(row.versions),
        row.creation_time,
        row.last_update_time,
        row.actor,
        _loads(row.endpoint),
    )


def _to_event(row: Any) -> DeploymentEvent:
    return DeploymentEvent(
        row.id,
        row.name,
        row.revision,
        row.time,
        row.actor,
        row.action,
        _loads(row.before),
        _loads(row.after),
        json.loads(row.versions),
    )


def _missing(name: str) -> DeploymentNotFoundError:
    return DeploymentNotFoundError(f"no deployment named {name!r} (see `loopml deploy list`)")


def _now() -> int:
    return int(time.time() * 1000)


def _revision(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value < 2**31:
        raise InvalidInputError(f"a deployment revision is a whole number from 1, got {value!r}")
    return value


class SqlDeploymentMixin(DeploymentStore):
    """The :class:`DeploymentStore` methods of the SQL store (needs ``engine``)."""

    engine: Engine

    def _get_row(self, conn: Connection, name: str) -> Any:
        return conn.execute(select(_DEPLOYMENTS).where(_DEPLOYMENTS.c.name == name)).first()

    def _append(
        self,
        conn: Connection,
        name: str,
        revision: int,
        actor: str,
        action: str,
        before: str | None,
        after: str | None,
        versions: str,
        when: int,
    ) -> None:
        conn.execute(
            insert(_HISTORY).values(
                name=name,
                revision=revision,
                time=when,
                actor=actor,
                action=action,
                before=before,
                after=after,
                versions=versions,
            )
        )

    def create_deployment(
        self,
        name: str,
        spec: Mapping[str, Any],
        versions: Mapping[str, Any] | None = None,
        actor: str = "",
    ) -> Deployment:
        check_dataset_name(name)
        check_text("actor", actor, 256)
        spec_text = _json("spec", spec)
        versions_text = _json("versions", versions or {}) or "{}"
        clash = AlreadyExistsError(
            f"a deployment named {name!r} exists; change it with `loopml deploy update`, "
            "or delete it first"
        )
        when = _now()
        try:
            with write_transaction(self.engine) as conn:
                if self._get_row(conn, name) is not None:
                    raise clash
                last = conn.execute(
                    select(func.max(_HISTORY.c.revision)).where(_HISTORY.c.name == name)
                ).scalar()
                revision = int(last or 0) + 1
                conn.execute(
                    insert(_DEPLOYMENTS).values(
                        name=name,
                        spec=spec_text,
                        revision=revision,
                        versions=versions_text,
                        creation_time=when,
                        last_update_time=when,
                        actor=actor,
                        endpoint=None,
                    )
                )
                self._append(
                    conn, name, revision, actor, "create", None, spec_text, versions_text, when
                )
        except SqlIntegrityError as exc:
            raise clash from exc
        return self.get_deployment(name)

    def get_deployment(self, name: str) -> Deployment:
        with self.engine.connect() as conn:
            row = self._get_row(conn, name)
        if row is None:
            raise _missing(name)
        return _to_deployment(row)

    def list_deployments(self) -> list[Deployment]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(_DEPLOYMENTS).order_by(_DEPLOYMENTS.c.name)).all()
        return [_to_deployment(r) for r in rows]

    def update_deployment(
        self,
        name: str,
        spec: Mapping[str, Any],
        expected_revision: int,
        versions: Mapping[str, Any] | None = None,
        actor: str = "",
        action: str = "update",
    ) -> Deployment:
        _revision(expected_revision)
        check_text("actor", actor, 256)
        check_text("action", action, 50)
        spec_text = _json("spec", spec)
        when = _now()
        try:
            with write_transaction(self.engine) as conn:
                row = self._get_row(conn, name)
                if row is None:
                    raise _missing(name)
                versions_text = _json("versions", versions) or row.versions
                changed = conn.execute(
                    update(_DEPLOYMENTS)
                    .where(
                        _DEPLOYMENTS.c.name == name,
                        _DEPLOYMENTS.c.revision == expected_revision,
                    )
                    .values(
                        spec=spec_text,
                        versions=versions_text,
                        revision=expected_revision + 1,
                        last_update_time=when,
                        actor=actor,
                    )
                ).rowcount
                if changed != 1:
                    raise _stale(name, expected_revision, row.revision)
                self._append(
                    conn,
                    name,
                    expected_revision + 1,
                    actor,
                    action,
                    row.spec,
                    spec_text,
                    versions_text,
                    when,
                )
        except SqlIntegrityError as exc:  # another writer took that revision in between
            raise _stale(name, expected_revision, None) from exc
        return self.get_deployment(name)

    def set_deployment_endpoint(
        self, name: str, endpoint: Mapping[str, Any] | None, expected_pid: int | None = None
    ) -> bool:
        text = _json("endpoint", endpoint)
        with write_transaction(self.engine) as conn:
            row = self._get_row(conn, name)
            if row is None:
                raise _missing(name)
            if expected_pid is not None:
                current = _loads(row.endpoint) or {}
                if current.get("pid") != expected_pid:
                    return False
            conn.execute(
                update(_DEPLOYMENTS).where(_DEPLOYMENTS.c.name == name).values(endpoint=text)
            )
        return True

    def delete_deployment(self, name: str, actor: str = "") -> None:
        check_text("actor", actor, 256)
        with write_transaction(self.engine) as conn:
            row = self._get_row(conn, name)
            if row is None:
                raise _missing(name)
            conn.execute(delete(_DEPLOYMENTS).where(_DEPLOYMENTS.c.name == name))
            self._append(
                conn,
                name,
                row.revision + 1,
                actor,
                "delete",
                row.spec,
                None,
                row.versions,
                _now(),
            )

    def deployment_history(self, name: str) -> list[DeploymentEvent]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_HISTORY).where(_HISTORY.c.name == name).order_by(_HISTORY.c.id)
            ).all()
        if not rows:
            self.get_deployment(name)  # DeploymentNotFoundError for a name never used
        return [_to_event(r) for r in rows]


def _stale(name: str, expected: int, current: int | None) -> RevisionConflictError:
    now = f" it is at revision {current} now;" if current is not None else ""
    return RevisionConflictError(
        f"deployment {name!r} changed since revision {expected} was read:{now} read it "
        "again (`loopml deploy status`) and retry"
    )
