"""Signing in and out: ``GET/POST /login`` (its own CSRF cookie) and ``POST /logout``."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from publisher.web import session as sessions
from publisher.web import signin
from publisher.web.account import Account, SignInRefused
from publisher.web.auth import current_app
from publisher.web.console.deps import (
    CSRF_FIELD,
    LOGIN_PATH,
    CsrfRefused,
    check_csrf,
    field,
    read_form,
    render,
    require_page,
    safe_next,
    secure_cookies,
    signed_in,
)
from publisher.web.console.deps import client_address as client_of
from publisher.web.gate import RETRY_AFTER_SECONDS, Busy, password_gate

# Before there is a session, the sign-in form is protected by a double-submit token: a random
# value in a cookie that only this site's pages can echo into the form (a cross-site form post
# carries neither the cookie, SameSite=Lax, nor knows the value).
LOGIN_COOKIE = "pub_login"

router = APIRouter(include_in_schema=False)  # POST /login has its own CSRF check; /logout the usual


def _login_page(request: Request, token: str, *, next_path: str, name: str = "",
                message: str | None = None, status_code: int = 200,
                **params: object) -> HTMLResponse:
    response = render(request, "login.html.j2",
                      {"csrf_token": token, "next_path": next_path, "name": name,
                       "message": message, "message_params": params}, status_code=status_code)
    if request.cookies.get(LOGIN_COOKIE) != token:
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="lax", path=LOGIN_PATH,
                            secure=secure_cookies(request))
    return response


def _login_token(request: Request) -> str:
    given = request.cookies.get(LOGIN_COOKIE, "")
    return given if 20 <= len(given) <= 100 else secrets.token_urlsafe(32)


@router.get(LOGIN_PATH, response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    if signed_in(request) is not None:
        return RedirectResponse(next_path, status_code=303)
    message = "login.signed_out" if request.query_params.get("signed_out") else None
    return _login_page(request, _login_token(request), next_path=next_path, message=message)


@router.post(LOGIN_PATH, response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = await read_form(request)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not sessions.csrf_matches(expected, field(form, CSRF_FIELD)):
        raise CsrfRefused
    app = current_app(request)
    name, password = field(form, "name"), field(form, "password")
    next_path = safe_next(field(form, "next"))
    client = client_of(request)
    try:
        # argon2 and the database, in a worker thread: the event loop keeps serving others
        started = await password_gate(request).run(
            signin.sign_in, app, name, password, client=client,
            user_agent=request.headers.get("user-agent", ""))
    except Busy:
        busy = _login_page(request, expected, next_path=next_path, name=name,
                           message="login.busy", status_code=503)
        busy.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return busy
    except signin.SignInLocked as exc:
        until = exc.until.astimezone(app.loaded.zone).strftime("%H:%M")
        return _login_page(request, expected, next_path=next_path, name=name,
                           message="login.locked", until=until, status_code=429)
    except SignInRefused:
        return _login_page(request, expected, next_path=next_path, name=name,
                           message="login.refused", status_code=401)
    previous = request.cookies.get(sessions.COOKIE)
    if previous:  # a browser signing in again (or as someone else) leaves no old session behind
        sessions.end(app, previous)
    response = RedirectResponse(next_path, status_code=303)
    # SameSite=Lax, not Strict: with Strict a browser arriving from another site (a link in a
    # mail or a chat, a redirect from a single-sign-on page) is treated as signed out, and some
    # browsers drop a Strict cookie set on a redirect that follows a cross-site navigation. Lax
    # still keeps the cookie off cross-site form posts and sub-requests; the CSRF token on every
    # form covers the rest. No Max-Age: the cookie ends with the browser, the server ends the
    # session after web.session_hours without a request.
    response.set_cookie(sessions.COOKIE, started.token, httponly=True, samesite="lax", path="/",
                        secure=secure_cookies(request))
    response.delete_cookie(LOGIN_COOKIE, path=LOGIN_PATH, httponly=True, samesite="lax",
                           secure=secure_cookies(request))
    return response


@router.post("/logout")
def logout(request: Request, account: Annotated[Account, Depends(require_page())],
           _form: Annotated[FormData, Depends(check_csrf)]) -> Response:
    signin.sign_out(current_app(request), request.cookies.get(sessions.COOKIE), account,
                    client=client_of(request))
    response = RedirectResponse(f"{LOGIN_PATH}?signed_out=1", status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="lax",
                           secure=secure_cookies(request))
    return response
