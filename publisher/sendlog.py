"""Each account's sends in the database: rate windows that survive restarts and span processes."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from publisher.store import Store
from publisher.store.models import SendRow

KEEP = timedelta(days=8)  # sends older than this are pruned (past every delivery's deadline)


def _lock_key(account: str) -> int:
    """A signed 64-bit number naming ``account`` for PostgreSQL's advisory locks."""
    return int.from_bytes(hashlib.sha256(account.encode()).digest()[:8], "big", signed=True)


class DatabaseSendLog:
    """The SendLog contract (channels/base.py) over the ``send_log`` table.

    ``take`` counts and records inside one write transaction that no other ``take`` of the
    same account can interleave with: SQLite's BEGIN IMMEDIATE serialises every writer, and
    on PostgreSQL a transaction-scoped advisory lock per account does. A crash loop therefore
    meets the same full window after every restart, and two daemons share one.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def take(self, account: str, key: str, now: datetime, *, limit: int,
             window: timedelta) -> datetime | None:
        """Record a send when the window has room, else say when it opens (see SendLog)."""
        with self.store.write() as session:
            self._lock(session, account)
            since = now - window
            inside = (SendRow.account == account, SendRow.sent_at > since)
            count = session.execute(select(func.count(SendRow.id)).where(*inside)).scalar_one()
            if count >= limit:
                oldest = session.execute(select(SendRow.sent_at).where(*inside).order_by(
                    SendRow.sent_at).limit(1)).scalar_one()
                return oldest + window
            session.add(SendRow(account=account, key=key, sent_at=now))
            session.execute(delete(SendRow).where(SendRow.account == account,
                                                  SendRow.sent_at < now - KEEP))
            return None

    def first(self, account: str, key: str) -> datetime | None:
        """The first recorded send of ``key`` (see SendLog)."""
        with self.store.read() as session:
            return session.execute(select(SendRow.sent_at).where(
                SendRow.account == account, SendRow.key == key
            ).order_by(SendRow.sent_at).limit(1)).scalar_one_or_none()

    def _lock(self, session: Session, account: str) -> None:
        if not self.store.is_sqlite:
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                            {"key": _lock_key(account)})
