"""Tables of the data cycle and of pipeline schedules. Used only in ``storage/metadata/sql``.

They share :data:`~loopml.storage.metadata.sql.models.METADATA` with the other tables and
must describe exactly what migration ``0003`` creates (schedules: ``0004``).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from loopml.storage.metadata.sql.models import METADATA

__all__ = ["DATASETS", "DATASET_FILES", "DATASET_VERSIONS", "LINEAGE_EDGES", "SCHEDULES"]

DATASETS = Table(
    "datasets",
    METADATA,
    Column("name", String(250), primary_key=True),
    Column("description", String(5000), default="", nullable=False),
    # The highest number ever given to a version; never lowered.
    Column("last_version", Integer, default=0, nullable=False),
    # The pinned schema as JSON, or NULL.
    Column("schema", Text, nullable=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
)

DATASET_VERSIONS = Table(
    "dataset_versions",
    METADATA,
    Column("name", String(250), ForeignKey("datasets.name", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("file_count", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=True),
    Column("source", String(1000), default="", nullable=False),
    Column("created_by", String(256), default="", nullable=False),
    Column("run_id", String(32), nullable=True),
    Column("description", String(5000), default="", nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("schema", Text, nullable=True),
    Column("profile", Text, nullable=True),
    Index(None, "digest"),
    Index(None, "run_id"),
)

DATASET_FILES = Table(
    "dataset_files",
    METADATA,
    Column("name", String(250), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("path", String(1000), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    ForeignKeyConstraint(
        ["name", "version"],
        ["dataset_versions.name", "dataset_versions.version"],
        ondelete="CASCADE",
    ),
)

# No foreign keys: an edge may name objects of other stores (a URI), and outlives them.
LINEAGE_EDGES = Table(
    "lineage_edges",
    METADATA,
    Column("run_id", String(32), primary_key=True),
    Column("uri", String(500), primary_key=True),
    Column("direction", String(10), primary_key=True),
    Column("role", String(250), default="", nullable=False),
    Column("time", BigInteger, nullable=False),
    Index(None, "uri"),
)

SCHEDULES = Table(
    "schedules",
    METADATA,
    Column("name", String(250), primary_key=True),
    Column("target", String(1000), nullable=False),
    Column("cron", String(250), nullable=False),
    Column("params", Text, nullable=False),
    Column("next_run_time", BigInteger, nullable=False),
    Column("created_by", String(256), default="", nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_run_id", String(32), nullable=True),
    Column("last_status", String(20), default="", nullable=False),
    Column("last_run_time", BigInteger, nullable=True),
)
