"""Staff accounts of the console: argon2 password hashes, roles, disabling; every change audited."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from publisher import audit
from publisher.app import App
from publisher.store.models import Account as AccountRow
from publisher.store.models import ConsoleSession
from publisher.web import role

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")  # the actor is "console:<name>"
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 256  # longer input is refused before hashing
MAX_DISPLAY_NAME_CHARS = 100
# argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile: 64 MiB, 3 passes). A hash
# made with other parameters is replaced by a fresh one at the next successful sign-in.
HASHER = PasswordHasher()


class AccountError(Exception):
    """An account action cannot be done (bad name, role or password, name taken, no such account)."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        self.message_zh, self.message_en = message_zh, message_en
        super().__init__(f"{message_zh} / {message_en}")


class SignInRefused(Exception):
    """A name and password do not sign in; ``reason`` is for the audit chain, never the page."""

    def __init__(self, reason: str, account: Account | None = None) -> None:
        self.reason, self.account = reason, account  # unknown_account | wrong_password | disabled
        super().__init__(reason)


@dataclass(frozen=True)
class Account:
    """What may be shown of an account: never its password or hash."""

    id: int
    name: str
    display_name: str
    roles: tuple[str, ...]
    created_at: datetime
    created_by: str
    password_changed_at: datetime
    disabled_at: datetime | None
    last_sign_in_at: datetime | None
    definitions: tuple[str, ...] = ()  # a supplier's: the only definitions it may act on

    @property
    def actor(self) -> str:
        """Who the account acts as in the audit chain."""
        return f"console:{self.name}"

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    def may(self, permission: str) -> bool:
        """Whether one of the account's roles allows ``permission``."""
        return role.allows(self.roles, permission)

    def covers(self, definition_id: str) -> bool:
        """Whether the account may act on ``definition_id`` (a supplier: one named for it)."""
        return role.covers(self.roles, self.definitions, definition_id)


def split_definitions(text: str | None) -> tuple[str, ...]:
    """The definitions stored as ``"a,b"``, sorted; none for ``None``."""
    return tuple(sorted({name.strip() for name in (text or "").split(",") if name.strip()}))


def check_scope(app: App, roles: Iterable[str], definitions: Iterable[str]) -> tuple[str, ...]:
    """The definitions named for a supplier, checked: a supplier needs at least one, each
    configured, and holds no other role; other roles take none. AccountError otherwise."""
    named = tuple(sorted({d.strip() for d in definitions if d.strip()}))
    roles = tuple(roles)
    if not role.scoped(roles):
        if named:
            raise AccountError("只有数据报送（supplier）角色限定发布定义",
                               "only the supplier role is limited to definitions")
        return ()
    if len(roles) > 1:
        raise AccountError("数据报送（supplier）角色不能与其他角色同时授予",
                           "the supplier role cannot be held together with another role")
    if not named:
        raise AccountError("数据报送（supplier）角色须指定至少一个发布定义",
                           "the supplier role needs at least one definition")
    unknown = [d for d in named if d not in app.loaded.config.releases]
    if unknown:
        raise AccountError(f"没有这个发布定义：{'、'.join(unknown)}",
                           f"no such definition: {', '.join(unknown)}")
    return named


def split_roles(text: str) -> tuple[str, ...]:
    """The roles stored as ``"editor,approver"``, in the order of ``role.ROLES``."""
    given = {name.strip() for name in text.split(",") if name.strip()}
    return tuple(name for name in role.ROLES if name in given)


def account_of(row: AccountRow) -> Account:
    """The shown form of a row."""
    return Account(row.id, row.name, row.display_name, split_roles(row.roles), row.created_at,
                   row.created_by, row.password_changed_at, row.disabled_at, row.last_sign_in_at,
                   split_definitions(row.definitions))


def normal_name(name: str) -> str:
    """A typed account name as stored: trimmed, lower-case."""
    return name.strip().lower()


def check_name(name: str) -> str:
    """``name`` normalised, or AccountError if it is not a valid account name."""
    normal = normal_name(name)
    if not NAME_PATTERN.match(normal):
        raise AccountError(
            f"账号名 {name!r} 无效（小写字母、数字、. - _，最多 64 个字符）",
            f"account name {name!r} is invalid (lower-case letters, digits, . - _, at most 64 "
            "characters)")
    return normal


def check_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """The roles in table order, or AccountError if none is given or one is unknown."""
    wanted = [name.strip() for name in roles]
    bad = role.unknown(wanted)
    if bad:
        raise AccountError(f"未知角色 {', '.join(bad)}，可选：{', '.join(role.ROLES)}",
                           f"unknown role {', '.join(bad)}; one of {', '.join(role.ROLES)}")
    ordered = tuple(name for name in role.ROLES if name in wanted)
    if not ordered:
        raise AccountError("至少需要一个角色", "an account needs at least one role")
    return ordered


def check_password(password: str, name: str) -> None:
    """AccountError if ``password`` is too short, too long or the account's name."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"密码至少 {MIN_PASSWORD_CHARS} 个字符",
                           f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise AccountError(f"密码最多 {MAX_PASSWORD_CHARS} 个字符",
                           f"a password has at most {MAX_PASSWORD_CHARS} characters")
    if password.strip().lower() == name:
        raise AccountError("密码不能与账号名相同", "the password must not be the account name")


@lru_cache(maxsize=4)
def _decoy_hash(hasher: PasswordHasher) -> str:
    """A hash to verify against when the name is unknown, so both cases take the same time."""
    return hasher.hash("decoy password, never a real one")


def _row(session: Session, name: str) -> AccountRow:
    row = session.execute(
        select(AccountRow).where(AccountRow.name == normal_name(name))).scalar_one_or_none()
    if row is None:
        raise AccountError(f"没有账号 {name}", f"no account named {name}")
    return row


def create(app: App, name: str, password: str, roles: Iterable[str], *, actor: str,
           display_name: str | None = None, definitions: Iterable[str] = ()) -> Account:
    """Make an account holding ``roles`` (a supplier: for ``definitions``); only the argon2
    hash of ``password`` is stored."""
    normal = check_name(name)
    ordered = check_roles(roles)
    scope = check_scope(app, ordered, definitions)
    check_password(password, normal)
    shown = (display_name or normal).strip()[:MAX_DISPLAY_NAME_CHARS] or normal
    hashed = HASHER.hash(password)
    now = app.clock.now()
    taken = AccountError(f"已有账号 {normal}", f"an account named {normal} exists")
    try:
        with app.store.write() as session:
            if session.execute(select(AccountRow.id).where(AccountRow.name == normal)).first():
                raise taken
            row = AccountRow(name=normal, display_name=shown, password_hash=hashed,
                             roles=",".join(ordered), created_at=now, created_by=actor,
                             password_changed_at=now, definitions=",".join(scope) or None)
            session.add(row)
            session.flush()
            details: dict[str, object] = {"name": normal, "display_name": shown,
                                          "roles": list(ordered)}
            if scope:
                details["definitions"] = list(scope)
            audit.append(session, at=now, actor=actor, action="account.created",
                         subject=f"account:{normal}", details=details)
            return account_of(row)
    except IntegrityError:  # another process took the name between the check and the insert
        raise taken from None


def get(app: App, name: str) -> Account | None:
    """The account named ``name`` (disabled or not), or None."""
    with app.store.read() as session:
        row = session.execute(
            select(AccountRow).where(AccountRow.name == normal_name(name))).scalar_one_or_none()
    return None if row is None else account_of(row)


def list_accounts(app: App) -> list[Account]:
    """Every account, oldest first."""
    with app.store.read() as session:
        rows = session.execute(select(AccountRow).order_by(AccountRow.created_at, AccountRow.id))
        return [account_of(row) for row in rows.scalars()]


def verify_password(app: App, name: str, password: str) -> Account:
    """The account whose name and password these are, else SignInRefused.

    An unknown name costs the same argon2 verification as a known one; a hash made with older
    parameters is replaced. Nothing is audited here: the caller (``signin``) does that.
    """
    normal = normal_name(name)
    with app.store.read() as session:
        row = session.execute(
            select(AccountRow).where(AccountRow.name == normal)).scalar_one_or_none() \
            if NAME_PATTERN.match(normal) else None
    if row is None or len(password) > MAX_PASSWORD_CHARS:
        with contextlib.suppress(VerificationError):
            HASHER.verify(_decoy_hash(HASHER), password[:MAX_PASSWORD_CHARS])
        raise SignInRefused("unknown_account" if row is None else "wrong_password",
                            None if row is None else account_of(row))
    try:
        HASHER.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise SignInRefused("wrong_password", account_of(row)) from None
    if row.disabled_at is not None:
        raise SignInRefused("disabled", account_of(row))
    if HASHER.check_needs_rehash(row.password_hash):
        fresh = HASHER.hash(password)
        with app.store.write() as session:
            stored = session.get(AccountRow, row.id)
            if stored is not None and stored.password_hash == row.password_hash:
                stored.password_hash = fresh
    return account_of(row)


def change_password(app: App, name: str, password: str, *, actor: str,
                    current_password: str | None = None, keep_session: str | None = None
                    ) -> Account:
    """Set a new password; every session of the account ends except ``keep_session`` (an id).

    With ``current_password`` (a staff member changing their own) that must verify first.
    """
    if current_password is not None:
        try:
            verify_password(app, name, current_password)
        except SignInRefused:
            raise AccountError("当前密码不正确", "the current password is not correct") from None
    normal = normal_name(name)
    check_password(password, normal)
    hashed = HASHER.hash(password)
    now = app.clock.now()
    with app.store.write() as session:
        row = _row(session, normal)
        row.password_hash = hashed
        row.password_changed_at = now
        ended = end_sessions(session, row.id, keep=keep_session)
        audit.append(session, at=now, actor=actor, action="account.password_changed",
                     subject=f"account:{row.name}",
                     details={"name": row.name, "sessions_ended": ended})
        return account_of(row)


def set_roles(app: App, name: str, roles: Iterable[str], *, actor: str,
              definitions: Iterable[str] = ()) -> Account:
    """Replace the account's roles (and a supplier's definitions)."""
    ordered = check_roles(roles)
    scope = check_scope(app, ordered, definitions)
    now = app.clock.now()
    with app.store.write() as session:
        row = _row(session, name)
        before = list(split_roles(row.roles))
        row.roles = ",".join(ordered)
        row.definitions = ",".join(scope) or None
        details: dict[str, object] = {"name": row.name, "before": before, "roles": list(ordered)}
        if scope:
            details["definitions"] = list(scope)
        audit.append(session, at=now, actor=actor, action="account.roles_changed",
                     subject=f"account:{row.name}", details=details)
        return account_of(row)


def disable(app: App, name: str, *, actor: str) -> Account:
    """Disable the account at once: its sessions end and it cannot sign in; twice is refused."""
    now = app.clock.now()
    with app.store.write() as session:
        row = _row(session, name)
        if row.disabled_at is not None:
            raise AccountError(f"账号 {row.name} 已停用", f"account {row.name} is already disabled")
        row.disabled_at = now
        ended = end_sessions(session, row.id)
        audit.append(session, at=now, actor=actor, action="account.disabled",
                     subject=f"account:{row.name}",
                     details={"name": row.name, "sessions_ended": ended})
        return account_of(row)


def enable(app: App, name: str, *, actor: str) -> Account:
    """Let a disabled account sign in again (with its old password)."""
    now = app.clock.now()
    with app.store.write() as session:
        row = _row(session, name)
        if row.disabled_at is None:
            raise AccountError(f"账号 {row.name} 未停用", f"account {row.name} is not disabled")
        row.disabled_at = None
        audit.append(session, at=now, actor=actor, action="account.enabled",
                     subject=f"account:{row.name}", details={"name": row.name})
        return account_of(row)


def end_sessions(session: Session, account_id: int, *, keep: str | None = None) -> int:
    """Delete the account's console sessions (but ``keep``, a session id) in the caller's
    transaction; returns how many ended."""
    statement = delete(ConsoleSession).where(ConsoleSession.account_id == account_id)
    if keep is not None:
        statement = statement.where(ConsoleSession.id != keep)
    result = session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)
