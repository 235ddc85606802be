"""severity grades: incidents' CAP severities become grades of the Emergency Response Law

Revision ID: 0009
Revises: 0008

Staff used to give a CAP severity (Extreme … Unknown); they now give the incident's grade
(特别重大、重大、较大、一般, or 未定级) and the CAP severity follows from ``urgent.cap_severity``.
Stored incidents and their first reports' details get the grade whose default CAP severity
they had, so every later step's CAP document keeps the severity it had. Audit events keep what
was recorded then (the chain is never rewritten).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# the default mapping of publisher/severity.py, frozen here as it was at this revision
TO_GRADE = {"Extreme": "特别重大", "Severe": "重大", "Moderate": "较大", "Minor": "一般",
            "Unknown": "未定级"}
TO_CAP = {grade: cap for cap, grade in TO_GRADE.items()}

incidents = sa.table("incidents", sa.column("id", sa.Integer), sa.column("severity", sa.String))
releases = sa.table("releases", sa.column("id", sa.Integer),
                    sa.column("incident_id", sa.Integer), sa.column("details", sa.JSON))


def _convert(mapping: dict[str, str]) -> None:
    bind = op.get_bind()
    for old, new in mapping.items():
        bind.execute(sa.update(incidents).where(incidents.c.severity == old)
                     .values(severity=new))
    rows = bind.execute(sa.select(releases.c.id, releases.c.details)
                        .where(releases.c.incident_id.is_not(None))).all()
    for release_id, details in rows:
        value: Any = (details or {}).get("severity")
        if isinstance(value, str) and value in mapping:
            bind.execute(sa.update(releases).where(releases.c.id == release_id)
                         .values(details={**details, "severity": mapping[value]}))


def upgrade() -> None:
    _convert(TO_GRADE)


def downgrade() -> None:
    _convert(TO_CAP)
