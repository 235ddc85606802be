"""What every console page uses: the signed-in account, page permissions, CSRF-checked forms, render."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from starlette.datastructures import FormData, UploadFile

from publisher.logs import get_logger
from publisher.web import role
from publisher.web import session as sessions
from publisher.web.account import Account
from publisher.web.auth import current_app
from publisher.web.console.i18n import LANG_COOKIE, LANGS, language, markup_translator
from publisher.zone import iso

log = get_logger("publisher.web")

WEB = Path(__file__).resolve().parent.parent
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"
LOGIN_PATH = "/login"
CSRF_FIELD = "csrf_token"
MAX_FORM_BYTES = 256 * 1024
MAX_FORM_FIELDS = 1000
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LANG_COOKIE_SECONDS = 365 * 24 * 3600
_UNSET = object()

environment = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True,
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_BILINGUAL = re.compile(r"^(?P<zh>.*?[^\x00-\x7f].*?) / (?P<en>[A-Za-z(\"'].*)$", re.S)


_ENGLISH_ASIDE = re.compile(r"（([A-Za-z][A-Za-z .'-]*)）")


def bilingual(text: object) -> Markup:
    """A "中文 / English" message with each part marked with its language (``lang``), so that a
    screen reader reads the English part as English; an English word in full-width brackets
    (演练（Exercise）) is marked too; other text only escaped."""
    shown = str(text)
    found = _BILINGUAL.match(shown)
    if found is None:
        escaped = str(Markup.escape(shown))  # escaped first: only the spans are markup
        return Markup(_ENGLISH_ASIDE.sub(r'（<span lang="en">\1</span>）', escaped))  # noqa: S704
    return Markup('<span lang="zh-CN">{}</span> / <span lang="en">{}</span>').format(
        found.group("zh"), found.group("en"))


environment.filters["bilingual"] = bilingual


@dataclass(frozen=True)
class NavItem:
    """One entry of the header navigation, shown to accounts whose roles allow ``permission``."""

    key: str  # its words are t("nav.<key>")
    path: str
    permission: str


NAV: tuple[NavItem, ...] = (
    NavItem("overview", "/", role.LOG_READ),
    NavItem("deliveries", "/deliveries", role.LOG_READ),
    NavItem("urgent", "/urgent", role.URGENT_POST),
    NavItem("incidents", "/incidents", role.INCIDENT_READ),
    NavItem("audit", "/audit", role.AUDIT_READ),
    NavItem("reports", "/reports", role.REPORT_READ),
    NavItem("data", "/data", role.DATA_READ),
)


# --------------------------------------------------------------------------- refusals


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page, then back to ``next_path``."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path
        super().__init__("sign-in required")


class PageForbidden(Exception):
    """The signed-in account's roles do not allow ``permission``: a 403 page."""

    def __init__(self, permission: str) -> None:
        self.permission = permission
        super().__init__(f"needs {permission}")


class CsrfRefused(Exception):
    """A form came without the CSRF token of its session, or with a wrong one: a 403 page."""


class FormUnreadable(Exception):
    """A form body that is not ``application/x-www-form-urlencoded`` (415) or too large (413)."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"form unreadable ({status})")


# --------------------------------------------------------------------------- who is asking


def client_address(request: Request) -> str:
    """The peer's address: the reverse proxy's, unless the proxy is in ``web.trusted_proxies``
    (then uvicorn has put the client it forwarded for here, from X-Forwarded-For)."""
    return request.client.host if request.client else "unknown"


def signed_in(request: Request) -> sessions.SignedIn | None:
    """The request's live session (looked up once per request), or None."""
    found: sessions.SignedIn | object | None = getattr(request.state, "console_session", _UNSET)
    if found is _UNSET:
        token = request.cookies.get(sessions.COOKIE)
        found = sessions.look_up(current_app(request), token) if token else None
        request.state.console_session = found
    return found if isinstance(found, sessions.SignedIn) else None


def current_account(request: Request) -> Account | None:
    """The signed-in account of the request, or None."""
    found = signed_in(request)
    return found.account if found else None


def _here(request: Request) -> str:
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "lang"])
    return request.url.path + (f"?{query}" if query else "")


def require_page(permission: str | None = None) -> Callable[[Request], Account]:
    """A dependency admitting a signed-in account whose roles allow ``permission`` (None: any
    signed-in account). Unsigned browsers are redirected to ``/login?next=…`` (303); an account
    lacking the permission gets a 403 page."""

    def admit(request: Request) -> Account:
        found = signed_in(request)
        if found is None:
            raise SignInRequired(_here(request) if request.method in SAFE_METHODS else "/")
        if permission is not None and not found.account.may(permission):
            log.warning("console.forbidden", account=found.account.name,
                        roles=list(found.account.roles), permission=permission,
                        path=request.url.path)
            raise PageForbidden(permission)
        return found.account

    return admit


def safe_next(value: str | None) -> str:
    """A same-site path to return to after signing in; anything else becomes ``/``."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")) \
            or any(ch in value for ch in "\r\n\t\\") or value.startswith((LOGIN_PATH, "/logout")):
        return "/"
    return value


# --------------------------------------------------------------------------- forms


async def read_form(request: Request, limit: int = MAX_FORM_BYTES) -> FormData:
    """The request's urlencoded form (413 past ``limit``, 415 for another type)."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise FormUnreadable(415)
    declared = request.headers.get("content-length", "")
    if declared.strip().isdigit() and int(declared) > limit:
        raise FormUnreadable(413)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise FormUnreadable(413)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FormUnreadable(415) from None
    try:
        pairs: list[tuple[str, str | UploadFile]] = list(
            parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS))
    except ValueError:  # more fields than MAX_FORM_FIELDS
        raise FormUnreadable(413) from None
    return FormData(pairs)


async def check_csrf(request: Request) -> FormData:
    """A dependency for every form post: the form, if its ``csrf_token`` is its session's.

    Without a session the browser goes to the sign-in page; without the token, or with another
    session's, the answer is a 403 page and the handler never runs. For GET it is a no-op.
    Page routers made by ``page_router`` run it for every POST.
    """
    if request.method in SAFE_METHODS:
        return FormData()
    found = signed_in(request)
    if found is None:
        raise SignInRequired("/")
    form = await read_form(request)
    if not sessions.csrf_matches(found.csrf_token, field(form, CSRF_FIELD)):
        log.warning("console.csrf_refused", account=found.account.name, path=request.url.path)
        raise CsrfRefused
    return form


def field(form: FormData, name: str) -> str:
    """A text field of a form ("" if absent)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def page_router() -> APIRouter:
    """A router for console pages: kept out of the OpenAPI schema, every POST CSRF-checked."""
    return APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])


# --------------------------------------------------------------------------- pages


def _lang_url(request: Request, lang: str) -> str:
    items = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return request.url.path + "?" + urlencode([*items, ("lang", lang)])


def nav(account: Account | None, path: str) -> list[dict[str, Any]]:
    """The navigation entries ``account`` may see, the current one marked."""
    if account is None:
        return []
    return [{"key": item.key, "path": item.path,
             "current": path == item.path or (item.path != "/" and path.startswith(item.path + "/"))}
            for item in NAV if account.may(item.permission)]


def render(request: Request, template: str, context: Mapping[str, Any] | None = None, *,
           status_code: int = 200) -> HTMLResponse:
    """A console page: ``template`` (under publisher/web/templates/) with ``context`` and what
    every page has: ``account``, ``lang``, ``t``, ``csrf_token``, ``nav``, ``when``, ``path``."""
    lang = language(request)
    found = signed_in(request)
    account = found.account if found else None
    zone = current_app(request).loaded.zone

    def when(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> Markup:
        """A time as staff read it, in the configured zone, inside ``<time datetime>`` with
        its offset."""
        return time_element(moment, zone, fmt)

    values: dict[str, Any] = {
        "account": account, "lang": lang, "t": markup_translator(lang),
        "csrf_token": found.csrf_token if found else "", "csrf_field": CSRF_FIELD,
        "nav": nav(account, request.url.path), "path": request.url.path, "when": when,
        "other_lang": "en" if lang == "zh" else "zh",
        "other_lang_url": _lang_url(request, "en" if lang == "zh" else "zh"),
    }
    values.update(context or {})
    html = environment.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code)
    given = request.query_params.get("lang")
    if given in LANGS and given != request.cookies.get(LANG_COOKIE):
        response.set_cookie(LANG_COOKIE, str(given), max_age=LANG_COOKIE_SECONDS, httponly=True,
                            samesite="lax", secure=secure_cookies(request))
    return response


def time_element(moment: datetime | None, zone: tzinfo, fmt: str = "%Y-%m-%d %H:%M") -> Markup:
    """``<time datetime="2026-12-02T10:51:00+08:00">2026-12-02 10:51</time>``: ``moment`` in
    ``zone``, ``fmt`` for people and ISO 8601 with the offset for machines; "-" for None."""
    if moment is None:
        return Markup("-")
    return Markup('<time datetime="{}">{}</time>').format(
        iso(moment, zone), moment.astimezone(zone).strftime(fmt))


def secure_cookies(request: Request) -> bool:
    """Whether cookies carry ``Secure`` (config ``web.secure_cookies``)."""
    return current_app(request).loaded.config.web.secure_cookies
