"""The ``webhook`` kind: POST each message as JSON to an internal system, keyed for idempotency."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

import requests
from pydantic import SecretStr, field_validator

from channels.base import (
    AlreadyPublished,
    AuthExpired,
    Channel,
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


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class WebhookChannel(Channel[WebhookSettings]):
    """POST ``{key, title, body, metadata}`` to ``url``; the ``Idempotency-Key`` header is the key."""

    kind = "webhook"
    limits: ClassVar[WebhookLimits] = WebhookLimits()
    settings_model = WebhookSettings
    body_format = "text"
    template_ext = "txt"

    @classmethod
    def start_sandbox(cls, settings: ChannelSettings) -> tuple[ChannelSettings, Callable[[], None]]:
        """Run the loopback sink and send there instead."""
        from channels.webhook.sandbox import serve

        sink = serve()
        return settings.model_copy(update={"url": sink.url}), sink.stop

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
        try:
            response = self.context.session.post(
                f"{self.settings.url}/deliveries", json={"key": key, **payload.data},
                headers=self._headers(key), timeout=self.settings.timeout_seconds)
        except (requests.ConnectionError, requests.Timeout) as exc:
            # The Idempotency-Key makes a resend safe even if this one landed.
            raise TransientChannelError(
                f"webhook unreachable: {type(exc).__name__}", code="network",
                explanation_zh="接收系统无法连接，将自动重试",
                explanation_en="the receiving system could not be reached; retrying") from None
        return self._receipt(response)

    def find(self, key: str, payload: Payload) -> Receipt | None:
        try:
            response = self.context.session.get(
                f"{self.settings.url}/deliveries/{quote(key)}", headers=self._headers(),
                timeout=self.settings.timeout_seconds)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientChannelError(f"webhook unreachable: {type(exc).__name__}",
                                        code="network") from None
        if response.status_code == 404:
            return None
        return self._receipt(response)

    def check(self) -> list[str]:
        try:
            self.context.session.get(self.settings.url, timeout=self.settings.timeout_seconds)
        except requests.RequestException as exc:
            return [f"无法连接 / cannot reach {self.settings.url}: {type(exc).__name__}"]
        return []

    def _receipt(self, response: requests.Response) -> Receipt:
        status = response.status_code
        try:
            body: Any = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        remote = str(body.get("message") or response.reason or "")[:500]
        common: dict[str, Any] = {"code": str(status), "remote_message": remote}
        if 200 <= status < 300:
            return self._from_body(body)
        if status == 409 and "id" in body:
            raise AlreadyPublished("already received", receipt=self._from_body(body), **common)
        if status == 429:
            raise RateLimited("rate limited", retry_after=_retry_after(response), **common,
                              explanation_zh="接收系统限流，稍后重试",
                              explanation_en="the receiving system is rate limiting; retrying later")
        if status == 401:
            raise AuthExpired("unauthorised", **common, explanation_zh="接收系统拒绝了令牌",
                              explanation_en="the receiving system refused the token")
        if status >= 500 or status == 408:
            raise TransientChannelError(f"server error {status}", retry_after=_retry_after(response),
                                        **common, explanation_zh="接收系统暂时故障，将自动重试",
                                        explanation_en="the receiving system failed; retrying")
        if status in (400, 413, 422):
            raise ContentRejected(f"content refused ({status})", field="body", limit=remote,
                                  **common)
        if status in (403, 404):
            raise ConfigurationError(f"refused ({status}): check the url and token", **common,
                                     explanation_zh="地址或权限配置有误",
                                     explanation_en="the url or its permissions are wrong")
        raise PermanentChannelError(f"refused ({status})", **common)

    @staticmethod
    def _from_body(body: dict[str, Any]) -> Receipt:
        received = body.get("received_at")
        return Receipt(remote_id=str(body.get("id", "")), url=body.get("url"),
                       published_at=datetime.fromisoformat(received) if received else None)
