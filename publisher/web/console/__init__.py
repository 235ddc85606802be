"""The staff console: server-rendered pages beside the API, signed in with accounts and sessions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from publisher.logs import get_logger
from publisher.web.console import (
    chain,
    checks,
    data,
    deliveries,
    login,
    overview,
    profile,
    releases,
    reports,
    urgent,
)
from publisher.web.console.deps import (
    LOGIN_PATH,
    STATIC,
    CsrfRefused,
    FormUnreadable,
    PageForbidden,
    SignInRequired,
    render,
)

log = get_logger("publisher.web")

# The page routers, in order. A new page module adds its ``router`` (made by
# ``deps.page_router()``) here.
ROUTERS = (login.router, overview.router, profile.router, *urgent.ROUTERS, deliveries.router,
           releases.router, chain.router, reports.router, checks.router, data.upload_router,
           data.router)

# Content-Security-Policy: no inline script or style, nothing from elsewhere, no framing.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", b"default-src 'self'; base-uri 'self'; form-action 'self'; "
                                 b"frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
)
NO_STORE = (b"cache-control", b"no-store")

Handler = Callable[[Request, Exception], Awaitable[Response] | Response]


# Paths (and their sub-paths) that are not the console's: the JSON API and machine endpoints.
# Their errors stay JSON and they get no console headers; every other path is the console's.
MACHINE_PATHS = ("/api", "/healthz", "/metrics", "/docs")


def is_console_path(api: FastAPI, path: str) -> bool:
    """Whether ``path`` belongs to the console (not the JSON API, its docs, /healthz, /metrics)."""
    if any(path == prefix or path.startswith(prefix + "/") for prefix in MACHINE_PATHS):
        return False
    return path not in {api.openapi_url, api.docs_url, api.redoc_url,
                        api.swagger_ui_oauth2_redirect_url}


class ConsoleHeaders:
    """ASGI middleware: security headers on every console answer, and no caching of pages."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app, self.api = app, api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not is_console_path(self.api, path):
            await self.app(scope, receive, send)
            return
        static = path.startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in names]
                if not static and NO_STORE[0] not in names:
                    headers.append(NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _page_error(request: Request, status: int, title: str, body: str,
                **params: object) -> HTMLResponse:
    return render(request, "error.html.j2", {"title_key": title, "body_key": body,
                                             "params": params}, status_code=status)


async def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    from urllib.parse import quote

    target = LOGIN_PATH if exc.next_path == "/" else f"{LOGIN_PATH}?next={quote(exc.next_path)}"
    return RedirectResponse(target, status_code=303)


async def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageForbidden)
    return _page_error(request, 403, "error.forbidden.title", "error.forbidden.body",
                       permission=exc.permission)


async def _csrf(request: Request, exc: Exception) -> Response:
    return _page_error(request, 403, "error.csrf.title", "error.csrf.body")


async def _unreadable(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FormUnreadable)
    return _page_error(request, exc.status, "error.form.title", "error.form.body")


def install(api: FastAPI) -> None:
    """Add the console to ``api``: its pages, /static, its error pages and security headers.

    Call after ``error.install``: errors on console paths become pages, the API keeps JSON.
    """
    for router in ROUTERS:
        api.include_router(router)
    api.mount("/static", StaticFiles(directory=STATIC), name="static")
    api.add_exception_handler(SignInRequired, _sign_in_required)
    api.add_exception_handler(PageForbidden, _forbidden)
    api.add_exception_handler(CsrfRefused, _csrf)
    api.add_exception_handler(FormUnreadable, _unreadable)
    json_http: Handler | None = api.exception_handlers.get(StarletteHTTPException)
    json_unexpected: Handler | None = api.exception_handlers.get(Exception)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if is_console_path(api, request.url.path) or json_http is None:
            if exc.status_code == 404:
                return _page_error(request, 404, "error.not_found.title", "error.not_found.body")
            return _page_error(request, exc.status_code, "error.http.title", "error.http.title")
        answer = json_http(request, exc)
        return answer if isinstance(answer, Response) else await answer

    async def unexpected(request: Request, exc: Exception) -> Response:
        if is_console_path(api, request.url.path) or json_unexpected is None:
            log.error("console.unexpected_error", path=request.url.path,
                      error_type=type(exc).__name__)
            try:
                return _page_error(request, 500, "error.internal.title", "error.internal.body")
            except Exception:  # the page itself failed (the database is down): plain words
                return HTMLResponse("500 服务内部错误 / internal error", status_code=500)
        answer = json_unexpected(request, exc)
        return answer if isinstance(answer, Response) else await answer

    api.add_exception_handler(StarletteHTTPException, http_error)
    api.add_exception_handler(Exception, unexpected)
    api.add_middleware(ConsoleHeaders, api=api)
