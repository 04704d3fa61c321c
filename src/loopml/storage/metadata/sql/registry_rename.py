"""Renaming a registered model in SQL: moving its rows, and reading its history back.

Used only by :class:`~loopml.storage.metadata.sql.registry.SqlRegistryMixin`, inside the
write transaction of the rename (``move_model``) or the read of the audit log
(``renames``, ``history_clause``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, literal, or_, select, update

from loopml.storage.metadata.sql import registry_models as _tables
from loopml.storage.metadata.sql.data_models import LINEAGE_EDGES as _EDGES

__all__ = ["RENAME_ACTION", "history_clause", "move_model", "renames"]

RENAME_ACTION = "rename_model"
_MODELS = _tables.REGISTERED_MODELS
_MTAGS = _tables.REGISTERED_MODEL_TAGS
_VERSIONS = _tables.MODEL_VERSIONS
_VTAGS = _tables.MODEL_VERSION_TAGS
_ALIASES = _tables.MODEL_ALIASES
_APPROVALS = _tables.APPROVALS
_AUDIT = _tables.AUDIT_LOG


def renames(conn: Connection) -> list[tuple[int, str, str]]:
    """Every rename in the audit log as (entry id, old name, new name), oldest first."""
    rows = conn.execute(
        select(_AUDIT.c.id, _AUDIT.c.name, _AUDIT.c.before)
        .where(_AUDIT.c.action == RENAME_ACTION)
        .order_by(_AUDIT.c.id)
    ).all()
    return [(r.id, str(json.loads(r.before or "{}").get("name", "")), r.name) for r in rows]


def history_clause(moves: Sequence[tuple[int, str, str]], name: str) -> Any:
    """The WHERE clause of the audit entries that tell the story of the model now ``name``.

    ``moves`` are the registry's renames as (entry id, old name, new name); a rename's
    entry is filed under the new name. The story is every entry filed under ``name`` (a
    model deleted and made again under one name shares its history, as before renames
    existed), the renames away from ``name``, and, for each rename into a name, the entries
    of the old name up to that rename, since the old name's last rename away before it
    (earlier entries of the old name belong to the model that was renamed then).
    """
    clauses: list[Any] = [
        _AUDIT.c.name == name,
        _AUDIT.c.id.in_([i for i, old, _ in moves if old == name]),
    ]
    # (the rename into a name, the name before it): earlier names still to follow
    todo = [(i, old) for i, old, new in moves if new == name]
    seen: set[tuple[int, str]] = set()
    while todo:
        upper, old = todo.pop()
        if (upper, old) in seen:
            continue
        seen.add((upper, old))
        lower = max((i for i, was, _ in moves if was == old and i < upper), default=0)
        clauses.append(and_(_AUDIT.c.name == old, _AUDIT.c.id > lower, _AUDIT.c.id < upper))
        todo.extend((i, was) for i, was, new in moves if new == old and lower < i < upper)
    return or_(*clauses)


def _moved_uri(uri: str, prefix: str, new_name: str) -> str | None:
    """``models:/<new>/<n>`` for a lineage URI ``<prefix><n>`` (None for anything else)."""
    rest = uri[len(prefix) :]
    return f"models:/{new_name}/{rest}" if rest.isascii() and rest.isdigit() else None


def move_model(conn: Connection, row: Any, new_name: str) -> None:
    """Refile a model's rows under ``new_name``, children before parents go.

    Foreign keys are checked per statement (and have no ``ON UPDATE CASCADE``), so the
    model and its versions are copied under the new name, the rows that point at them
    are moved, and only then are the old model and versions deleted.
    """
    old = row.name
    conn.execute(
        insert(_MODELS).values(
            name=new_name,
            description=row.description,
            last_version=row.last_version,
            creation_time=row.creation_time,
            last_update_time=row.last_update_time,
        )
    )
    columns = [c.name for c in _VERSIONS.columns if c.name != "name"]
    conn.execute(
        insert(_VERSIONS).from_select(
            ["name", *columns],
            select(literal(new_name), *(_VERSIONS.c[c] for c in columns)).where(
                _VERSIONS.c.name == old
            ),
        )
    )
    for table in (_MTAGS, _VTAGS, _ALIASES, _APPROVALS):
        conn.execute(update(table).where(table.c.name == old).values(name=new_name))
    conn.execute(delete(_VERSIONS).where(_VERSIONS.c.name == old))
    conn.execute(delete(_MODELS).where(_MODELS.c.name == old))
    # Lineage names versions by URI (models:/<name>/<n>): follow the model there too.
    prefix = f"models:/{old}/"
    found = conn.execute(
        select(_EDGES.c.run_id, _EDGES.c.uri, _EDGES.c.direction).where(
            _EDGES.c.uri.startswith(prefix, autoescape=True)
        )
    ).all()
    for run_id, uri, direction in found:
        moved = _moved_uri(uri, prefix, new_name)
        if moved is None:
            continue
        taken = conn.execute(
            select(_EDGES.c.run_id).where(
                _EDGES.c.run_id == run_id,
                _EDGES.c.uri == moved,
                _EDGES.c.direction == direction,
            )
        ).first()
        where = (
            _EDGES.c.run_id == run_id,
            _EDGES.c.uri == uri,
            _EDGES.c.direction == direction,
        )
        if taken:  # the run already names the new URI (a model of that name, deleted)
            conn.execute(delete(_EDGES).where(*where))
        else:
            conn.execute(update(_EDGES).where(*where).values(uri=moved))
