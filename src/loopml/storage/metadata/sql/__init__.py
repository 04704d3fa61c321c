"""The SQL metadata store (SQLite and PostgreSQL).

A SQLite file is opened as :class:`~loopml.storage.metadata.sql.embedded.EmbeddedSqliteStore`
(no SQLAlchemy until a registry, schedule, deployment or monitor call needs it); PostgreSQL
and in-memory SQLite as :class:`~loopml.storage.metadata.sql.store.SqlMetadataStore`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loopml.storage.metadata.sql.embedded import EmbeddedSqliteStore, embedded_path

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.storage.metadata.base import MetadataStore
    from loopml.storage.metadata.sql.store import SqlMetadataStore

__all__ = ["EmbeddedSqliteStore", "SqlMetadataStore", "open_sql_store"]


def __getattr__(name: str) -> Any:
    if name == "SqlMetadataStore":  # imported when asked for: it imports SQLAlchemy
        from loopml.storage.metadata.sql.store import SqlMetadataStore

        return SqlMetadataStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_sql_store(uri: str, settings: Settings) -> MetadataStore:
    """Factory used by :func:`loopml.storage.metadata.open_metadata_store`."""
    if uri.startswith("postgres://"):
        uri = "postgresql://" + uri[len("postgres://") :]
    timeout = settings.sqlite_busy_timeout
    champion = settings.allow_unapproved_champion
    gate = settings.require_passing_gate
    path = embedded_path(uri)
    if path is not None:
        # The interface's remaining methods are attached to the class when it is defined.
        return EmbeddedSqliteStore(path, timeout, champion, gate)  # type: ignore[abstract]
    from loopml.storage.metadata.sql.store import SqlMetadataStore

    return SqlMetadataStore(uri, timeout, champion, gate)
