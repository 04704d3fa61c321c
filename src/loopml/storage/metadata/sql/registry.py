"""The model registry in SQL: a mixin of :class:`SqlMetadataStore` sharing its engine.

Each change is one write transaction that also appends its audit entry, so the audit log
and the registry never disagree. Version numbers come from a per-model counter bumped with
an ``UPDATE`` inside that transaction: the row lock (PostgreSQL) or ``BEGIN IMMEDIATE``
(SQLite) makes concurrent registrations take turns, and deleted numbers are never reused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from loopml.entities import PagedList, RunTag
from loopml.entities._registry import (
    Approval,
    AuditEntry,
    ModelVersion,
    RegisteredModel,
    VersionStatus,
)
from loopml.entities.tags import GATE_TAG, json_object_tag
from loopml.entities.validation import check_key, check_run_id, check_tag_value
from loopml.errors import (
    AlreadyExistsError,
    InvalidInputError,
    InvalidStateError,
    ModelVersionNotFoundError,
    NotFoundError,
    RegisteredModelNotFoundError,
)
from loopml.storage.metadata.registry_base import (
    PROTECTED_ALIASES,
    REGISTRY_MAX_RESULTS_DEFAULT,
    RegistryStore,
    check_alias,
    check_model_name,
    check_model_version,
    check_status,
    check_text,
)
from loopml.storage.metadata.search import decode_page_token, encode_page_token
from loopml.storage.metadata.sql import registry_models as _tables
from loopml.storage.metadata.sql.direct import check_max_results, now_ms
from loopml.storage.metadata.sql.engine import write_transaction
from loopml.storage.metadata.sql.registry_rename import (
    RENAME_ACTION,
    history_clause,
    move_model,
    renames,
)

__all__ = ["SqlRegistryMixin"]

_MODELS = _tables.REGISTERED_MODELS
_MTAGS = _tables.REGISTERED_MODEL_TAGS
_VERSIONS = _tables.MODEL_VERSIONS
_VTAGS = _tables.MODEL_VERSION_TAGS
_ALIASES = _tables.MODEL_ALIASES
_APPROVALS = _tables.APPROVALS
_AUDIT = _tables.AUDIT_LOG
_ACTIONS = {
    VersionStatus.APPROVED: "approve",
    VersionStatus.REJECTED: "reject",
    VersionStatus.ARCHIVED: "archive",
    VersionStatus.PENDING_REVIEW: "request_review",
}


def _offset(max_results: int, page_token: str | None) -> int:
    check_max_results(max_results)
    return decode_page_token(page_token)


def _tag_rows(tags: Sequence[RunTag]) -> dict[str, str]:
    return {check_key("tag", t.key): check_tag_value(t.key, t.value) for t in tags}


def _version_state(v: ModelVersion) -> dict[str, Any]:
    return {
        "source": v.source,
        "run_id": v.run_id,
        "status": v.status.value,
        "description": v.description,
        "tags": dict(v.tags),
        "aliases": list(v.aliases),
    }


def _paged(conn: Connection, query: Any, offset: int, limit: int) -> tuple[list[Any], str | None]:
    rows = conn.execute(query.offset(offset).limit(limit + 1)).all()
    return list(rows[:limit]), encode_page_token(offset + limit) if len(rows) > limit else None


def _of(table: Table, name: str, version: int) -> tuple[Any, Any]:
    """The WHERE clauses selecting one version's rows of ``table``."""
    return table.c.name == name, table.c.version == version


class SqlRegistryMixin(RegistryStore):
    """The :class:`RegistryStore` methods of the SQL store.

    Needs ``engine`` and ``_insert`` (the dialect's upsert-capable ``insert``) from the
    class it is mixed into.
    """

    engine: Engine
    _insert: Callable[..., Any]
    allow_unapproved_champion: bool = False
    require_passing_gate: bool = False

    # -- helpers -----------------------------------------------------------------------
    def _change(self, actor: str) -> AbstractContextManager[Connection]:
        """The write transaction of one change by ``actor`` (checked before it starts)."""
        check_text("actor", actor, 256)
        return write_transaction(self.engine)

    @staticmethod
    def _model_row(conn: Connection, name: str) -> Any:
        row = conn.execute(select(_MODELS).where(_MODELS.c.name == check_model_name(name))).first()
        if row is None:
            raise RegisteredModelNotFoundError(
                f"no registered model named {name!r}; create it first "
                "(create_registered_model) or check the spelling"
            )
        return row

    def _version_row(self, conn: Connection, name: str, version: int) -> Any:
        number = check_model_version(version)
        self._model_row(conn, name)
        row = conn.execute(select(_VERSIONS).where(*_of(_VERSIONS, name, number))).first()
        if row is None:
            latest = conn.execute(
                select(func.max(_VERSIONS.c.version)).where(_VERSIONS.c.name == name)
            ).scalar()
            hint = f"its latest version is {latest}" if latest else "it has no versions yet"
            raise ModelVersionNotFoundError(f"model {name!r} has no version {number}; {hint}")
        return row

    @staticmethod
    def _audit(
        conn: Connection,
        actor: str,
        action: str,
        name: str,
        version: int | None = None,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
    ) -> None:
        """Append the audit entry of a change, inside the change's own transaction."""
        now = now_ms()
        conn.execute(
            insert(_AUDIT).values(
                time=now,
                actor=actor,
                action=action,
                name=name,
                version=version,
                before=None if before is None else json.dumps(before, sort_keys=True),
                after=None if after is None else json.dumps(after, sort_keys=True),
            )
        )
        conn.execute(update(_MODELS).where(_MODELS.c.name == name).values(last_update_time=now))

    def _set_tag(
        self, conn: Connection, table: Table, owner: dict[str, Any], key: str, value: str
    ) -> str | None:
        """Upsert a tag; return the value it had before (None when it is new)."""
        where = [table.c[k] == v for k, v in owner.items()]
        old = conn.execute(select(table.c.value).where(*where, table.c.key == key)).scalar()
        stmt = self._insert(table).values(**owner, key=key, value=value)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[*owner, "key"], set_={"value": stmt.excluded.value}
            )
        )
        return cast("str | None", old)

    @staticmethod
    def _load_models(conn: Connection, rows: Sequence[Any]) -> list[RegisteredModel]:
        names = [r.name for r in rows]
        tags: dict[str, dict[str, str]] = {n: {} for n in names}
        aliases: dict[str, dict[str, int]] = {n: {} for n in names}
        latest: dict[str, int] = {}
        if names:
            for n, k, v in conn.execute(select(_MTAGS).where(_MTAGS.c.name.in_(names))):
                tags[n][k] = v
            for n, a, v in conn.execute(
                select(_ALIASES).where(_ALIASES.c.name.in_(names)).order_by(_ALIASES.c.alias)
            ):
                aliases[n][a] = v
            latest_query = select(_VERSIONS.c.name, func.max(_VERSIONS.c.version))
            for n, v in conn.execute(
                latest_query.where(_VERSIONS.c.name.in_(names)).group_by(_VERSIONS.c.name)
            ):
                latest[n] = v
        return [
            RegisteredModel(
                r.name,
                r.description,
                tags[r.name],
                aliases[r.name],
                r.creation_time,
                r.last_update_time,
                latest.get(r.name),
            )
            for r in rows
        ]

    @staticmethod
    def _load_versions(conn: Connection, rows: Sequence[Any]) -> list[ModelVersion]:
        keys = {(r.name, r.version) for r in rows}
        names = sorted({n for n, _ in keys})
        tags: dict[tuple[str, int], dict[str, str]] = {k: {} for k in keys}
        aliases: dict[tuple[str, int], list[str]] = {k: [] for k in keys}
        if names:
            for n, v, k, val in conn.execute(select(_VTAGS).where(_VTAGS.c.name.in_(names))):
                if (n, v) in keys:
                    tags[n, v][k] = val
            for n, a, v in conn.execute(
                select(_ALIASES).where(_ALIASES.c.name.in_(names)).order_by(_ALIASES.c.alias)
            ):
                if (n, v) in keys:
                    aliases[n, v].append(a)
        return [
            ModelVersion(
                r.name,
                r.version,
                r.source,
                r.run_id,
                VersionStatus(r.status),
                r.description,
                tags[r.name, r.version],
                tuple(aliases[r.name, r.version]),
                r.creation_time,
                r.last_update_time,
                r.created_by,
            )
            for r in rows
        ]

    def _version(self, conn: Connection, name: str, version: int) -> ModelVersion:
        return self._load_versions(conn, [self._version_row(conn, name, version)])[0]

    def _alias_version(self, conn: Connection, name: str, alias: str) -> int:
        check_alias(alias)
        model = self._load_models(conn, [self._model_row(conn, name)])[0]
        if alias not in model.aliases:
            known = ", ".join(model.aliases) or "none"
            raise ModelVersionNotFoundError(
                f"model {name!r} has no alias {alias!r} (its aliases: {known})"
            )
        return model.aliases[alias]

    @staticmethod
    def _check_gate(conn: Connection, name: str, version: int) -> None:
        """Refuse approval unless the version's latest gate verdict passed."""
        raw = conn.execute(
            select(_VTAGS.c.value).where(*_of(_VTAGS, name, version), _VTAGS.c.key == GATE_TAG)
        ).scalar()
        verdict = json_object_tag({GATE_TAG: raw} if raw else {}, GATE_TAG)
        if not verdict or verdict.get("passed") is not True:
            state = "failed its release gate" if verdict else "has no release-gate verdict"
            raise InvalidStateError(
                f"version {version} of model {name!r} {state}, and this registry requires a "
                f"passing gate to approve; run `loopml gate models:/{name}/{version} …` first"
            )

    # -- registered models -------------------------------------------------------------
    def create_registered_model(
        self, name: str, description: str = "", tags: Sequence[RunTag] = (), actor: str = ""
    ) -> RegisteredModel:
        check_model_name(name)
        check_text("description", description, 5000)
        tag_map = _tag_rows(tags)
        now = now_ms()
        clash = AlreadyExistsError(
            f"a registered model named {name!r} already exists; pick another name or add a "
            "version to it"
        )
        try:
            with self._change(actor) as conn:
                if conn.execute(select(_MODELS.c.name).where(_MODELS.c.name == name)).first():
                    raise clash
                conn.execute(
                    insert(_MODELS).values(
                        name=name,
                        description=description,
                        last_version=0,
                        creation_time=now,
                        last_update_time=now,
                    )
                )
                for key, value in tag_map.items():
                    conn.execute(insert(_MTAGS).values(name=name, key=key, value=value))
                after = {"description": description, "tags": tag_map}
                self._audit(conn, actor, "create_model", name, after=after)
        except SqlIntegrityError as exc:
            # Another writer created the same name between our check and our insert.
            raise clash from exc
        return self.get_registered_model(name)

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self.engine.connect() as conn:
            return self._load_models(conn, [self._model_row(conn, name)])[0]

    def search_registered_models(
        self,
        name_like: str | None = None,
        max_results: int = REGISTRY_MAX_RESULTS_DEFAULT,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        offset = _offset(max_results, page_token)
        query = select(_MODELS).order_by(_MODELS.c.name)
        if name_like:
            query = query.where(_MODELS.c.name.ilike(name_like))
        with self.engine.connect() as conn:
            rows, token = _paged(conn, query, offset, max_results)
            return PagedList(self._load_models(conn, rows), token)

    def update_registered_model(
        self, name: str, description: str, actor: str = ""
    ) -> RegisteredModel:
        check_text("description", description, 5000)
        with self._change(actor) as conn:
            old = self._model_row(conn, name).description
            conn.execute(
                update(_MODELS).where(_MODELS.c.name == name).values(description=description)
            )
            before, after = {"description": old}, {"description": description}
            self._audit(conn, actor, "update_model", name, before=before, after=after)
        return self.get_registered_model(name)

    def delete_registered_model(self, name: str, actor: str = "", force: bool = False) -> None:
        with self._change(actor) as conn:
            model = self._load_models(conn, [self._model_row(conn, name)])[0]
            versions = list(
                conn.execute(
                    select(_VERSIONS.c.version)
                    .where(_VERSIONS.c.name == name)
                    .order_by(_VERSIONS.c.version)
                ).scalars()
            )
            if versions and not force:
                raise InvalidStateError(
                    f"model {name!r} still has versions {versions}; delete them first, or pass "
                    "force=True to delete the model with all its versions"
                )
            # Foreign keys cascade to tags, versions, aliases and approvals.
            conn.execute(delete(_MODELS).where(_MODELS.c.name == name))
            before = {
                "description": model.description,
                "tags": dict(model.tags),
                "aliases": dict(model.aliases),
                "versions": versions,
            }
            self._audit(conn, actor, "delete_model", name, before=before)

    def rename_registered_model(self, name: str, new_name: str, actor: str = "") -> RegisteredModel:
        check_model_name(name)
        check_model_name(new_name)
        if new_name == name:
            raise InvalidInputError(
                f"model {name!r} is already named {new_name!r}; pass the name it should have"
            )
        clash = AlreadyExistsError(
            f"a registered model named {new_name!r} already exists; pick another name, or "
            "delete or rename that model first"
        )
        try:
            with self._change(actor) as conn:
                # Lock the model's row (PostgreSQL; SQLite writers take turns anyway): a
                # version being registered meanwhile waits, then finds the name gone,
                # rather than landing under the old name after its versions were copied.
                row = conn.execute(
                    select(_MODELS).where(_MODELS.c.name == name).with_for_update()
                ).first()
                if row is None:
                    self._model_row(conn, name)  # raises the NotFoundError
                if conn.execute(select(_MODELS.c.name).where(_MODELS.c.name == new_name)).first():
                    raise clash
                move_model(conn, row, new_name)
                before, after = {"name": name}, {"name": new_name}
                self._audit(conn, actor, RENAME_ACTION, new_name, before=before, after=after)
        except SqlIntegrityError as exc:
            # Another writer created the new name between our check and our insert.
            raise clash from exc
        return self.get_registered_model(new_name)

    def set_registered_model_tag(self, name: str, key: str, value: str, actor: str = "") -> None:
        value = check_tag_value(check_key("tag", key), value)
        with self._change(actor) as conn:
            self._model_row(conn, name)
            old = self._set_tag(conn, _MTAGS, {"name": name}, key, value)
            before = None if old is None else {"key": key, "value": old}
            after = {"key": key, "value": value}
            self._audit(conn, actor, "set_model_tag", name, before=before, after=after)

    def _delete_tag(
        self, conn: Connection, table: Table, owner: dict[str, Any], key: str, what: str
    ) -> str:
        where = [table.c[k] == v for k, v in owner.items()]
        old = conn.execute(select(table.c.value).where(*where, table.c.key == key)).scalar()
        if old is None:
            raise NotFoundError(f"{what} has no tag {key!r}")
        conn.execute(delete(table).where(*where, table.c.key == key))
        return str(old)

    def delete_registered_model_tag(self, name: str, key: str, actor: str = "") -> None:
        check_key("tag", key)
        with self._change(actor) as conn:
            self._model_row(conn, name)
            old = self._delete_tag(conn, _MTAGS, {"name": name}, key, f"model {name!r}")
            before = {"key": key, "value": old}
            self._audit(conn, actor, "delete_model_tag", name, before=before)

    # -- versions ----------------------------------------------------------------------
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        description: str = "",
        tags: Sequence[RunTag] = (),
        actor: str = "",
    ) -> ModelVersion:
        check_model_name(name)
        if not isinstance(source, str) or not source.strip():
            raise InvalidInputError("a model version needs a source, e.g. 'runs:/<run_id>/model'")
        check_text("source", source, 1000)
        if run_id is not None:
            check_run_id(run_id)
        check_text("description", description, 5000)
        tag_map = _tag_rows(tags)
        now = now_ms()
        with self._change(actor) as conn:
            # The UPDATE takes the model's row lock, so concurrent writers take turns here.
            bumped = conn.execute(
                update(_MODELS)
                .where(_MODELS.c.name == name)
                .values(last_version=_MODELS.c.last_version + 1)
            )
            if bumped.rowcount == 0:
                self._model_row(conn, name)  # raises the NotFoundError
            number = conn.execute(
                select(_MODELS.c.last_version).where(_MODELS.c.name == name)
            ).scalar_one()
            conn.execute(
                insert(_VERSIONS).values(
                    name=name,
                    version=number,
                    source=source,
                    run_id=run_id,
                    status=VersionStatus.PENDING_REVIEW.value,
                    description=description,
                    created_by=actor,
                    creation_time=now,
                    last_update_time=now,
                )
            )
            for key, value in tag_map.items():
                conn.execute(insert(_VTAGS).values(name=name, version=number, key=key, value=value))
            created = self._version(conn, name, number)
            self._audit(conn, actor, "create_version", name, number, after=_version_state(created))
        return created

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        with self.engine.connect() as conn:
            return self._version(conn, name, version)

    def search_model_versions(
        self,
        name: str | None = None,
        run_id: str | None = None,
        max_results: int = REGISTRY_MAX_RESULTS_DEFAULT,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        offset = _offset(max_results, page_token)
        query = select(_VERSIONS).order_by(_VERSIONS.c.name, _VERSIONS.c.version.desc())
        if name is not None:
            query = query.where(_VERSIONS.c.name == name)
        if run_id is not None:
            query = query.where(_VERSIONS.c.run_id == run_id)
        with self.engine.connect() as conn:
            rows, token = _paged(conn, query, offset, max_results)
            return PagedList(self._load_versions(conn, rows), token)

    def update_model_version(
        self, name: str, version: int, description: str, actor: str = ""
    ) -> ModelVersion:
        check_text("description", description, 5000)
        with self._change(actor) as conn:
            row = self._version_row(conn, name, version)
            conn.execute(
                update(_VERSIONS)
                .where(*_of(_VERSIONS, name, row.version))
                .values(description=description, last_update_time=now_ms())
            )
            before, after = {"description": row.description}, {"description": description}
            self._audit(conn, actor, "update_version", name, row.version, before, after)
            return self._version(conn, name, row.version)

    def set_model_version_tag(
        self, name: str, version: int, key: str, value: str, actor: str = ""
    ) -> None:
        value = check_tag_value(check_key("tag", key), value)
        with self._change(actor) as conn:
            number = self._version_row(conn, name, version).version
            old = self._set_tag(conn, _VTAGS, {"name": name, "version": number}, key, value)
            before = None if old is None else {"key": key, "value": old}
            after = {"key": key, "value": value}
            self._audit(conn, actor, "set_version_tag", name, number, before, after)

    def delete_model_version_tag(self, name: str, version: int, key: str, actor: str = "") -> None:
        check_key("tag", key)
        with self._change(actor) as conn:
            number = self._version_row(conn, name, version).version
            what = f"version {number} of model {name!r}"
            owner = {"name": name, "version": number}
            old = self._delete_tag(conn, _VTAGS, owner, key, what)
            before = {"key": key, "value": old}
            self._audit(conn, actor, "delete_version_tag", name, number, before=before)

    def delete_model_version(
        self, name: str, version: int, actor: str = "", force: bool = False
    ) -> None:
        with self._change(actor) as conn:
            doomed = self._version(conn, name, version)
            if doomed.aliases and not force:
                raise InvalidStateError(
                    f"version {doomed.version} of model {name!r} is what aliases "
                    f"{', '.join(doomed.aliases)} point at; move or delete them first, or pass "
                    "force=True to delete the aliases with the version"
                )
            conn.execute(delete(_ALIASES).where(*_of(_ALIASES, name, doomed.version)))
            # Tags and approvals go with the version (ON DELETE CASCADE).
            conn.execute(delete(_VERSIONS).where(*_of(_VERSIONS, name, doomed.version)))
            before = _version_state(doomed)
            self._audit(conn, actor, "delete_version", name, doomed.version, before=before)

    # -- aliases -----------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: int, actor: str = "") -> None:
        check_alias(alias)
        with self._change(actor) as conn:
            row = self._version_row(conn, name, version)
            number = row.version
            if (
                alias in PROTECTED_ALIASES
                and not self.allow_unapproved_champion
                and row.status != VersionStatus.APPROVED.value
            ):
                raise InvalidStateError(
                    f"version {number} of model {name!r} is {row.status}, and {alias!r} may "
                    f"only point at an approved version; approve it first (`loopml models "
                    f"approve {name} {number}`), or set allow_unapproved_champion"
                )
            old = conn.execute(
                select(_ALIASES.c.version).where(_ALIASES.c.name == name, _ALIASES.c.alias == alias)
            ).scalar()
            if old == number:
                return  # already there: nothing changes, so nothing to audit
            stmt = self._insert(_ALIASES).values(name=name, alias=alias, version=number)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["name", "alias"], set_={"version": stmt.excluded.version}
                )
            )
            before = None if old is None else {"alias": alias, "version": old}
            after = {"alias": alias, "version": number}
            self._audit(conn, actor, "set_alias", name, number, before, after)

    def delete_alias(self, name: str, alias: str, actor: str = "") -> None:
        with self._change(actor) as conn:
            number = self._alias_version(conn, name, alias)
            conn.execute(delete(_ALIASES).where(_ALIASES.c.name == name, _ALIASES.c.alias == alias))
            before = {"alias": alias, "version": number}
            self._audit(conn, actor, "delete_alias", name, number, before=before)

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        with self.engine.connect() as conn:
            return self._version(conn, name, self._alias_version(conn, name, alias))

    # -- review ------------------------------------------------------------------------
    def set_version_status(
        self,
        name: str,
        version: int,
        status: VersionStatus,
        actor: str = "",
        comment: str = "",
    ) -> ModelVersion:
        target = check_status(status)
        check_text("comment", comment, 5000)
        now = now_ms()
        with self._change(actor) as conn:
            row = self._version_row(conn, name, version)
            current = VersionStatus(row.status)
            if current is VersionStatus.APPROVED and not self.allow_unapproved_champion:
                held = sorted(
                    conn.execute(
                        select(_ALIASES.c.alias).where(
                            *_of(_ALIASES, name, row.version),
                            _ALIASES.c.alias.in_(sorted(PROTECTED_ALIASES)),
                        )
                    ).scalars()
                )
                if held and target is not VersionStatus.APPROVED:
                    raise InvalidStateError(
                        f"version {row.version} of model {name!r} is the {held[0]!r}, which "
                        f"must be approved; point {held[0]!r} at another approved version (or "
                        f"delete the alias) before moving it to {target.value}"
                    )
            if target is VersionStatus.APPROVED and self.require_passing_gate:
                self._check_gate(conn, name, row.version)
            if not current.can_move_to(target):
                allowed = sorted(s.value for s in VersionStatus if current.can_move_to(s))
                raise InvalidStateError(
                    f"version {row.version} of model {name!r} is {current.value}; it can move "
                    f"to {' or '.join(allowed)}, not to {target.value}"
                )
            conn.execute(
                update(_VERSIONS)
                .where(*_of(_VERSIONS, name, row.version))
                .values(status=target.value, last_update_time=now)
            )
            if target in (VersionStatus.APPROVED, VersionStatus.REJECTED):
                conn.execute(
                    insert(_APPROVALS).values(
                        name=name,
                        version=row.version,
                        decision=target.value,
                        actor=actor,
                        comment=comment,
                        time=now,
                    )
                )
            before = {"status": current.value}
            after = {"status": target.value, "comment": comment}
            self._audit(conn, actor, _ACTIONS[target], name, row.version, before, after)
            return self._version(conn, name, row.version)

    def list_approvals(self, name: str, version: int) -> list[Approval]:
        with self.engine.connect() as conn:
            number = self._version_row(conn, name, version).version
            rows = conn.execute(
                select(_APPROVALS).where(*_of(_APPROVALS, name, number)).order_by(_APPROVALS.c.id)
            ).all()
        return [
            Approval(r.name, r.version, VersionStatus(r.decision), r.actor, r.comment, r.time)
            for r in rows
        ]

    # -- audit -------------------------------------------------------------------------
    def audit_log(
        self,
        name: str | None = None,
        max_results: int = REGISTRY_MAX_RESULTS_DEFAULT,
        page_token: str | None = None,
    ) -> PagedList[AuditEntry]:
        offset = _offset(max_results, page_token)
        query = select(_AUDIT).order_by(_AUDIT.c.id)
        with self.engine.connect() as conn:
            if name is not None:
                query = query.where(history_clause(renames(conn), name))
            rows, token = _paged(conn, query, offset, max_results)
        entries = [
            AuditEntry(
                r.id,
                r.time,
                r.actor,
                r.action,
                r.name,
                r.version,
                None if r.before is None else json.loads(r.before),
                None if r.after is None else json.loads(r.after),
            )
            for r in rows
        ]
        return PagedList(entries, token)
