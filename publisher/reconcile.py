"""Reconcile before resend: ask a channel whether a delivery whose outcome is unknown landed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from channels.base import Channel, ChannelError, NotSupported, Payload, Receipt
from publisher import audit
from publisher.alert import alert
from publisher.app import App
from publisher.logs import bound, get_logger
from publisher.store.models import Delivery

log = get_logger(__name__)

FIRST_LOOK_SECONDS = 5.0  # after a lost answer the channel is first asked this soon (or at settle)

LOST_ANSWER = ("请求已发出但未收到应答，先向渠道核实再决定是否重发 / the request left but no answer "
               "came; the channel is asked before any resend")
LANDED = "核实：此前的请求已送达 / confirmed: the earlier request had landed"
NOT_YET = ("核实：渠道上尚未找到，{at} 后再核实，之后才重发 / not found on the channel yet; "
           "looking again at {at} before any resend")
LOOKING = "正在向渠道核实此前的请求 / still checking with the channel whether the earlier request landed"
UNKNOWABLE = ("此前的请求结果不明，渠道无法核实，请人工确认 / the outcome of an earlier request is "
              "unknown and the channel cannot tell; a person must check ({error})")
PAST_DEADLINE = ("此前的请求结果不明且已到截止时间，请人工确认 / an earlier request's outcome is "
                 "unknown and the deadline passed; a person must check")


@dataclass(frozen=True)
class Verdict:
    """What the channel said: ``landed`` (with its receipt), ``absent``, ``later`` (a job
    still running, or the look itself failed: ``error``) or ``unknowable`` (it cannot tell)."""

    outcome: str
    receipt: Receipt | None = None
    error: ChannelError | None = None


def look(channel: Channel[Any], delivery: Delivery) -> Verdict:
    """Follow the delivery's stored job if it has one, else ask ``find``."""
    stored = Receipt.from_json(delivery.receipt) if delivery.receipt else None
    try:
        if stored is not None and stored.pending:
            found: Receipt | None = channel.status(stored)
            if found is not None and found.pending:
                return Verdict("later")
        else:
            found = channel.find(delivery.idempotency_key, Payload.from_json(delivery.payload))
    except NotSupported as exc:
        return Verdict("unknowable", error=exc)
    except ChannelError as exc:
        return Verdict("later", error=exc)
    return Verdict("landed", found) if found is not None else Verdict("absent")


def settle_seconds(channel: Channel[Any], delivery: Delivery) -> float:
    """The channel's settle time for this delivery (how long a lost request may still land)."""
    return channel.settle_seconds(Payload.from_json(delivery.payload), delivery.idempotency_key)


def settled_at(channel: Channel[Any], delivery: Delivery) -> datetime:
    """When nothing sent before ``unconfirmed_at`` can still land: a resend is safe after it."""
    assert delivery.unconfirmed_at is not None
    return delivery.unconfirmed_at + timedelta(seconds=settle_seconds(channel, delivery))


def first_look(channel: Channel[Any], delivery: Delivery, now: datetime) -> datetime:
    """When to ask the channel first after a lost answer: soon, and no later than settled."""
    return now + timedelta(seconds=min(settle_seconds(channel, delivery), FIRST_LOOK_SECONDS))


def duplicates(receipt: Receipt | None) -> list[dict[str, Any]]:
    """The copies the channel found and removed (``Receipt.details["duplicates"]``)."""
    found = (receipt.details.get("duplicates") if receipt is not None else None) or []
    return [dict(item) for item in found if isinstance(item, dict)]


def duplicates_note(receipt: Receipt | None) -> str | None:
    """A sentence for staff naming the removed copies and the one kept, or None."""
    found = duplicates(receipt)
    if receipt is None or not found:
        return None
    # a copy the remote refused to remove (``status: delete_refused``) must go by hand
    left = [item for item in found if item.get("status") == "delete_refused"]
    removed = [item for item in found if item not in left]
    parts_zh, parts_en = [], []
    if removed:
        ids = "、".join(str(item.get("remote_id")) for item in removed)
        ids_en = ", ".join(str(item.get("remote_id")) for item in removed)
        parts_zh.append(f"发现重复发布 {len(removed)} 份（{ids}），已撤下")
        parts_en.append(f"{len(removed)} duplicate(s) found ({ids_en}) and removed")
    if left:
        ids = "、".join(str(item.get("remote_id")) for item in left)
        ids_en = ", ".join(str(item.get("remote_id")) for item in left)
        parts_zh.append(f"重复发布 {len(left)} 份（{ids}）渠道拒绝撤下，请人工删除")
        parts_en.append(f"{len(left)} duplicate(s) ({ids_en}) the channel refused to remove: "
                        "delete by hand")
    return (f"{'；'.join(parts_zh)}，保留 {receipt.remote_id} / {'; '.join(parts_en)}; kept "
            f"{receipt.remote_id}")


def alert_duplicates(app: App, delivery: Delivery, receipt: Receipt | None) -> None:
    """Tell staff (log and alert) that a duplicate was found and removed, if one was."""
    note = duplicates_note(receipt)
    if note is None:
        return
    log.warning("delivery.duplicates_removed", delivery_id=delivery.id,
                duplicates=duplicates(receipt))
    alert(app, "delivery.duplicate", f"发现重复发布并已撤下：{delivery.channel}",
          f"a duplicate post was found and removed: {delivery.channel}",
          delivery_id=delivery.id, reason=note)


# --------------------------------------------------------------------------- a late copy


def recheck(app: App, *, actor: str) -> int:
    """Look once more at deliveries published by a resend after a lost answer, once the
    channel's settle time has passed since: a copy that landed late is removed by the channel
    (it keeps one) and recorded (``delivery.duplicate_removed``). Returns how many were looked
    at; the daemon runs this beside its crash recovery."""
    now = app.clock.now()
    with app.store.read() as session:
        rows = list(session.execute(select(Delivery).where(
            Delivery.state == "published", Delivery.unconfirmed_at.is_not(None))).scalars())
    looked = 0
    for row in rows:
        with bound(delivery_id=row.id, channel=row.channel):
            looked += _recheck(app, row, now, actor)
    return looked


def _recheck(app: App, delivery: Delivery, now: datetime, actor: str) -> bool:
    try:
        channel = app.channel(delivery.channel, drill=delivery.drill)
    except ChannelError:
        return False
    if now < settled_at(channel, delivery):
        return False
    verdict = look(channel, delivery)
    if verdict.outcome == "later":
        return False
    note = duplicates_note(verdict.receipt)
    with app.store.write() as session:
        row = session.get(Delivery, delivery.id)
        if row is None or row.state != "published" or \
                row.unconfirmed_at != delivery.unconfirmed_at:
            return False
        row.unconfirmed_at = None
        if note is not None and verdict.receipt is not None:
            row.receipt, row.updated_at = verdict.receipt.to_json(), now
            row.reason = f"{row.reason}；{note}" if row.reason else note
            audit.append(session, at=now, actor=actor, action="delivery.duplicate_removed",
                         subject=f"delivery:{row.id}", details={
                             "channel": row.channel, "reason": note,
                             "kept": {"remote_id": verdict.receipt.remote_id,
                                      "url": verdict.receipt.url},
                             "duplicates": duplicates(verdict.receipt)})
    log.info("delivery.rechecked", duplicates=len(duplicates(verdict.receipt)))
    alert_duplicates(app, delivery, verdict.receipt)
    return True
