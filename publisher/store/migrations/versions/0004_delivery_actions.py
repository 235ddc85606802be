"""delivery actions: an incident's update comments on, or withdraws, an earlier delivery;
drills go to the emulators

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.add_column(sa.Column("action", sa.String(length=20), nullable=False,
                                      server_default="send"))
        batch_op.add_column(sa.Column("target_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("drill", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.create_foreign_key(op.f("fk_deliveries_target_id_deliveries"), "deliveries",
                                    ["target_id"], ["id"])
        batch_op.drop_constraint(op.f("uq_deliveries_release_id"), type_="unique")
        batch_op.create_unique_constraint(op.f("uq_deliveries_release_id"),
                                          ["release_id", "channel", "action", "target_id"])


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_constraint(op.f("uq_deliveries_release_id"), type_="unique")
        batch_op.create_unique_constraint(op.f("uq_deliveries_release_id"),
                                          ["release_id", "channel"])
        batch_op.drop_constraint(op.f("fk_deliveries_target_id_deliveries"), type_="foreignkey")
        batch_op.drop_column("drill")
        batch_op.drop_column("target_id")
        batch_op.drop_column("action")
