"""The WordPress error table: REST error bodies mapped to the channel contract's errors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import requests

from channels.base import (
    ChannelError,
    ConfigurationError,
    ContentRejected,
    OutcomeUnknown,
    PermanentChannelError,
    RateLimited,
    TransientChannelError,
)

REMOTE_MESSAGE_MAX_CHARS = 500


def error_body(response: requests.Response) -> dict[str, Any]:
    """The ``{"code", "message", "data"}`` body of a response, or ``{}`` when it has none."""
    try:
        body: Any = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced, shortened for logs."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:REMOTE_MESSAGE_MAX_CHARS]


def retry_after(response: requests.Response) -> float | None:
    """The Retry-After header in seconds, when it is a number."""
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def network_error(exc: requests.RequestException, *, unknown: bool = False) -> ChannelError:
    """No answer. ``unknown`` (a create that may have landed: read timeout, connection dropped
    after the request was written) is an OutcomeUnknown, so the core looks for the post
    before any second create; anything else never reached WordPress and is a plain retry."""
    if unknown:
        return OutcomeUnknown(
            f"WordPress 未应答，文章可能已建立 / WordPress did not answer; the post may exist: "
            f"{type(exc).__name__}",
            code="no_answer",
            explanation_zh="请求已发出但 WordPress 未及时应答，文章可能已建立；核实后再决定是否重发",
            explanation_en="the request reached WordPress but no answer came in time; the post "
                           "may exist, so it is looked up before any resend",
        )
    return TransientChannelError(
        f"WordPress 无法连接 / WordPress unreachable: {type(exc).__name__}",
        code="network",
        explanation_zh="WordPress 网站无法连接，将自动重试",
        explanation_en="the WordPress site could not be reached; retrying",
    )


def not_wordpress(status: int, secrets: Iterable[str], detail: str) -> ConfigurationError:
    """The answer is not a WordPress REST API answer (a login page, a proxy error page)."""
    return ConfigurationError(
        f"不是 WordPress REST 接口的应答 / not a WordPress REST API answer ({status})",
        code=str(status),
        remote_message=scrub(detail, secrets),
        explanation_zh="收到的不是 WordPress 接口应答，请检查 base_url 是否指向网站根地址",
        explanation_en="the answer did not come from the WordPress REST API; "
                       "check that base_url is the site's root",
    )


def anonymous(status: int, data: dict[str, Any]) -> bool:
    """Whether a 400 is WordPress refusing an anonymous caller a parameter. WordPress treats a
    wrong Application Password (or user name) as no login at all, so the first lookup with
    ``status=draft,…`` gets ``400 rest_invalid_param`` whose detail is
    ``rest_forbidden_status`` with ``data.status`` 401, not a 401 of its own."""
    details = data.get("details")
    if status != 400 or not isinstance(details, dict):
        return False
    return any(isinstance(d, dict) and (d.get("code") == "rest_forbidden_status" or (
        isinstance(d.get("data"), dict) and d["data"].get("status") == 401))
        for d in details.values())


def not_logged_in(**kw: Any) -> ConfigurationError:
    """The site answered as to an anonymous visitor: the application password (or the user
    name) is wrong, or the server drops the Authorization header."""
    return ConfigurationError(
        "WordPress 应用密码错误（未登录）/ the WordPress application password is wrong "
        f"(not logged in, {kw.get('code')})",
        explanation_zh="WordPress 没有接受用户名和应用密码，把请求当作未登录访客处理："
                       "请核对 username，并在“用户→编辑用户→应用密码”中重新生成应用密码；"
                       "若密码无误，检查网站服务器是否转发了 Authorization 请求头",
        explanation_en="WordPress did not accept the user name and application password and "
                       "answered as to an anonymous visitor: check username and make a new "
                       "application password under Users → Edit User → Application Passwords; "
                       "if it is right, check that the web server passes the Authorization "
                       "header on", **kw)


def classify(response: requests.Response, secrets: Iterable[str]) -> ChannelError:
    """The error for a non-2xx answer, keeping WordPress's code and message (secrets scrubbed)."""
    status = response.status_code
    body = error_body(response)
    code = str(body.get("code") or status)
    remote = scrub(str(body.get("message") or response.reason or ""), secrets)
    raw_data = body.get("data")
    data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
    kw: dict[str, Any] = {"code": code, "remote_message": remote}
    if status == 429:
        return RateLimited(f"WordPress 限流 / rate limited ({code})", retry_after=retry_after(response),
                           explanation_zh="WordPress 网站限流，稍后自动重试",
                           explanation_en="the WordPress site is rate limiting; retrying later", **kw)
    if status == 501 and code == "rest_trash_not_supported":
        return ConfigurationError(
            f"网站未启用回收站 / the site has no trash ({code})",
            explanation_zh="该 WordPress 网站关闭了回收站，撤回需由网站管理员处理",
            explanation_en="trash is disabled on this WordPress site; an administrator must "
                           "remove the post", **kw)
    if code == "rest_upload_sideload_error":  # a 500, but the file will never be taken
        return ContentRejected(
            f"WordPress 拒收图片 / picture refused: {remote}", field="attachments",
            limit="a JPEG, PNG or GIF the site accepts",
            explanation_zh=f"WordPress 媒体库不接受该图片：{remote}",
            explanation_en=f"the WordPress media library refused the picture: {remote}", **kw)
    if code == "empty_content":
        return ContentRejected(
            "WordPress 拒收空文章 / empty post refused: title, content and excerpt are empty",
            field="content", limit="not empty",
            explanation_zh="标题、正文和摘要都为空，WordPress 不接受",
            explanation_en="title, content and excerpt are all empty", **kw)
    if status >= 500 or status == 408:
        return TransientChannelError(
            f"WordPress 服务器错误 / server error {status} ({code})",
            retry_after=retry_after(response),
            explanation_zh="WordPress 网站暂时故障，将自动重试",
            explanation_en="the WordPress site failed; retrying", **kw)
    if status == 401 or anonymous(status, data):
        return not_logged_in(**kw)
    if status == 403:
        return ConfigurationError(
            f"WordPress 账号权限不足 / not allowed ({code})",
            explanation_zh="已登录，但该 WordPress 账号没有发布或编辑文章的权限，请联系网站管理员",
            explanation_en="logged in, but this WordPress account may not publish or edit posts; "
                           "ask the site administrator", **kw)
    if status == 400 and code in ("rest_invalid_param", "rest_missing_callback_param"):
        params = data.get("params") if isinstance(data.get("params"), dict) else {}
        field = next(iter(params), "post") if params else "post"
        limit = scrub(str(params.get(field, remote)) if params else remote, secrets)
        return ContentRejected(
            f"WordPress 拒收内容 / content refused: {field}: {limit}", field=field, limit=limit,
            explanation_zh=f"WordPress 认为字段 {field} 无效：{limit}",
            explanation_en=f"WordPress refused field {field}: {limit}", **kw)
    if status == 404 and code == "rest_no_route":
        return ConfigurationError(
            f"WordPress 接口路径不存在 / no such REST route ({code})",
            explanation_zh="网站上没有该 REST 接口，请检查 base_url，或确认 REST API 未被禁用",
            explanation_en="the site has no such REST route; check base_url and that the "
                           "REST API is enabled", **kw)
    if status == 404:
        return PermanentChannelError(
            f"WordPress 上没有该文章 / no such post ({code})",
            explanation_zh="WordPress 网站上找不到该文章，可能已被彻底删除",
            explanation_en="the WordPress site has no such post; it may have been deleted", **kw)
    if status == 410:
        return PermanentChannelError(
            f"文章已在回收站 / the post is already in the trash ({code})",
            explanation_zh="该文章已被移入回收站",
            explanation_en="the post is already in the trash", **kw)
    return PermanentChannelError(
        f"WordPress 拒绝请求 / WordPress refused ({status} {code})",
        explanation_zh=f"WordPress 拒绝了请求（{status} {code}）：{remote}",
        explanation_en=f"WordPress refused the request ({status} {code}): {remote}", **kw)


def conflict(code: str, zh: str, en: str, detail: str) -> PermanentChannelError:
    """Publishing would overwrite a post this delivery does not own."""
    return PermanentChannelError(f"{zh} / {en}", code=code, remote_message=detail,
                                 explanation_zh=zh, explanation_en=en)
