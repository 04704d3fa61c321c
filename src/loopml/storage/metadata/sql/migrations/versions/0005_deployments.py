"""Deployments (the serving control plane) and their append-only history.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("versions", sa.Text(), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_deployments"),
    )
    op.create_table(
        "deployment_history",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("versions", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deployment_history"),
        sa.UniqueConstraint("name", "revision", name="uq_deployment_history_name_revision"),
    )
    op.create_index("ix_deployment_history_name_id", "deployment_history", ["name", "id"])


def downgrade() -> None:
    op.drop_table("deployment_history")
    op.drop_table("deployments")
