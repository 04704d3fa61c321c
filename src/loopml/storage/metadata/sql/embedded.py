"""The embedded store (a SQLite file, ``./.loopml`` by default) as loopml opens it.

Most processes that open the embedded store only track runs, record artifacts or add
datasets: a training script, a pipeline, ``loopml data add``. Importing SQLAlchemy costs
them about a quarter of a second on every command, more than the work itself. So this store
runs the tracking, artifact, dataset and lineage statements
(:class:`~loopml.storage.metadata.sql.direct.DirectSqlMixin`) on Python's ``sqlite3``
module directly, and hands everything else (the registry, schedules, deployments, monitors)
to a :class:`~loopml.storage.metadata.sql.store.SqlMetadataStore` on the same file, opened
the first time one of those is called. A database that is not at the newest schema is
migrated (by Alembic, through that store) when the store opens.

Both talk to the same file in WAL mode, so what one writes the other reads; SQLite's
locking (``BEGIN IMMEDIATE`` for writes, a busy timeout) is the same for both.

    store = EmbeddedSqliteStore(Path(".loopml/metadata.db"))
"""

from __future__ import annotations

import abc
import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.errors import StoreError
from loopml.storage.metadata.base import MetadataStore
from loopml.storage.metadata.sql.direct import Cursor, DirectSqlMixin, SqlFlavor, cursor_errors
from loopml.storage.metadata.sql.migrations import HEAD

if TYPE_CHECKING:
    from loopml.storage.metadata.sql.store import SqlMetadataStore

__all__ = ["EmbeddedSqliteStore", "embedded_path", "sqlite_url_for_folder"]

_FLAVOR = SqlFlavor("sqlite", "qmark", sqlite3.IntegrityError, sqlite3.Error)


def sqlite_url_for_folder(folder: str | os.PathLike[str]) -> str:
    """The SQLite URL of the embedded store in a loopml folder."""
    return f"sqlite:///{Path(folder).resolve() / 'metadata.db'}"


def embedded_path(url: str) -> Path | None:
    """The database file of a plain ``sqlite:///path`` URL; None for anything else.

    In-memory databases, URLs with a driver (``sqlite+pysqlite://``) or with query
    options are left to SQLAlchemy.
    """
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        return None
    database = url[len(prefix) :]
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


class EmbeddedSqliteStore(DirectSqlMixin, MetadataStore):
    """The metadata store in one SQLite file, without SQLAlchemy on the hot paths.

    Args:
        path: the database file (created, with its folder, if missing).
        busy_timeout_ms: how long to wait for another process's write lock.
        allow_unapproved_champion: as for :class:`SqlMetadataStore`.
        require_passing_gate: as for :class:`SqlMetadataStore`.
    """

    _flavor = _FLAVOR

    def __init__(
        self,
        path: Path,
        busy_timeout_ms: int = 60_000,
        allow_unapproved_champion: bool = False,
        require_passing_gate: bool = False,
    ) -> None:
        self.path = path.resolve()
        self.url = f"sqlite:///{self.path}"
        self._busy_timeout_ms = int(busy_timeout_ms)
        self._allow_unapproved_champion = allow_unapproved_champion
        self._require_passing_gate = require_passing_gate
        self._lock = threading.Lock()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._full: SqlMetadataStore | None = None
        self._pid = os.getpid()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder of {self.path}: {exc}") from exc
        if self._revision() != HEAD:
            self._sql()  # opening it runs the migrations (or says why it cannot)

    # -- settings the registry reads (kept in step with the SQLAlchemy store) ----------
    @property
    def allow_unapproved_champion(self) -> bool:
        return self._allow_unapproved_champion

    @allow_unapproved_champion.setter
    def allow_unapproved_champion(self, value: bool) -> None:
        self._allow_unapproved_champion = value
        if self._full is not None:
            self._full.allow_unapproved_champion = value

    @property
    def require_passing_gate(self) -> bool:
        return self._require_passing_gate

    @require_passing_gate.setter
    def require_passing_gate(self, value: bool) -> None:
        self._require_passing_gate = value
        if self._full is not None:
            self._full.require_passing_gate = value

    # -- connections -------------------------------------------------------------------
    def _fork_check(self) -> None:
        # A connection must not cross fork(); the child opens its own (the parent's are
        # left to the parent).
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._local = threading.local()
            self._connections = []
            self._full = None

    def _connection(self) -> sqlite3.Connection:
        self._fork_check()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout_ms / 1000,
                isolation_level=None,  # transactions are begun explicitly below
                check_same_thread=False,  # used by one thread; closed by whichever closes
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            # LIKE is case-sensitive in MLflow's grammar; ILIKE is the case-insensitive one.
            conn.execute("PRAGMA case_sensitive_like=ON")
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open the metadata database {self.path}: {exc}. Check that the "
                "folder is writable and the file is a loopml store"
            ) from exc
        self._local.conn = conn
        with self._lock:
            self._connections.append(conn)
        return conn

    def _revision(self) -> str | None:
        conn = self._connection()
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            return None  # a new database: no schema yet
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{self.path} is not a loopml metadata database ({exc}); point the tracking "
                "URI at another folder or move the file away"
            ) from exc
        return None if row is None else str(row[0])

    @contextlib.contextmanager
    def _cursor(self, write: bool = False) -> Iterator[Cursor]:
        conn = self._connection()
        with cursor_errors(self._flavor, str(self.path)):
            cursor = conn.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")
                try:
                    yield cursor
                except BaseException:
                    if conn.in_transaction:
                        cursor.execute("ROLLBACK")
                    raise
                cursor.execute("COMMIT")
            finally:
                cursor.close()

    def _sql(self) -> SqlMetadataStore:
        """The SQLAlchemy store on the same file, for everything not done here."""
        self._fork_check()
        with self._lock:
            if self._full is None:
                from loopml.storage.metadata.sql.store import SqlMetadataStore

                self._full = SqlMetadataStore(
                    self.url,
                    busy_timeout_ms=self._busy_timeout_ms,
                    allow_unapproved_champion=self._allow_unapproved_champion,
                    require_passing_gate=self._require_passing_gate,
                )
            return self._full

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
            full, self._full = self._full, None
        self._local = threading.local()
        for conn in connections:
            conn.close()
        if full is not None:
            full.close()

    def __repr__(self) -> str:
        return f"EmbeddedSqliteStore({str(self.path)!r})"


def _delegate(name: str) -> Callable[..., Any]:
    def method(self: EmbeddedSqliteStore, *args: Any, **kwargs: Any) -> Any:
        return getattr(self._sql(), name)(*args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = getattr(MetadataStore, name).__doc__
    return method


# Every method of the interface still abstract here goes to the SQLAlchemy store (the
# interface's own concrete methods stay: they call these).
for _name in sorted(EmbeddedSqliteStore.__abstractmethods__):
    setattr(EmbeddedSqliteStore, _name, _delegate(_name))
abc.update_abstractmethods(EmbeddedSqliteStore)  # type: ignore[type-abstract]
