"""WeChat errcodes (wechat.md §6) as rules in the table shape of every kind (channels/error_table.py)."""

from __future__ import annotations

from collections.abc import Mapping
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
from channels.error_table import ErrorRule, by_code, row

# What the adapter does about a code.
RETRY = "retry"  # transient: the dispatcher retries with backoff
REFRESH = "refresh"  # token rejected: expire it if unchanged, fetch once, replay once
WAIT = "wait"  # a window must pass (window_seconds), then retry
ALREADY = "already"  # the remote already has it: treat as success
FAIL = "fail"  # permanent


P, C, CR = PermanentChannelError, ConfigurationError, ContentRejected

RULES: tuple[ErrorRule, ...] = (
    row(-1, "system error", RETRY, "微信系统繁忙，稍后自动重试",
        "WeChat is busy; retrying shortly", TransientChannelError, 1.0),
    row(40001, "invalid credential, access_token is invalid or not latest", REFRESH,
        "访问令牌无效或不是最新，已刷新后重试一次",
        "the access token is invalid or not the latest; refreshed and retried once", AuthExpired),
    row(40014, "invalid access_token", REFRESH, "访问令牌不合法，已刷新后重试一次",
        "the access token is not valid; refreshed and retried once", AuthExpired),
    row(42001, "access_token expired", REFRESH, "访问令牌已过期，已刷新后重试一次",
        "the access token expired; refreshed and retried once", AuthExpired),
    row(41001, "access_token missing", FAIL, "请求缺少访问令牌（程序错误），请联系技术人员",
        "the request carried no access token (a program bug); tell the technical staff", P),
    row(40002, "invalid grant_type", FAIL, "凭证类型不合法（程序错误）", "invalid grant_type (a program bug)",
        C),
    row(40013, "invalid appid", FAIL, "AppID 不正确，请核对公众号设置",
        "the AppID is wrong; check the account settings", C),
    row(40125, "invalid appsecret", FAIL, "AppSecret 不正确，请在公众平台核对或重置",
        "the AppSecret is wrong; check or reset it on the WeChat platform", C),
    row(40164, "invalid ip, not in whitelist", FAIL, "本机 IP 不在公众号 IP 白名单中，请管理员添加",
        "this server's IP is not on the account's IP whitelist; an administrator must add it", C),
    row(40243, "AppSecret is frozen", FAIL, "AppSecret 已被冻结，请管理员在公众平台解冻",
        "the AppSecret is frozen; an administrator must unfreeze it", C),
    row(41002, "appid missing", FAIL, "请求缺少 AppID（程序错误）",
        "the request lacks the AppID (a program bug)", C),
    row(41004, "appsecret missing", FAIL, "请求缺少 AppSecret，请检查配置",
        "the request lacks the AppSecret; check the settings", C),
    row(43002, "require POST method", FAIL, "接口须用 POST 调用（程序错误）",
        "this API needs POST (a program bug)", P),
    row(50004, "api forbidden for this account", FAIL, "该公众号暂不能调用接口",
        "this account may not call the API for now", C),
    row(50007, "account frozen", FAIL, "该公众号已冻结", "this account is frozen", C),
    row(89503, "this call needs the administrator's confirmation", WAIT,
        "本次调用需公众号管理员确认，请管理员在手机上确认后重试",
        "an administrator must confirm this call on the phone; retrying later", RateLimited, 600.0),
    row(89506, "this IP was rejected by the administrator (24 h)", FAIL,
        "管理员拒绝了本机 IP 的调用，24 小时后才能重试",
        "an administrator rejected this IP; it can retry only after 24 hours", C),
    row(89507, "this IP was rejected by the administrator (1 h)", FAIL,
        "管理员拒绝了本机 IP 的调用，1 小时后才能重试",
        "an administrator rejected this IP; it can retry only after 1 hour", C),
    row(40007, "invalid media_id", FAIL, "素材或草稿编号无效（可能已被删除）",
        "the media or draft id is not valid (perhaps deleted)", P),
    row(40005, "invalid file type", FAIL, "图片格式不支持，须为 JPG 或 PNG",
        "the image type is not allowed; use JPG or PNG", CR, None, "image"),
    row(40009, "invalid image size", FAIL, "图片过大，正文图片须小于 1 MB",
        "the image is too large; body images must be under 1 MB", CR, None, "image"),
    row(44003, "empty news data", FAIL, "图文内容为空", "the article data is empty", CR, None, "articles"),
    row(45003, "title size out of limit", FAIL, "标题超过 32 字",
        "the title is longer than 32 characters", CR, None, "title"),
    row(45004, "description size out of limit", FAIL, "摘要超过长度限制",
        "the digest is too long", CR, None, "digest"),
    row(45110, "author size out of limit", FAIL, "作者超过 16 字",
        "the author is longer than 16 characters", CR, None, "author"),
    row(45166, "invalid content", FAIL, "正文内容不合法（请检查链接和标签）",
        "the content is not valid (check links and tags)", CR, None, "content"),
    row(41039, "invalid content_source_url", FAIL, "“阅读原文”链接不合法",
        "the read-original (content_source_url) link is not valid", CR, None, "content_source_url"),
    row(45009, "reach max api daily quota limit", WAIT, "接口今日调用次数已用完，明日恢复或由管理员清零",
        "the API's daily quota is used up; it resets tomorrow or an administrator clears it",
        RateLimited, 3600.0),
    row(45011, "api minute-quota reach limit", WAIT, "接口调用过于频繁，一分钟后重试",
        "the API is called too often; retrying in a minute", RateLimited, 60.0),
    row(48006, "forbid to clear quota because of reaching the limit", WAIT, "本月清零次数已用完",
        "the monthly quota-reset allowance is used up", RateLimited, 86400.0),
    row(45028, "has no masssend quota", FAIL, "群发额度已用完（每日一次）",
        "no mass-send quota left (one per day)", P),
    row(45065, "clientmsgid exist", ALREADY, "此消息 24 小时内已群发过，沿用原群发",
        "this message was already mass-sent in the last 24 hours; the earlier send stands", P),
    row(45066, "same clientmsgid retry too fast", WAIT, "群发重试过快，一分钟后用同一编号重试",
        "the mass send was retried too fast; retrying with the same id after a minute", RateLimited, 60.0),
    row(45067, "clientmsgid size out of limit", FAIL, "群发编号过长（程序错误）",
        "the clientmsgid is too long (a program bug)", P),
    row(40152, "invalid group id", FAIL, "群发标签编号无效", "the mass-send tag id is not valid", C),
    row(45062, "account with ads may not mass-send by API", FAIL, "公众号开通了广告，不能用接口群发",
        "an account that runs ads cannot mass-send by API", C),
    row(48021, "auto-saved draft may not be sent", FAIL, "草稿是自动保存的，须在公众平台手动保存后再群发",
        "the draft was auto-saved; save it by hand on the platform before sending", P),
    row(41040, "originality check not passed", FAIL, "不满足原创要求，不能群发",
        "the originality requirement is not met", P),
    row(89504, "mass send awaits the administrator's approval", WAIT, "群发待管理员审核",
        "the mass send awaits administrator approval", RateLimited, 600.0),
    row(89505, "mass send is being approved by the administrator", WAIT, "群发正在管理员审核中",
        "the mass send is being approved by an administrator", RateLimited, 600.0),
    row(40059, "invalid msg id", FAIL, "群发消息编号无效", "the mass message id is not valid", P),
    row(48001, "api unauthorized", FAIL, "公众号无此接口权限（须为认证账号）",
        "the account lacks this API permission (it must be verified)", C),
    row(50001, "user unauthorized", FAIL, "公众号未授权此接口", "the account has not authorised this API", C),
    row(53500, "publishing is banned", FAIL, "公众号发布功能被封禁", "publishing is banned for this account",
        P),
    row(53501, "publish too frequently", WAIT, "发布请求过于频繁，几分钟后重试",
        "publish requests are too frequent; retrying in a few minutes", RateLimited, 300.0),
    row(53502, "invalid publish_id", FAIL, "发布任务编号无效", "the publish_id is not valid", P),
    row(53600, "invalid article_id", FAIL, "文章编号无效", "the article_id is not valid", P),
    row(53503, "draft failed the publish check", FAIL, "草稿未通过发布检查",
        "the draft failed the publish check", CR, None, "content"),
    row(53504, "publish this draft on the website", FAIL, "须到公众平台网页发布此草稿",
        "this draft must be published on the platform website", P),
    row(53505, "save the draft manually first", FAIL, "须先在公众平台手动保存草稿",
        "save the draft by hand on the platform first", P),
    row(53404, "account barred from selling", FAIL, "账号被限制带货", "the account is barred from selling",
        P),
    row(53405, "invalid product info", FAIL, "商品信息有误",
        "the product information is wrong", CR, None, "product_info"),
    row(53406, "selling not enabled", FAIL, "未开通带货功能", "selling is not enabled", P),
    row(40114, "invalid index value", FAIL, "草稿序号不正确（程序错误）",
        "the draft index is wrong (a program bug)", P),
    row(88000, "without comment privilege", FAIL, "无留言权限", "the account has no comment privilege", P),
    row(40004, "invalid media type", FAIL, "素材类型不合法（程序错误）",
        "the media type is not valid (a program bug)", P),
    row(45008, "article size out of limit", FAIL, "图文篇数超过 8 篇",
        "more than 8 articles in one draft", CR, None, "articles"),
    row(47001, "data format error", FAIL, "请求数据格式错误（程序错误）",
        "the request data is malformed (a program bug)", P),
    row(40097, "invalid args", FAIL, "请求参数错误（程序错误）",
        "the request arguments are wrong (a program bug)", P),
)
CODES: Mapping[int, ErrorRule] = by_code(RULES)

# On the token endpoint 40001 means a wrong AppSecret, and no refresh can help.
TOKEN_ENDPOINT_40001 = row(40001, "invalid credential (token endpoint: the secret)", FAIL,
                           "AppSecret 错误，无法获取访问令牌",
                           "the AppSecret is wrong; no access token can be had", C)

UNKNOWN_ZH = "微信返回未知错误码"
UNKNOWN_EN = "WeChat returned an unknown error code"


def entry(errcode: int, *, token_endpoint: bool = False) -> ErrorRule:
    """The table entry for ``errcode`` (an unknown code is permanent)."""
    if token_endpoint and errcode == 40001:
        return TOKEN_ENDPOINT_40001
    found = CODES.get(errcode)
    if found is None:
        return row(errcode, "unknown", FAIL, f"{UNKNOWN_ZH} {errcode}", f"{UNKNOWN_EN} {errcode}", P)
    return found


def error_for(errcode: int, errmsg: str, api: str, *, token_endpoint: bool = False
              ) -> ChannelError:
    """The exception for a non-zero errcode; its text names the API path, never the URL."""
    item = entry(errcode, token_endpoint=token_endpoint)
    message = f"微信 {api} 返回 {errcode} / WeChat {api} answered {errcode}: {item.explanation_en}"
    common: dict[str, Any] = {"code": str(errcode), "remote_message": errmsg[:300],
                              "explanation_zh": item.explanation_zh,
                              "explanation_en": item.explanation_en}
    error = item.error or PermanentChannelError
    if error is ContentRejected:
        return ContentRejected(message, field=item.field or "content", limit=item.explanation_en,
                               **common)
    if issubclass(error, TransientChannelError):
        return error(message, retry_after=item.window_seconds, **common)
    return error(message, **common)
