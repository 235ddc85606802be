"""The tamper-evident audit log: append hash-chained events, verify the chain, export it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from publisher.logs import redact
from publisher.store.models import AuditCheckpoint, AuditEvent, AuditHead

GENESIS = "0" * 64
SYSTEM = "system"


def canonical(seq: int, at: datetime, actor: str, action: str, subject: str,
              details: Mapping[str, Any]) -> str:
    """The exact text hashed for one event: sorted keys, no spaces, UTF-8, microsecond UTC time."""
    return json.dumps(
        {
            "seq": seq,
            "at": at.isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "subject": subject,
            "details": details,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )


def chain_hash(prev_hash: str, text: str) -> str:
    """``sha256(prev_hash + canonical event)`` as hex."""
    return hashlib.sha256((prev_hash + text).encode("utf-8")).hexdigest()


def append(session: Session, *, at: datetime, actor: str, action: str, subject: str,
           details: Mapping[str, Any] | None = None) -> AuditEvent:
    """Append one event inside the caller's write transaction (secrets redacted first)."""
    clean = json.loads(json.dumps(redact(dict(details or {})), default=str))
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    seq = head.seq + 1
    digest = chain_hash(head.hash, canonical(seq, at, actor, action, subject, clean))
    event = AuditEvent(seq=seq, at=at, actor=actor, action=action, subject=subject,
                       details=clean, prev_hash=head.hash, hash=digest)
    session.add(event)
    head.seq, head.hash = seq, digest
    session.flush()
    return event


@dataclass(frozen=True)
class Event:
    """One event to append with ``append_many``."""

    at: datetime
    actor: str
    action: str
    subject: str
    details: Mapping[str, Any]


_EVENTS = cast(Table, AuditEvent.__table__)
_HEAD = cast(Table, AuditHead.__table__)
_HEAD_FOR_UPDATE = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
_INSERT_EVENTS = insert(_EVENTS)
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1)


def append_many(session: Session, events: Sequence[Event]) -> None:
    """Append events in order inside the caller's write transaction, as Core statements (the
    dispatcher's hot path): one locked read of the head, one multi-row insert, one head update.

    Call it last in the transaction, after the state changes it records, so the head's row lock
    (PostgreSQL) is held only until the commit that follows."""
    if not events:
        return
    head = session.execute(_HEAD_FOR_UPDATE).first()
    if head is None:
        session.execute(insert(_HEAD).values(id=1, seq=0, hash=GENESIS))
        seq, prev = 0, GENESIS
    else:
        seq, prev = head.seq, head.hash
    rows = []
    for event in events:
        clean = json.loads(json.dumps(redact(dict(event.details)), default=str))
        seq += 1
        digest = chain_hash(prev, canonical(seq, event.at, event.actor, event.action,
                                            event.subject, clean))
        rows.append({"seq": seq, "at": event.at, "actor": event.actor, "action": event.action,
                     "subject": event.subject, "details": clean, "prev_hash": prev,
                     "hash": digest})
        prev = digest
    session.execute(_INSERT_EVENTS, rows)
    session.execute(_MOVE_HEAD, {"seq": seq, "hash": prev})


@dataclass(frozen=True)
class Verdict:
    """The result of verifying the chain; ``bad_seq`` names the first bad row.

    ``count`` events, 1 to ``count``, are known good (``last_hash`` is the hash of event
    ``count``); ``checked`` of them were recomputed now, those after ``since`` (0: a full check
    from the first event; else the checkpoint the check started from).
    """

    ok: bool
    count: int
    bad_seq: int | None = None
    reason: str | None = None
    checked: int = 0
    since: int = 0
    last_hash: str = GENESIS

    @property
    def full(self) -> bool:
        return self.since == 0

    def describe(self) -> str:
        if self.ok:
            return f"审计链完整 / audit chain intact: {self.count} events"
        return (f"审计链在第 {self.bad_seq} 条被破坏 / audit chain broken at seq "
                f"{self.bad_seq}: {self.reason}")


def events(session: Session, after: int = 0) -> Iterator[AuditEvent]:
    """Every event after seq ``after`` in chain order, streamed."""
    yield from session.execute(
        select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq)
        .execution_options(yield_per=500)
    ).scalars()


def verify(session: Session, *, since: AuditCheckpoint | None = None) -> Verdict:
    """Recompute the chain; report the first edited, deleted, inserted or reordered row.

    With ``since`` (a checkpoint: event ``seq`` had ``hash`` when the chain was last found
    intact) only the events after it are recomputed, after checking that event still carries
    that hash (else the whole chain is); a change before it is left to a full check (without
    ``since``).
    """
    prev_hash, count = GENESIS, 0
    if since is not None and since.seq > 0:
        marked = session.get(AuditEvent, since.seq)
        if marked is None or marked.hash != since.hash:  # the checkpoint says nothing: start over
            return verify(session)
        prev_hash, count = since.hash, since.seq
    start = count
    for event in events(session, after=start):
        if event.seq != count + 1:
            return Verdict(False, count, count + 1,
                           f"row {count + 1} is missing (next row is {event.seq})",
                           checked=count - start, since=start, last_hash=prev_hash)
        if event.prev_hash != prev_hash:
            return Verdict(False, count, event.seq, "prev_hash does not match the row before",
                           checked=count - start, since=start, last_hash=prev_hash)
        text = canonical(event.seq, event.at, event.actor, event.action, event.subject,
                         event.details)
        if chain_hash(prev_hash, text) != event.hash:
            return Verdict(False, count, event.seq, "content does not match its hash",
                           checked=count - start, since=start, last_hash=prev_hash)
        prev_hash, count = event.hash, count + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != count or head.hash != prev_hash):
        return Verdict(False, count, count + 1,
                       f"chain ends at {count} but the head records {head.seq}: rows cut off",
                       checked=count - start, since=start, last_hash=prev_hash)
    return Verdict(True, count, checked=count - start, since=start, last_hash=prev_hash)


def checkpoint(session: Session) -> AuditCheckpoint | None:
    """Where the chain was last found intact, if it was."""
    return session.get(AuditCheckpoint, 1)


def record(session: Session, verdict: Verdict, *, at: datetime) -> None:
    """Keep a verdict's news in the checkpoint (inside the caller's write transaction): an
    intact chain moves it forward to its last event; a break at or before it moves it back to
    the last good event, so that every later view finds the break too."""
    stored = session.execute(
        select(AuditCheckpoint).where(AuditCheckpoint.id == 1).with_for_update()
    ).scalar_one_or_none()
    # an intact verdict vouches for events ``since``+1 to ``count`` only: it may not carry the
    # checkpoint over a break that another check found meanwhile (checkpoint moved back below it)
    covers = verdict.since == 0 or (stored is not None and stored.seq >= verdict.since)
    if verdict.ok and verdict.count > 0 and covers and (stored is None or stored.seq < verdict.count):
        if stored is None:
            session.add(AuditCheckpoint(id=1, seq=verdict.count, hash=verdict.last_hash,
                                        verified_at=at, full=verdict.full))
        else:
            stored.seq, stored.hash, stored.verified_at = verdict.count, verdict.last_hash, at
            stored.full = verdict.full
    elif not verdict.ok and stored is not None and stored.seq > verdict.count:
        if verdict.count == 0:
            session.delete(stored)
        else:
            stored.seq, stored.hash, stored.verified_at = verdict.count, verdict.last_hash, at
            stored.full = verdict.full


def export(session: Session, out: TextIO) -> int:
    """Write the chain as JSON lines (one event a line, with its hashes); returns the count."""
    n = 0
    for event in events(session):
        out.write(json.dumps({
            "seq": event.seq, "at": event.at.isoformat(timespec="microseconds"),
            "actor": event.actor, "action": event.action, "subject": event.subject,
            "details": event.details, "prev_hash": event.prev_hash, "hash": event.hash,
        }, ensure_ascii=False, sort_keys=True) + "\n")
        n += 1
    return n
