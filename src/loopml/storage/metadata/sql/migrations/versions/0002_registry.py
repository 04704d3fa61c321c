"""Model registry tables: models, versions, tags, aliases, approvals and the audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _version_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["name", "version"],
        ["model_versions.name", "model_versions.version"],
        ondelete="CASCADE",
        name=f"fk_{table}_name_model_versions",
    )


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("description", sa.String(5000), nullable=False),
        sa.Column("last_version", sa.Integer(), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_registered_models"),
    )
    op.create_table(
        "registered_model_tags",
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.String(8000), nullable=False),
        sa.PrimaryKeyConstraint("name", "key", name="pk_registered_model_tags"),
        sa.ForeignKeyConstraint(
            ["name"],
            ["registered_models.name"],
            ondelete="CASCADE",
            name="fk_registered_model_tags_name_registered_models",
        ),
    )
    op.create_table(
        "model_versions",
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(1000), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("description", sa.String(5000), nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name="pk_model_versions"),
        sa.ForeignKeyConstraint(
            ["name"],
            ["registered_models.name"],
            ondelete="CASCADE",
            name="fk_model_versions_name_registered_models",
        ),
    )
    op.create_index("ix_model_versions_run_id", "model_versions", ["run_id"])
    op.create_table(
        "model_version_tags",
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.String(8000), nullable=False),
        sa.PrimaryKeyConstraint("name", "version", "key", name="pk_model_version_tags"),
        _version_fk("model_version_tags"),
    )
    op.create_table(
        "model_aliases",
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("alias", sa.String(250), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", "alias", name="pk_model_aliases"),
        _version_fk("model_aliases"),
    )
    op.create_table(
        "approvals",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("comment", sa.String(5000), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
        _version_fk("approvals"),
    )
    op.create_index("ix_approvals_name_version", "approvals", ["name", "version"])
    op.create_table(
        "audit_log",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(256), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_name_id", "audit_log", ["name", "id"])


def downgrade() -> None:
    for table in (
        "audit_log",
        "approvals",
        "model_aliases",
        "model_version_tags",
        "model_versions",
        "registered_model_tags",
        "registered_models",
    ):
        op.drop_table(table)
