"""Signing in and out of the console: the lock-out after failed attempts, sessions, the audit trail."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from publisher import audit
from publisher.app import App
from publisher.logs import get_logger
from publisher.store.models import SignInFailure
from publisher.web import session as sessions
from publisher.web.account import Account, SignInRefused, normal_name, verify_password

log = get_logger("publisher.web")

LOCK_WINDOW = timedelta(minutes=15)
# this many failures within LOCK_WINDOW lock a name (or a client address) for LOCK_WINDOW after
# the last of them; a client gets more, since staff behind one proxy or NAT share an address
NAME_FAILURES = 5
CLIENT_FAILURES = 20
KEEP_FAILURES = timedelta(days=1)
MAX_CLIENT_CHARS = 64
ANONYMOUS = "anonymous"  # who tried a failed sign-in: nobody we know
UNKNOWN_SUBJECT = "account:?"  # an unknown name is not recorded: it may be a mistyped password
SIGN_IN_LOCK = 0x5349474E  # PostgreSQL advisory lock key ("SIGN") serialising lock-out checks


class SignInLocked(Exception):
    """Too many failed sign-ins for this name or from this client; ``until`` when it may retry."""

    def __init__(self, until: datetime) -> None:
        self.until = until
        super().__init__(f"locked until {until.isoformat()}")


@dataclass(frozen=True)
class Started:
    """A successful sign-in: the account and the token for its cookie."""

    account: Account
    token: str


def name_key(name: str) -> str:
    """How a typed name is kept in the failure table: its SHA-256 (it may be a password)."""
    return hashlib.sha256(normal_name(name).encode("utf-8")).hexdigest()


def _locked_until(times: list[datetime], threshold: int) -> datetime | None:
    """When a lock from these failure times (newest first) ends, if ``threshold`` of them lie
    within one window."""
    if len(times) < threshold or times[0] - times[threshold - 1] > LOCK_WINDOW:
        return None
    return times[0] + LOCK_WINDOW


def _times(session: Session, column: Any, value: str, limit: int,
           up_to: int | None = None) -> list[datetime]:
    """The newest ``limit`` failure times where ``column`` is ``value`` (rows up to id
    ``up_to`` only, if given), newest first."""
    query = select(SignInFailure.at).where(column == value)
    if up_to is not None:
        query = query.where(SignInFailure.id <= up_to)
    return list(session.execute(query.order_by(SignInFailure.at.desc(), SignInFailure.id.desc())
                                .limit(limit)).scalars())


def _lock_in(session: Session, key: str, client: str, now: datetime) -> datetime | None:
    ends = [until for until in (
        _locked_until(_times(session, SignInFailure.name, key, NAME_FAILURES), NAME_FAILURES),
        _locked_until(_times(session, SignInFailure.client, client, CLIENT_FAILURES),
                      CLIENT_FAILURES))
        if until is not None and until > now]
    return max(ends) if ends else None


def locked_until(app: App, name: str, client: str) -> datetime | None:
    """When the lock on this name or client ends, or None if neither is locked now."""
    with app.store.read() as session:
        return _lock_in(session, name_key(name), client[:MAX_CLIENT_CHARS], app.clock.now())


def _serialise(session: Session) -> None:
    """Make the caller's transaction the only one counting or recording failures until it ends:
    SQLite's write transactions already are (BEGIN IMMEDIATE); PostgreSQL takes a transaction
    advisory lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SIGN_IN_LOCK})


def _reserve(app: App, name: str, client: str) -> int:
    """Count an attempt as a failure before its password is checked, in the same transaction as
    the lock check: parallel attempts cannot all pass the check before any is recorded (each
    sees the ones before it). Raises SignInLocked; else the id of the recorded row, deleted
    again if the password is right."""
    now = app.clock.now()
    with app.store.write() as session:
        _serialise(session)
        session.execute(delete(SignInFailure).where(SignInFailure.at < now - KEEP_FAILURES))
        until = _lock_in(session, name_key(name), client, now)
        if until is None:
            row = SignInFailure(name=name_key(name), client=client, at=now)
            session.add(row)
            session.flush()
            return row.id
    # not audited each time: the lock itself is, and a flood must not grow the chain
    log.warning("console.sign_in_while_locked", client=client, until=until.isoformat())
    raise SignInLocked(until)


def _release(app: App, reserved: int) -> None:
    """Take back a reservation whose check did not end in a refusal (an unexpected error)."""
    with contextlib.suppress(Exception), app.store.write() as session:
        session.execute(delete(SignInFailure).where(SignInFailure.id == reserved))


def _completes_lock(session: Session, column: Any, value: str, threshold: int,
                    reserved: int) -> bool:
    """Whether the failure ``reserved`` is the one that brings ``column`` = ``value`` to
    ``threshold`` failures within one window (so its lock is audited once, not per failure)."""
    times = _times(session, column, value, threshold, up_to=reserved)
    return _locked_until(times, threshold) is not None and \
        _locked_until(_times(session, column, value, threshold, up_to=reserved - 1),
                      threshold) is None


def _refused(app: App, name: str, client: str, exc: SignInRefused, reserved: int, *,
             actor: str = ANONYMOUS) -> None:
    """Audit a failure (its row was recorded by ``_reserve``), and the lock it starts, if it
    does."""
    now = app.clock.now()
    subject = f"account:{exc.account.name}" if exc.account else UNKNOWN_SUBJECT
    until: datetime | None = None
    with app.store.write() as session:
        _serialise(session)
        audit.append(session, at=now, actor=actor, action="account.sign_in_failed",
                     subject=subject, details={"reason": exc.reason, "client": client})
        key = name_key(name)
        if _completes_lock(session, SignInFailure.name, key, NAME_FAILURES, reserved) or \
                _completes_lock(session, SignInFailure.client, client, CLIENT_FAILURES, reserved):
            until = _lock_in(session, key, client, now)
            if until is not None:
                audit.append(session, at=now, actor="system", action="account.sign_in_locked",
                             subject=subject,
                             details={"client": client, "until": until.isoformat()})
    log.warning("console.sign_in_failed", subject=subject, reason=exc.reason, client=client)
    if until is not None:
        log.warning("console.sign_in_locked", subject=subject, client=client,
                    until=until.isoformat())


def _checked(app: App, name: str, password: str, client: str, *, actor: str = ANONYMOUS
             ) -> tuple[Account, int]:
    """Reserve an attempt, then verify the password: the account and the reservation's id, or
    SignInLocked / SignInRefused (the failure audited)."""
    reserved = _reserve(app, name, client)
    try:
        account = verify_password(app, name, password)
    except SignInRefused as exc:
        _refused(app, name, client, exc, reserved, actor=actor)
        raise
    except BaseException:
        _release(app, reserved)
        raise
    return account, reserved


def sign_in(app: App, name: str, password: str, *, client: str, user_agent: str = "") -> Started:
    """Check the lock, then the password; start a session. Raises SignInLocked or SignInRefused;
    every outcome is audited, no secret with it. Blocking (argon2, the database): the web
    server calls it in a worker thread (``gate``)."""
    client = (client or "unknown")[:MAX_CLIENT_CHARS]
    account, _reserved = _checked(app, name, password, client)
    token = sessions.start(app, account, user_agent=user_agent)
    now = app.clock.now()
    with app.store.write() as session:
        # a success clears the name's failures, this attempt's reservation with them
        session.execute(delete(SignInFailure).where(SignInFailure.name == name_key(name)))
        audit.append(session, at=now, actor=account.actor, action="account.signed_in",
                     subject=f"account:{account.name}", details={"client": client})
    log.info("console.signed_in", account=account.name, client=client)
    return Started(account, token)


def confirm_password(app: App, account: Account, password: str, *, client: str) -> None:
    """Ask a signed-in account for its password again (before changing it): the same lock-out
    and audit as signing in, so a borrowed session cannot guess it, not even with parallel
    requests. Raises like ``sign_in``."""
    client = (client or "unknown")[:MAX_CLIENT_CHARS]
    _account, reserved = _checked(app, account.name, password, client, actor=account.actor)
    with app.store.write() as session:
        session.execute(delete(SignInFailure).where(SignInFailure.id == reserved))


def sign_out(app: App, token: str | None, account: Account, *, client: str) -> None:
    """End the session of ``token`` and audit it."""
    if not sessions.end(app, token):
        return
    now = app.clock.now()
    with app.store.write() as session:
        audit.append(session, at=now, actor=account.actor, action="account.signed_out",
                     subject=f"account:{account.name}",
                     details={"client": client[:MAX_CLIENT_CHARS]})
    log.info("console.signed_out", account=account.name, client=client)
