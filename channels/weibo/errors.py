"""Weibo error codes (weibo.md A1, A3) as data, and their mapping onto the channel error hierarchy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from channels.base import (
    ChannelError,
    ConfigurationError,
    ContentRejected,
    PermanentChannelError,
    RateLimited,
    TransientChannelError,
)
from channels.error_table import ErrorRule, by_code, row

# Retry decisions: what the delivery does after the code.
RETRY = "retry"  # transient: retry with backoff
WAIT = "wait"  # rate limit: wait for the window, then retry
STOP = "stop"  # permanent: never retry
REAUTHORISE = "reauthorise"  # the authorisation is gone: fail at once, a person re-authorises
# repeated text: already published only when this delivery's own post (its mark) is found on
# the timeline; otherwise a refusal staff must see
DUPLICATE = "duplicate"
SUCCESS = "success"  # accepted (20032): never retry, a resend would duplicate

REAUTHORISE_ZH = "微博授权已失效，请重新授权此账号（publisher weibo authorize）"
REAUTHORISE_EN = "the Weibo authorisation is gone: re-authorise this account (publisher weibo authorize)"


class AuthorisationGone(ConfigurationError):
    """The account's token is expired, revoked or invalid: fail at once, re-authorise by hand."""


_T, _R, _P = TransientChannelError, RateLimited, PermanentChannelError
_C, _X, _A = ContentRejected, ConfigurationError, AuthorisationGone
_HOUR = 3600.0

RULES: tuple[ErrorRule, ...] = (
    # ---- platform errors (weibo.md A3)
    row(10001, "System error", RETRY, "微博系统错误，将自动重试",
        "Weibo system error; retrying", _T),
    row(10002, "Service unavailable", RETRY, "微博服务暂停，将自动重试",
        "Weibo service unavailable; retrying", _T),
    row(10003, "Remote service error", RETRY, "微博远程服务错误，将自动重试",
        "Weibo remote service error; retrying", _T),
    row(10004, "IP limit", STOP, "服务器 IP 被微博限制，请检查应用的 IP 设置",
        "this server's IP is restricted by Weibo; check the app's IP settings", _X),
    row(10006, "Source paramter (appkey) is missing", STOP, "请求缺少 appkey（程序缺陷），请联系技术人员",
        "the request lacks the appkey (a client bug); tell the technical staff", _X),
    row(10008, "Param error", STOP, "请求参数错误，请联系技术人员",
        "a request parameter is wrong; tell the technical staff", _P),
    row(10009, "system busy", RETRY, "微博系统繁忙，将自动重试", "Weibo is busy; retrying", _T),
    row(10011, "RPC error", RETRY, "微博内部调用错误，将自动重试",
        "Weibo internal call failed; retrying", _T),
    row(10013, "Invalid weibo user", STOP, "微博账号无效，请核实账号状态后重新授权",
        "the Weibo user is invalid; check the account and re-authorise", _X),
    row(10014, "Insufficient app permissions", STOP, "应用的接口访问权限受限，需向微博开放平台申请",
        "the app lacks permission for this API; it must be granted by the Weibo platform", _X),
    row(10016, "Miss required parameter", STOP, "缺少必填参数（如 rip），请检查渠道设置",
        "a required parameter (such as rip) is missing; check the channel settings", _X),
    row(10017, "Parameter value invalid (text not find domain / appkey not bind domain)", STOP,
        "正文缺少安全域名链接，或安全域名尚未审核通过，请检查 safe_domain 设置",
        "the text has no link under the approved safe domain, or the domain is not approved; "
        "check safe_domain", _X),
    row(10018, "Request body length over limit", STOP, "请求内容超过长度限制",
        "the request body is too long", _C),
    row(10020, "api not found", STOP, "接口地址不存在，请检查 base_url",
        "the API was not found; check base_url", _X),
    row(10021, "HTTP method not supported", STOP, "请求方法不被支持（程序缺陷），请联系技术人员",
        "HTTP method not supported (a client bug); tell the technical staff", _X),
    row(10022, "IP requests out of rate limit", WAIT, "服务器 IP 请求超过频次限制，等待下一小时",
        "this IP is over its hourly request limit; waiting for the window", _R, _HOUR),
    row(10023, "User requests out of rate limit", WAIT, "账号请求超过频次限制，等待下一小时",
        "the account is over its hourly request limit; waiting for the window", _R, _HOUR),
    row(10024, "User requests for (%s) out of rate limit", WAIT, "账号发博超过每小时上限，等待下一小时",
        "the account is over its hourly posting limit; waiting for the window", _R, _HOUR),
    row(20003, "User does not exists", STOP, "微博用户不存在，请核实账号",
        "the Weibo user does not exist; check the account", _X),
    row(20005, "Unsupported image type, only suport JPG, GIF, PNG", STOP,
        "配图格式不支持，仅支持 JPG、GIF、PNG", "the picture must be JPEG, GIF or PNG", _C),
    row(20006, "Image size too large", STOP, "配图超过 5 MB", "the picture is larger than 5 MB", _C),
    row(20007, "Does multipart has image", STOP, "请求中没有配图文件",
        "the multipart request has no picture", _C),
    row(20008, "Content is null", STOP, "微博正文为空", "the post text is empty", _C),
    row(20012, "Text too long", STOP, "微博正文超过 140 字", "the post text is longer than 140", _C),
    row(20015, "Account or ip or app is illgal", STOP, "账号、IP 或应用被判定违规，需人工处理",
        "the account, IP or app is judged illegal; a person must handle it", _X),
    row(20016, "Out of limit (update weibo too fast)", WAIT, "发布内容过于频繁，稍后重试",
        "posting too fast; waiting before the next try", _R, 600.0),
    row(20017, "Repeat content", DUPLICATE, "提交相似的信息：与本账号此前的微博内容相似",
        "the text is similar to an earlier post of the account"),
    row(20018, "Contains illegal website", STOP, "正文包含被禁止的网址，需人工修改",
        "the text contains a banned website; a person must edit it", _C),
    row(20019, "Repeat conetnt", DUPLICATE, "提交相同的信息：与本账号此前的微博内容相同",
        "the text is the same as an earlier post of the account"),
    row(20020, "Contains advertising", STOP, "正文被判定为广告，需人工修改",
        "the text is judged to be advertising; a person must edit it", _C),
    row(20021, "Content is illegal", STOP, "正文包含非法内容，需人工修改",
        "the text is judged illegal; a person must edit it", _C),
    row(20022, "Your IP's behave in a comic (abnormal)", WAIT, "服务器 IP 行为异常被限制，长时间等待后重试",
        "this IP is flagged for abnormal behaviour; waiting a long time before retrying",
        _R, 4 * _HOUR),
    row(20031, "Test and verify", STOP, "微博要求验证码验证，需人工登录处理",
        "Weibo wants a captcha check; a person must log in and handle it", _X),
    row(20032, "Update success, while server slow now, please wait 1-2 minutes", SUCCESS,
        "发布成功，微博服务器较慢，1-2 分钟后可见；不得重发",
        "published; Weibo is slow and shows it in 1-2 minutes; never resend"),
    row(20034, "Unknown account state (unconfirmed code)", STOP,
        "账号状态异常（未公开的错误码），需人工核实", "account state problem (an undocumented code); "
        "a person must check", _X),
    row(20101, "Target weibo does not exist", STOP, "目标微博不存在（删除时视为已删除）",
        "the target post does not exist (for a delete: already gone)", _P),
    row(20102, "Not your own weibo", STOP, "不是本账号的微博，无法操作",
        "the post is not this account's own", _P),
    row(20111, "Repeated weibo text", DUPLICATE, "重复的微博内容：与本账号此前的微博重复",
        "the text repeats an earlier post of the account"),
    row(21301, "Auth faild", REAUTHORISE, REAUTHORISE_ZH, REAUTHORISE_EN, _A),
    row(21314, "Token used", REAUTHORISE, REAUTHORISE_ZH, REAUTHORISE_EN, _A),
    row(21315, "Token expired", REAUTHORISE, REAUTHORISE_ZH, REAUTHORISE_EN, _A),
    row(21316, "Token revoked", REAUTHORISE, REAUTHORISE_ZH, REAUTHORISE_EN, _A),
    row(21317, "Token rejected", REAUTHORISE, REAUTHORISE_ZH, REAUTHORISE_EN, _A),
    row(21319, "Accessor was revoked", REAUTHORISE, REAUTHORISE_ZH, REAUTHORISE_EN, _A),
    row(21321, "Applications over the unaudited use restrictions", STOP,
        "未审核应用超出使用限制，需向微博开放平台提交审核",
        "the unreviewed app is over its use restrictions; submit it for review", _X),
    row(21327, "expired_token", REAUTHORISE, REAUTHORISE_ZH, REAUTHORISE_EN, _A),
    row(21332, "invalid_access_token", REAUTHORISE, REAUTHORISE_ZH, REAUTHORISE_EN, _A),
    row(21335, "Request uid's value must be the current user", STOP,
        "请求的用户与授权用户不一致，请检查账号设置",
        "the requested uid is not the authorised user; check the account settings", _X),
    # ---- OAuth2 errors (weibo.md A1), met by `publisher weibo authorize`
    row(21322, "redirect_uri_mismatch", STOP, "回调地址与应用登记的不一致",
        "redirect_uri does not match the registered callback", _X),
    row(21323, "invalid_request", STOP, "授权请求无效", "the authorisation request is invalid", _X),
    row(21324, "invalid_client", STOP, "应用 client_id 或 client_secret 无效",
        "the app's client_id or client_secret is invalid", _X),
    row(21325, "invalid_grant", STOP, "授权码无效或已使用，请重新授权",
        "the authorisation code is invalid or used; authorise again", _X),
    row(21326, "unauthorized_client", STOP, "应用无权使用此授权方式",
        "the app may not use this grant", _X),
    row(21328, "unsupported_grant_type", STOP, "不支持的授权类型", "unsupported grant_type", _X),
    row(21329, "unsupported_response_type", STOP, "不支持的返回类型", "unsupported response_type", _X),
    row(21330, "access_denied", STOP, "用户拒绝了授权", "the user denied the authorisation", _X),
    row(21331, "temporarily_unavailable", RETRY, "授权服务暂时不可用，将自动重试",
        "the authorisation service is temporarily unavailable; retrying", _T),
    row(21337, "appkey permission denied", STOP, "应用 appkey 权限不足",
        "the app key lacks permission", _X),
)

TABLE: Mapping[int, ErrorRule] = by_code(RULES)
DUPLICATE_CODES = frozenset(r.code for r in RULES if r.decision == DUPLICATE)
SUCCESS_CODES = frozenset(r.code for r in RULES if r.decision == SUCCESS)
PICTURE_CODES = frozenset({20005, 20006, 20007})
ALREADY_GONE = 20101  # for destroy: the post is already deleted


def parse_code(raw: Any) -> int | None:
    """``error_code`` as an int: it arrives as a number or as a string (``"10006"``)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit():
        return int(raw.strip())
    return None


def rule_for(code: int | None) -> ErrorRule | None:
    """The table row of ``code``; None for codes outside weibo.md."""
    return None if code is None else TABLE.get(code)


def to_error(code: int | None, remote_message: str, *, http_status: int,
             operation: str) -> ChannelError:
    """The channel error for a failed call (duplicate and success codes are handled by the caller).

    ``operation`` names the call in staff words (``发布微博 / posting``); the remote text is
    kept apart from the message and never carries the token.
    """
    rule = rule_for(code)
    shown = str(code) if code is not None else f"http_{http_status}"
    if rule is None or rule.error is None:
        if code is None and http_status >= 500:
            return TransientChannelError(
                f"微博服务器错误 / Weibo server error {http_status} while {operation}",
                code=shown, remote_message=remote_message,
                explanation_zh="微博服务器暂时故障，将自动重试",
                explanation_en="the Weibo server failed; retrying")
        return PermanentChannelError(
            f"微博返回未知错误 {shown} / Weibo returned an unknown error {shown} while {operation}",
            code=shown, remote_message=remote_message,
            explanation_zh=f"微博返回未收录的错误码 {shown}，需人工核实",
            explanation_en=f"Weibo returned an unlisted error {shown}; a person must check")
    message = f"微博错误 {rule.code}（{rule.explanation_zh}）/ Weibo error {rule.code} while " \
              f"{operation}: {rule.explanation_en}"
    common: dict[str, Any] = {"code": str(rule.code), "remote_message": remote_message,
                              "explanation_zh": rule.explanation_zh,
                              "explanation_en": rule.explanation_en}
    if rule.error is ContentRejected:
        field = "pic" if rule.code in PICTURE_CODES else "status"
        return ContentRejected(message, field=field, limit=rule.name, **common)
    if issubclass(rule.error, TransientChannelError):
        return rule.error(message, retry_after=rule.window_seconds, **common)
    return rule.error(message, **common)
