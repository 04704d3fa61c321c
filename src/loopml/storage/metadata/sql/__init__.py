"""The SQL metadata store (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopml.storage.metadata.sql.store import SqlMetadataStore

if TYPE_CHECKING:
    from loopml.config import Settings

__all__ = ["SqlMetadataStore", "open_sql_store"]


def open_sql_store(uri: str, settings: Settings) -> SqlMetadataStore:
    """Factory used by :func:`loopml.storage.metadata.open_metadata_store`."""
    if uri.startswith("postgres://"):
        uri = "postgresql://" + uri[len("postgres://") :]
    return SqlMetadataStore(
        uri,
        busy_timeout_ms=settings.sqlite_busy_timeout,
        allow_unapproved_champion=settings.allow_unapproved_champion,
        require_passing_gate=settings.require_passing_gate,
    )
