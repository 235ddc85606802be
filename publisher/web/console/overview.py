"""``GET /``: the overview (for now a placeholder showing the account, its roles and rights)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from publisher.web import role
from publisher.web.account import Account
from publisher.web.console.deps import page_router, render, require_page

router = page_router()


@router.get("/", response_class=HTMLResponse)
def overview(request: Request,
             account: Annotated[Account, Depends(require_page(role.LOG_READ))]) -> HTMLResponse:
    allowed = [name for name in role.ALL_PERMISSIONS if account.may(name)]
    return render(request, "overview.html.j2", {"permissions": allowed})
