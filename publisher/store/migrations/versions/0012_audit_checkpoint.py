"""audit checkpoint: how far the audit chain was last found intact, so a view checks only what is new

Revision ID: 0012
Revises: 0011

Without a row every event is checked once, at the first view or ``publisher audit verify``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("verified_at", sa.DateTime(), nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoint")
