"""Engines for SQLite and PostgreSQL, and the schema check that runs Alembic when needed."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from loopml.errors import ConfigurationError, SchemaVersionError, StoreError
from loopml.storage.metadata.sql.migrations import HEAD

__all__ = ["make_engine", "upgrade_schema", "write_transaction"]

_MIGRATIONS = Path(__file__).parent / "migrations"
_WRITE = "loopml_write"


def make_engine(url: str, busy_timeout_ms: int = 60_000) -> Engine:
    """Create an engine for a ``sqlite:///…`` or ``postgresql://…`` URL.

    SQLite runs in WAL mode with a busy timeout, and write transactions start with
    ``BEGIN IMMEDIATE`` so that two processes never deadlock upgrading read locks.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, busy_timeout_ms)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10)
        except ImportError as exc:
            raise ConfigurationError(
                "PostgreSQL needs the psycopg driver: pip install 'loopml[postgres]'"
            ) from exc
    raise ConfigurationError(f"unsupported database {backend!r}; use sqlite:/// or postgresql://")


def _sqlite_engine(url: str, busy_timeout_ms: int) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN can be IMMEDIATE for writes.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        # LIKE is case-sensitive in MLflow's grammar; ILIKE is the case-insensitive one.
        cur.execute("PRAGMA case_sensitive_like=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction: committed on success, rolled back on error."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{_WRITE: True})
        with conn.begin():
            yield conn


def _current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except (OperationalError, ProgrammingError):
        return None


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Only one process migrates at a time (a file lock for SQLite, an advisory lock for PG)."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            yield
            return
        with open(f"{database}.migrate.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(7723001)"))
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(7723001)"))
            conn.commit()


def upgrade_schema(engine: Engine) -> None:
    """Bring the database to the newest schema with Alembic, if it is not there already.

    Raises:
        SchemaVersionError: the database was made by a newer loopml.
        StoreError: the database cannot be reached.
    """
    try:
        if _current_revision(engine) == HEAD:
            return
        with _migration_lock(engine):
            current = _current_revision(engine)
            if current == HEAD:
                return
            _run_alembic(engine, current)
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot open the metadata database {engine.url.render_as_string()}: {exc}. "
            "Check that it is running and that the URL and credentials are right"
        ) from exc


def _run_alembic(engine: Engine, current: str | None) -> None:
    from alembic.command import upgrade
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    known = {rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions()}
    if current is not None and current not in known:
        raise SchemaVersionError(
            f"the metadata database is at schema revision {current!r}, which this version of "
            "loopml does not know; upgrade loopml (pip install -U loopml)"
        )
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn = conn.execution_options(**{_WRITE: True})
        config.attributes["connection"] = conn
        upgrade(config, "head")
        conn.commit()
