"""The ``webhook`` kind: POST each message as JSON to an internal system, keyed for idempotency."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import requests
from pydantic import SecretStr, field_validator

from channels.base import (
    AlreadyPublished,
    AuthExpired,
    Channel,
    ChannelContext,
    ChannelSettings,
    ConfigurationError,
    ContentRejected,
    Limits,
    Message,
    Payload,
    PermanentChannelError,
    RateLimited,
    Receipt,
    TransientChannelError,
)


class WebhookSettings(ChannelSettings):
    """Where to POST and how to authenticate."""

    url: str
    token: SecretStr | None = None  # sent as ``Authorization: Bearer``
    timeout_seconds: float = 10.0

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return value.rstrip("/")


@dataclass(frozen=True)
class WebhookLimits(Limits):
    """Generous limits: the receiving system decides what it keeps."""

    title_max_chars: int | None = 500
    body_max_chars: int | None = 1_000_000


MIN_SECRET_CHARS = 4  # shorter query values (team=a) are masked when shown, not scrubbed


def shown_url(url: str) -> str:
    """``url`` fit for an error message: a password in it and every query value masked (a
    receiving system's token often travels there), the rest as configured."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(unreadable url)"
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{port}" if port is not None else ""
    if parts.username is not None:
        netloc = f"{parts.username}{':***' if parts.password is not None else ''}@{netloc}"
    query = urlencode([(name, "***") for name, _value in parse_qsl(parts.query,
                                                                    keep_blank_values=True)],
                      safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def url_secrets(url: str) -> list[str]:
    """What in ``url`` is secret: its password (and the Basic credential made of it), and its
    query values long enough to be one."""
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return []
    found = [value for _name, value in parse_qsl(parts.query) if len(value) >= MIN_SECRET_CHARS]
    if password:
        basic = base64.b64encode(f"{unquote(user or '')}:{unquote(password)}".encode()).decode()
        found += [password, unquote(password), basic]
    return found


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _unreachable(method: str, url: str, exc: Exception) -> TransientChannelError:
    where = f"{method} {shown_url(url)}"
    return TransientChannelError(
        f"{where}: unreachable ({type(exc).__name__})", code="network",
        explanation_zh=f"接收系统 {where} 无法连接，将自动重试",
        explanation_en=f"{where} could not be reached; retrying")


class WebhookChannel(Channel[WebhookSettings]):
    """POST ``{key, title, body, metadata}`` to ``url``; the ``Idempotency-Key`` header is the key."""

    kind = "webhook"
    public = False  # an internal system: its posts are not publications
    platform_zh = "内部系统"
    platform_en = "internal system"
    limits: ClassVar[WebhookLimits] = WebhookLimits()
    settings_model = WebhookSettings
    body_format = "text"
    template_ext = "txt"

    emulated: ClassVar[bool] = True

    @classmethod
    def start_sandbox(cls, settings: ChannelSettings, *, port: int = 0, host: str = "127.0.0.1",
                      state_file: Path | None = None
                      ) -> tuple[ChannelSettings, Callable[[], None]]:
        """Run the loopback sink and send there instead."""
        from channels.webhook.sandbox import serve

        assert isinstance(settings, WebhookSettings)
        sink = serve(port, token=settings.token.get_secret_value() if settings.token else None,
                     state_file=state_file, host=host)
        return cls.sandbox_settings(settings, sink.url), sink.stop

    @classmethod
    def sandbox_settings(cls, settings: ChannelSettings, url: str) -> ChannelSettings:
        return settings.model_copy(update={"url": url})

    def __init__(self, name: str, settings: WebhookSettings, context: ChannelContext) -> None:
        super().__init__(name, settings, context)
        self._url_secrets = url_secrets(settings.url)
        if context.register_secret is not None:  # the core masks them in logs and records
            for secret in self._url_secrets:
                context.register_secret(secret)

    def _endpoint(self, path: str) -> str:
        """``path`` under the configured URL, its query (a receiver's token, say) kept."""
        parts = urlsplit(self.settings.url)
        return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + path,
                           parts.query, ""))

    def _headers(self, key: str | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.settings.token is not None:
            headers["Authorization"] = f"Bearer {self.settings.token.get_secret_value()}"
        if key:
            headers["Idempotency-Key"] = key
        return headers

    def prepare(self, message: Message) -> Payload:
        limits = self.limits
        if not message.title.strip():
            raise ContentRejected("标题为空 / the title is empty", field="title", limit="non-empty")
        if limits.title_max_chars and len(message.title) > limits.title_max_chars:
            raise ContentRejected(
                f"标题超过 {limits.title_max_chars} 字 / title longer than {limits.title_max_chars}",
                field="title", limit=f"{limits.title_max_chars} characters")
        if limits.body_max_chars and len(message.body) > limits.body_max_chars:
            raise ContentRejected(
                f"正文超过 {limits.body_max_chars} 字 / body longer than {limits.body_max_chars}",
                field="body", limit=f"{limits.body_max_chars} characters")
        return Payload(kind=self.kind, data={
            "release": message.release_key,
            "title": message.title,
            "body": message.body,
            "metadata": dict(message.metadata),
            "urgent": message.urgent,
        })

    def send(self, payload: Payload, key: str) -> Receipt:
        url = self._endpoint("/deliveries")
        try:
            response = self.context.session.post(
                url, json={"key": key, **payload.data}, headers=self._headers(key),
                timeout=self.settings.timeout_seconds)
        except (requests.ConnectionError, requests.Timeout) as exc:
            # The Idempotency-Key makes a resend safe even if this one landed.
            raise _unreachable("POST", url, exc) from None
        return self._receipt(response, f"POST {shown_url(url)}")

    def find(self, key: str, payload: Payload) -> Receipt | None:
        url = self._endpoint(f"/deliveries/{quote(key)}")
        try:
            response = self.context.session.get(url, headers=self._headers(),
                                                timeout=self.settings.timeout_seconds)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _unreachable("GET", url, exc) from None
        if response.status_code == 404:
            return None
        return self._receipt(response, f"GET {shown_url(url)}")

    def check(self) -> list[str]:
        try:
            self.context.session.get(self.settings.url, timeout=self.settings.timeout_seconds)
        except requests.RequestException as exc:
            return [f"无法连接 / cannot reach {shown_url(self.settings.url)}: "
                    f"{type(exc).__name__}"]
        return []

    def _receipt(self, response: requests.Response, where: str) -> Receipt:
        """The receipt of a 2xx answer, else the error its status means, naming ``where``
        (the method and the redacted URL) in every message."""
        status = response.status_code
        try:
            body: Any = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        remote = _scrub(str(body.get("message") or response.reason or ""), self._url_secrets)[:500]
        common: dict[str, Any] = {"code": str(status), "remote_message": remote}
        if 200 <= status < 300:
            return self._from_body(body)
        if status == 409 and "id" in body:
            raise AlreadyPublished(f"{where}: already received", receipt=self._from_body(body),
                                   **common)
        if status == 429:
            raise RateLimited(f"{where}: rate limited (429)", retry_after=_retry_after(response),
                              **common, explanation_zh=f"接收系统 {where} 限流，稍后重试",
                              explanation_en=f"{where} is rate limiting; retrying later")
        if status == 401:
            raise AuthExpired(f"{where}: unauthorised (401)", **common,
                              explanation_zh=f"接收系统 {where} 拒绝了令牌",
                              explanation_en=f"{where} refused the token")
        if status >= 500 or status == 408:
            raise TransientChannelError(f"{where}: server error {status}",
                                        retry_after=_retry_after(response), **common,
                                        explanation_zh=f"接收系统 {where} 暂时故障（{status}），将自动重试",
                                        explanation_en=f"{where} failed ({status}); retrying")
        if status in (400, 413, 422):
            raise ContentRejected(f"{where}: content refused ({status})", field="body",
                                  limit=remote, **common,
                                  explanation_zh=f"接收系统 {where} 拒收内容（{status}）",
                                  explanation_en=f"{where} refused the content ({status})")
        if status in (403, 404):
            raise ConfigurationError(f"{where}: refused ({status}): check the url and token",
                                     **common,
                                     explanation_zh=f"接收系统 {where} 拒绝（{status}）：地址或权限配置有误",
                                     explanation_en=f"{where} refused ({status}): the url or its "
                                                    "permissions are wrong")
        raise PermanentChannelError(f"{where}: refused ({status})", **common,
                                    explanation_zh=f"接收系统 {where} 拒绝（{status}）",
                                    explanation_en=f"{where} refused ({status})")

    @staticmethod
    def _from_body(body: dict[str, Any]) -> Receipt:
        received = body.get("received_at")
        return Receipt(remote_id=str(body.get("id", "")), url=body.get("url"),
                       published_at=datetime.fromisoformat(received) if received else None)
