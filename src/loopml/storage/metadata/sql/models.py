"""ORM rows of the SQL metadata store. Used only inside ``storage/metadata/sql``.

The schema itself is made by the Alembic migrations beside this module; these classes must
describe exactly what the migrations create (``tests/storage/metadata/test_migrations.py``
compares them).
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "SqlArtifact",
    "SqlExperiment",
    "SqlExperimentTag",
    "SqlLatestMetric",
    "SqlMetric",
    "SqlParam",
    "SqlRun",
    "SqlTag",
]

# Stable constraint names so migrations can refer to them on every backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only aliases the rowid (fast appends) for a column declared exactly INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class SqlExperiment(Base):
    __tablename__ = "experiments"

    experiment_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(500), unique=True)
    artifact_location: Mapped[str] = mapped_column(String(1000), default="")
    lifecycle_stage: Mapped[str] = mapped_column(String(20), default="active")
    creation_time: Mapped[int] = mapped_column(BigInteger)
    last_update_time: Mapped[int] = mapped_column(BigInteger)


class SqlExperimentTag(Base):
    __tablename__ = "experiment_tags"

    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(String(8000))


class SqlRun(Base):
    __tablename__ = "runs"
    __table_args__ = (Index(None, "experiment_id", "lifecycle_stage", "start_time"),)

    run_uuid: Mapped[str] = mapped_column(String(32), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.experiment_id"))
    name: Mapped[str] = mapped_column(String(250))
    user_id: Mapped[str] = mapped_column(String(256), default="")
    status: Mapped[str] = mapped_column(String(20))
    start_time: Mapped[int] = mapped_column(BigInteger)
    end_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    lifecycle_stage: Mapped[str] = mapped_column(String(20), default="active")
    artifact_uri: Mapped[str] = mapped_column(String(1000), default="")
    deleted_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class SqlParam(Base):
    __tablename__ = "params"

    run_uuid: Mapped[str] = mapped_column(
        ForeignKey("runs.run_uuid", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(String(6000))


class SqlTag(Base):
    __tablename__ = "tags"

    run_uuid: Mapped[str] = mapped_column(
        ForeignKey("runs.run_uuid", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(String(8000))


class SqlMetric(Base):
    """Every point ever logged (the history). Appends only."""

    __tablename__ = "metrics"
    __table_args__ = (Index(None, "run_uuid", "key", "step"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_uuid: Mapped[str] = mapped_column(ForeignKey("runs.run_uuid", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(250))
    value: Mapped[float] = mapped_column(Double)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    step: Mapped[int] = mapped_column(BigInteger)
    is_nan: Mapped[bool] = mapped_column(Boolean, default=False)


class SqlLatestMetric(Base):
    """The latest point per (run, key): what searches filter and sort on."""

    __tablename__ = "latest_metrics"
    __table_args__ = (Index(None, "key", "value"),)

    run_uuid: Mapped[str] = mapped_column(
        ForeignKey("runs.run_uuid", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[float] = mapped_column(Double)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    step: Mapped[int] = mapped_column(BigInteger)
    is_nan: Mapped[bool] = mapped_column(Boolean, default=False)


class SqlArtifact(Base):
    """A file of a run: its path and the content-addressed blob holding it."""

    __tablename__ = "run_artifacts"

    run_uuid: Mapped[str] = mapped_column(
        ForeignKey("runs.run_uuid", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_time: Mapped[int] = mapped_column(BigInteger)


# Core tables, for the bulk statements the store issues (typed as Table for mypy).
EXPERIMENTS = cast(Table, SqlExperiment.__table__)
EXPERIMENT_TAGS = cast(Table, SqlExperimentTag.__table__)
RUNS = cast(Table, SqlRun.__table__)
PARAMS = cast(Table, SqlParam.__table__)
TAGS = cast(Table, SqlTag.__table__)
METRICS = cast(Table, SqlMetric.__table__)
LATEST_METRICS = cast(Table, SqlLatestMetric.__table__)
ARTIFACTS = cast(Table, SqlArtifact.__table__)
