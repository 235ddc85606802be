"""An incident's first report, and what every step shares: its keys, context, preparing and record.

Each step is one release (CAP Alert, Update or Cancel) whose deliveries go on the priority
lane. Every channel is planned and prepared before anything is recorded: a step that cannot
go out on one channel records nothing anywhere. The later steps are in ``step.py``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from channels import registry
from channels.base import Attachment, ChannelError, ContentRejected, Payload
from channels.portal.catalogue import format_index_number
from publisher import audit
from publisher.app import App
from publisher.config import UrgentConfig
from publisher.release import add_delivery, next_index_number, prepare_one, slug_of
from publisher.render import RenderError
from publisher.store.models import Incident, IndexCounter, Release
from publisher.urgent import document, draft, mark, screen
from publisher.urgent.post import (
    UrgentOutcome,
    UrgentPost,
    UrgentRejected,
)

DEFINITION = "urgent"
PICTURE_DIR = "var/urgent"  # <incident key>/<picture>: read by every attempt, in any process
LIVE = ("pending", "sending", "retry_wait", "queued", "published")  # may still be public
NOT_YET = ("pending", "retry_wait")  # nothing has left for these: a withdrawal stops them
AUDIT_ACTION = {"report": "incident.opened", "update": "incident.updated",
                "correction": "incident.corrected", "withdrawal": "incident.withdrawn"}
MSG_TYPE = {"report": "Alert", "update": "Update", "correction": "Update", "withdrawal": "Cancel"}
T = TypeVar("T")


def urgent_config(app: App) -> UrgentConfig:
    section = app.loaded.config.urgent
    if section is None:
        raise UrgentRejected(["配置中没有 urgent 部分 / the config has no urgent section"])
    return section


@dataclass(frozen=True)
class Planned:
    """One delivery a step will record: what to do on which channel, to which earlier one."""

    channel: str
    action: str  # send | follow_up | retract
    target_id: int | None
    folder: str  # the template folder


def _keys(app: App, now: datetime, taken: Callable[[str, str], bool]) -> tuple[str, str]:
    """The incident key and the release key for a step at ``now``; two steps in the same
    second get ``-2``/``~2`` suffixes instead of colliding."""
    local = now.astimezone(app.loaded.zone)
    incident = f"incident-{local:%Y%m%d-%H%M%S}"
    release = f"{DEFINITION}@{local.isoformat(timespec='seconds')}"
    for n in range(1, 1000):
        pair = (incident, release) if n == 1 else (f"{incident}-{n}", f"{release}~{n}")
        if not taken(*pair):
            return pair
    raise UrgentRejected(["同一秒内的紧急信息过多 / too many urgent posts in one second"])


def _taken(session: Session) -> Callable[[str, str], bool]:
    def taken(incident_key: str, release_key: str) -> bool:
        return (session.execute(select(Incident.id).where(Incident.key == incident_key)).first()
                is not None or session.execute(
                    select(Release.id).where(Release.key == release_key)).first() is not None)
    return taken


def _retrying(action: Callable[[], T]) -> T:
    """Run a recording step again when a concurrent one took the same key (PostgreSQL)."""
    for attempt in range(3):
        try:
            return action()
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _folder(app: App, base: str, sub: str, name: str) -> str:
    """``<base>/<sub>`` when it has this channel kind's template, else ``<base>``."""
    cls = registry.channel_class(app.loaded.config.channels[name].kind)
    folder = f"{base}/{sub}"
    path = app.renderer.template_path(folder, cls.kind, cls.template_ext)
    return folder if path.is_file() else base


def _context(app: App, section: UrgentConfig, *, key: str, incident_key: str,
             incident_title: str, title: str, number: str, now: datetime, step: str,
             fields: dict[str, Any], drill: bool, slug: str | None = None,
             links: dict[str, list[dict[str, Any]]] | None = None,
             opened_at: datetime | None = None) -> dict[str, Any]:
    local = now.astimezone(app.loaded.zone)
    shown = f"{mark.marks(step, drill=drill)}{title}"
    return {
        "release": {
            "key": key, "definition_id": DEFINITION, "title": shown,
            "issuing_organ": section.issuing_organ, "organ_code": section.organ_code,
            "subject_category": section.subject_category, "column": section.column,
            "column_name": app.loaded.config.columns.get(section.column, section.column),
            "index_number": number, "published_date": local.date(), "signed_date": local.date(),
            "urgent": True, "document_number": None, "slug": slug,
        },
        "urgent": {"facts": None, "instruction": None, "correction": None, "reason": None,
                   "picture": None,
                   **fields,
                   "title": shown, "headline": title, "marks": mark.marks(step, drill=drill),
                   "msg_type": MSG_TYPE[step], "step": step, "drill": drill,
                   "sent": local},
        "incident": {"key": incident_key, "title": incident_title, "links": links or {},
                     "opened_at": (opened_at or now).astimezone(app.loaded.zone)},
        "period": {},
        "tables": {},
    }


def _prepare(app: App, plan: list[Planned], context: dict[str, Any], *, key: str,
             now: datetime, drill: bool, attachments: tuple[Attachment, ...] = ()
             ) -> list[tuple[Planned, Payload]]:
    """Prepare every planned delivery; UrgentRejected lists every channel's problem."""
    problems: list[str] = []
    prepared = []
    for item in plan:
        try:
            payload = prepare_one(app, item.channel, item.folder, context, key=key,
                                  definition_id=DEFINITION, due_at=now, urgent=True,
                                  follow_up=item.action == "follow_up", drill=drill,
                                  attachments=attachments if item.action == "send" else ())
        except ContentRejected as exc:
            problems.append(f"{item.channel}: {exc} (field {exc.field}, limit {exc.limit})")
        except (RenderError, ChannelError) as exc:
            problems.append(f"{item.channel}: {exc}")
        else:
            prepared.append((item, payload))
    if problems:
        raise UrgentRejected(problems)
    return prepared


def _with_cap(app: App, section: UrgentConfig, prepared: list[tuple[Planned, Payload]], *,
              key: str, incident_key: str, now: datetime, status: str, msg_type: str,
              context: dict[str, Any], earlier: list[dict[str, str]]
              ) -> tuple[dict[str, str], list[tuple[Planned, Payload]]]:
    """The step's CAP document (schema-checked), and the payloads of the kinds that publish
    it carrying it."""
    try:
        cap = document.build(section, release_key=key, incident_key=incident_key,
                             sent=now.astimezone(app.loaded.zone),
                             status=status, msg_type=msg_type, context=context, earlier=earlier)
    except document.CapInvalid as exc:
        raise UrgentRejected([f"CAP: {problem}" for problem in exc.problems]) from None
    kinds = app.loaded.config.channels
    return cap, [(item, document.attach(kinds[item.channel].kind, payload, cap))
                 for item, payload in prepared]


def _check_channels(app: App, names: list[str]) -> tuple[list[str], list[str]]:
    """The enabled channels among ``names`` and the disabled ones; unknown names refused."""
    unknown = [n for n in names if n not in app.loaded.config.channels]
    if unknown:
        raise UrgentRejected([f"未定义的渠道 / unknown channel(s): {', '.join(unknown)}"])
    enabled = [n for n in names if app.enabled(n)]
    if not enabled:
        raise UrgentRejected(["没有可用的渠道 / none of these channels is enabled: "
                              + ", ".join(names)])
    return enabled, [n for n in names if not app.enabled(n)]


# --------------------------------------------------------------------------- the first report


def _fields(post: UrgentPost, key: str) -> dict[str, Any]:
    """The post's fields for the templates; the picture as its name and its portal address."""
    fields = post.model_dump(exclude={"channels", "picture"})
    fields["picture"] = None if post.picture is None else {
        "name": post.picture.name, "content_type": post.picture.content_type,
        "href": f"{slug_of(key)}.files/{quote(post.picture.name)}"}
    return fields


def _store_picture(post: UrgentPost, folder: Path) -> tuple[Attachment, ...]:
    """Write the post's picture where every later attempt (any process) can read it."""
    if post.picture is None:
        return ()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / post.picture.name
    path.write_bytes(post.picture.data)
    return (Attachment(post.picture.name, post.picture.content_type, path),)


def prepare(app: App, post: UrgentPost, now: datetime, *, records: bool = True
            ) -> tuple[dict[str, Any], dict[str, Payload], list[str]]:
    """Render and prepare the first report for each channel as it would be recorded at
    ``now`` (a preview: nothing is kept): the context, the payloads by channel, and the
    disabled channels skipped. The context's release key, with the payloads, makes the
    preview's draft (``draft_of``). ``records=False`` (a config check, without a database)
    assumes no post was ever recorded."""
    section = urgent_config(app)
    names, skipped = _check_channels(app, post.channels or section.channels)
    year = now.astimezone(app.loaded.zone).year
    if records:
        with app.store.read() as session:  # the key and 索引号 a post recorded now would get
            incident_key, key = _keys(app, now, _taken(session))
            number = _peek_number(session, section.organ_code, year)
    else:
        incident_key, key = _keys(app, now, lambda _incident, _release: False)
        number = format_index_number(section.organ_code, year, 1)
    context = _context(
        app, section, key=key, incident_key=incident_key, incident_title=post.title,
        title=post.title, number=number, now=now, step="report", fields=_fields(post, key),
        drill=post.drill)
    plan = [Planned(n, "send", None, section.templates) for n in names]
    with tempfile.TemporaryDirectory(prefix="urgent-preview-") as folder:
        prepared = _prepare(app, plan, context, key=key, now=now, drill=post.drill,
                            attachments=_store_picture(post, Path(folder)))
    return context, {item.channel: payload for item, payload in prepared}, skipped


def draft_of(context: dict[str, Any], payloads: dict[str, Payload], now: datetime
             ) -> draft.Draft:
    """The draft of a previewed first report (``prepare``'s context and payloads)."""
    return draft.Draft(now, draft.fingerprint(
        context["release"]["key"], [(n, "send", p) for n, p in payloads.items()]))


def _peek_number(session: Session, organ_code: str, year: int) -> str:
    """The 索引号 the next release of the organisation would get (nothing is taken)."""
    last = session.execute(select(IndexCounter.last_serial).where(
        IndexCounter.organ_code == organ_code, IndexCounter.year == year)).scalar_one_or_none()
    return format_index_number(organ_code, year, (last or 0) + 1)


def open_incident(app: App, post: UrgentPost, *, actor: str,
                  preview: draft.Draft | None = None) -> UrgentOutcome:
    """Open an incident with its first report; every channel is prepared before anything is
    recorded, and the deliveries go on the priority lane. With the draft of its preview, the
    report is recorded for the preview's moment, and only if it is still what the preview
    showed (PreviewOutdated otherwise)."""
    return _retrying(lambda: _open(app, post, actor, preview))


def _open(app: App, post: UrgentPost, actor: str, preview: draft.Draft | None) -> UrgentOutcome:
    section = urgent_config(app)
    now = app.clock.now()
    at = draft.moment(preview, now)  # keys, addresses and the times shown
    _check_event_time(post, now)
    names, skipped = _check_channels(app, post.channels or section.channels)
    with app.store.write() as session:
        incident_key, key = _keys(app, at, _taken(session))
        number = next_index_number(session, section.organ_code,
                                   at.astimezone(app.loaded.zone).year)
        context = _context(
            app, section, key=key, incident_key=incident_key, incident_title=post.title,
            title=post.title, number=number, now=at, step="report",
            fields=_fields(post, key), drill=post.drill)
        plan = [Planned(n, "send", None, section.templates) for n in names]
        folder = app.loaded.resolve(PICTURE_DIR) / incident_key
        try:
            prepared = _prepare(app, plan, context, key=key, now=at, drill=post.drill,
                                attachments=_store_picture(post, folder))
            draft.check(preview, key, [(i.channel, i.action, p) for i, p in prepared])
            cap, prepared = _with_cap(app, section, prepared, key=key,
                                      incident_key=incident_key, now=at, status=post.status,
                                      msg_type="Alert", context=context, earlier=[])
            findings = screen.findings_of(app, [(i.channel, i.action, p) for i, p in prepared])
            screen.enforce(session, findings, fingerprint=preview.fingerprint if preview else None,
                           actor=actor, key=key, now=now)
        except UrgentRejected:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        incident = Incident(key=incident_key, title=post.title, area=post.area,
                            severity=post.severity, status="open", drill=post.drill,
                            opened_at=now, opened_by=actor, event_at=post.event_at)
        session.add(incident)
        session.flush()
        details = {"title": post.title, "area": post.area, "severity": post.severity,
                   "status": post.status, "release": key,
                   **({"event_at": post.event_at.isoformat()} if post.event_at else {})}
        audit.append(session, at=now, actor=actor, action=AUDIT_ACTION["report"],
                     subject=f"incident:{incident_key}", details=details)
        release = _record(session, app, section, incident, prepared, key=key, number=number,
                          title=context["release"]["title"], step="report", now=now,
                          actor=actor, skipped=skipped,
                          details={"area": post.area, "severity": post.severity,
                                   "status": post.status, "category": post.category,
                                   "event": post.event, "cap": cap,
                                   "picture": post.picture.name if post.picture else None,
                                   **screen.kept(findings)})
    return UrgentOutcome(incident_key, release.id, key, tuple(sorted(names)), tuple(skipped),
                         "Alert")


def _check_event_time(post: UrgentPost, now: datetime) -> None:
    """An event time (事件发生时间) may not lie in the future (a minute's clock skew allowed)."""
    if post.event_at is not None and post.event_at > now + timedelta(minutes=1):
        raise UrgentRejected([f"event_at: 事件发生时间不能晚于现在 / the event time "
                              f"{post.event_at.isoformat()} is in the future"])


def _record(session: Session, app: App, section: UrgentConfig, incident: Incident,
            prepared: list[tuple[Planned, Payload]], *, key: str, number: str, title: str,
            step: str, now: datetime, actor: str, skipped: list[str],
            details: dict[str, Any]) -> Release:
    release = Release(
        key=key, definition_id=DEFINITION, origin="urgent", state="active", due_at=now,
        created_at=now, deadline_at=now + timedelta(hours=section.retry_deadline_hours),
        urgent=True, title=title, index_number=number, actor=actor,
        details={"skipped_channels": skipped, "step": step, **details},
        incident_id=incident.id, msg_type=MSG_TYPE[step], issuing_organ=section.issuing_organ,
        subject_category=section.subject_category, column_id=section.column)
    session.add(release)
    session.flush()
    audit.append(session, at=now, actor=actor, action="release.created", subject=f"release:{key}",
                 details={"release_id": release.id, "origin": "urgent", "step": step,
                          "incident": incident.key,
                          "channels": sorted({item.channel for item, _ in prepared}),
                          "skipped_channels": skipped})
    for item, payload in prepared:
        add_delivery(session, release, item.channel, payload, actor=actor, now=now,
                     action=item.action, target_id=item.target_id, drill=incident.drill)
    return release
