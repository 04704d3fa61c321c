"""Pipeline schedules.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("target", sa.String(1000), nullable=False),
        sa.Column("cron", sa.String(250), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("next_run_time", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("last_run_id", sa.String(32), nullable=True),
        sa.Column("last_status", sa.String(20), nullable=False),
        sa.Column("last_run_time", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_schedules"),
    )


def downgrade() -> None:
    op.drop_table("schedules")
