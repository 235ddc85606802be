"""An incident's later steps: an update or correction follows the first report, a withdrawal retracts it.

Each is planned from the incident's deliveries so far and prepared exactly as it will go out;
its preview plans and prepares it in the same transaction and rolls it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.base import Channel, Payload
from publisher import audit
from publisher.app import App
from publisher.config import UrgentConfig
from publisher.release import next_index_number, slug_of
from publisher.scan import Finding
from publisher.store.models import Delivery, Incident, Release
from publisher.urgent import draft, mark, screen
from publisher.urgent.incident import (
    AUDIT_ACTION,
    LIVE,
    MSG_TYPE,
    NOT_YET,
    Planned,
    _check_channels,
    _context,
    _folder,
    _keys,
    _prepare,
    _record,
    _retrying,
    _taken,
    _with_cap,
    urgent_config,
)
from publisher.urgent.post import (
    IncidentClosed,
    IncidentNotFound,
    UrgentCancel,
    UrgentOutcome,
    UrgentRejected,
    UrgentUpdate,
)


def _incident(session: Session, key: str) -> Incident:
    incident = session.execute(select(Incident).where(Incident.key == key)).scalar_one_or_none()
    if incident is None:
        raise IncidentNotFound(key)
    if incident.status == "withdrawn":
        raise IncidentClosed(key)
    return incident


def _deliveries(session: Session, incident: Incident) -> list[tuple[Release, Delivery]]:
    rows = session.execute(
        select(Release, Delivery).join(Delivery, Delivery.release_id == Release.id)
        .where(Release.incident_id == incident.id).order_by(Release.created_at, Delivery.id))
    return [(r, d) for r, d in rows.all()]


def _first(session: Session, incident: Incident) -> Release:
    first = session.execute(
        select(Release).where(Release.incident_id == incident.id, Release.msg_type == "Alert")
        .order_by(Release.created_at)).scalars().first()
    assert first is not None, f"incident {incident.key} has no first report"
    return first


def _links(rows: list[tuple[Release, Delivery]]) -> dict[str, list[dict[str, Any]]]:
    """Each channel's public posts of the incident so far, oldest first (a WeChat update
    links the earlier articles)."""
    links: dict[str, list[dict[str, Any]]] = {}
    for release, d in rows:
        url = (d.receipt or {}).get("url")
        if d.action == "send" and d.state == "published" and url:
            links.setdefault(d.channel, []).append(
                {"title": release.title, "url": url, "step": release.details.get("step"),
                 "at": release.created_at})
    return links


def _plan_update(app: App, section: UrgentConfig, incident: Incident, names: list[str],
                 rows: list[tuple[Release, Delivery]]) -> list[Planned]:
    """A follow-up under the first report where the channel takes one (a Weibo comment, a
    portal timeline entry), plus a new post where configured; a new post elsewhere."""
    anchors = {d.channel: d for r, d in rows if r.msg_type == "Alert" and d.action == "send"}
    plan = []
    for name in names:
        channel = app.channel(name, drill=incident.drill)
        anchor = anchors.get(name)
        takes_follow_up = type(channel).follow_up is not Channel.follow_up
        if anchor is not None and anchor.state in LIVE and takes_follow_up:
            plan.append(Planned(name, "follow_up", anchor.id,
                                _folder(app, section.templates, "follow_up", name)))
            if name in section.update_new_post:
                plan.append(Planned(name, "send", None, section.templates))
        else:
            plan.append(Planned(name, "send", None, section.templates))
    return plan


def update_incident(app: App, incident_key: str, update: UrgentUpdate, *, actor: str,
                    preview: draft.Draft | None = None) -> UrgentOutcome:
    """Post an update (or, with ``correction``, a correction) to an open incident; with the
    draft of its preview, only as previewed (see ``open_incident``)."""
    return _retrying(lambda: _later(app, incident_key, actor, *_update_args(update),
                                    draft_=preview))


def cancel_incident(app: App, incident_key: str, cancel: UrgentCancel, *, actor: str,
                    preview: draft.Draft | None = None) -> UrgentOutcome:
    """Withdraw an incident: deliveries not yet sent are stopped, published posts retracted
    where the channel allows, and a withdrawal notice posted where it does not; with the
    draft of its preview, only as previewed."""
    return _retrying(lambda: _later(app, incident_key, actor, *_cancel_args(cancel),
                                    draft_=preview))


@dataclass(frozen=True)
class StepPreview:
    """What a later step would send: each planned delivery with its payload, and its draft."""

    prepared: list[tuple[Planned, Payload]]
    draft: draft.Draft
    findings: list[Finding] = field(default_factory=list)  # the content checks'


class _Preview(Exception):
    """Raised inside the write transaction to roll it back and hand out what was prepared."""

    def __init__(self, done: StepPreview) -> None:
        self.done = done


def preview_step(app: App, incident_key: str, step: UrgentUpdate | UrgentCancel, *,
                 at: datetime | None = None) -> StepPreview:
    """What an update or withdrawal recorded at ``at`` (default now) would send, planned and
    prepared exactly as it will be, then rolled back: nothing is recorded."""
    args = _update_args(step) if isinstance(step, UrgentUpdate) else _cancel_args(step)
    try:
        _later(app, incident_key, "preview", *args, preview_at=at or app.clock.now())
    except _Preview as done:
        return done.done
    raise AssertionError("preview did not stop")


def _update_args(update: UrgentUpdate) -> tuple[str, dict[str, Any], list[str] | None,
                                                str | None]:
    return update.step, update.model_dump(exclude={"channels"}), update.channels, update.title


def _cancel_args(cancel: UrgentCancel) -> tuple[str, dict[str, Any], list[str] | None,
                                                str | None]:
    return "withdrawal", cancel.model_dump(), None, None


def _later(app: App, incident_key: str, actor: str, step: str, fields: dict[str, Any],
           channels: list[str] | None, title: str | None, *,
           preview_at: datetime | None = None, draft_: draft.Draft | None = None
           ) -> UrgentOutcome:
    section = urgent_config(app)
    now = app.clock.now()
    at = preview_at or draft.moment(draft_, now)  # keys, addresses and the times shown
    with app.store.write() as session:
        incident = _incident(session, incident_key)
        rows = _deliveries(session, incident)
        first = _first(session, incident)
        used = list(dict.fromkeys(d.channel for _r, d in rows))
        names, skipped = _check_channels(app, channels or used)
        if step == "withdrawal":
            stopped = _stop_pending(session, rows, now=now, actor=actor)
            plan = _plan_cancel(app, section, incident, names, rows, stopped)
        else:
            plan = _plan_update(app, section, incident, names, rows)
        _incident_key, key = _keys(app, at, _taken(session))
        number = next_index_number(session, section.organ_code,
                                   at.astimezone(app.loaded.zone).year)
        context = _context(
            app, section, key=key, incident_key=incident.key, incident_title=incident.title,
            title=_headline(title, drill=incident.drill) if title else incident.title,
            number=number, now=at, step=step,
            fields={"area": incident.area, "category": first.details.get("category"),
                    "event": first.details.get("event"), **fields,
                    "severity": fields.get("severity") or incident.severity},
            drill=incident.drill, slug=slug_of(first.key), links=_links(rows),
            opened_at=incident.opened_at)
        prepared = _prepare(app, plan, context, key=key, now=at, drill=incident.drill)
        shown = [(item.channel, item.action, payload) for item, payload in prepared]
        draft.check(draft_, key, shown)
        cap, prepared = _with_cap(
            app, section, prepared, key=key, incident_key=incident.key, now=at,
            status=str(first.details.get("status") or "Actual"), msg_type=MSG_TYPE[step],
            context=context, earlier=[{"identifier": r.details["cap"]["identifier"],
                                       "sent": r.details["cap"]["sent"]}
                                      for r in dict.fromkeys(r for r, _d in rows)
                                      if r.details.get("cap")])
        findings = screen.findings_of(
            app, [(item.channel, item.action, payload) for item, payload in prepared])
        if preview_at is not None:
            raise _Preview(StepPreview(prepared, draft.Draft(at, draft.fingerprint(key, shown)),
                                       findings))
        screen.enforce(session, findings, fingerprint=draft_.fingerprint if draft_ else None,
                       actor=actor, key=key, now=now)
        if step == "withdrawal":
            incident.status = "withdrawn"
        elif fields.get("severity"):
            incident.severity = fields["severity"]
        audit.append(session, at=now, actor=actor, action=AUDIT_ACTION[step],
                     subject=f"incident:{incident.key}",
                     details={"release": key, **{k: v for k, v in fields.items()
                                                 if v is not None}})
        release = _record(session, app, section, incident, prepared, key=key, number=number,
                          title=context["release"]["title"], step=step, now=now, actor=actor,
                          skipped=skipped, details={
                              "cap": cap, **screen.kept(findings),
                              **{k: v for k, v in fields.items()
                                 if k in ("correction", "reason") and v is not None}})
    return UrgentOutcome(incident.key, release.id, key,
                         tuple(sorted({item.channel for item, _ in prepared})), tuple(skipped),
                         MSG_TYPE[step])


def _headline(title: str, *, drill: bool) -> str:
    try:
        return mark.headline(title, drill=drill)
    except ValueError as exc:
        raise UrgentRejected([f"title: {exc}"]) from None


def _stop_pending(session: Session, rows: list[tuple[Release, Delivery]], *, now: datetime,
                  actor: str) -> set[int]:
    """Deliveries of the incident that have not left yet are stopped (recorded as failed
    with the reason); returns their ids."""
    stopped = set()
    for _release, d in rows:
        if d.state in NOT_YET:
            d.state, d.updated_at, d.next_attempt_at = "failed", now, None
            d.reason = "事件已撤回，未发送 / the incident was withdrawn before this went out"
            audit.append(session, at=now, actor=actor, action="delivery.failed",
                         subject=f"delivery:{d.id}",
                         details={"channel": d.channel, "reason": d.reason})
            stopped.add(d.id)
    return stopped


def _plan_cancel(app: App, section: UrgentConfig, incident: Incident, names: list[str],
                 rows: list[tuple[Release, Delivery]], stopped: set[int]) -> list[Planned]:
    """A retraction of every post that may be public, where the channel can retract; one
    withdrawal notice on each channel that cannot."""
    plan = []
    for name in names:
        posts = [d for _r, d in rows if d.channel == name and d.action == "send"
                 and d.id not in stopped and d.state in LIVE]
        if not posts:
            continue
        channel = app.channel(name, drill=incident.drill)
        folder = _folder(app, section.templates, "cancel", name)
        if type(channel).retract is not Channel.retract:
            plan += [Planned(name, "retract", d.id, folder) for d in posts]
            if type(channel).retract_notice:
                plan.append(Planned(name, "send", None, folder))
        else:
            plan.append(Planned(name, "send", None, folder))
    return plan
