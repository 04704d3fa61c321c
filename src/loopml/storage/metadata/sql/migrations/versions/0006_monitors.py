"""Monitors, their per-window and per-column results, and the actions their policies took.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("deployment", sa.String(250), nullable=False),
        sa.Column("reference", sa.String(500), nullable=False),
        sa.Column("window_seconds", sa.BigInteger(), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_monitors"),
    )
    op.create_table(
        "monitor_results",
        sa.Column("monitor", sa.String(250), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("window_end", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("claimed_by", sa.String(256), nullable=False),
        sa.Column("claim_time", sa.BigInteger(), nullable=True),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("monitor", "window_start", name="pk_monitor_results"),
    )
    op.create_table(
        "monitor_columns",
        sa.Column("monitor", sa.String(250), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("column_name", sa.String(500), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("test", sa.String(50), nullable=True),
        sa.Column("statistic", sa.Double(), nullable=True),
        sa.Column("p_value", sa.Double(), nullable=True),
        sa.Column("threshold", sa.Double(), nullable=True),
        sa.Column("distance", sa.Double(), nullable=True),
        sa.Column("distance_threshold", sa.Double(), nullable=True),
        sa.Column("drifted", sa.Boolean(), nullable=True),
        sa.Column("ref_count", sa.BigInteger(), nullable=False),
        sa.Column("cur_count", sa.BigInteger(), nullable=False),
        sa.Column("ref_nulls", sa.BigInteger(), nullable=False),
        sa.Column("cur_nulls", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "monitor", "window_start", "column_name", name="pk_monitor_columns"
        ),
    )
    op.create_table(
        "monitor_actions",
        sa.Column("monitor", sa.String(250), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(1000), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("rate_key", sa.String(1000), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("monitor", "window_start", "action", name="pk_monitor_actions"),
    )
    op.create_index(
        "ix_monitor_actions_monitor_rate_key_time",
        "monitor_actions",
        ["monitor", "rate_key", "time"],
    )


def downgrade() -> None:
    op.drop_table("monitor_actions")
    op.drop_table("monitor_columns")
    op.drop_table("monitor_results")
    op.drop_table("monitors")
