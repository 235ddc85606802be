"""send log: each account's sends, so rate windows survive restarts and span processes

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "send_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account", sa.String(length=300), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_send_log")),
    )
    op.create_index("ix_send_log_account_at", "send_log", ["account", "sent_at"], unique=False)
    op.create_index("ix_send_log_account_key", "send_log", ["account", "key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_send_log_account_key", table_name="send_log")
    op.drop_index("ix_send_log_account_at", table_name="send_log")
    op.drop_table("send_log")
