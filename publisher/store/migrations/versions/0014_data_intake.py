"""data intake: uploaded data files and their versions; the definitions a supplier may act on

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("definition_id", sa.String(length=100), nullable=False),
        sa.Column("period", sa.String(length=20), nullable=False),
        sa.Column("table_name", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("kept_path", sa.String(length=500), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("file_format", sa.String(length=10), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=100), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.Column("ended_by", sa.String(length=100), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_files")),
    )
    op.create_index("ix_data_files_slot", "data_files",
                    ["definition_id", "period", "table_name", "state"])
    op.create_table(
        "preflight_checks",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("definition_id", sa.String(length=100), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("ready", sa.Boolean(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_preflight_checks")),
    )
    # plain ADD COLUMNs of nullable columns: SQLite adds them in place, no table rebuild
    op.add_column("accounts", sa.Column("definitions", sa.Text(), nullable=True))
    op.add_column("api_tokens", sa.Column("definitions", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("definitions")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("definitions")
    op.drop_table("preflight_checks")
    op.drop_index("ix_data_files_slot", table_name="data_files")
    op.drop_table("data_files")
