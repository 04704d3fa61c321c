"""Tables of the model registry. Used only inside ``storage/metadata/sql``.

They share :data:`~loopml.storage.metadata.sql.models.METADATA` (and so its naming
convention) with the tracking tables, and must describe exactly what migration ``0002``
creates.
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

from loopml.storage.metadata.sql.models import METADATA, BigId

__all__ = [
    "APPROVALS",
    "AUDIT_LOG",
    "MODEL_ALIASES",
    "MODEL_VERSIONS",
    "MODEL_VERSION_TAGS",
    "REGISTERED_MODELS",
    "REGISTERED_MODEL_TAGS",
]

_VERSION_FK = ("model_versions.name", "model_versions.version")


def _model_fk() -> Column[str]:
    return Column(
        "name",
        String(250),
        ForeignKey("registered_models.name", ondelete="CASCADE"),
        primary_key=True,
    )


def _version_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["name", "version"], _VERSION_FK, ondelete="CASCADE")


REGISTERED_MODELS = Table(
    "registered_models",
    METADATA,
    Column("name", String(250), primary_key=True),
    Column("description", String(5000), default="", nullable=False),
    # The highest number ever given to a version; never lowered, so numbers are not reused.
    Column("last_version", Integer, default=0, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
)

REGISTERED_MODEL_TAGS = Table(
    "registered_model_tags",
    METADATA,
    _model_fk(),
    Column("key", String(250), primary_key=True),
    Column("value", String(8000), nullable=False),
)

MODEL_VERSIONS = Table(
    "model_versions",
    METADATA,
    _model_fk(),
    Column("version", Integer, primary_key=True),
    Column("source", String(1000), nullable=False),
    # No foreign key to runs: a version may be registered from files made elsewhere.
    Column("run_id", String(32), nullable=True),
    Column("status", String(20), nullable=False),
    Column("description", String(5000), default="", nullable=False),
    Column("created_by", String(256), default="", nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Index(None, "run_id"),
)

MODEL_VERSION_TAGS = Table(
    "model_version_tags",
    METADATA,
    Column("name", String(250), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", String(8000), nullable=False),
    _version_fk(),
)

# An alias names exactly one version of its model (the primary key enforces it).
MODEL_ALIASES = Table(
    "model_aliases",
    METADATA,
    Column("name", String(250), primary_key=True),
    Column("alias", String(250), primary_key=True),
    Column("version", Integer, nullable=False),
    _version_fk(),
)

APPROVALS = Table(
    "approvals",
    METADATA,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(250), nullable=False),
    Column("version", Integer, nullable=False),
    Column("decision", String(20), nullable=False),
    Column("actor", String(256), default="", nullable=False),
    Column("comment", String(5000), default="", nullable=False),
    Column("time", BigInteger, nullable=False),
    _version_fk(),
    Index(None, "name", "version"),
)

# Append-only. No foreign keys: entries outlive the models they describe.
AUDIT_LOG = Table(
    "audit_log",
    METADATA,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("time", BigInteger, nullable=False),
    Column("actor", String(256), default="", nullable=False),
    Column("action", String(50), nullable=False),
    Column("name", String(250), nullable=False),
    Column("version", Integer, nullable=True),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
    Index(None, "name", "id"),
)
