"""Console sessions: a random token in the cookie, its SHA-256 in the database, sliding expiry, CSRF."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from publisher.app import App
from publisher.store.models import Account as AccountRow
from publisher.store.models import ConsoleSession
from publisher.web.account import Account, account_of

COOKIE = "pub_session"
MAX_TOKEN_CHARS = 100  # longer cookie values are refused without hashing
MAX_USER_AGENT_CHARS = 120
SEEN_STEP = timedelta(minutes=1)  # last_seen_at and the expiry move at most once a minute
_CSRF_CONTEXT = b"publisher console csrf v1"


@dataclass(frozen=True)
class SignedIn:
    """A live session and its account; ``csrf_token`` goes into every form of its pages."""

    id: str  # the SHA-256 of the cookie's token, as stored
    account: Account
    created_at: datetime
    expires_at: datetime
    csrf_token: str


def session_id(token: str) -> str:
    """The stored id of a session token: its SHA-256 as hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(token: str) -> str:
    """The CSRF token of a session: an HMAC keyed with the cookie's token, so it is never stored,
    differs per session, and reveals nothing of the cookie."""
    return hmac.new(token.encode("utf-8"), _CSRF_CONTEXT, hashlib.sha256).hexdigest()


def csrf_matches(expected: str, given: str | None) -> bool:
    """Whether a form's ``csrf_token`` is the expected one (compared in constant time)."""
    return bool(given) and hmac.compare_digest(expected.encode("utf-8"),
                                               str(given).encode("utf-8"))


def lifetime(app: App) -> timedelta:
    """How long a session lives without a request (config ``web.session_hours``)."""
    return timedelta(hours=app.loaded.config.web.session_hours)


def start(app: App, account: Account, *, user_agent: str = "") -> str:
    """Open a session for ``account``; returns the token for the cookie (never stored)."""
    token = secrets.token_urlsafe(32)
    now = app.clock.now()
    with app.store.write() as session:
        session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at <= now))
        session.add(ConsoleSession(id=session_id(token), account_id=account.id, created_at=now,
                                   expires_at=now + lifetime(app), last_seen_at=now,
                                   user_agent=user_agent[:MAX_USER_AGENT_CHARS]))
        row = session.get(AccountRow, account.id)
        if row is not None:
            row.last_sign_in_at = now
    return token


def look_up(app: App, token: str | None) -> SignedIn | None:
    """The live session of a cookie's token, its expiry moved on; None if unknown, expired or its
    account is disabled."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    wanted = session_id(token)
    now = app.clock.now()
    with app.store.read() as session:
        found = session.execute(
            select(ConsoleSession, AccountRow).join(AccountRow,
                                                    AccountRow.id == ConsoleSession.account_id)
            .where(ConsoleSession.id == wanted)).first()
    if found is None:
        return None
    row, account_row = found
    if row.expires_at <= now or account_row.disabled_at is not None:
        with app.store.write() as session:
            session.execute(delete(ConsoleSession).where(ConsoleSession.id == wanted))
        return None
    expires_at = row.expires_at
    if now - row.last_seen_at >= SEEN_STEP:
        expires_at = now + lifetime(app)
        with app.store.write() as session:
            fresh = session.get(ConsoleSession, wanted)
            if fresh is not None:
                fresh.last_seen_at, fresh.expires_at = now, expires_at
    return SignedIn(wanted, account_of(account_row), row.created_at, expires_at, csrf_token(token))


def end(app: App, token: str | None) -> bool:
    """End the session of a cookie's token; whether there was one."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return False
    with app.store.write() as session:
        result = session.execute(delete(ConsoleSession).where(ConsoleSession.id == session_id(token)))
    return bool(getattr(result, "rowcount", 0))
