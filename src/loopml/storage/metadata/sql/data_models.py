"""ORM rows of the data cycle and of pipeline schedules. Used only in ``storage/metadata/sql``.

They share ``Base`` with the other rows and must describe exactly what migration ``0003``
creates (schedules: ``0004``).
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from loopml.storage.metadata.sql.models import Base

__all__ = ["SqlDataset", "SqlDatasetFile", "SqlDatasetVersion", "SqlLineageEdge", "SqlSchedule"]


class SqlDataset(Base):
    __tablename__ = "datasets"

    name: Mapped[str] = mapped_column(String(250), primary_key=True)
    description: Mapped[str] = mapped_column(String(5000), default="")
    # The highest number ever given to a version; never lowered.
    last_version: Mapped[int] = mapped_column(Integer, default=0)
    # The pinned schema as JSON, or NULL.
    schema: Mapped[str | None] = mapped_column(Text, nullable=True)
    creation_time: Mapped[int] = mapped_column(BigInteger)
    last_update_time: Mapped[int] = mapped_column(BigInteger)


class SqlDatasetVersion(Base):
    __tablename__ = "dataset_versions"
    __table_args__ = (Index(None, "digest"), Index(None, "run_id"))

    name: Mapped[str] = mapped_column(
        ForeignKey("datasets.name", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10))
    file_count: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    source: Mapped[str] = mapped_column(String(1000), default="")
    created_by: Mapped[str] = mapped_column(String(256), default="")
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    description: Mapped[str] = mapped_column(String(5000), default="")
    creation_time: Mapped[int] = mapped_column(BigInteger)
    schema: Mapped[str | None] = mapped_column(Text, nullable=True)
    profile: Mapped[str | None] = mapped_column(Text, nullable=True)


class SqlDatasetFile(Base):
    __tablename__ = "dataset_files"
    __table_args__ = (
        ForeignKeyConstraint(
            ["name", "version"],
            ["dataset_versions.name", "dataset_versions.version"],
            ondelete="CASCADE",
        ),
    )

    name: Mapped[str] = mapped_column(String(250), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(1000), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)


class SqlLineageEdge(Base):
    """No foreign keys: an edge may name objects of other stores (a URI), and outlives them."""

    __tablename__ = "lineage_edges"
    __table_args__ = (Index(None, "uri"),)

    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    uri: Mapped[str] = mapped_column(String(500), primary_key=True)
    direction: Mapped[str] = mapped_column(String(10), primary_key=True)
    role: Mapped[str] = mapped_column(String(250), default="")
    time: Mapped[int] = mapped_column(BigInteger)


DATASETS = cast(Table, SqlDataset.__table__)
DATASET_VERSIONS = cast(Table, SqlDatasetVersion.__table__)
DATASET_FILES = cast(Table, SqlDatasetFile.__table__)
LINEAGE_EDGES = cast(Table, SqlLineageEdge.__table__)


class SqlSchedule(Base):
    __tablename__ = "schedules"

    name: Mapped[str] = mapped_column(String(250), primary_key=True)
    target: Mapped[str] = mapped_column(String(1000))
    cron: Mapped[str] = mapped_column(String(250))
    params: Mapped[str] = mapped_column(Text)
    next_run_time: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(256), default="")
    creation_time: Mapped[int] = mapped_column(BigInteger)
    last_run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_status: Mapped[str] = mapped_column(String(20), default="")
    last_run_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


SCHEDULES = cast(Table, SqlSchedule.__table__)
