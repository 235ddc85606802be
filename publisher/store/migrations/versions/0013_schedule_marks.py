"""schedule marks: how far each definition's fire times are accounted for

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # no rows: the scheduler starts each mark from the newest scheduled release (as before)
    op.create_table(
        "schedule_marks",
        sa.Column("definition_id", sa.String(length=100), nullable=False),
        sa.Column("kept_since", sa.DateTime(), nullable=False),
        sa.Column("handled_until", sa.DateTime(), nullable=False),
        sa.Column("rendered_until", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("definition_id", name=op.f("pk_schedule_marks")),
    )


def downgrade() -> None:
    op.drop_table("schedule_marks")
