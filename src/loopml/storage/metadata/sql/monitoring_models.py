"""Tables of monitoring (SQLAlchemy Core). Used only inside ``storage/metadata/sql``.

They share :data:`~loopml.storage.metadata.sql.models.METADATA` with the other tables and
must describe exactly what migrations ``0006`` and ``0007`` create. No foreign keys: a
monitor's rows are deleted with it in one transaction, and a monitor may name a deployment
that has no record (a ``loopml serve`` log).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Double, Index, Integer, String, Table, Text

from loopml.storage.metadata.sql.models import METADATA

__all__ = ["MONITORS", "MONITOR_ACTIONS", "MONITOR_COLUMNS", "MONITOR_RESULTS"]

MONITORS = Table(
    "monitors",
    METADATA,
    Column("name", String(250), primary_key=True),
    Column("deployment", String(250), nullable=False),
    Column("reference", String(500), nullable=False),
    Column("window_seconds", BigInteger, nullable=False),
    Column("spec", Text, nullable=False),
    Column("created_by", String(256), default="", nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_by", String(256), default="", nullable=False),
    Column("update_time", BigInteger, nullable=False),
)

MONITOR_RESULTS = Table(
    "monitor_results",
    METADATA,
    Column("monitor", String(250), primary_key=True),
    Column("window_start", BigInteger, primary_key=True),
    Column("window_end", BigInteger, nullable=False),
    Column("status", String(20), nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("run_id", String(32), nullable=True),
    Column("summary", Text, nullable=False),
    Column("claimed_by", String(256), default="", nullable=False),
    Column("claim_time", BigInteger, nullable=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("update_time", BigInteger, nullable=False),
    Column("revision", Integer, nullable=False),
)

MONITOR_COLUMNS = Table(
    "monitor_columns",
    METADATA,
    Column("monitor", String(250), primary_key=True),
    Column("window_start", BigInteger, primary_key=True),
    Column("column_name", String(500), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("test", String(50), nullable=True),
    Column("statistic", Double, nullable=True),
    Column("p_value", Double, nullable=True),
    Column("threshold", Double, nullable=True),
    Column("distance", Double, nullable=True),
    Column("distance_threshold", Double, nullable=True),
    Column("drifted", Boolean, nullable=True),
    Column("ref_count", BigInteger, nullable=False),
    Column("cur_count", BigInteger, nullable=False),
    Column("ref_nulls", BigInteger, nullable=False),
    Column("cur_nulls", BigInteger, nullable=False),
    Column("note", Text, nullable=False),
    Column("detail", Text, nullable=False),
)

MONITOR_ACTIONS = Table(
    "monitor_actions",
    METADATA,
    Column("monitor", String(250), primary_key=True),
    Column("window_start", BigInteger, primary_key=True),
    Column("action", String(1000), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("rate_key", String(1000), nullable=False),
    Column("status", String(20), nullable=False),
    Column("time", BigInteger, nullable=False),
    Column("detail", Text, nullable=False),
    Index(None, "monitor", "rate_key", "time"),
)
