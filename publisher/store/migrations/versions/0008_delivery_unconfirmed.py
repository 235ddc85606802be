"""delivery unconfirmed_at: a lost answer is reconciled before any resend

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain nullable ADD COLUMN: in place on SQLite, no rebuild of the deliveries table
    op.add_column("deliveries", sa.Column("unconfirmed_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("unconfirmed_at")
