"""Making the report: every section counted on one database snapshot; explaining one figure."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any

from sqlalchemy import select

from publisher import audit
from publisher.app import App
from publisher.report import (
    documents,
    emergency,
    gazette,
    interpretation,
    publications,
    reliability,
    runs,
    timeliness,
)
from publisher.report.context import Context, snapshot
from publisher.report.figure import AuditCheck, Figure, Report
from publisher.report.period import ReportPeriod
from publisher.store.models import AuditEvent, Delivery, Incident, Release

# Sections in the order the report shows them; a figure id starts with its section's name.
SECTIONS: dict[str, ModuleType] = {
    module.SECTION: module for module in (
        publications, runs, timeliness, interpretation, gazette, emergency, reliability,
        documents)
}


def build_report(app: App, period: ReportPeriod, *, organ: str | None = None,
                 sections: Sequence[str] | None = None, verify: bool = True) -> Report:
    """The report of ``period`` (optionally one issuing organ's, optionally some sections):
    every figure counted from the records on one snapshot, the audit chain verified."""
    now = app.clock.now()
    chosen = list(sections or SECTIONS)
    with snapshot(app) as session:
        ctx = Context(app, session, period, organ, now)
        for name in chosen:
            SECTIONS[name].build(ctx)
        check = _verify(session) if verify else AuditCheck(None)
    if organ:
        ctx.note(f"只统计发布机构为“{organ}”的发布；未记录发布机构的早期发布不在其中。",
                 f"Only releases of {organ}; earlier releases without a recorded organ are "
                 "not included.")
    if now < period.end:
        ctx.note(f"期间尚未结束：数字截至 {now.astimezone(app.loaded.zone):%Y-%m-%d %H:%M}。",
                 f"The period has not ended: figures up to "
                 f"{now.astimezone(app.loaded.zone):%Y-%m-%d %H:%M}.")
    return Report(period_zh=period.label_zh, period_en=period.label_en,
                  first=period.first.isoformat(), last=period.last.isoformat(), organ=organ,
                  made_at=now, database=app.store.safe_url, audit=check,
                  complete=now >= period.end, tables=ctx.tables, figures=ctx.figures,
                  unknowable=list(documents.UNKNOWABLE) if "documents" in chosen else [],
                  notes=ctx.notes)


def _verify(session: Any) -> AuditCheck:
    verdict = audit.verify(session)
    return AuditCheck(verdict.ok, verdict.count, "" if verdict.ok else verdict.describe())


def section_of(figure_id: str) -> str:
    """The section a figure id belongs to; KeyError naming the known sections."""
    name = figure_id.split("/", 1)[0]
    if name not in SECTIONS:
        raise KeyError(f"没有指标 {figure_id} / no figure {figure_id}; figure ids begin with "
                       f"one of {', '.join(SECTIONS)}")
    return name


# --------------------------------------------------------------------------- explaining


@dataclass(frozen=True)
class Line:
    """One counted row, as a person reads it."""

    id: int
    when: datetime | None
    what: str
    detail: str


def _releases(session: Any, chosen: list[int]) -> list[Line]:
    rows = session.execute(select(Release.id, Release.due_at, Release.key, Release.title,
                                  Release.state).where(Release.id.in_(chosen)))
    return [Line(i, due, key, f"{title or ''} [{state}]") for i, due, key, title, state in rows]


def _deliveries(session: Any, chosen: list[int]) -> list[Line]:
    rows = session.execute(
        select(Delivery.id, Delivery.published_at, Delivery.created_at, Delivery.channel,
               Delivery.action, Delivery.state, Release.key, Release.title)
        .join(Release, Release.id == Delivery.release_id).where(Delivery.id.in_(chosen)))
    return [Line(i, published or created, f"{channel} {action} {state}", f"{key} {title or ''}")
            for i, published, created, channel, action, state, key, title in rows]


def _incidents(session: Any, chosen: list[int]) -> list[Line]:
    rows = session.execute(select(Incident.id, Incident.opened_at, Incident.key, Incident.title,
                                  Incident.status, Incident.drill).where(Incident.id.in_(chosen)))
    return [Line(i, opened, key, f"{title} [{status}{', 演练 drill' if drill else ''}]")
            for i, opened, key, title, status, drill in rows]


def _events(session: Any, chosen: list[int]) -> list[Line]:
    rows = session.execute(select(AuditEvent.seq, AuditEvent.at, AuditEvent.action,
                                  AuditEvent.subject, AuditEvent.details)
                           .where(AuditEvent.seq.in_(chosen)))
    return [Line(seq, at, f"{action} {subject}", str(details.get("issue", "")))
            for seq, at, action, subject, details in rows]


LISTERS: dict[str, Callable[[Any, list[int]], list[Line]]] = {
    "releases": _releases, "deliveries": _deliveries, "incidents": _incidents,
    "audit_events": _events,
}


def rows_of(app: App, figure: Figure, *, limit: int | None = None) -> list[Line]:
    """The rows a figure counts, in id order (at most ``limit``)."""
    lister = LISTERS.get(figure.rows_of)
    chosen = list(figure.rows[:limit] if limit is not None else figure.rows)
    if lister is None or not chosen:
        return []
    lines: list[Line] = []
    with app.store.read() as session:
        for start in range(0, len(chosen), 500):
            lines.extend(lister(session, chosen[start:start + 500]))
    return sorted(lines, key=lambda line: line.id)


def explain(app: App, period: ReportPeriod, figure_id: str, *, organ: str | None = None
            ) -> tuple[Report, Figure]:
    """The figure ``figure_id`` (only its section is counted); KeyError when there is none."""
    report = build_report(app, period, organ=organ, sections=[section_of(figure_id)],
                          verify=False)
    return report, report.figure(figure_id)
