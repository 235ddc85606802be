"""report fields: a release's catalogue facts and 成文日期, an incident's event time, report indexes

Revision ID: 0010
Revises: 0009

Rows made before this revision keep NULL in the new columns, which the annual report shows as
"not recorded" (未记录), never as zero.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

RELEASE_COLUMNS = (
    ("issuing_organ", sa.String(length=200)),
    ("subject_category", sa.String(length=100)),
    ("column_id", sa.String(length=100)),
    ("document_type", sa.String(length=30)),
    ("signed_date", sa.Date()),
)


def upgrade() -> None:
    # plain ADD COLUMNs of nullable columns: SQLite adds them in place, no table rebuild
    for name, type_ in RELEASE_COLUMNS:
        op.add_column("releases", sa.Column(name, type_, nullable=True))
    op.add_column("incidents", sa.Column("event_at", sa.DateTime(), nullable=True))
    # the report's publications by date, and its look-ups of gazette issues and staff decisions
    op.create_index("ix_deliveries_published", "deliveries", ["published_at"], unique=False)
    op.create_index("ix_audit_events_action_at", "audit_events", ["action", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_events_action_at", table_name="audit_events")
    op.drop_index("ix_deliveries_published", table_name="deliveries")
    with op.batch_alter_table("incidents") as batch_op:
        batch_op.drop_column("event_at")
    with op.batch_alter_table("releases") as batch_op:
        for name, _type in reversed(RELEASE_COLUMNS):
            batch_op.drop_column(name)
