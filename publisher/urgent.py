"""Urgent posts: the first report of an incident, prepared for every channel and sent first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from channels.base import Payload
from channels.portal.catalogue import format_index_number
from publisher import audit
from publisher.app import App
from publisher.config import UrgentConfig
from publisher.release import (
    ReleaseProblems,
    next_index_number,
    prepare_channels,
    record_deliveries,
)
from publisher.store.models import Delivery, Incident, Release

DEFINITION = "urgent"
DRILL_STATUSES = ("Exercise", "Test")


class UrgentPost(BaseModel):
    """What staff give for an urgent post (CLI or API): facts first, causes carefully."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=100)
    facts: str = Field(min_length=1, max_length=5000)
    area: str = Field(min_length=1, max_length=200)
    severity: Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"] = "Severe"
    instruction: str | None = Field(None, max_length=1000)
    channels: list[str] | None = None  # default: the urgent section's channels
    status: Literal["Actual", "Exercise", "Test"] = "Actual"

    @field_validator("channels")
    @classmethod
    def _not_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("give at least one channel, or none for the default")
        return value

    @property
    def drill(self) -> bool:
        return self.status in DRILL_STATUSES


@dataclass(frozen=True)
class UrgentOutcome:
    """The incident opened and the release that carries its first report."""

    incident_key: str
    release_id: int
    release_key: str
    channels: tuple[str, ...]
    skipped: tuple[str, ...]


class UrgentRejected(Exception):
    """The post cannot go out as written; nothing was recorded or sent."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"紧急信息未发布 / urgent post not published:\n{listing}")


def urgent_config(app: App) -> UrgentConfig:
    section = app.loaded.config.urgent
    if section is None:
        raise UrgentRejected(["配置中没有 urgent 部分 / the config has no urgent section"])
    return section


def _keys(app: App, now: datetime) -> tuple[str, str]:
    local = now.astimezone(app.loaded.zone)
    return (f"incident-{local:%Y%m%d-%H%M%S}",
            f"{DEFINITION}@{local.isoformat(timespec='seconds')}")


def _context(app: App, post: UrgentPost, section: UrgentConfig, *, key: str, incident_key: str,
             number: str, now: datetime, msg_type: str) -> dict[str, Any]:
    local = now.astimezone(app.loaded.zone)
    title = f"【演练】{post.title}" if post.drill else post.title
    return {
        "release": {
            "key": key, "definition_id": DEFINITION, "title": title,
            "issuing_organ": section.issuing_organ, "organ_code": section.organ_code,
            "subject_category": section.subject_category, "column": section.column,
            "column_name": app.loaded.config.columns.get(section.column, section.column),
            "index_number": number, "published_date": local.date(), "signed_date": local.date(),
            "urgent": True, "document_number": None,
        },
        "urgent": {**post.model_dump(), "title": title, "msg_type": msg_type,
                   "drill": post.drill, "sent": local},
        "incident": {"key": incident_key, "title": post.title},
        "period": {},
        "tables": {},
    }


def prepare(app: App, post: UrgentPost, now: datetime, *, number: str | None = None
            ) -> tuple[dict[str, Any], dict[str, Payload], list[str]]:
    """Render and prepare the post for each channel (a preview when ``number`` is None)."""
    section = urgent_config(app)
    incident_key, key = _keys(app, now)
    number = number or format_index_number(section.organ_code, now.year, 1)
    context = _context(app, post, section, key=key, incident_key=incident_key, number=number,
                       now=now, msg_type="Alert")
    names = post.channels or section.channels
    problems: list[tuple[tuple[str | int, ...], str]] = []
    unknown = [n for n in names if n not in app.loaded.config.channels]
    if unknown:
        raise UrgentRejected([f"未定义的渠道 / unknown channel(s): {', '.join(unknown)}"])
    payloads, skipped = prepare_channels(
        app, names, section.templates, context, key=key, definition_id=DEFINITION, due_at=now,
        urgent=True, where=("urgent", "channels"), problems=problems)
    if problems:
        raise UrgentRejected(ReleaseProblems(problems).problems)
    if not payloads:
        raise UrgentRejected(["没有可用的渠道 / none of these channels is enabled: "
                              + ", ".join(names)])
    return context, payloads, skipped


def open_incident(app: App, post: UrgentPost, *, actor: str) -> UrgentOutcome:
    """Open an incident with its first report; every channel is prepared before anything is
    recorded, and the deliveries go on the priority lane."""
    section = urgent_config(app)
    now = app.clock.now()
    incident_key, key = _keys(app, now)
    with app.store.write() as session:
        number = next_index_number(session, section.organ_code,
                                   now.astimezone(app.loaded.zone).year)
        context, payloads, skipped = prepare(app, post, now, number=number)
        incident = Incident(key=incident_key, title=post.title, area=post.area,
                            severity=post.severity, status="open", drill=post.drill,
                            opened_at=now, opened_by=actor)
        session.add(incident)
        session.flush()
        release = Release(
            key=key, definition_id=DEFINITION, origin="urgent", state="active", due_at=now,
            created_at=now, deadline_at=now + timedelta(hours=section.retry_deadline_hours),
            urgent=True, title=context["release"]["title"], index_number=number, actor=actor,
            details={"skipped_channels": skipped, "area": post.area, "severity": post.severity,
                     "status": post.status},
            incident_id=incident.id, msg_type="Alert")
        session.add(release)
        session.flush()
        audit.append(session, at=now, actor=actor, action="incident.opened",
                     subject=f"incident:{incident_key}",
                     details={"title": post.title, "area": post.area, "severity": post.severity,
                              "status": post.status, "release": key})
        audit.append(session, at=now, actor=actor, action="release.created",
                     subject=f"release:{key}",
                     details={"release_id": release.id, "origin": "urgent",
                              "channels": sorted(payloads), "skipped_channels": skipped})
        record_deliveries(session, release, payloads, actor=actor, now=now)
        release_id = release.id
    return UrgentOutcome(incident_key, release_id, key, tuple(sorted(payloads)), tuple(skipped))


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


def timeline(app: App, incident_key: str) -> tuple[Incident, list[Step]]:
    """The incident and every delivery of its releases, oldest first."""
    with app.store.read() as session:
        incident = session.execute(
            select(Incident).where(Incident.key == incident_key)).scalar_one_or_none()
        if incident is None:
            raise KeyError(incident_key)
        rows = session.execute(
            select(Release, Delivery).join(Delivery, Delivery.release_id == Release.id)
            .where(Release.incident_id == incident.id)
            .order_by(Release.created_at, Delivery.channel)).all()
    steps = []
    for rel, d in rows:
        def since(moment: datetime | None, start: datetime = rel.created_at) -> float | None:
            return None if moment is None else round((moment - start).total_seconds(), 3)

        error = d.last_error or {}
        steps.append(Step(rel.key, rel.msg_type or "", d.channel, d.state,
                          (d.receipt or {}).get("url"), since(d.accepted_at),
                          since(d.published_at),
                          d.reason or error.get("explanation_zh") or ""))
    return incident, steps
