"""Monitors can be changed: their revision, and who changed them last and when.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("monitors") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("updated_by", sa.String(256), nullable=False, server_default=""))
        batch.add_column(
            sa.Column("update_time", sa.BigInteger(), nullable=False, server_default="0")
        )
    # a monitor never changed was last changed by its creator, when it was created
    op.execute("UPDATE monitors SET updated_by = created_by, update_time = creation_time")


def downgrade() -> None:
    with op.batch_alter_table("monitors") as batch:
        batch.drop_column("update_time")
        batch.drop_column("updated_by")
        batch.drop_column("revision")
