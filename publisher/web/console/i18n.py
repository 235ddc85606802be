"""The console's words in Chinese (the default) and English: a small catalogue, ``t(key, lang)``."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from markupsafe import Markup, escape
from starlette.requests import Request

LANGS: tuple[str, ...] = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_COOKIE = "lang"

Translate = Callable[..., str]

# key -> (zh-CN, English). Page modules add their own with ``register`` at import time.
CATALOGUE: dict[str, tuple[str, str]] = {
    "app.title": ("政务信息发布工作台", "Gov Publisher console"),
    "app.skip": ("跳到正文", "Skip to content"),
    "app.table": ("表格（窄屏上可左右滚动）", "Table (scrolls sideways on a narrow screen)"),
    "nav.label": ("主导航", "Main navigation"),
    "nav.overview": ("总览", "Overview"),
    "nav.deliveries": ("投递日志", "Delivery log"),
    "nav.urgent": ("紧急发布", "Urgent"),
    "nav.incidents": ("突发事件", "Incidents"),
    "nav.audit": ("审计", "Audit"),
    "nav.account": ("我的账号", "My account"),
    "lang.switch": ("English", "中文"),
    "lang.label": ("切换语言", "Switch language"),
    "user.signed_in_as": ("当前用户", "Signed in as"),
    "action.sign_in": ("登录", "Sign in"),
    "action.sign_out": ("退出", "Sign out"),
    "action.save": ("保存", "Save"),
    "login.title": ("登录", "Sign in"),
    "login.name": ("账号", "Account name"),
    "login.password": ("密码", "Password"),
    "login.refused": ("账号或密码不正确，或账号已停用。", "The account name or password is not "
                      "correct, or the account is disabled."),
    "login.busy": ("登录请求过多，服务器正忙，请稍后再试。", "Too many sign-ins at once; the server is "
                   "busy, try again in a moment."),
    "login.locked": ("登录失败次数过多，请在 {until} 之后再试。", "Too many failed sign-ins; try "
                     "again after {until}."),
    "login.signed_out": ("您已退出。", "You have signed out."),
    "login.expired": ("请先登录。", "Please sign in."),
    "overview.title": ("总览", "Overview"),
    "overview.account": ("账号", "Account"),
    "overview.roles": ("角色", "Roles"),
    "overview.permissions": ("可执行的操作", "What you may do"),
    "account.title": ("我的账号", "My account"),
    "account.change_password": ("修改密码", "Change password"),
    "account.current_password": ("当前密码", "Current password"),
    "account.new_password": ("新密码（至少 {min} 个字符）", "New password (at least {min} "
                             "characters)"),
    "account.repeat_password": ("再次输入新密码", "New password again"),
    "account.wrong_current": ("当前密码不正确。", "The current password is not correct."),
    "account.refused": ("未能修改密码：{reason}", "The password was not changed: {reason}"),
    "account.mismatch": ("两次输入的新密码不一致。", "The two new passwords differ."),
    "account.changed": ("密码已修改，其他设备上的登录已结束。", "Password changed; your other "
                        "sessions have ended."),
    "account.password_changed_at": ("密码修改于", "Password changed"),
    "error.forbidden.title": ("无权访问", "Not allowed"),
    "error.forbidden.body": ("您的角色无权执行此操作（需要权限 {permission}）。", "Your roles do "
                             "not allow this (it needs the permission {permission})."),
    "error.csrf.title": ("表单已失效", "The form has expired"),
    "error.csrf.body": ("这个表单缺少有效的安全令牌。请返回，刷新页面后重新提交。", "This form "
                        "lacks a valid security token. Go back, reload the page and submit "
                        "again."),
    "error.form.title": ("无法读取表单", "The form cannot be read"),
    "error.form.body": ("请通过页面上的表单提交。", "Please submit through the form on the page."),
    "error.not_found.title": ("没有这个页面", "No such page"),
    "error.not_found.body": ("地址有误，或页面已不存在。", "The address is wrong, or the page is "
                             "gone."),
    "error.http.title": ("请求无法处理", "The request cannot be handled"),
    "error.internal.title": ("服务内部错误", "Internal error"),
    "error.internal.body": ("出错了，已记录在日志中。请稍后再试，或联系管理员。", "Something went "
                            "wrong and has been logged. Try again later, or ask an "
                            "administrator."),
    "error.back": ("返回总览", "Back to the overview"),
    "role.viewer": ("查看者", "viewer"),
    "role.editor": ("编辑", "editor"),
    "role.approver": ("审核人", "approver"),
    "role.urgent": ("紧急发布员", "urgent publisher"),
    "role.admin": ("管理员", "administrator"),
    "permission.log.read": ("查看投递日志", "read the delivery log"),
    "permission.incident.read": ("查看事件", "read incidents"),
    "permission.audit.read": ("查看审计记录", "read the audit chain"),
    "permission.release.preview": ("预览发布", "preview releases"),
    "permission.release.trigger": ("立即发布", "trigger releases"),
    "permission.release.approve": ("审核发布", "approve releases"),
    "permission.delivery.retry": ("重试投递", "retry deliveries"),
    "permission.delivery.resolve": ("人工判定投递结果", "resolve deliveries by hand"),
    "permission.urgent.post": ("发布紧急信息", "post urgent messages"),
    "permission.urgent.update": ("续报与更正", "post updates and corrections"),
    "permission.urgent.cancel": ("撤回紧急信息", "withdraw urgent messages"),
    "permission.account.manage": ("管理账号", "manage accounts"),
    "permission.token.manage": ("管理 API 令牌", "manage API tokens"),
}


def register(messages: Mapping[str, tuple[str, str]]) -> None:
    """Add a page's messages; a key already there with other words is a programming error."""
    for key, words in messages.items():
        known = CATALOGUE.get(key)
        if known is not None and known != tuple(words):
            raise ValueError(f"message {key!r} is already in the catalogue with other words")
        CATALOGUE[key] = (words[0], words[1])


def t(key: str, lang: str = DEFAULT_LANG, **params: object) -> str:
    """The message ``key`` in ``lang`` (zh or en), with ``{params}`` filled in.

    An unknown key raises KeyError: a page with a missing message fails its test, not silently.
    """
    zh, en = CATALOGUE[key]
    text = en if lang == "en" else zh
    return text.format(**params) if params else text


def translator(lang: str) -> Translate:
    """``t`` bound to one language, for templates: ``{{ t("nav.overview") }}``."""

    def bound(key: str, **params: object) -> str:
        return t(key, lang, **params)

    return bound


def markup_translator(lang: str) -> Callable[..., Markup]:
    """``t`` for page templates: the message escaped, its parameters escaped unless they are
    markup already (a ``<time>`` element from ``when``), so markup may go into a sentence."""

    def bound(key: str, **params: object) -> Markup:
        zh, en = CATALOGUE[key]
        text = escape(en if lang == "en" else zh)
        return text.format(**params) if params else text

    return bound


def language(request: Request) -> str:
    """The request's language: ``?lang=`` if given, else the ``lang`` cookie, else Chinese."""
    for given in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if given in LANGS:
            return str(given)
    return DEFAULT_LANG
