"""The OAuth2 code flow of weibo.md A1, for ``publisher weibo authorize ACCOUNT``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from channels.base import ConfigurationError, TokenCache
from channels.weibo.adapter import CACHE_KEY_PREFIX
from channels.weibo.api import Api, Refused, error_of
from channels.weibo.errors import parse_code, to_error
from channels.weibo.settings import WeiboSettings


@dataclass(frozen=True)
class Grant:
    """A token granted by ``oauth2/access_token``: the token, its expiry and the user id."""

    access_token: str
    expires_at: datetime
    uid: str

    def __repr__(self) -> str:
        return f"Grant(uid={self.uid!r}, expires_at={self.expires_at.isoformat()!r})"


def _app(settings: WeiboSettings) -> tuple[str, str, str]:
    if not settings.app_key or settings.app_secret is None or not settings.redirect_uri:
        raise ConfigurationError(
            "授权需要 app_key、app_secret 和 redirect_uri 设置 / authorising needs the app_key, "
            "app_secret and redirect_uri settings", code="oauth_settings")
    return settings.app_key, settings.app_secret.get_secret_value(), settings.redirect_uri


def authorize_url(settings: WeiboSettings, state: str) -> str:
    """The URL a staff member opens to grant the app access (``oauth2/authorize``)."""
    app_key, _, redirect_uri = _app(settings)
    query = urlencode({"client_id": app_key, "redirect_uri": redirect_uri,
                       "response_type": "code", "state": state})
    return f"{settings.base_url}/oauth2/authorize?{query}"


def code_from(pasted: str, state: str) -> str:
    """The code from what staff paste: the callback URL (state checked) or the bare code.

    Errors of the authorize step arrive as query parameters on the callback; they become the
    error of their code (21330 access_denied: the user refused).
    """
    text = pasted.strip()
    if "?" not in text and "=" not in text:
        return text
    query = parse_qs(urlsplit(text).query)
    if "error" in query or "error_code" in query:
        code = parse_code((query.get("error_code") or [""])[0])
        raise to_error(code, (query.get("error") or [""])[0], http_status=400,
                       operation="authorising (oauth2/authorize)")
    if (query.get("state") or [""])[0] != state:
        raise ConfigurationError("回调地址的 state 不符，请重新授权 / the callback's state does not "
                                 "match: start the authorisation again", code="oauth_state")
    codes = query.get("code") or []
    if not codes or not codes[0]:
        raise ConfigurationError("回调地址中没有 code / the callback URL carries no code",
                                 code="oauth_code")
    return codes[0]


def exchange(settings: WeiboSettings, session: requests.Session, code: str,
             now: datetime) -> Grant:
    """Trade the code for a token; expiry from the smaller of ``expires_in`` and ``remind_in``."""
    app_key, app_secret, redirect_uri = _app(settings)
    api = Api(session, settings.base_url, settings.timeout_seconds)
    operation = "exchanging the code (oauth2/access_token)"
    try:
        body = api.post("oauth2/access_token", {
            "client_id": app_key, "client_secret": app_secret,
            "grant_type": "authorization_code", "code": code.strip(),
            "redirect_uri": redirect_uri}, operation=operation)
    except Refused as refused:
        raise error_of(refused, operation) from None
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise ConfigurationError("微博未返回令牌 / Weibo returned no access_token",
                                 code="no_token")
    lifetimes = [_seconds(body.get(name)) for name in ("expires_in", "remind_in")]
    known = [s for s in lifetimes if s is not None and s > 0]
    lifetime = min(known) if known else 0
    return Grant(token, now + timedelta(seconds=lifetime), str(body.get("uid") or ""))


def store(cache: TokenCache, account: str, grant: Grant) -> None:
    """Keep the token where the adapter looks first (the database's token cache)."""
    key = CACHE_KEY_PREFIX + account
    current = cache.get(key)
    cache.refresh(key, current[0] if current else None,
                  lambda: (grant.access_token, grant.expires_at))


def _seconds(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None
