"""Who is calling the API: the bearer token checked against its hash, and what its role allows."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from publisher.app import App
from publisher.logs import get_logger
from publisher.web import token as tokens
from publisher.web.error import ApiError

log = get_logger("publisher.web")
REALM = "publisher"


def current_app(request: Request) -> App:
    """The App the API was created for (a dependency)."""
    app: App = request.app.state.publisher
    return app


def _unauthorized(message_zh: str, message_en: str, error: str | None) -> ApiError:
    challenge = f'Bearer realm="{REALM}"' + (f', error="{error}"' if error else "")
    return ApiError(401, "unauthorized", message_zh, message_en,
                    headers={"WWW-Authenticate": challenge})


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, if the request carries one."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else ""


def require(permission: str) -> Callable[[Request], tokens.TokenInfo]:
    """A dependency that admits a live token whose role allows ``permission``."""

    def admit(request: Request) -> tokens.TokenInfo:
        given = bearer(request)
        if given is None:
            raise _unauthorized("缺少 API 令牌（Authorization: Bearer …）",
                                "missing API token (Authorization: Bearer …)", None)
        info = tokens.verify(current_app(request), given) if given else None
        if info is None:
            log.warning("api.token_refused", path=request.url.path)
            raise _unauthorized("API 令牌无效或已吊销", "the API token is invalid or revoked",
                                "invalid_token")
        if not tokens.allows(info.role, permission):
            log.warning("api.forbidden", token_name=info.name, role=info.role,
                        permission=permission, path=request.url.path)
            raise ApiError(403, "forbidden",
                           f"令牌 {info.name} 的角色 {info.role} 无权执行 {permission}",
                           f"token {info.name} (role {info.role}) may not do {permission}")
        return info

    return admit
