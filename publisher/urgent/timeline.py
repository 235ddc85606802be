"""An incident's timeline: every delivery of every step, with its times from the trigger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from publisher.app import App
from publisher.store.models import Delivery, Incident, Release


@dataclass(frozen=True)
class Step:
    """One delivery of one release of an incident, with its timings from the trigger."""

    release_key: str
    msg_type: str
    channel: str
    state: str
    url: str | None
    to_accepted_seconds: float | None
    to_public_seconds: float | None
    detail: str
    step: str = "report"  # report | update | correction | withdrawal
    action: str = "send"  # send | follow_up | retract
    actor: str = ""
    at: str = ""  # when the step was triggered (ISO 8601)


def timeline(app: App, incident_key: str) -> tuple[Incident, list[Step]]:
    """The incident and every delivery of its releases, oldest first; KeyError if unknown."""
    with app.store.read() as session:
        incident = session.execute(
            select(Incident).where(Incident.key == incident_key)).scalar_one_or_none()
        if incident is None:
            raise KeyError(incident_key)
        rows = session.execute(
            select(Release, Delivery).join(Delivery, Delivery.release_id == Release.id)
            .where(Release.incident_id == incident.id)
            .order_by(Release.created_at, Release.id, Delivery.channel, Delivery.id)).all()
    steps = []
    for rel, d in rows:
        def since(moment: datetime | None, start: datetime = rel.created_at) -> float | None:
            return None if moment is None else round((moment - start).total_seconds(), 3)

        error = d.last_error or {}
        steps.append(Step(rel.key, rel.msg_type or "", d.channel, d.state,
                          (d.receipt or {}).get("url"), since(d.accepted_at),
                          since(d.published_at),
                          d.reason or error.get("explanation_zh") or "",
                          step=str(rel.details.get("step") or "report"), action=d.action,
                          actor=rel.actor, at=rel.created_at.isoformat()))
    return incident, steps
