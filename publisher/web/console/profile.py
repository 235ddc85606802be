"""``/account``: a signed-in staff member's own account, and changing its password."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from publisher.web import account as accounts
from publisher.web import signin
from publisher.web.account import Account, AccountError, SignInRefused
from publisher.web.auth import current_app
from publisher.web.console.deps import (
    check_csrf,
    client_address,
    field,
    page_router,
    render,
    require_page,
    signed_in,
)
from publisher.web.console.i18n import language
from publisher.web.gate import RETRY_AFTER_SECONDS, Busy, password_gate

router = page_router()
PATH = "/account"


def _page(request: Request, *, error: str | None = None, changed: bool = False,
          status_code: int = 200, **params: object) -> HTMLResponse:
    return render(request, "account.html.j2",
                  {"error": error, "error_params": params, "changed": changed,
                   "min_password_chars": accounts.MIN_PASSWORD_CHARS}, status_code=status_code)


@router.get(PATH, response_class=HTMLResponse)
def account_page(request: Request,
                 _account: Annotated[Account, Depends(require_page())]) -> HTMLResponse:
    return _page(request, changed=bool(request.query_params.get("changed")))


@router.post(PATH, response_class=HTMLResponse)
async def change_password(request: Request, account: Annotated[Account, Depends(require_page())],
                          form: Annotated[FormData, Depends(check_csrf)]) -> Response:
    app = current_app(request)
    new, again = field(form, "new_password"), field(form, "repeat_password")
    current = signed_in(request)
    gate = password_gate(request)
    try:
        # both hash a password: in a worker thread, bounded like signing in
        await gate.run(signin.confirm_password, app, account, field(form, "current_password"),
                       client=client_address(request))
        if new != again:
            return _page(request, error="account.mismatch", status_code=422)
        await gate.run(accounts.change_password, app, account.name, new, actor=account.actor,
                       keep_session=current.id if current else None)
    except Busy:
        busy = _page(request, error="login.busy", status_code=503)
        busy.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return busy
    except signin.SignInLocked as exc:
        until = exc.until.astimezone(app.loaded.zone).strftime("%H:%M")
        return _page(request, error="login.locked", until=until, status_code=429)
    except SignInRefused:
        return _page(request, error="account.wrong_current", status_code=422)
    except AccountError as exc:
        message = exc.message_en if language(request) == "en" else exc.message_zh
        return _page(request, error="account.refused", reason=message, status_code=422)
    return RedirectResponse(f"{PATH}?changed=1", status_code=303)
