"""``/incidents``: the list, each incident's live status board and timeline, and its next steps."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from publisher.app import App
from publisher.logs import get_logger
from publisher.store.models import Incident
from publisher.urgent import (
    Draft,
    IncidentClosed,
    IncidentNotFound,
    PreviewOutdated,
    Step,
    UrgentCancel,
    UrgentRejected,
    UrgentUpdate,
    cancel_incident,
    timeline,
    update_incident,
)
from publisher.web import role
from publisher.web.account import Account
from publisher.web.auth import current_app
from publisher.web.console.deps import check_csrf, page_router, render, require_page
from publisher.web.console.deps import field as form_field
from publisher.web.console.i18n import CATALOGUE, Translate, language, translator
from publisher.web.console.urgent import form as forms
from publisher.web.console.urgent import preview as previews
from publisher.web.console.urgent.form import CONFIRMED, NONCE_FIELD
from publisher.web.incident import current_wake

log = get_logger("publisher.web")
router = page_router()
LIST_LIMIT = 200
IN_FLIGHT = ("pending", "sending")  # seconds away: the page without JS refreshes itself
OUTSTANDING = ("pending", "sending", "retry_wait")  # the live board keeps asking every second
LANDED = ("published", "retracted", "queued")  # done on its channel (a retracted post had landed)

ReadAccount = Annotated[Account, Depends(require_page(role.INCIDENT_READ))]
UpdateAccount = Annotated[Account, Depends(require_page(role.URGENT_UPDATE))]
CancelAccount = Annotated[Account, Depends(require_page(role.URGENT_CANCEL))]
Form = Annotated[FormData, Depends(check_csrf)]


@dataclass(frozen=True)
class Cell:
    """One delivery on the board: a channel's action in one step, where it stands."""

    id: str  # stable across polls: release key, channel, action and its ordinal
    channel: str
    action: str
    state: str
    url: str | None
    accepted: str
    public: str
    detail: str

    def to_json(self, t: Translate) -> dict[str, Any]:
        return {"id": self.id, "channel": self.channel, "action": self.action,
                "state": self.state, "state_label": state_label(t, self.state),
                "url": self.url, "accepted": self.accepted, "public": self.public,
                "detail": self.detail}


@dataclass
class Group:
    """One step of the incident (one release): what it was, who triggered it, when, its cells."""

    release_key: str
    step: str
    at: datetime | None
    actor: str
    cells: list[Cell] = field(default_factory=list)

    @property
    def published(self) -> int:
        return sum(c.state == "published" for c in self.cells)


@dataclass(frozen=True)
class Banner:
    """Where the step just posted stands, as the notice on top of the board says it: still
    going out, out on every channel, or not out everywhere (naming where and why)."""

    state: str  # going | done | problem
    text: str

    def to_json(self) -> dict[str, str]:
        return {"state": self.state, "text": self.text}


def banner(t: Translate, group: Group) -> Banner:
    """The notice for ``group`` (the newest step), from its deliveries' real states."""
    published = sum(c.state in LANDED for c in group.cells)
    total = len(group.cells)
    if any(c.state in OUTSTANDING for c in group.cells):
        return Banner("going", t("urgent.banner.going", published=published, total=total))
    if published == total:
        return Banner("done", t("urgent.banner.done", total=total))
    missing = t("urgent.banner.separator").join(
        t("urgent.banner.item", channel=c.channel, state=state_label(t, c.state))
        for c in group.cells if c.state not in LANDED)
    return Banner("problem", t("urgent.banner.problem", channels=missing))


def state_label(t: Translate, state: str) -> str:
    """A delivery state in the page's words (a state without words shows as it is)."""
    key = f"urgent.state.{state}"
    return t(key) if key in CATALOGUE else state


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def public_url(url: str | None) -> str | None:
    """A receipt's URL if it is an http(s) address (anything else is not made a link)."""
    return url if url and urlsplit(url).scheme in ("http", "https") else None


def _at(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def board(steps: list[Step]) -> list[Group]:
    """The timeline's deliveries grouped by step, oldest first, each with a stable cell id."""
    groups: dict[str, Group] = {}
    seen: dict[str, int] = {}
    for s in steps:
        group = groups.setdefault(s.release_key, Group(s.release_key, s.step, _at(s.at), s.actor))
        base = f"{s.release_key}/{s.channel}/{s.action}"
        seen[base] = seen.get(base, 0) + 1
        group.cells.append(Cell(f"{base}/{seen[base]}", s.channel, s.action, s.state,
                                public_url(s.url), _seconds(s.to_accepted_seconds),
                                _seconds(s.to_public_seconds), s.detail))
    return list(groups.values())


def _load(app: App, key: str) -> tuple[Incident, list[Group]]:
    try:
        incident, steps = timeline(app, key)
    except KeyError:
        raise HTTPException(404) from None
    return incident, board(steps)


# --------------------------------------------------------------------------- pages


@router.get("/incidents", response_class=HTMLResponse)
def incidents(request: Request, account: ReadAccount) -> HTMLResponse:
    app = current_app(request)
    with app.store.read() as session:
        rows = list(session.execute(select(Incident).order_by(
            Incident.opened_at.desc(), Incident.id.desc()).limit(LIST_LIMIT)).scalars())
    return render(request, "incidents.html.j2", {
        "incidents": rows, "may_post": account.may(role.URGENT_POST),
        "severity_names": forms.SEVERITIES})


def _incident_page(request: Request, account: Account, key: str, *,
                   refill: forms.Read[Any] | None = None,
                   problems: list[str] | None = None, opened: str | None = None,
                   found: previews.Previews | None = None,
                   status_code: int = 200) -> HTMLResponse:
    incident, groups = _load(current_app(request), key)
    cells = [c for g in groups for c in g.cells]
    update = refill if opened == "update" else None
    cancel = refill if opened == "cancel" else None
    posted = request.query_params.get("posted") in ("1", "step")  # just posted: say how it goes
    notice = banner(translator(language(request)), groups[-1]) if posted and groups else None
    return render(request, "incident.html.j2", {
        "incident": incident, "groups": groups, "cell_count": len(cells),
        "outstanding": any(c.state in OUTSTANDING for c in cells),
        "in_flight": any(c.state in IN_FLIGHT for c in cells),
        "may_update": account.may(role.URGENT_UPDATE) and incident.status == "open",
        "may_cancel": account.may(role.URGENT_CANCEL) and incident.status == "open",
        "update": update.values if update else {name: "" for name in forms.UPDATE_FIELDS},
        "update_problems": update.problems if update else {},
        "cancel": cancel.values if cancel else {"reason": ""},
        "cancel_problems": cancel.problems if cancel else {},
        "problems": problems or [], "previews": found, "opened": opened,
        "severities": forms.SEVERITIES, "notice": notice,
        "state_label": partial(state_label, translator(language(request)))},
        status_code=status_code)


@router.get("/incidents/{key}", response_class=HTMLResponse)
def incident(request: Request, account: ReadAccount, key: str) -> HTMLResponse:
    return _incident_page(request, account, key)


@router.get("/incidents/{key}/status.json")
def status(request: Request, _account: ReadAccount, key: str) -> JSONResponse:
    """Where every delivery of the incident stands, for the live board."""
    app = current_app(request)
    try:
        found, steps = timeline(app, key)
    except KeyError:
        return JSONResponse({"error": "not_found"}, status_code=404)
    t = translator(language(request))
    groups = board(steps)
    cells = [c for g in groups for c in g.cells]
    return JSONResponse({
        "incident": {"key": found.key, "status": found.status,
                     "status_label": t(f"urgent.incident.status.{found.status}")},
        "outstanding": any(c.state in OUTSTANDING for c in cells),
        "steps": len(groups), "cells": [c.to_json(t) for c in cells],
        "banner": banner(t, groups[-1]).to_json() if groups else None,
        "summaries": [{"release": g.release_key,
                       "text": t("urgent.board.summary", published=g.published,
                                 total=len(g.cells))} for g in groups]})


# --------------------------------------------------------------------------- next steps


def _step_confirm(request: Request, incident: Incident, kind: str, action: str,
                  values: dict[str, Any], found: previews.Previews, *,
                  outdated: str | None = None, status_code: int = 200) -> HTMLResponse:
    return render(request, "incident_confirm.html.j2", {
        "incident": incident, "kind": kind, "action": action, "values": values,
        "hidden": forms.hidden_fields(values, found.draft), "previews": found,
        "drill": incident.drill, "nonce_field": NONCE_FIELD,
        "nonce": secrets.token_urlsafe(24), "severities": forms.SEVERITIES,
        "outdated": outdated}, status_code=status_code)


def _open_or_refuse(request: Request, account: Account, key: str, which: str,
                    read: forms.Read[Any]) -> tuple[Incident, HTMLResponse | None]:
    """The incident, and the incident page answering a step that cannot go on (404 unknown,
    409 withdrawn, 422 a wrong field), or None when the step may be previewed or published."""
    incident, _groups = _load(current_app(request), key)
    if incident.status != "open":
        return incident, _closed(request, account, key)
    if read.step is None:
        return incident, _incident_page(request, account, key, status_code=422, opened=which,
                                        refill=read)
    return incident, None


def _closed(request: Request, account: Account, key: str) -> HTMLResponse:
    return _incident_page(request, account, key, status_code=409, problems=[
        translator(language(request))("urgent.next.closed")])


def _step_preview(request: Request, account: Account, key: str, which: str,
                  read: forms.Read[Any], *, outdated: str | None = None) -> HTMLResponse:
    incident, refused = _open_or_refuse(request, account, key, which, read)
    if refused is not None:
        return refused
    step: UrgentUpdate | UrgentCancel | None = read.step
    assert step is not None  # _open_or_refuse answered a form without its step
    app = current_app(request)
    try:
        found = previews.later_step(app, key, step, drill=incident.drill, now=app.clock.now())
    except IncidentNotFound:
        raise HTTPException(404) from None
    except IncidentClosed:
        return _closed(request, account, key)
    if not found.ok:
        return _incident_page(request, account, key, status_code=422, opened=which,
                              found=found, refill=read)
    kind = step.step if isinstance(step, UrgentUpdate) else "withdrawal"
    return _step_confirm(request, incident, kind, which, read.values, found, outdated=outdated,
                         status_code=409 if outdated else 200)


def _step_publish(request: Request, account: Account, key: str, which: str,
                  read: forms.Read[Any], form: FormData,
                  act: Callable[[App, str, Draft | None], str]) -> Response:
    _incident, refused = _open_or_refuse(request, account, key, which, read)
    if refused is not None:
        return refused
    app = current_app(request)
    try:
        draft = forms.read_draft(form)
        _key, acted = CONFIRMED.once(account.name, form_field(form, NONCE_FIELD),
                                     lambda: act(app, key, draft))
    except IncidentNotFound:
        raise HTTPException(404) from None
    except IncidentClosed:
        return _closed(request, account, key)
    except PreviewOutdated as exc:  # nothing recorded: the confirmation again, as it is now
        log.info("console.incident_preview_outdated", account=account.name, incident=key,
                 step=which, reason=exc.reason_en)
        return _step_preview(request, account, key, which, read, outdated=(
            exc.reason_en if language(request) == "en" else exc.reason_zh))
    except UrgentRejected as exc:
        log.warning("console.incident_step_rejected", account=account.name, incident=key,
                    step=which, problems=exc.problems)
        return _incident_page(request, account, key, status_code=422, opened=which,
                              problems=exc.problems, refill=read)
    if acted:
        wake = current_wake(request)
        if wake is not None:
            wake()
        log.info("console.incident_step", account=account.name, incident=key, step=which)
    return RedirectResponse(f"/incidents/{key}?posted=step", status_code=303)


@router.post("/incidents/{key}/update/preview", response_class=HTMLResponse)
def update_preview(request: Request, account: UpdateAccount, form: Form, key: str) -> Response:
    read = forms.read_update(form, translator(language(request)))
    if form.get("back"):
        return _incident_page(request, account, key, opened="update", refill=read)
    return _step_preview(request, account, key, "update", read)


@router.post("/incidents/{key}/update", response_class=HTMLResponse)
def update(request: Request, account: UpdateAccount, form: Form, key: str) -> Response:
    read = forms.read_update(form, translator(language(request)))

    def act(app: App, incident_key: str, draft: Draft | None) -> str:
        assert read.step is not None
        return update_incident(app, incident_key, read.step, actor=account.actor,
                               preview=draft).incident_key

    return _step_publish(request, account, key, "update", read, form, act)


@router.post("/incidents/{key}/cancel/preview", response_class=HTMLResponse)
def cancel_preview(request: Request, account: CancelAccount, form: Form, key: str) -> Response:
    read = forms.read_cancel(form, translator(language(request)))
    if form.get("back"):
        return _incident_page(request, account, key, opened="cancel", refill=read)
    return _step_preview(request, account, key, "cancel", read)


@router.post("/incidents/{key}/cancel", response_class=HTMLResponse)
def cancel(request: Request, account: CancelAccount, form: Form, key: str) -> Response:
    read = forms.read_cancel(form, translator(language(request)))

    def act(app: App, incident_key: str, draft: Draft | None) -> str:
        assert read.step is not None
        return cancel_incident(app, incident_key, read.step, actor=account.actor,
                               preview=draft).incident_key

    return _step_publish(request, account, key, "cancel", read, form, act)
