"""Data cycle tables: datasets, versions, their files, and lineage edges.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("description", sa.String(5000), nullable=False),
        sa.Column("last_version", sa.Integer(), nullable=False),
        sa.Column("schema", sa.Text(), nullable=True),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("last_update_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_datasets"),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("file_count", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(1000), nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=True),
        sa.Column("description", sa.String(5000), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("schema", sa.Text(), nullable=True),
        sa.Column("profile", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", "version", name="pk_dataset_versions"),
        sa.ForeignKeyConstraint(
            ["name"],
            ["datasets.name"],
            ondelete="CASCADE",
            name="fk_dataset_versions_name_datasets",
        ),
    )
    op.create_index("ix_dataset_versions_digest", "dataset_versions", ["digest"])
    op.create_index("ix_dataset_versions_run_id", "dataset_versions", ["run_id"])
    op.create_table(
        "dataset_files",
        sa.Column("name", sa.String(250), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(1000), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", "version", "path", name="pk_dataset_files"),
        sa.ForeignKeyConstraint(
            ["name", "version"],
            ["dataset_versions.name", "dataset_versions.version"],
            ondelete="CASCADE",
            name="fk_dataset_files_name_dataset_versions",
        ),
    )
    op.create_table(
        "lineage_edges",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("uri", sa.String(500), nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("role", sa.String(250), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "uri", "direction", name="pk_lineage_edges"),
    )
    op.create_index("ix_lineage_edges_uri", "lineage_edges", ["uri"])


def downgrade() -> None:
    op.drop_index("ix_lineage_edges_uri", table_name="lineage_edges")
    op.drop_table("lineage_edges")
    op.drop_table("dataset_files")
    op.drop_index("ix_dataset_versions_run_id", table_name="dataset_versions")
    op.drop_index("ix_dataset_versions_digest", table_name="dataset_versions")
    op.drop_table("dataset_versions")
    op.drop_table("datasets")
