"""urgent gate index: the channels holding an outstanding urgent post, read without a scan

Revision ID: 0015
Revises: 0014

The dispatcher's due query and claim hold routine deliveries back while an urgent one is
outstanding on their channel (publisher/dispatch.py ``URGENT_FIRST``). That condition reads
the outstanding urgent deliveries' channels once per statement through this index, so the due
query stays flat however many deliveries are waiting (bench/due_query.py).
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_urgent_gate", "deliveries",
                    ["state", "urgent", "drill", "channel"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_deliveries_urgent_gate", table_name="deliveries")
