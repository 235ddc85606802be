"""incidents and delivery timing

Revision ID: 0003
Revises: 0002
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
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("area", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("drill", sa.Boolean(), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("opened_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("key", name=op.f("uq_incidents_key")),
    )
    # plain ADD COLUMNs: SQLite adds a nullable column (even with REFERENCES) in place, where a
    # batch rebuild of releases would break the deliveries that reference it
    op.add_column("deliveries", sa.Column("accepted_at", sa.DateTime(), nullable=True))
    op.add_column("deliveries", sa.Column("published_at", sa.DateTime(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":  # alembic would try a separate ALTER CONSTRAINT
        op.execute("ALTER TABLE releases ADD COLUMN incident_id INTEGER "
                   "CONSTRAINT fk_releases_incident_id_incidents REFERENCES incidents (id)")
    else:
        op.add_column("releases", sa.Column(
            "incident_id", sa.Integer(),
            sa.ForeignKey("incidents.id", name="fk_releases_incident_id_incidents"),
            nullable=True))
    op.add_column("releases", sa.Column("msg_type", sa.String(length=10), nullable=True))
    op.create_index(op.f("ix_releases_incident_id"), "releases", ["incident_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_releases_incident_id_incidents"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_releases_incident_id"))
        batch_op.drop_column("msg_type")
        batch_op.drop_column("incident_id")

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("published_at")
        batch_op.drop_column("accepted_at")

    op.drop_table("incidents")
