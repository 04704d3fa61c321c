"""ORM rows of monitoring. Used only inside ``storage/metadata/sql``.

They share ``Base`` with the other rows and must describe exactly what migration ``0006``
creates. No foreign keys: a monitor's rows are deleted with it in one transaction, and a
monitor may name a deployment that has no record (a ``loopml serve`` log).
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import BigInteger, Boolean, Double, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from loopml.storage.metadata.sql.models import Base

__all__ = [
    "MONITORS",
    "MONITOR_ACTIONS",
    "MONITOR_COLUMNS",
    "MONITOR_RESULTS",
    "SqlMonitor",
    "SqlMonitorAction",
    "SqlMonitorColumn",
    "SqlMonitorResult",
]


class SqlMonitor(Base):
    __tablename__ = "monitors"

    name: Mapped[str] = mapped_column(String(250), primary_key=True)
    deployment: Mapped[str] = mapped_column(String(250))
    reference: Mapped[str] = mapped_column(String(500))
    window_seconds: Mapped[int] = mapped_column(BigInteger)
    spec: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(256), default="")
    creation_time: Mapped[int] = mapped_column(BigInteger)


class SqlMonitorResult(Base):
    __tablename__ = "monitor_results"

    monitor: Mapped[str] = mapped_column(String(250), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    window_end: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    rows: Mapped[int] = mapped_column(BigInteger)
    run_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    summary: Mapped[str] = mapped_column(Text)
    claimed_by: Mapped[str] = mapped_column(String(256), default="")
    claim_time: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    creation_time: Mapped[int] = mapped_column(BigInteger)
    update_time: Mapped[int] = mapped_column(BigInteger)
    revision: Mapped[int] = mapped_column(Integer)


class SqlMonitorColumn(Base):
    __tablename__ = "monitor_columns"

    monitor: Mapped[str] = mapped_column(String(250), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    column_name: Mapped[str] = mapped_column(String(500), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    test: Mapped[str | None] = mapped_column(String(50), nullable=True)
    statistic: Mapped[float | None] = mapped_column(Double, nullable=True)
    p_value: Mapped[float | None] = mapped_column(Double, nullable=True)
    threshold: Mapped[float | None] = mapped_column(Double, nullable=True)
    distance: Mapped[float | None] = mapped_column(Double, nullable=True)
    distance_threshold: Mapped[float | None] = mapped_column(Double, nullable=True)
    drifted: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    ref_count: Mapped[int] = mapped_column(BigInteger)
    cur_count: Mapped[int] = mapped_column(BigInteger)
    ref_nulls: Mapped[int] = mapped_column(BigInteger)
    cur_nulls: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text)


class SqlMonitorAction(Base):
    __tablename__ = "monitor_actions"
    __table_args__ = (Index(None, "monitor", "rate_key", "time"),)

    monitor: Mapped[str] = mapped_column(String(250), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    action: Mapped[str] = mapped_column(String(1000), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    rate_key: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(20))
    time: Mapped[int] = mapped_column(BigInteger)
    detail: Mapped[str] = mapped_column(Text)


MONITORS = cast(Table, SqlMonitor.__table__)
MONITOR_RESULTS = cast(Table, SqlMonitorResult.__table__)
MONITOR_COLUMNS = cast(Table, SqlMonitorColumn.__table__)
MONITOR_ACTIONS = cast(Table, SqlMonitorAction.__table__)
