"""The SQL metadata store: SQLite and PostgreSQL through SQLAlchemy 2.

Tracking, artifacts, datasets and lineage are plain SQL on the engine's DB-API connection
(:mod:`loopml.storage.metadata.sql.direct`, shared with the embedded SQLite store); the
registry, schedules, deployments and monitors are SQLAlchemy Core statements in the mixins
beside this module.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from typing import Any

from loopml.storage.metadata.base import MetadataStore
from loopml.storage.metadata.sql.deployments import SqlDeploymentMixin
from loopml.storage.metadata.sql.direct import Cursor, DirectSqlMixin, SqlFlavor, cursor_errors
from loopml.storage.metadata.sql.engine import make_engine, upgrade_schema, write_transaction
from loopml.storage.metadata.sql.monitors import SqlMonitorMixin
from loopml.storage.metadata.sql.registry import SqlRegistryMixin
from loopml.storage.metadata.sql.schedules import SqlScheduleMixin

__all__ = ["SqlMetadataStore"]


class SqlMetadataStore(
    DirectSqlMixin,
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
        dbapi = self.engine.dialect.dbapi
        assert dbapi is not None  # both dialects have a DB-API module
        self._flavor = SqlFlavor(name, dbapi.paramstyle, dbapi.IntegrityError, dbapi.Error)
        self._display_url = self.engine.url.render_as_string()  # password hidden

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"SqlMetadataStore({self.engine.url.render_as_string()!r})"

    @contextlib.contextmanager
    def _cursor(self, write: bool = False) -> Iterator[Cursor]:
        """A DB-API cursor inside one of the engine's transactions (see DirectSqlMixin)."""
        manager: Any = write_transaction(self.engine) if write else _read_transaction(self.engine)
        with cursor_errors(self._flavor, self._display_url), manager as conn:
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                yield cursor
            finally:
                cursor.close()


@contextlib.contextmanager
def _read_transaction(engine: Any) -> Iterator[Any]:
    """A connection in a read transaction (one snapshot for the statements of a read)."""
    with engine.connect() as conn, conn.begin():
        yield conn
