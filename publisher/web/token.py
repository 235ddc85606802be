"""API tokens of the HTTP API: created once, stored only as a SHA-256, each acting in one role."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from publisher import audit
from publisher.app import App
from publisher.logs import register_secret
from publisher.store.models import ApiToken
from publisher.web import role as _role
from publisher.web.account import AccountError, check_scope, split_definitions

TOKEN_PREFIX = "pub_"  # noqa: S105 (a prefix, recognisable in a leak or by a secret scanner)
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # the actor is "api:<name>", <= 100 chars
MAX_TOKEN_CHARS = 200  # longer bearer values are refused without hashing
LAST_USED_STEP = timedelta(minutes=1)  # last_used_at is written at most once a minute per token

# Roles and permissions live in role.py, one table for API tokens and console accounts; the
# names the API's routes use are kept here too.
INCIDENT_READ = _role.INCIDENT_READ
URGENT_POST = _role.URGENT_POST
URGENT_UPDATE = _role.URGENT_UPDATE
URGENT_CANCEL = _role.URGENT_CANCEL
EVERYTHING = _role.EVERYTHING
ROLES = _role.ROLES
PERMISSIONS = _role.PERMISSIONS
allows = _role.allows

class TokenError(Exception):
    """A token command cannot be done (bad name or role, name taken, no such token)."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        self.message_zh, self.message_en = message_zh, message_en
        super().__init__(f"{message_zh} / {message_en}")


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown of a token: never the token, never its hash."""

    name: str
    role: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_used_at: datetime | None
    definitions: tuple[str, ...] = ()  # a supplier token's: the only definitions it may act on

    @property
    def actor(self) -> str:
        """Who the token acts as in the audit chain."""
        return f"api:{self.name}"

    def covers(self, definition_id: str) -> bool:
        """Whether the token may act on ``definition_id`` (a supplier: one named for it)."""
        return _role.covers(self.role, self.definitions, definition_id)


def digest(token: str) -> str:
    """The SHA-256 of a token as hex: the only form the database keeps."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(row.name, row.role, row.created_at, row.created_by, row.revoked_at,
                     row.last_used_at, split_definitions(row.definitions))


def create(app: App, name: str, role: str, *, actor: str, definitions: Iterable[str] = ()
           ) -> str:
    """Make a token named ``name`` acting in ``role`` (a supplier: for ``definitions``);
    returns it (the only time it is seen)."""
    if not NAME_PATTERN.match(name):
        raise TokenError(f"令牌名称 {name!r} 无效（小写字母、数字、- 或 _，最多 64 个字符）",
                         f"token name {name!r} is invalid (lower-case letters, digits, - or _, "
                         "at most 64 characters)")
    if role not in ROLES:
        raise TokenError(f"未知角色 {role!r}，可选：{', '.join(ROLES)}",
                         f"unknown role {role!r}; one of {', '.join(ROLES)}")
    try:
        scope = check_scope(app, (role,), definitions)
    except AccountError as exc:
        raise TokenError(exc.message_zh, exc.message_en) from None
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = app.clock.now()
    taken = TokenError(f"已有名为 {name} 的令牌（吊销后名称也不能重用）",
                       f"a token named {name} exists (a revoked token keeps its name)")
    try:
        with app.store.write() as session:
            if session.execute(select(ApiToken.id).where(ApiToken.name == name)).first():
                raise taken
            session.add(ApiToken(name=name, token_sha256=digest(token), role=role,
                                 created_at=now, created_by=actor,
                                 definitions=",".join(scope) or None))
            session.flush()
            details: dict[str, object] = {"name": name, "role": role}
            if scope:
                details["definitions"] = list(scope)
            audit.append(session, at=now, actor=actor, action="api_token.created",
                         subject=f"api_token:{name}", details=details)
    except IntegrityError:  # another process took the name between the check and the insert
        raise taken from None
    register_secret(token)
    return token


def verify(app: App, token: str) -> TokenInfo | None:
    """The live token whose hash matches ``token``, or None (unknown, revoked or malformed)."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    wanted = digest(token)
    now = app.clock.now()
    with app.store.read() as session:
        row = session.execute(
            select(ApiToken).where(ApiToken.token_sha256 == wanted)).scalar_one_or_none()
    if row is None or not hmac.compare_digest(row.token_sha256, wanted) or row.revoked_at:
        return None
    register_secret(token)  # from here on, no log line can carry it even by accident
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_STEP:
        with app.store.write() as session:
            fresh = session.get(ApiToken, row.id)
            if fresh is not None:
                fresh.last_used_at = now
        row.last_used_at = now
    return _info(row)


def revoke(app: App, name: str, *, actor: str) -> TokenInfo:
    """Revoke the token named ``name`` at once; revoking twice is refused."""
    now = app.clock.now()
    with app.store.write() as session:
        row = session.execute(select(ApiToken).where(ApiToken.name == name)).scalar_one_or_none()
        if row is None:
            raise TokenError(f"没有名为 {name} 的令牌", f"no token named {name}")
        if row.revoked_at is not None:
            when = row.revoked_at.astimezone(app.loaded.zone)
            raise TokenError(f"令牌 {name} 已于 {when:%Y-%m-%d %H:%M} 吊销",
                             f"token {name} was revoked at {when:%Y-%m-%d %H:%M %z}")
        row.revoked_at = now
        audit.append(session, at=now, actor=actor, action="api_token.revoked",
                     subject=f"api_token:{name}", details={"name": name, "role": row.role})
        return _info(row)


def list_tokens(app: App) -> list[TokenInfo]:
    """Every token, live and revoked, oldest first."""
    with app.store.read() as session:
        rows = session.execute(select(ApiToken).order_by(ApiToken.created_at, ApiToken.id))
        return [_info(row) for row in rows.scalars()]
