"""``/urgent``: compose the first report, preview it on every channel (live with JS), confirm, publish."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from publisher.logs import get_logger
from publisher.urgent import PreviewOutdated, UrgentRejected, open_incident
from publisher.web import role
from publisher.web.account import Account
from publisher.web.auth import current_app
from publisher.web.console.deps import (
    check_csrf,
    environment,
    field,
    page_router,
    render,
    require_page,
)
from publisher.web.console.i18n import language, translator
from publisher.web.console.urgent import form as forms
from publisher.web.console.urgent import preview as previews
from publisher.web.console.urgent.form import CONFIRMED, NONCE_FIELD
from publisher.web.incident import current_wake

log = get_logger("publisher.web")
router = page_router()
PATH = "/urgent"

PostAccount = Annotated[Account, Depends(require_page(role.URGENT_POST))]
Form = Annotated[FormData, Depends(check_csrf)]


def incident_page(key: str) -> str:
    """The console page of an incident."""
    return f"/incidents/{key}"


def _compose(request: Request, values: dict[str, Any], *, problems: dict[str, str] | None = None,
             found: previews.Previews | None = None, status_code: int = 200) -> HTMLResponse:
    app = current_app(request)
    return render(request, "urgent.html.j2", {
        "configured": app.loaded.config.urgent is not None,
        "choices": forms.channel_choices(app), "values": values,
        "severities": forms.SEVERITIES, "statuses": forms.STATUSES,
        "problems": problems or {}, "previews": found}, status_code=status_code)


def _confirm(request: Request, values: dict[str, Any], found: previews.Previews, *,
             outdated: str | None = None, status_code: int = 200) -> HTMLResponse:
    """The confirmation: what each channel will publish, with the preview's draft, so that
    publishing sends exactly this (``outdated``: why an earlier confirmation was not sent)."""
    return render(request, "urgent_confirm.html.j2", {
        "values": values, "hidden": forms.hidden_fields(values, found.draft),
        "previews": found, "drill": values["status"] != "Actual", "nonce_field": NONCE_FIELD,
        "nonce": secrets.token_urlsafe(24), "outdated": outdated}, status_code=status_code)


@router.get(PATH, response_class=HTMLResponse)
def compose(request: Request, _account: PostAccount) -> HTMLResponse:
    return _compose(request, forms.post_defaults(current_app(request)))


@router.post(f"{PATH}/preview", response_class=HTMLResponse)
def preview(request: Request, _account: PostAccount, form: Form) -> HTMLResponse:
    read = forms.read_post(form, translator(language(request)), current_app(request).loaded.zone)
    if form.get("back"):  # "back to edit" on the confirmation: the form, refilled
        return _compose(request, read.values)
    if read.step is None:
        return _compose(request, read.values, problems=read.problems, status_code=422)
    app = current_app(request)
    found = previews.first_report(app, read.step, app.clock.now())
    if not found.ok:
        return _compose(request, read.values, found=found, status_code=422)
    return _confirm(request, read.values, found)


@router.post(f"{PATH}/preview.json")
def preview_json(request: Request, _account: PostAccount, form: Form) -> JSONResponse:
    """The live preview of the compose page: every channel's message as JSON, and the same
    panel as HTML for the page to show."""
    lang = language(request)
    read = forms.read_post(form, translator(lang), current_app(request).loaded.zone)
    found: previews.Previews | None = None
    if read.step is not None:
        app = current_app(request)
        found = previews.first_report(app, read.step, app.clock.now())
    ok = found is not None and found.ok
    html = environment.get_template("urgent_previews.html.j2").render(
        t=translator(lang), previews=found, pending=read.step is None)
    t = translator(lang)
    if found is None:
        status = t("urgent.previews.status_pending")
    elif ok:
        status = t("urgent.previews.status_ok", count=len(found.channels))
    else:
        status = t("urgent.previews.status_problems", count=len(found.problems) + sum(
            1 for c in found.channels if c.problem))
    return JSONResponse({
        "ok": ok, "fields": read.problems, "status": status,  # the short line announced
        "problems": found.problems if found else [],
        "skipped": found.skipped if found else [],
        "channels": [p.to_json() for p in found.channels] if found else [],
        "html": html}, status_code=200 if ok else 422)


@router.post(PATH, response_class=HTMLResponse)
def publish(request: Request, account: PostAccount, form: Form) -> Response:
    read = forms.read_post(form, translator(language(request)), current_app(request).loaded.zone)
    if read.step is None:
        return _compose(request, read.values, problems=read.problems, status_code=422)
    app = current_app(request)
    post = read.step
    try:
        draft = forms.read_draft(form)
        key, acted = CONFIRMED.once(
            account.name, field(form, NONCE_FIELD),
            lambda: open_incident(app, post, actor=account.actor, preview=draft).incident_key)
    except PreviewOutdated as exc:  # nothing recorded: the confirmation again, as it is now
        log.info("console.urgent_preview_outdated", account=account.name, reason=exc.reason_en)
        found = previews.first_report(app, post, app.clock.now())
        if not found.ok:
            return _compose(request, read.values, found=found, status_code=422)
        return _confirm(request, read.values, found, status_code=409,
                        outdated=exc.reason_en if language(request) == "en" else exc.reason_zh)
    except UrgentRejected as exc:
        log.warning("console.urgent_rejected", account=account.name, problems=exc.problems)
        found = previews.first_report(app, post, app.clock.now())
        found.problems[:0] = [p for p in exc.problems
                              if not any(c.problem and c.channel in p for c in found.channels)]
        return _compose(request, read.values, found=found, status_code=422)
    if acted:
        wake = current_wake(request)
        if wake is not None:
            wake()
        log.info("console.urgent_posted", account=account.name, incident=key,
                 status=post.status)
    return RedirectResponse(f"{incident_page(key)}?posted=1", status_code=303)
