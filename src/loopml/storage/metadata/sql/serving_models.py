"""Tables of the serving control plane (SQLAlchemy Core). Used only inside
``storage/metadata/sql``.

They share :data:`~loopml.storage.metadata.sql.models.METADATA` with the other tables and
must describe exactly what migration ``0005`` creates.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text, UniqueConstraint

from loopml.storage.metadata.sql.models import METADATA, BigId

__all__ = ["DEPLOYMENTS", "DEPLOYMENT_HISTORY"]

DEPLOYMENTS = Table(
    "deployments",
    METADATA,
    Column("name", String(250), primary_key=True),
    Column("spec", Text, nullable=False),
    Column("revision", Integer, nullable=False),
    # The concrete model versions at this revision, per route, as JSON.
    Column("versions", Text, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("actor", String(256), default="", nullable=False),
    # Where a server for it runs (JSON), or NULL.
    Column("endpoint", Text, nullable=True),
)

# Append-only. No foreign key: the history outlives the deployment it describes.
DEPLOYMENT_HISTORY = Table(
    "deployment_history",
    METADATA,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(250), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("actor", String(256), default="", nullable=False),
    Column("action", String(50), nullable=False),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
    Column("versions", Text, nullable=False),
    UniqueConstraint("name", "revision"),
    Index(None, "name", "id"),
)
