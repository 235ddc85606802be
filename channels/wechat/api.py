"""The HTTP layer: token in the query string, errcode to exceptions, one replay on a stale token."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import requests

from channels.base import AuthExpired, ConfigurationError, OutcomeUnknown, TransientChannelError
from channels.network import may_have_landed
from channels.wechat.errors import error_for
from channels.wechat.token import TokenProvider

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

Files = Mapping[str, tuple[str, bytes, str]]


def _decode(response: requests.Response, api: str) -> dict[str, Any]:
    if response.status_code >= 500 or response.status_code in (408, 429):
        raise TransientChannelError(
            f"微信 {api} 服务器错误 {response.status_code} / WeChat {api} server error "
            f"{response.status_code}", code=f"http_{response.status_code}",
            explanation_zh="微信服务器暂时故障，将自动重试",
            explanation_en="the WeChat server failed for now; retrying")
    if 400 <= response.status_code < 500:  # WeChat answers business errors with HTTP 200
        raise ConfigurationError(
            f"微信 {api} 地址拒绝请求 (HTTP {response.status_code}) / WeChat {api} refused "
            f"(HTTP {response.status_code})", code=f"http_{response.status_code}",
            explanation_zh="接口地址有误，请检查 base_url 设置",
            explanation_en="the API address is wrong; check the base_url setting")
    text = _CONTROL.sub("", response.content.decode("utf-8", errors="replace"))
    try:
        body = json.loads(text, strict=False)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise TransientChannelError(
            f"微信 {api} 回复无法解析 (HTTP {response.status_code}) / WeChat {api} sent an "
            f"unreadable reply (HTTP {response.status_code})", code="bad_reply",
            explanation_zh="微信回复格式异常，将自动重试",
            explanation_en="WeChat sent a reply that could not be read; retrying")
    return body


def _unknown(api: str, cause: Exception) -> OutcomeUnknown:
    """A call that may publish (submit, mass send) got no usable answer: it may have acted, so
    the core checks before any resend (wechat.md §6: for -1 on these calls, check state first)."""
    return OutcomeUnknown(
        f"微信 {api} 无有效应答，可能已执行 / WeChat {api} gave no usable answer; it may have "
        f"acted ({type(cause).__name__}: {getattr(cause, 'code', None) or ''})", code="no_answer",
        explanation_zh="请求已发出但微信没有有效应答，可能已执行；核实后再决定是否重发",
        explanation_en="the request reached WeChat but no usable answer came; it may have acted, "
                       "so it is checked before any resend")


class Api:
    """Calls ``/cgi-bin/<api>`` with the access token, replaying once on 40001/40014/42001."""

    def __init__(self, base_url: str, session: requests.Session, tokens: TokenProvider,
                 timeout_seconds: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.tokens = tokens
        self.timeout_seconds = timeout_seconds

    def raw(self, method: str, api: str, *, params: Mapping[str, str] | None = None,
            body: Mapping[str, Any] | None = None, files: Files | None = None,
            data: Mapping[str, str] | None = None, once: bool = False) -> dict[str, Any]:
        """One request with no token handling; network failures never show the URL.

        ``once``: repeating it could publish twice (submit, mass send), so an answer lost after
        the request left is an OutcomeUnknown, not a plain retry."""
        url = f"{self.base_url}/cgi-bin/{api}"
        kwargs: dict[str, Any] = {"params": dict(params or {}), "timeout": self.timeout_seconds}
        if files is not None:
            kwargs["files"] = dict(files)
            if data:
                kwargs["data"] = dict(data)
        elif body is not None:
            kwargs["data"] = json.dumps(body, ensure_ascii=False).encode("utf-8")
            kwargs["headers"] = {"Content-Type": "application/json; charset=utf-8"}
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.RequestException as exc:
            if once and may_have_landed(exc):
                raise _unknown(api, exc) from None
            if not isinstance(exc, requests.Timeout):
                raise TransientChannelError(
                    f"微信 {api} 连接失败 ({type(exc).__name__}) / WeChat {api} connection failed",
                    code="network", explanation_zh="无法连接微信接口，将自动重试",
                    explanation_en="WeChat could not be reached; retrying") from None
            raise TransientChannelError(
                f"微信 {api} 超时 / WeChat {api} timed out", code="timeout",
                explanation_zh="微信接口超时，将自动重试",
                explanation_en="WeChat did not answer in time; retrying") from None
        return _decode(response, api)

    def call(self, api: str, body: Mapping[str, Any] | None = None, *,
             files: Files | None = None, data: Mapping[str, str] | None = None,
             params: Mapping[str, str] | None = None,
             on_error: Callable[[int, dict[str, Any]], dict[str, Any] | None] | None = None,
             once: bool = False) -> dict[str, Any]:
        """POST to ``api``; a missing or zero errcode is success.

        ``on_error(errcode, reply)`` may turn a code into a result (45065 already sent);
        it returns None to let the table decide.
        """
        token = self.tokens.token()
        for replay in (False, True):
            query = {**(params or {}), "access_token": token}
            try:
                reply = self.raw("POST", api, params=query, body=body, files=files, data=data,
                                 once=once)
            except TransientChannelError as exc:
                if once:  # a 5xx or an unreadable reply to a call that may have acted
                    raise _unknown(api, exc) from None
                raise
            errcode = int(reply.get("errcode") or 0)
            if errcode == 0:
                return reply
            if on_error is not None:
                handled = on_error(errcode, reply)
                if handled is not None:
                    return handled
            error = error_for(errcode, str(reply.get("errmsg", "")), api)
            if once and type(error) is TransientChannelError:  # -1 busy: check state first
                raise _unknown(api, error)
            if isinstance(error, AuthExpired) and not replay:
                token = self.tokens.renew(token)
                continue
            raise error
        raise AssertionError("unreachable")  # pragma: no cover
