"""log indexes: delivery-log pages by channel, state, release or date; counts for /metrics

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Each log index is an equality prefix, then the log's order (a date, then id): a page reads
# its 51 index entries and sorts nothing (publisher/logview.py). ix_deliveries_counts covers
# the GROUP BY behind /metrics.
INDEXES = {
    "ix_deliveries_log": ["updated_at", "id"],
    "ix_deliveries_channel_log": ["channel", "updated_at", "id"],
    "ix_deliveries_state_log": ["state", "updated_at", "id"],
    "ix_deliveries_channel_state_log": ["channel", "state", "updated_at", "id"],
    "ix_deliveries_release_log": ["release_id", "updated_at", "id"],
    "ix_deliveries_created_log": ["created_at", "id"],
    "ix_deliveries_channel_created_log": ["channel", "created_at", "id"],
    "ix_deliveries_state_created_log": ["state", "created_at", "id"],
    "ix_deliveries_counts": ["channel", "state", "drill"],
}


def upgrade() -> None:
    # (release_id, updated_at, id) serves every lookup the plain release_id index served
    op.drop_index("ix_deliveries_release_id", table_name="deliveries", if_exists=True)
    for name, columns in INDEXES.items():
        op.create_index(name, "deliveries", columns, unique=False)
    # statistics for the planner, so a database upgraded with years of rows picks these at
    # once (an empty table gets none: SQLite then keeps its defaults)
    for table in ("releases", "deliveries", "attempts"):
        op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="deliveries")
    op.create_index("ix_deliveries_release_id", "deliveries", ["release_id"], unique=False)
