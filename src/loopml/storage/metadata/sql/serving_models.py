"""ORM rows of the serving control plane. Used only inside ``storage/metadata/sql``.

They share ``Base`` with the other rows and must describe exactly what migration ``0005``
creates.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import BigInteger, Index, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loopml.storage.metadata.sql.models import Base, BigId

__all__ = ["DEPLOYMENTS", "DEPLOYMENT_HISTORY", "SqlDeployment", "SqlDeploymentEvent"]


class SqlDeployment(Base):
    __tablename__ = "deployments"

    name: Mapped[str] = mapped_column(String(250), primary_key=True)
    spec: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer)
    # The concrete model versions at this revision, per route, as JSON.
    versions: Mapped[str] = mapped_column(Text)
    creation_time: Mapped[int] = mapped_column(BigInteger)
    last_update_time: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(256), default="")
    # Where a server for it runs (JSON), or NULL.
    endpoint: Mapped[str | None] = mapped_column(Text, nullable=True)


class SqlDeploymentEvent(Base):
    """Append-only. No foreign key: the history outlives the deployment it describes."""

    __tablename__ = "deployment_history"
    __table_args__ = (UniqueConstraint("name", "revision"), Index(None, "name", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(250))
    revision: Mapped[int] = mapped_column(Integer)
    time: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(256), default="")
    action: Mapped[str] = mapped_column(String(50))
    before: Mapped[str | None] = mapped_column(Text, nullable=True)
    after: Mapped[str | None] = mapped_column(Text, nullable=True)
    versions: Mapped[str] = mapped_column(Text)


DEPLOYMENTS = cast(Table, SqlDeployment.__table__)
DEPLOYMENT_HISTORY = cast(Table, SqlDeploymentEvent.__table__)
