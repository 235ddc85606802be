"""Every WeChat errcode mapped to an error class, the action taken and a staff sentence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channels.base import (
    AuthExpired,
    ChannelError,
    ConfigurationError,
    ContentRejected,
    PermanentChannelError,
    RateLimited,
    TransientChannelError,
)

# What the adapter does about a code.
RETRY = "retry"  # transient: the dispatcher retries with backoff
REFRESH = "refresh"  # token rejected: expire it if unchanged, fetch once, replay once
WAIT = "wait"  # a window must pass (retry_after seconds), then retry
ALREADY = "already"  # the remote already has it: treat as success
FAIL = "fail"  # permanent


@dataclass(frozen=True)
class Code:
    """One errcode: the error class raised, the action, the wait and the staff texts."""

    code: int
    error: type[ChannelError]
    action: str
    zh: str
    en: str
    retry_after: float | None = None
    field: str | None = None  # for ContentRejected: the field at fault


def _c(code: int, error: type[ChannelError], action: str, zh: str, en: str, *,
       retry_after: float | None = None, field: str | None = None) -> Code:
    return Code(code, error, action, zh, en, retry_after, field)


P, C, CR = PermanentChannelError, ConfigurationError, ContentRejected

CODES: dict[int, Code] = {c.code: c for c in (
    _c(-1, TransientChannelError, RETRY, "微信系统繁忙，稍后自动重试",
       "WeChat is busy; retrying shortly", retry_after=1.0),
    _c(40001, AuthExpired, REFRESH, "访问令牌无效或不是最新，已刷新后重试一次",
       "the access token is invalid or not the latest; refreshed and retried once"),
    _c(40014, AuthExpired, REFRESH, "访问令牌不合法，已刷新后重试一次",
       "the access token is not valid; refreshed and retried once"),
    _c(42001, AuthExpired, REFRESH, "访问令牌已过期，已刷新后重试一次",
       "the access token expired; refreshed and retried once"),
    _c(41001, P, FAIL, "请求缺少访问令牌（程序错误），请联系技术人员",
       "the request carried no access token (a program bug); tell the technical staff"),
    _c(40002, C, FAIL, "凭证类型不合法（程序错误）", "invalid grant_type (a program bug)"),
    _c(40013, C, FAIL, "AppID 不正确，请核对公众号设置", "the AppID is wrong; check the account settings"),
    _c(40125, C, FAIL, "AppSecret 不正确，请在公众平台核对或重置",
       "the AppSecret is wrong; check or reset it on the WeChat platform"),
    _c(40164, C, FAIL, "本机 IP 不在公众号 IP 白名单中，请管理员添加",
       "this server's IP is not on the account's IP whitelist; an administrator must add it"),
    _c(40243, C, FAIL, "AppSecret 已被冻结，请管理员在公众平台解冻",
       "the AppSecret is frozen; an administrator must unfreeze it"),
    _c(41002, C, FAIL, "请求缺少 AppID（程序错误）", "the request lacks the AppID (a program bug)"),
    _c(41004, C, FAIL, "请求缺少 AppSecret，请检查配置",
       "the request lacks the AppSecret; check the settings"),
    _c(43002, P, FAIL, "接口须用 POST 调用（程序错误）", "this API needs POST (a program bug)"),
    _c(50004, C, FAIL, "该公众号暂不能调用接口", "this account may not call the API for now"),
    _c(50007, C, FAIL, "该公众号已冻结", "this account is frozen"),
    _c(89503, RateLimited, WAIT, "本次调用需公众号管理员确认，请管理员在手机上确认后重试",
       "an administrator must confirm this call on the phone; retrying later", retry_after=600.0),
    _c(89506, C, FAIL, "管理员拒绝了本机 IP 的调用，24 小时后才能重试",
       "an administrator rejected this IP; it can retry only after 24 hours"),
    _c(89507, C, FAIL, "管理员拒绝了本机 IP 的调用，1 小时后才能重试",
       "an administrator rejected this IP; it can retry only after 1 hour"),
    _c(40007, P, FAIL, "素材或草稿编号无效（可能已被删除）",
       "the media or draft id is not valid (perhaps deleted)"),
    _c(40005, CR, FAIL, "图片格式不支持，须为 JPG 或 PNG",
       "the image type is not allowed; use JPG or PNG",
       field="image"),
    _c(40009, CR, FAIL, "图片过大，正文图片须小于 1 MB",
       "the image is too large; body images must be under 1 MB",
       field="image"),
    _c(44003, CR, FAIL, "图文内容为空", "the article data is empty", field="articles"),
    _c(45003, CR, FAIL, "标题超过 32 字", "the title is longer than 32 characters", field="title"),
    _c(45004, CR, FAIL, "摘要超过长度限制", "the digest is too long", field="digest"),
    _c(45110, CR, FAIL, "作者超过 16 字", "the author is longer than 16 characters", field="author"),
    _c(45166, CR, FAIL, "正文内容不合法（请检查链接和标签）",
       "the content is not valid (check links and tags)", field="content"),
    _c(41039, CR, FAIL, "“阅读原文”链接不合法", "the read-original (content_source_url) link is not valid",
       field="content_source_url"),
    _c(45009, RateLimited, WAIT, "接口今日调用次数已用完，明日恢复或由管理员清零",
       "the API's daily quota is used up; it resets tomorrow or an administrator clears it",
       retry_after=3600.0),
    _c(45011, RateLimited, WAIT, "接口调用过于频繁，一分钟后重试",
       "the API is called too often; retrying in a minute", retry_after=60.0),
    _c(48006, RateLimited, WAIT, "本月清零次数已用完", "the monthly quota-reset allowance is used up",
       retry_after=86400.0),
    _c(45028, P, FAIL, "群发额度已用完（每日一次）", "no mass-send quota left (one per day)"),
    _c(45065, P, ALREADY, "此消息 24 小时内已群发过，沿用原群发",
       "this message was already mass-sent in the last 24 hours; the earlier send stands"),
    _c(45066, RateLimited, WAIT, "群发重试过快，一分钟后用同一编号重试",
       "the mass send was retried too fast; retrying with the same id after a minute",
       retry_after=60.0),
    _c(45067, P, FAIL, "群发编号过长（程序错误）", "the clientmsgid is too long (a program bug)"),
    _c(40152, C, FAIL, "群发标签编号无效", "the mass-send tag id is not valid"),
    _c(45062, C, FAIL, "公众号开通了广告，不能用接口群发",
       "an account that runs ads cannot mass-send by API"),
    _c(48021, P, FAIL, "草稿是自动保存的，须在公众平台手动保存后再群发",
       "the draft was auto-saved; save it by hand on the platform before sending"),
    _c(41040, P, FAIL, "不满足原创要求，不能群发", "the originality requirement is not met"),
    _c(89504, RateLimited, WAIT, "群发待管理员审核", "the mass send awaits administrator approval",
       retry_after=600.0),
    _c(89505, RateLimited, WAIT, "群发正在管理员审核中",
       "the mass send is being approved by an administrator",
       retry_after=600.0),
    _c(40059, P, FAIL, "群发消息编号无效", "the mass message id is not valid"),
    _c(48001, C, FAIL, "公众号无此接口权限（须为认证账号）",
       "the account lacks this API permission (it must be verified)"),
    _c(50001, C, FAIL, "公众号未授权此接口", "the account has not authorised this API"),
    _c(53500, P, FAIL, "公众号发布功能被封禁", "publishing is banned for this account"),
    _c(53501, RateLimited, WAIT, "发布请求过于频繁，几分钟后重试",
       "publish requests are too frequent; retrying in a few minutes", retry_after=300.0),
    _c(53502, P, FAIL, "发布任务编号无效", "the publish_id is not valid"),
    _c(53600, P, FAIL, "文章编号无效", "the article_id is not valid"),
    _c(53503, CR, FAIL, "草稿未通过发布检查", "the draft failed the publish check", field="content"),
    _c(53504, P, FAIL, "须到公众平台网页发布此草稿", "this draft must be published on the platform website"),
    _c(53505, P, FAIL, "须先在公众平台手动保存草稿", "save the draft by hand on the platform first"),
    _c(53404, P, FAIL, "账号被限制带货", "the account is barred from selling"),
    _c(53405, CR, FAIL, "商品信息有误", "the product information is wrong", field="product_info"),
    _c(53406, P, FAIL, "未开通带货功能", "selling is not enabled"),
    _c(40114, P, FAIL, "草稿序号不正确（程序错误）", "the draft index is wrong (a program bug)"),
    _c(88000, P, FAIL, "无留言权限", "the account has no comment privilege"),
    _c(40004, P, FAIL, "素材类型不合法（程序错误）", "the media type is not valid (a program bug)"),
    _c(45008, CR, FAIL, "图文篇数超过 8 篇", "more than 8 articles in one draft", field="articles"),
    _c(47001, P, FAIL, "请求数据格式错误（程序错误）", "the request data is malformed (a program bug)"),
    _c(40097, P, FAIL, "请求参数错误（程序错误）", "the request arguments are wrong (a program bug)"),
)}

# On the token endpoint 40001 means a wrong AppSecret, and no refresh can help.
TOKEN_ENDPOINT_40001 = _c(40001, C, FAIL, "AppSecret 错误，无法获取访问令牌",
                          "the AppSecret is wrong; no access token can be had")

UNKNOWN_ZH = "微信返回未知错误码"
UNKNOWN_EN = "WeChat returned an unknown error code"


def entry(errcode: int, *, token_endpoint: bool = False) -> Code:
    """The table entry for ``errcode`` (an unknown code is permanent)."""
    if token_endpoint and errcode == 40001:
        return TOKEN_ENDPOINT_40001
    found = CODES.get(errcode)
    if found is None:
        return _c(errcode, P, FAIL, f"{UNKNOWN_ZH} {errcode}", f"{UNKNOWN_EN} {errcode}")
    return found


def error_for(errcode: int, errmsg: str, api: str, *, token_endpoint: bool = False
              ) -> ChannelError:
    """The exception for a non-zero errcode; its text names the API path, never the URL."""
    item = entry(errcode, token_endpoint=token_endpoint)
    message = f"微信 {api} 返回 {errcode} / WeChat {api} answered {errcode}: {item.en}"
    common: dict[str, Any] = {"code": str(errcode), "remote_message": errmsg[:300],
                              "explanation_zh": item.zh, "explanation_en": item.en}
    if item.error is ContentRejected:
        return ContentRejected(message, field=item.field or "content", limit=item.en, **common)
    if issubclass(item.error, TransientChannelError):
        return item.error(message, retry_after=item.retry_after, **common)
    return item.error(message, **common)
