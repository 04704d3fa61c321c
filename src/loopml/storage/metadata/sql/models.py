"""Tables of the SQL metadata store (SQLAlchemy Core). Used only inside ``storage/metadata/sql``.

The schema itself is made by the Alembic migrations beside this module; these tables must
describe exactly what the migrations create (``tests/storage/metadata/test_migrations.py``
compares them). They are Core ``Table`` objects, not ORM classes: the store issues Core
statements only, and importing the ORM would add about a tenth of a second to opening a
store. New tables join :data:`METADATA` the same way.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

__all__ = [
    "ARTIFACTS",
    "EXPERIMENTS",
    "EXPERIMENT_TAGS",
    "LATEST_METRICS",
    "METADATA",
    "METRICS",
    "PARAMS",
    "RUNS",
    "TAGS",
    "BigId",
]

# Stable constraint names so migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
METADATA = MetaData(naming_convention=NAMING)

# SQLite only aliases the rowid (fast appends) for a column declared exactly INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _run_fk(primary_key: bool = False) -> Column[str]:
    return Column(
        "run_uuid",
        String(32),
        ForeignKey("runs.run_uuid", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
    )


EXPERIMENTS = Table(
    "experiments",
    METADATA,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(500), unique=True, nullable=False),
    Column("artifact_location", String(1000), default="", nullable=False),
    Column("lifecycle_stage", String(20), default="active", nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
)

EXPERIMENT_TAGS = Table(
    "experiment_tags",
    METADATA,
    Column(
        "experiment_id",
        Integer,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(250), primary_key=True),
    Column("value", String(8000), nullable=False),
)

RUNS = Table(
    "runs",
    METADATA,
    Column("run_uuid", String(32), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(250), nullable=False),
    Column("user_id", String(256), default="", nullable=False),
    Column("status", String(20), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("lifecycle_stage", String(20), default="active", nullable=False),
    Column("artifact_uri", String(1000), default="", nullable=False),
    Column("deleted_time", BigInteger, nullable=True),
    Index(None, "experiment_id", "lifecycle_stage", "start_time"),
)

PARAMS = Table(
    "params",
    METADATA,
    _run_fk(primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", String(6000), nullable=False),
)

TAGS = Table(
    "tags",
    METADATA,
    _run_fk(primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", String(8000), nullable=False),
)

# Every point ever logged (the history). Appends only.
METRICS = Table(
    "metrics",
    METADATA,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _run_fk(),
    Column("key", String(250), nullable=False),
    Column("value", Double, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("is_nan", Boolean, default=False, nullable=False),
    Index(None, "run_uuid", "key", "step"),
)

# The latest point per (run, key): what searches filter and sort on.
LATEST_METRICS = Table(
    "latest_metrics",
    METADATA,
    _run_fk(primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Double, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("is_nan", Boolean, default=False, nullable=False),
    Index(None, "key", "value"),
)

# A file of a run: its path and the content-addressed blob holding it.
ARTIFACTS = Table(
    "run_artifacts",
    METADATA,
    _run_fk(primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("digest", String(64), index=True, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_time", BigInteger, nullable=False),
)
