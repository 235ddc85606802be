"""One Weibo API call over requests: the token in the form body, replies parsed into errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from channels.base import ChannelError, OutcomeUnknown, TransientChannelError
from channels.network import may_have_landed
from channels.weibo.errors import parse_code, to_error

Files = Mapping[str, tuple[str, bytes, str]]


@dataclass(frozen=True)
class WeiboReply:
    """A refusal with a Weibo code, kept apart so callers can treat duplicates and 20032."""

    code: int | None
    remote_message: str
    http_status: int


class Refused(Exception):
    """The call came back with an ``error_code``; ``reply`` says which."""

    def __init__(self, reply: WeiboReply) -> None:
        super().__init__(reply.code)
        self.reply = reply


@dataclass(frozen=True)
class Api:
    """Calls ``base_url`` with a session; the token travels in the body, never in the URL."""

    session: requests.Session
    base_url: str
    timeout_seconds: float

    def post(self, path: str, form: Mapping[str, str], *, operation: str,
             files: Files | None = None, once: bool = False) -> dict[str, Any]:
        """POST a form (multipart when ``files``); Refused for any ``error_code`` answer.

        ``once``: repeating the call could publish twice (a post), so an answer lost after
        the request left is OutcomeUnknown, not a plain retry."""
        return self._call("POST", path, form, operation=operation, files=files, once=once)

    def get(self, path: str, params: Mapping[str, str], *, operation: str) -> dict[str, Any]:
        """GET with ``params``; the token goes in an ``Authorization: OAuth2`` header instead."""
        return self._call("GET", path, params, operation=operation)

    def _call(self, method: str, path: str, form: Mapping[str, str], *, operation: str,
              files: Files | None = None, once: bool = False) -> dict[str, Any]:
        url = f"{self.base_url}/{path}"
        data = dict(form)
        headers = {"Accept": "application/json"}
        try:
            if method == "GET":
                token = data.pop("access_token", None)
                if token:
                    headers["Authorization"] = f"OAuth2 {token}"
                response = self.session.get(url, params=data, headers=headers,
                                            timeout=self.timeout_seconds, allow_redirects=False)
            else:
                response = self.session.post(url, data=data, files=dict(files) if files else None,
                                             headers=headers, timeout=self.timeout_seconds,
                                             allow_redirects=False)
        except (requests.ConnectionError, requests.Timeout) as exc:
            if once and may_have_landed(exc):  # Weibo has no idempotency key
                raise OutcomeUnknown(
                    f"微博未应答，请求可能已生效 / no answer from Weibo while {operation} after "
                    f"the request left: {type(exc).__name__}", code="no_answer",
                    explanation_zh="请求已发出但微博未应答（超时或连接中断），可能已发布；先在本账号时间线上按"
                                   "发布编号核实，再决定是否重发",
                    explanation_en="the request left but Weibo did not answer (timeout or cut "
                                   "connection), so it may be posted; the timeline is searched "
                                   "for this delivery's mark before any resend") from None
            raise TransientChannelError(
                f"微博接口无法连接 / Weibo unreachable while {operation}: {type(exc).__name__}",
                code="network", explanation_zh="微博接口无法连接或超时，将自动重试",
                explanation_en="Weibo could not be reached or timed out; retrying") from None
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("error_code") not in (None, ""):
            raise Refused(WeiboReply(parse_code(body.get("error_code")),
                                     str(body.get("error") or "")[:300], response.status_code))
        if 200 <= response.status_code < 300 and isinstance(body, dict):
            return body
        if once and response.status_code == 504:  # a gateway gave up; Weibo may still post it
            raise OutcomeUnknown(
                f"微博网关超时，请求可能已生效 / a gateway timed out while {operation}",
                code="http_504", explanation_zh="网关超时，微博可能已发布；先核实再决定是否重发",
                explanation_en="a gateway timed out and Weibo may have posted it; checked "
                               "before any resend")
        raise Refused(WeiboReply(None, (response.reason or "")[:300], response.status_code))


def error_of(refused: Refused, operation: str) -> ChannelError:
    """The channel error for a refusal (duplicate and success codes handled before this)."""
    reply = refused.reply
    return to_error(reply.code, reply.remote_message, http_status=reply.http_status,
                    operation=operation)
