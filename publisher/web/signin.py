"""Signing in and out of the console: the lock-out after failed attempts, sessions, the audit trail."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

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


def locked_until(app: App, name: str, client: str) -> datetime | None:
    """When the lock on this name or client ends, or None if neither is locked now."""
    now = app.clock.now()
    client = client[:MAX_CLIENT_CHARS]
    with app.store.read() as session:
        by_name = list(session.execute(
            select(SignInFailure.at).where(SignInFailure.name == name_key(name))
            .order_by(SignInFailure.at.desc()).limit(NAME_FAILURES)).scalars())
        by_client = list(session.execute(
            select(SignInFailure.at).where(SignInFailure.client == client)
            .order_by(SignInFailure.at.desc()).limit(CLIENT_FAILURES)).scalars())
    ends = [until for until in (_locked_until(by_name, NAME_FAILURES),
                                _locked_until(by_client, CLIENT_FAILURES))
            if until is not None and until > now]
    return max(ends) if ends else None


def _refused(app: App, name: str, client: str, exc: SignInRefused, *,
             actor: str = ANONYMOUS) -> None:
    """Record a failure (table and audit chain), and the lock it starts, if it does."""
    now = app.clock.now()
    subject = f"account:{exc.account.name}" if exc.account else UNKNOWN_SUBJECT
    with app.store.write() as session:
        session.execute(delete(SignInFailure).where(SignInFailure.at < now - KEEP_FAILURES))
        session.add(SignInFailure(name=name_key(name), client=client, at=now))
        audit.append(session, at=now, actor=actor, action="account.sign_in_failed",
                     subject=subject,
                     details={"reason": exc.reason, "client": client})
    log.warning("console.sign_in_failed", subject=subject, reason=exc.reason, client=client)
    until = locked_until(app, name, client)
    if until is not None:
        with app.store.write() as session:
            audit.append(session, at=now, actor="system", action="account.sign_in_locked",
                         subject=subject, details={"client": client, "until": until.isoformat()})
        log.warning("console.sign_in_locked", subject=subject, client=client,
                    until=until.isoformat())


def sign_in(app: App, name: str, password: str, *, client: str, user_agent: str = "") -> Started:
    """Check the lock, then the password; start a session. Raises SignInLocked or SignInRefused;
    every outcome is audited, no secret with it."""
    client = (client or "unknown")[:MAX_CLIENT_CHARS]
    until = locked_until(app, name, client)
    if until is not None:
        # not audited each time: the lock itself is, and a flood must not grow the chain
        log.warning("console.sign_in_while_locked", client=client, until=until.isoformat())
        raise SignInLocked(until)
    try:
        account = verify_password(app, name, password)
    except SignInRefused as exc:
        _refused(app, name, client, exc)
        raise
    token = sessions.start(app, account, user_agent=user_agent)
    now = app.clock.now()
    with app.store.write() as session:
        session.execute(delete(SignInFailure).where(SignInFailure.name == name_key(name)))
        audit.append(session, at=now, actor=account.actor, action="account.signed_in",
                     subject=f"account:{account.name}", details={"client": client})
    log.info("console.signed_in", account=account.name, client=client)
    return Started(account, token)


def confirm_password(app: App, account: Account, password: str, *, client: str) -> None:
    """Ask a signed-in account for its password again (before changing it): the same lock-out
    and audit as signing in, so a borrowed session cannot guess it. Raises like ``sign_in``."""
    client = (client or "unknown")[:MAX_CLIENT_CHARS]
    until = locked_until(app, account.name, client)
    if until is not None:
        log.warning("console.sign_in_while_locked", client=client, until=until.isoformat())
        raise SignInLocked(until)
    try:
        verify_password(app, account.name, password)
    except SignInRefused as exc:
        _refused(app, account.name, client, exc, actor=account.actor)
        raise


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
