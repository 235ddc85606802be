"""Review before publishing: releases awaiting an approver, approval, rejection, and the due-time hold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher import audit
from publisher.alert import alert
from publisher.app import App
from publisher.errors import PublisherError
from publisher.logs import get_logger
from publisher.store.models import Delivery, Release

log = get_logger(__name__)

AWAITING = "awaiting_approval"  # rendered and prepared; its deliveries wait, unclaimable
REJECTED = "rejected"  # an approver said no: never published
APPROVED = "active"  # the ordinary state: deliveries go out at their due time
UNAPPROVED = "截至发布时间未获审核 / not approved by the due time"
_PART = "~"  # "key~interpretation": the 解读 approved, rejected and held with its document


class ReviewRefused(PublisherError):
    """A review action that may not happen; ``code`` says why, in words for staff in zh and en."""

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        self.code = code  # not_found | own_release | not_awaiting | past_due | no_reason
        self.message_zh = message_zh
        self.message_en = message_en
        super().__init__(f"{message_zh} / {message_en}")


@dataclass(frozen=True)
class Awaiting:
    """A release waiting for an approver, as a list or an approval page shows it."""

    release_id: int
    key: str
    definition_id: str
    title: str | None
    due_at: datetime
    created_at: datetime
    author: str  # who created it ("scheduler" for scheduled runs); may not approve it
    origin: str
    channels: tuple[str, ...]
    parts: tuple[str, ...]  # keys approved together: the release and its interpretation, if any
    overdue: bool  # its due time passed: it can no longer be approved, only held


@dataclass(frozen=True)
class Decision:
    """What an approval or a rejection did: the release (and its paired part) and its new state."""

    release_id: int
    key: str
    state: str  # active (approved) | rejected
    actor: str
    at: datetime
    due_at: datetime  # when an approved release goes out
    parts: tuple[str, ...]


def required(app: App, definition_id: str) -> bool:
    """Whether releases of ``definition_id`` wait for an approver before they publish."""
    definition = app.loaded.config.releases.get(definition_id)
    return definition is not None and definition.review == "required"


def lead(app: App, definition_id: str) -> timedelta:
    """How long before its due time a release of ``definition_id`` is rendered for review."""
    return timedelta(minutes=app.loaded.config.releases[definition_id].review_lead_minutes)


def manual_due(app: App, definition_id: str, now: datetime) -> datetime:
    """The due time of a release staff create now: now, or after the review lead when it
    needs review (so an approver has that long to approve it)."""
    return now + lead(app, definition_id) if required(app, definition_id) else now


def same_person(actor: str, author: str) -> bool:
    """Whether two actor names are one person: compared after their channel prefix
    (``staff:wang``, ``console:wang``), case-insensitively, so a second way in is no way round
    the rule (it refuses rather more than less)."""
    def who(name: str) -> str:
        return name.partition(":")[2].strip().lower() if ":" in name else name.strip().lower()

    return bool(who(actor)) and who(actor) == who(author)


def authors(release: Release) -> set[str]:
    """Who made this release's content: its creator, and whoever last rendered it."""
    named = {release.actor, str((release.details or {}).get("review_author") or "")}
    return {name for name in named if name}


def await_approval(session: Session, app: App, release: Release, *, actor: str, now: datetime
                   ) -> None:
    """Put a just-recorded release (and its deliveries) in waiting for an approver: the
    deliveries stay pending for the due time, and no dispatcher claims them until approval.
    Called inside the transaction that recorded them."""
    release.state = AWAITING
    release.details = {**(release.details or {}), "review_author": actor}
    local_due = release.due_at.astimezone(app.loaded.zone)
    for delivery in session.execute(select(Delivery).where(
            Delivery.release_id == release.id)).scalars():
        delivery.next_attempt_at = release.due_at
        delivery.reason = (f"待审核，须在 {local_due:%m-%d %H:%M} 前审核 / awaiting approval "
                           f"before {local_due:%m-%d %H:%M}")
    session.flush()
    audit.append(session, at=now, actor=actor, action="release.awaiting_approval",
                 subject=f"release:{release.key}",
                 details={"release_id": release.id, "due_at": release.due_at.isoformat()})


def late_allowed(release: Release) -> bool:
    """A release sent to an approver by the content checks (a ``review`` finding), not by its
    definition: it may be approved after its due time, and then goes out at once."""
    return bool((release.details or {}).get("content_review"))


def awaiting(app: App) -> list[Awaiting]:
    """Every release awaiting approval, soonest due first (an interpretation is listed under
    its document)."""
    now = app.clock.now()
    with app.store.read() as session:
        rows = list(session.execute(select(Release).where(Release.state == AWAITING)
                                    .order_by(Release.due_at, Release.id)).scalars())
        channels: dict[int, list[str]] = {}
        for release_id, name in session.execute(
                select(Delivery.release_id, Delivery.channel)
                .where(Delivery.release_id.in_([r.id for r in rows]))
                .order_by(Delivery.channel)):
            channels.setdefault(release_id, []).append(name)
    keys = {r.key for r in rows}
    items = []
    for row in rows:
        document, _, part = row.key.partition(_PART)
        if part and document in keys:
            continue
        parts = tuple(k for k in (row.key, f"{row.key}{_PART}interpretation") if k in keys)
        items.append(Awaiting(
            release_id=row.id, key=row.key, definition_id=row.definition_id, title=row.title,
            due_at=row.due_at, created_at=row.created_at, author=row.actor,
            origin=row.origin, channels=tuple(channels.get(row.id, ())), parts=parts,
            overdue=row.due_at <= now and not late_allowed(row)))
    return items


def approve(app: App, release: int | str, *, actor: str) -> Decision:
    """Approve a release awaiting approval (by id or key): it becomes active and its
    deliveries go out at its due time; its interpretation, if any, is approved with it.

    Raises ReviewRefused when ``actor`` made the release, when it is not awaiting approval,
    or when its due time has passed (it is then held, as the due-time check would).
    """
    now = app.clock.now()
    refusal: ReviewRefused | None = None
    held: list[Release] = []
    with app.store.write() as session:
        rows = _pair(session, release)
        row = rows[0]
        refusal = _not_awaiting(row)
        if refusal is None and any(same_person(actor, name) for r in rows for name in authors(r)):
            refusal = ReviewRefused(
                "own_release", f"不能审核自己创建的发布：{row.key}",
                f"an approver cannot approve their own release: {row.key}")
        if refusal is None and row.due_at <= now and not late_allowed(row):
            held = _hold_in(session, rows, now, actor=actor)
            refusal = ReviewRefused(
                "past_due", f"已过发布时间，不能再审核，发布已暂停；如仍需发布请重新触发：{row.key}",
                f"its due time has passed: it can no longer be approved and is held; trigger "
                f"it again to publish: {row.key}")
        if refusal is None:
            for part in rows:
                part.state = APPROVED
                part.details = {**(part.details or {}), "approved_by": actor,
                                "approved_at": now.isoformat()}
                if late_allowed(part):  # due already: it goes out now, with its full deadline
                    part.deadline_at = max(part.deadline_at, now + (part.deadline_at - part.due_at))
                for delivery in _deliveries(session, part):
                    delivery.reason = f"已审核 / approved by {actor}"
                    delivery.updated_at = now
                audit.append(session, at=now, actor=actor, action="release.approved",
                             subject=f"release:{part.key}",
                             details={"release_id": part.id, "due_at": part.due_at.isoformat(),
                                      "author": part.actor})
            decision = Decision(row.id, row.key, APPROVED, actor, now, row.due_at,
                                tuple(r.key for r in rows))
    _alert_held(app, held)
    if refusal is not None:
        log.warning("review.refused", release=str(release), actor=actor, reason=refusal.code)
        raise refusal
    log.info("release.approved", key=decision.key, actor=actor)
    return decision


def reject(app: App, release: int | str, *, actor: str, reason: str) -> Decision:
    """Reject a release awaiting approval: it never publishes, and its deliveries (and its
    interpretation's) are marked failed with ``reason``. Raises ReviewRefused when it is not
    awaiting approval or no reason is given."""
    reason = reason.strip()
    if not reason:
        raise ReviewRefused("no_reason", "驳回须说明理由", "a rejection needs a reason")
    now = app.clock.now()
    with app.store.write() as session:
        rows = _pair(session, release)
        row = rows[0]
        refusal = _not_awaiting(row)
        if refusal is None:
            text = f"审核未通过 / rejected by {actor}: {reason}"
            for part in rows:
                part.state = REJECTED
                part.hold_reason = {"problems": [text], "at": now.isoformat(), "rejected": True}
                part.details = {**(part.details or {}), "rejected_by": actor,
                                "rejected_at": now.isoformat(), "rejected_reason": reason}
                _fail_deliveries(session, part, text, now, actor=actor)
                audit.append(session, at=now, actor=actor, action="release.rejected",
                             subject=f"release:{part.key}",
                             details={"release_id": part.id, "reason": reason})
    if refusal is not None:
        raise refusal
    log.info("release.rejected", key=row.key, actor=actor)
    return Decision(row.id, row.key, REJECTED, actor, now, row.due_at, tuple(r.key for r in rows))


def hold_unapproved(app: App, *, actor: str = "scheduler") -> list[str]:
    """Hold every release still awaiting approval at its due time, fail its deliveries (so
    nothing can publish it later) and alert staff; returns the keys held. Safe to run often
    and from several processes: each release is held once."""
    now = app.clock.now()
    with app.store.read() as session:
        ids = [row.id for row in session.execute(select(Release).where(
            Release.state == AWAITING, Release.due_at <= now).order_by(Release.id)).scalars()
            if not late_allowed(row)]
    held: list[Release] = []
    for release_id in ids:
        with app.store.write() as session:
            row = session.execute(select(Release).where(Release.id == release_id)
                                  .with_for_update()).scalar_one_or_none()
            if row is not None and row.state == AWAITING and row.due_at <= now:
                held += _hold_in(session, [row], now, actor=actor)
    _alert_held(app, held)
    return [r.key for r in held]


# --------------------------------------------------------------------------- helpers


def _pair(session: Session, release: int | str) -> list[Release]:
    """The named release (locked) and the other part published with it, document first."""
    where = Release.id == int(release) if isinstance(release, int) or str(release).isdigit() \
        else Release.key == str(release)
    row = session.execute(select(Release).where(where).with_for_update()).scalar_one_or_none()
    if row is None:
        raise ReviewRefused("not_found", f"没有这个发布：{release}", f"no such release: {release}")
    document, _, part = row.key.partition(_PART)
    other_key = document if part else f"{document}{_PART}interpretation"
    other = session.execute(select(Release).where(Release.key == other_key)
                            .with_for_update()).scalar_one_or_none()
    if other is None or other.state != row.state:
        return [row]
    return [other, row] if part else [row, other]


def _not_awaiting(row: Release) -> ReviewRefused | None:
    if row.state == AWAITING:
        return None
    if row.state == "held" and (row.hold_reason or {}).get("unapproved"):
        return ReviewRefused(
            "not_awaiting",
            f"发布已因截至发布时间未获审核而暂停，不能再审核；如仍需发布请重新触发：{row.key}",
            f"release {row.key} was held, not approved by its due time; it can no longer be "
            "approved: trigger it again to publish")
    return ReviewRefused(
        "not_awaiting", f"发布 {row.key} 状态为 {row.state}，不在待审核状态",
        f"release {row.key} is {row.state}, not awaiting approval")


def _deliveries(session: Session, release: Release) -> Sequence[Delivery]:
    return session.execute(select(Delivery).where(Delivery.release_id == release.id)
                           .order_by(Delivery.id)).scalars().all()


def _fail_deliveries(session: Session, release: Release, reason: str, now: datetime, *,
                     actor: str) -> None:
    """Every delivery not yet sent ends failed with ``reason``: none can go out later."""
    for delivery in _deliveries(session, release):
        if delivery.state not in ("pending", "retry_wait"):
            continue
        delivery.state, delivery.reason = "failed", reason
        delivery.next_attempt_at, delivery.updated_at = None, now
        audit.append(session, at=now, actor=actor, action="delivery.failed",
                     subject=f"delivery:{delivery.id}",
                     details={"channel": delivery.channel, "reason": reason})


def _hold_in(session: Session, rows: list[Release], now: datetime, *, actor: str
             ) -> list[Release]:
    """Hold releases not approved by their due time, inside the caller's transaction."""
    for row in rows:
        row.state = "held"
        row.hold_reason = {"problems": [UNAPPROVED], "at": now.isoformat(), "unapproved": True}
        _fail_deliveries(session, row, UNAPPROVED, now, actor=actor)
        audit.append(session, at=now, actor=actor, action="release.held",
                     subject=f"release:{row.key}",
                     details={"release_id": row.id, "problems": [UNAPPROVED],
                              "due_at": row.due_at.isoformat()})
    return rows


def _alert_held(app: App, held: list[Release]) -> None:
    for row in held:
        if _PART in row.key:  # its document's alert says it
            continue
        log.warning("release.unapproved", key=row.key)
        alert(app, "release.unapproved", f"截至发布时间未获审核，发布已暂停：{row.key}",
              f"release not approved by its due time, held: {row.key}", release_id=row.id,
              due_at=row.due_at.isoformat())
