"""Creating a release: read its data, render and prepare every channel, then record it in one go."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from channels.base import (
    Attachment,
    ChannelError,
    ContentRejected,
    Message,
    Payload,
    idempotency_key,
)
from publisher import audit
from publisher.app import App
from publisher.character import first_hidden
from publisher.config import ReleaseDefinition
from publisher.logs import get_logger
from publisher.period import Period, period_of
from publisher.render import RenderError
from publisher.scan import Finding, ListError, blocking, link, summary
from publisher.scan.finding import Level
from publisher.source import DataError, Table, load_source
from publisher.store.models import Delivery, IndexCounter, Release

log = get_logger(__name__)


def occurrence_key(definition_id: str, due_at: datetime, app: App) -> str:
    """``food-safety-sampling@2026-12-02T10:00+08:00``: the definition and its local due time."""
    local = due_at.astimezone(app.loaded.zone)
    return f"{definition_id}@{local.isoformat(timespec='seconds' if local.second else 'minutes')}"


def slug_of(key: str) -> str:
    """A file-name-safe, deterministic slug for a release key."""
    definition_id, _, when = key.partition("@")
    when, _, part = when.partition("~")  # "~interpretation": the 解读 published with a document
    local = datetime.fromisoformat(when)
    suffix = f"-{part}" if part else ""
    return f"{definition_id}-{local:%Y%m%d-%H%M}{f'{local:%S}' if local.second else ''}{suffix}"


INTERPRETATION = "interpretation"


def interpretation_key(key: str) -> str:
    """The key of the interpretation published together with the document ``key``."""
    return f"{key}~{INTERPRETATION}"


@dataclass(frozen=True)
class Prepared:
    """Every channel's payload for one release, made before anything is recorded or sent."""

    title: str
    period: Period | None
    payloads: dict[str, Payload]  # channel name -> payload
    skipped: list[str]  # disabled channels
    data_files: dict[str, str]
    signed_date: date | None = None  # 成文日期, when the definition gives one
    findings: tuple[Finding, ...] = ()  # the content checks' warnings and review findings

    @property
    def needs_review(self) -> bool:
        """Whether a finding sends the release to an approver (as ``review: required`` does)."""
        return any(f.level == "review" for f in self.findings)


def catalogue(definition: ReleaseDefinition, part: str = "document") -> dict[str, Any]:
    """The catalogue facts a release row keeps for the annual report (publisher/report)."""
    return {"issuing_organ": definition.issuing_organ,
            "subject_category": definition.subject_category, "column_id": definition.column,
            "document_type": "interpretation" if part == INTERPRETATION
            else definition.document_type}


def next_index_number(session: Session, organ_code: str, year: int) -> str:
    """Give out the next 索引号 for the organisation and year (inside the write transaction)."""
    from channels.portal.catalogue import format_index_number

    counter = session.execute(
        select(IndexCounter).where(IndexCounter.organ_code == organ_code,
                                   IndexCounter.year == year).with_for_update()
    ).scalar_one_or_none()
    if counter is None:
        counter = IndexCounter(organ_code=organ_code, year=year, last_serial=0)
        session.add(counter)
    counter.last_serial += 1
    return format_index_number(organ_code, year, counter.last_serial)


def prepare_release(app: App, definition_id: str, key: str, due_at: datetime, *,
                    index_number: str, tables: Mapping[str, Table] | None,
                    period: Period | None, urgent: bool = False,
                    part: str = "document", partner_key: str | None = None) -> Prepared:
    """Render and prepare every enabled channel; ReleaseProblems lists every failure.

    ``part`` is ``document`` or ``interpretation`` (the 解读 a definition may publish with
    it); ``partner_key`` is the other part's key, so each links to the other.
    Pure apart from reading templates: nothing is recorded or sent.
    """
    config = app.loaded.config
    definition = config.releases[definition_id]
    explained = definition.interpretation if part == INTERPRETATION else None
    local_due = due_at.astimezone(app.loaded.zone)
    release_ctx: dict[str, Any] = {
        "key": key,
        "definition_id": definition_id,
        "issuing_organ": definition.issuing_organ,
        "organ_code": definition.organ_code,
        "subject_category": definition.subject_category,
        "column": definition.column,
        "column_name": config.columns.get(definition.column, definition.column),
        "index_number": index_number,
        "published_date": local_due.date(),
        "signed_date": local_due.date(),
        "urgent": urgent,
        "document_number": None,
        "part": part,
        "paired_with": slug_of(partner_key) if partner_key else None,
    }
    context: dict[str, Any] = {
        "release": release_ctx,
        "period": period.as_context() if period else {},
        "tables": {name: table.rows for name, table in (tables or {}).items()},
    }
    problems: list[tuple[tuple[str | int, ...], str]] = []
    base: tuple[str | int, ...] = ("releases", definition_id)
    if explained is not None:
        base = (*base, INTERPRETATION)
    renderer = app.renderer
    title = ""
    where = ".".join(map(str, base))
    try:
        if definition.document_number and explained is None:
            release_ctx["document_number"] = renderer.render_text(
                definition.document_number, context, f"{where}.document_number")
        if definition.signed_date:
            release_ctx["signed_date"] = _signed_date(renderer.render_text(
                definition.signed_date, context, f"{where}.signed_date"), f"{where}.signed_date")
        title = renderer.render_text(explained.title if explained else definition.title,
                                     context, f"{where}.title")
        release_ctx["title"] = title
    except RenderError as exc:
        problems.append(((*base, "title"), str(exc)))
    hidden = first_hidden(title)
    if hidden is not None:  # from the data or the template: it could read otherwise than approved
        problems.append(((*base, "title"), hidden.describe("title")))
        title = ""
    payloads: dict[str, Payload] = {}
    skipped: list[str] = []
    if title:
        folder = explained.templates if explained else (definition.templates or definition_id)
        payloads, skipped = prepare_channels(
            app, definition.channels, folder, context,
            key=key, definition_id=definition_id, due_at=due_at, urgent=urgent,
            where=(*base, "channels"), problems=problems)
    findings: list[Finding] = []
    if payloads and not problems and config.checks.enabled:
        findings = screen(app, payloads, tables, definition.checks.allow_personal,
                          (*base, "checks"), problems)
    if problems:
        raise ReleaseProblems(problems, findings)
    files = {n: str(t.file) for n, t in (tables or {}).items()}
    signed = release_ctx["signed_date"] if definition.signed_date else None
    return Prepared(title, period, payloads, skipped, files, signed, tuple(findings))


def screen(app: App, payloads: Mapping[str, Payload], tables: Mapping[str, Table] | None,
           allow_personal: list[str], where: tuple[str | int, ...],
           problems: list[tuple[tuple[str | int, ...], str]]) -> list[Finding]:
    """The content checks over every channel's payload and the data's cells; a ``block``
    finding (or an unusable list) is a problem that holds the release."""
    try:
        findings = app.scanner.scan(payloads, (tables or {}).values(),
                                    allow_personal=allow_personal)
    except ListError as exc:
        problems.extend((where, str(p)) for p in exc.problems)
        return []
    problems.extend((where, f.describe()) for f in blocking(findings))
    return findings


def _signed_date(text: str, where: str) -> date:
    """The rendered ``signed_date`` as a date; RenderError (naming it) when it is not one."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise RenderError(where, None, f"成文日期须为 YYYY-MM-DD / not a date (YYYY-MM-DD): "
                                       f"{text.strip()[:40]!r}") from None


def prepare_channels(app: App, names: list[str], folder: str, context: dict[str, Any], *,
                     key: str, definition_id: str, due_at: datetime, urgent: bool,
                     where: tuple[str | int, ...],
                     problems: list[tuple[tuple[str | int, ...], str]],
                     ) -> tuple[dict[str, Payload], list[str]]:
    """Render ``folder``'s template for each enabled channel and let the channel prepare it.

    Problems are appended (with their YAML path) instead of raised, so every channel is
    checked; returns the payloads and the disabled channels skipped.
    """
    payloads: dict[str, Payload] = {}
    skipped: list[str] = []
    for index, name in enumerate(names):
        if not app.enabled(name):
            skipped.append(name)
            continue
        try:
            payloads[name] = prepare_one(app, name, folder, context, key=key,
                                         definition_id=definition_id, due_at=due_at,
                                         urgent=urgent)
        except ContentRejected as exc:
            problems.append(((*where, index),
                             f"{name}: {exc} (field {exc.field}, limit {exc.limit})"))
        except (RenderError, ChannelError) as exc:
            problems.append(((*where, index), f"{name}: {exc}"))
    return payloads, skipped


def prepare_one(app: App, name: str, folder: str, context: dict[str, Any], *, key: str,
                definition_id: str, due_at: datetime, urgent: bool, follow_up: bool = False,
                drill: bool = False, attachments: tuple[Attachment, ...] = ()) -> Payload:
    """Render ``folder``'s template for channel ``name`` and let the channel prepare it (as a
    follow-up to an earlier post when ``follow_up``); raises RenderError or ChannelError."""
    release_ctx = context["release"]
    channel = app.channel(name, drill=drill)
    body = app.renderer.render(folder, channel.kind, channel.template_ext,
                               {**context, "channel": {"name": name, "kind": channel.kind}})
    message = Message(
        release_key=key,
        definition_id=definition_id,
        title=release_ctx["title"],
        body=body,
        body_format=channel.body_format,
        metadata=_metadata(release_ctx, key),
        attachments=attachments,
        urgent=urgent,
        published_at=due_at,
    )
    return channel.prepare_follow_up(message) if follow_up else channel.prepare(message)


def _metadata(release_ctx: Mapping[str, Any], key: str) -> dict[str, str]:
    meta = {
        "issuing_organ": release_ctx["issuing_organ"],
        "subject_category": release_ctx["subject_category"],
        "index_number": release_ctx["index_number"],
        "published_date": release_ctx["published_date"].isoformat(),
        "signed_date": release_ctx["signed_date"].isoformat(),
        "column": release_ctx["column"],
        "column_name": release_ctx["column_name"],
        "slug": release_ctx.get("slug") or slug_of(key),  # an incident's updates: its page
    }
    if release_ctx.get("slug") and release_ctx["slug"] != slug_of(key):
        meta["release_slug"] = slug_of(key)  # the step's own, for kinds posting each step anew
    if release_ctx.get("document_number"):
        meta["document_number"] = release_ctx["document_number"]
    if release_ctx.get("paired_with"):  # a document and its 解读 link to each other
        meta["paired_with"] = release_ctx["paired_with"]
        meta["gazette_kind"] = release_ctx["part"]
    return meta


class ReleaseProblems(Exception):
    """Rendering or preparing problems that hold a release, each with its YAML path; with the
    content checks' findings, when they ran."""

    def __init__(self, located: list[tuple[tuple[str | int, ...], str]],
                 findings: list[Finding] | None = None) -> None:
        self.located = located
        self.findings = list(findings or [])
        self.problems = [f"{'.'.join(map(str, path))}: {message}" for path, message in located]
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class Outcome:
    """What ``create`` did: the release id and state, and whether it was new."""

    release_id: int
    key: str
    state: str
    created: bool
    problems: tuple[str, ...] = ()


def create(app: App, definition_id: str, due_at: datetime, *, actor: str, origin: str,
           data: Mapping[str, Path] | None = None) -> Outcome:
    """Create the release for ``definition_id`` due at ``due_at``; idempotent on its key.

    Data, rendering and every channel's limits are checked before anything is recorded:
    on any problem the release is recorded as held with every problem listed, and no
    delivery exists, so no channel can send.
    """
    definition = app.loaded.definition(definition_id)
    key = occurrence_key(definition_id, due_at, app)
    now = app.clock.now()
    with app.store.read() as session:
        existing = session.execute(select(Release).where(Release.key == key)).scalar_one_or_none()
        if existing is not None and _settled(existing):
            return Outcome(existing.id, key, existing.state, False)
    period, tables, problems = _read_data(app, definition, due_at, data)
    findings: list[Finding] = []
    links_found: list[Finding] = []
    if not problems and app.loaded.config.checks.links.enabled:  # HTTP: outside the transaction
        links_found = dead_links(app, definition_id, key, due_at, tables, period,
                                 level=app.loaded.config.checks.links.at_due)
        problems = [f"releases.{definition_id}.checks: {f.describe()}"
                    for f in blocking(links_found)]
        findings = list(links_found) if problems else []
    if not problems:
        try:
            with app.store.write() as session:
                existing = session.execute(
                    select(Release).where(Release.key == key)).scalar_one_or_none()
                if existing is not None and _settled(existing):
                    return Outcome(existing.id, key, existing.state, False)
                year = due_at.astimezone(app.loaded.zone).year
                paired = interpretation_key(key) if definition.interpretation else None
                parts = [(key, "document", paired, existing)]
                if paired is not None:
                    partner_row = session.execute(
                        select(Release).where(Release.key == paired)).scalar_one_or_none()
                    parts.append((paired, INTERPRETATION, key, partner_row))
                prepared_parts, located, found = [], [], []
                for part_key, part, partner, row in parts:  # both parts before either is kept
                    number = next_index_number(session, definition.organ_code, year)
                    try:
                        prepared_parts.append((part_key, prepare_release(
                            app, definition_id, part_key, due_at, index_number=number,
                            tables=tables, period=period, part=part, partner_key=partner),
                            row, number))
                    except ReleaseProblems as exc:
                        located += exc.located
                        found += exc.findings
                if located:
                    raise ReleaseProblems(located, found)
                for part_key, prepared, row, number in prepared_parts:
                    if part_key == key and links_found:
                        prepared = replace(prepared, findings=(*prepared.findings, *links_found))
                    release = _record(session, app, definition_id, part_key, due_at, now, actor,
                                      origin, prepared, row, number)
                    if part_key == key:
                        release_id, state = release.id, release.state
        except ReleaseProblems as exc:  # the transaction rolled back: no serial, no rows
            problems, findings = exc.problems, exc.findings
        else:
            log.info("release.created", release_id=release_id, key=key,
                     channels=sorted(prepared.payloads), skipped=prepared.skipped)
            return Outcome(release_id, key, state, True)
    return _hold(app, definition_id, key, due_at, now, actor, origin, problems, findings)


NOTHING_SENT = ("held", "missed", "rejected")  # release states that put nothing out


def of_period(app: App, definition_id: str, due_at: datetime) -> Release | None:
    """The newest release of ``definition_id`` for the same period as one due at ``due_at``
    that is out or on its way (not held, missed or rejected); None when there is none, or
    when the definition reads no data (it has no period)."""
    source = app.loaded.definition(definition_id).source
    if source is None:
        return None
    zone = app.loaded.zone

    def period(when: datetime) -> Period:
        return period_of(when.astimezone(zone).date(), source.period, source.period_offset)

    wanted = period(due_at)
    with app.store.read() as session:
        rows = session.execute(
            select(Release).where(Release.definition_id == definition_id,
                                  Release.state.not_in(NOTHING_SENT),
                                  ~Release.key.endswith(f"~{INTERPRETATION}"),
                                  Release.due_at > due_at - timedelta(days=400),
                                  Release.due_at < due_at + timedelta(days=400))
            .order_by(Release.due_at.desc())).scalars().all()
        return next((row for row in rows if period(row.due_at) == wanted), None)


def dead_links(app: App, definition_id: str, key: str, due_at: datetime,
               tables: Mapping[str, Table] | None, period: Period | None, *, level: Level
               ) -> list[Finding]:
    """The dead links of the release as it would be prepared now (its own page excepted, which
    is not published yet); nothing when it cannot be prepared (that is reported anyway)."""
    definition = app.loaded.config.releases[definition_id]
    from channels.portal.catalogue import format_index_number

    try:
        prepared = prepare_release(
            app, definition_id, key, due_at, tables=tables, period=period,
            index_number=format_index_number(definition.organ_code, due_at.year, 1))
    except ReleaseProblems:
        return []
    return link.check(prepared.payloads, app.loaded.config.checks.links, level=level,
                      session_factory=app.session_factory, own=slug_of(key))


def _settled(existing: Release) -> bool:
    """Whether an existing release stands as it is: only one held for its content or data is
    rendered again (one held unapproved has deliveries, failed: trigger it anew instead)."""
    return existing.state != "held" or bool((existing.hold_reason or {}).get("unapproved"))


def _read_data(app: App, definition: ReleaseDefinition, due_at: datetime,
               data: Mapping[str, Path] | None
               ) -> tuple[Period | None, dict[str, Table] | None, list[str]]:
    if definition.source is None:
        return None, None, []
    source = definition.source
    period = period_of(due_at.astimezone(app.loaded.zone).date(), source.period,
                       source.period_offset)
    try:
        tables = load_source(source, app.loaded.config.schemas, app.data_dir, period, data)
    except DataError as exc:
        return period, None, [str(exc)]
    return period, tables, []


def _record(session: Session, app: App, definition_id: str, key: str, due_at: datetime,
            now: datetime, actor: str, origin: str, prepared: Prepared,
            existing: Release | None, index_number: str) -> Release:
    deadline = due_at + timedelta(hours=app.loaded.retry_deadline_hours(definition_id))
    details: dict[str, Any] = {"skipped_channels": prepared.skipped,
                               "data_files": prepared.data_files}
    if prepared.findings:
        details["findings"] = [f.to_json() for f in prepared.findings]
        details["findings_summary"] = summary(prepared.findings)
    if existing is None:
        release = Release(key=key, definition_id=definition_id, origin=origin, state="active",
                          due_at=due_at, created_at=now, deadline_at=max(deadline, now),
                          urgent=False, actor=actor, details=details)
        session.add(release)
    else:
        release = existing
        release.state, release.hold_reason, release.details = "active", None, details
        release.deadline_at = max(deadline, now + timedelta(
            hours=app.loaded.retry_deadline_hours(definition_id)))
    release.title = prepared.title
    release.period_label = prepared.period.label_zh if prepared.period else None
    release.index_number = index_number
    for name, value in catalogue(app.loaded.config.releases[definition_id],
                                 INTERPRETATION if key.endswith(f"~{INTERPRETATION}")
                                 else "document").items():
        setattr(release, name, value)
    release.signed_date = prepared.signed_date
    session.flush()
    audit.append(session, at=now, actor=actor, action="release.created", subject=f"release:{key}",
                 details={"release_id": release.id, "origin": origin, "title": prepared.title,
                          "channels": sorted(prepared.payloads), **details})
    record_deliveries(session, release, prepared.payloads, actor=actor, now=now)
    required = app.loaded.config.releases[definition_id].review == "required"
    if required or prepared.needs_review:
        from publisher import review  # never "active" before an approver says so

        if not required:  # sent to an approver by its content: it may be approved late
            release.details = {**release.details, "content_review": True}
        review.await_approval(session, app, release, actor=actor, now=now)
    return release


def record_deliveries(session: Session, release: Release, payloads: Mapping[str, Payload], *,
                      actor: str, now: datetime) -> None:
    """One pending delivery per payload, keyed by (release key, channel), each audited."""
    for name, payload in payloads.items():
        add_delivery(session, release, name, payload, actor=actor, now=now)


def add_delivery(session: Session, release: Release, name: str, payload: Payload, *,
                 actor: str, now: datetime, action: str = "send", target_id: int | None = None,
                 drill: bool = False) -> Delivery:
    """Record one pending delivery and audit it; a follow-up or retraction of an earlier
    delivery (``target_id``) has a key of its own, derived like every other."""
    scope = name if action == "send" else f"{name}\x1f{action}\x1f{target_id}"
    delivery = Delivery(
        release_id=release.id, channel=name, kind=payload.kind, state="pending",
        action=action, target_id=target_id, drill=drill,
        idempotency_key=idempotency_key(release.key, scope), urgent=release.urgent,
        payload=payload.to_json(), claims=0, attempts=0, next_attempt_at=now,
        created_at=now, updated_at=now,
    )
    session.add(delivery)
    session.flush()
    details: dict[str, Any] = {"release": release.key, "channel": name, "urgent": release.urgent}
    if action != "send":
        details |= {"action": action, "target": target_id}
    if drill:
        details["drill"] = True
    audit.append(session, at=now, actor=actor, action="delivery.pending",
                 subject=f"delivery:{delivery.id}", details=details)
    return delivery


def _hold(app: App, definition_id: str, key: str, due_at: datetime, now: datetime, actor: str,
          origin: str, problems: list[str], findings: list[Finding] | None = None) -> Outcome:
    from publisher.alert import alert

    with app.store.write() as session:
        release = session.execute(select(Release).where(Release.key == key)).scalar_one_or_none()
        if release is None:
            release = Release(key=key, definition_id=definition_id, origin=origin, state="held",
                              due_at=due_at, created_at=now, deadline_at=now, urgent=False,
                              actor=actor, details={},
                              **catalogue(app.loaded.config.releases[definition_id]))
            session.add(release)
        release.state = "held"
        release.hold_reason = {"problems": problems, "at": now.isoformat()}
        audited: dict[str, Any] = {"problems": problems}
        if findings:
            release.hold_reason["findings"] = [f.to_json() for f in findings]
            audited["findings_summary"] = summary(findings)
        session.flush()
        audit.append(session, at=now, actor=actor, action="release.held",
                     subject=f"release:{key}", details=audited)
        release_id = release.id
    alert(app, "release.held", f"发布已暂停：{key}", f"release held: {key}",
          problems=problems, release_id=release_id)
    return Outcome(release_id, key, "held", False, tuple(problems))
