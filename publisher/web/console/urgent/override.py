"""``/urgent/override``: an approver lets one previewed urgent step through despite its findings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData

from publisher.logs import get_logger
from publisher.urgent.screen import OverrideRefused, override
from publisher.web import role
from publisher.web.account import Account
from publisher.web.auth import current_app
from publisher.web.console.deps import check_csrf, field, page_router, render, require_page

log = get_logger("publisher.web")
router = page_router()
PATH = "/urgent/override"

ApproverAccount = Annotated[Account, Depends(require_page(role.RELEASE_APPROVE))]
Form = Annotated[FormData, Depends(check_csrf)]


def _page(request: Request, fingerprint: str, *, reason: str = "", done: bool = False,
          refusal: str | None = None, status_code: int = 200) -> HTMLResponse:
    return render(request, "urgent_override.html.j2", {
        "fingerprint": fingerprint, "reason": reason, "done": done, "refusal": refusal},
        status_code=status_code)


@router.get(PATH, response_class=HTMLResponse)
def form(request: Request, _account: ApproverAccount, fingerprint: str = "") -> HTMLResponse:
    return _page(request, fingerprint.strip())


@router.post(PATH, response_class=HTMLResponse)
def submit(request: Request, account: ApproverAccount, form: Form) -> HTMLResponse:
    fingerprint, reason = field(form, "fingerprint").strip(), field(form, "reason")
    try:
        override(current_app(request), fingerprint, actor=account.actor, reason=reason)
    except OverrideRefused as exc:
        return _page(request, fingerprint, reason=reason, refusal="；".join(exc.problems),
                     status_code=422)
    log.info("console.checks_overridden", account=account.name, fingerprint=fingerprint)
    return _page(request, fingerprint, done=True)
