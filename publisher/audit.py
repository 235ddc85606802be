"""The tamper-evident audit log: append hash-chained events, verify the chain, export it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.logs import redact
from publisher.store.models import AuditEvent, AuditHead

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
class Verdict:
    """The result of verifying the chain; ``bad_seq`` names the first bad row."""

    ok: bool
    count: int
    bad_seq: int | None = None
    reason: str | None = None

    def describe(self) -> str:
        if self.ok:
            return f"审计链完整 / audit chain intact: {self.count} events"
        return (f"审计链在第 {self.bad_seq} 条被破坏 / audit chain broken at seq "
                f"{self.bad_seq}: {self.reason}")


def events(session: Session) -> Iterator[AuditEvent]:
    """Every event in chain order, streamed."""
    yield from session.execute(
        select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=500)
    ).scalars()


def verify(session: Session) -> Verdict:
    """Recompute the chain; report the first edited, deleted, inserted or reordered row."""
    prev_hash, expected_seq, count = GENESIS, 1, 0
    for event in events(session):
        if event.seq != expected_seq:
            return Verdict(False, count, expected_seq,
                           f"row {expected_seq} is missing (next row is {event.seq})")
        if event.prev_hash != prev_hash:
            return Verdict(False, count, event.seq, "prev_hash does not match the row before")
        text = canonical(event.seq, event.at, event.actor, event.action, event.subject,
                         event.details)
        if chain_hash(prev_hash, text) != event.hash:
            return Verdict(False, count, event.seq, "content does not match its hash")
        prev_hash, expected_seq, count = event.hash, expected_seq + 1, count + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != count or head.hash != prev_hash):
        return Verdict(False, count, count + 1,
                       f"chain ends at {count} but the head records {head.seq}: rows cut off")
    return Verdict(True, count)


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
