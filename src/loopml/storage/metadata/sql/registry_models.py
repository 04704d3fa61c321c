"""ORM rows of the model registry. Used only inside ``storage/metadata/sql``.

They share ``Base`` (and so its naming convention) with the tracking rows, and must
describe exactly what migration ``0002`` creates.
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

from loopml.storage.metadata.sql.models import Base, BigId

__all__ = [
    "SqlApproval",
    "SqlAuditEntry",
    "SqlModelAlias",
    "SqlModelVersion",
    "SqlModelVersionTag",
    "SqlRegisteredModel",
    "SqlRegisteredModelTag",
]

_VERSION_FK = ("model_versions.name", "model_versions.version")


class SqlRegisteredModel(Base):
    __tablename__ = "registered_models"

    name: Mapped[str] = mapped_column(String(250), primary_key=True)
    description: Mapped[str] = mapped_column(String(5000), default="")
    # The highest number ever given to a version; never lowered, so numbers are not reused.
    last_version: Mapped[int] = mapped_column(Integer, default=0)
    creation_time: Mapped[int] = mapped_column(BigInteger)
    last_update_time: Mapped[int] = mapped_column(BigInteger)


class SqlRegisteredModelTag(Base):
    __tablename__ = "registered_model_tags"

    name: Mapped[str] = mapped_column(
        ForeignKey("registered_models.name", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(String(8000))


class SqlModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (Index(None, "run_id"),)

    name: Mapped[str] = mapped_column(
        ForeignKey("registered_models.name", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(1000))
    # No foreign key to runs: a version may be registered from files made elsewhere.
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(String(5000), default="")
    created_by: Mapped[str] = mapped_column(String(256), default="")
    creation_time: Mapped[int] = mapped_column(BigInteger)
    last_update_time: Mapped[int] = mapped_column(BigInteger)


class SqlModelVersionTag(Base):
    __tablename__ = "model_version_tags"
    __table_args__ = (ForeignKeyConstraint(["name", "version"], _VERSION_FK, ondelete="CASCADE"),)

    name: Mapped[str] = mapped_column(String(250), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    value: Mapped[str] = mapped_column(String(8000))


class SqlModelAlias(Base):
    """An alias names exactly one version of its model (the primary key enforces it)."""

    __tablename__ = "model_aliases"
    __table_args__ = (ForeignKeyConstraint(["name", "version"], _VERSION_FK, ondelete="CASCADE"),)

    name: Mapped[str] = mapped_column(String(250), primary_key=True)
    alias: Mapped[str] = mapped_column(String(250), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class SqlApproval(Base):
    __tablename__ = "approvals"
    __table_args__ = (
        ForeignKeyConstraint(["name", "version"], _VERSION_FK, ondelete="CASCADE"),
        Index(None, "name", "version"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(250))
    version: Mapped[int] = mapped_column(Integer)
    decision: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(256), default="")
    comment: Mapped[str] = mapped_column(String(5000), default="")
    time: Mapped[int] = mapped_column(BigInteger)


class SqlAuditEntry(Base):
    """Append-only. No foreign keys: entries outlive the models they describe."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "name", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    time: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(256), default="")
    action: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(250))
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    before: Mapped[str | None] = mapped_column(Text, nullable=True)
    after: Mapped[str | None] = mapped_column(Text, nullable=True)


REGISTERED_MODELS = cast(Table, SqlRegisteredModel.__table__)
REGISTERED_MODEL_TAGS = cast(Table, SqlRegisteredModelTag.__table__)
MODEL_VERSIONS = cast(Table, SqlModelVersion.__table__)
MODEL_VERSION_TAGS = cast(Table, SqlModelVersionTag.__table__)
MODEL_ALIASES = cast(Table, SqlModelAlias.__table__)
APPROVALS = cast(Table, SqlApproval.__table__)
AUDIT_LOG = cast(Table, SqlAuditEntry.__table__)
