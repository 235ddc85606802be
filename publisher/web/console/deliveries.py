"""``/deliveries``: the delivery log (filters, pages, CSV) and one delivery with its attempts and actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.datastructures import FormData, QueryParams
from starlette.exceptions import HTTPException

from publisher import history, intervention, logview
from publisher.dispatch import STATES
from publisher.store.models import Delivery, Release
from publisher.web import role
from publisher.web.account import Account
from publisher.web.auth import current_app
from publisher.web.console import preview
from publisher.web.console.deps import check_csrf, field, page_router, render, require_page
from publisher.web.console.i18n import language, register
from publisher.web.console.show import dispatcher_wake

router = page_router()
PATH = "/deliveries"
MAX_TEXT = 200  # a release key or an incident key typed into the filter
FILTER_FIELDS = ("release", "channel", "state", "since", "until", "incident", "by")
# A message body framed on the release page: its own inline styles (WeChat articles are styled
# inline) but no script, plugin, form or fetch, and sandboxed even when opened on its own.
PREVIEW_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; font-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'self'; sandbox",
    "X-Frame-Options": "SAMEORIGIN",
}

register({
    "deliveries.title": ("投递日志", "Delivery log"),
    "deliveries.filter": ("筛选", "Filter"),
    "deliveries.reset": ("清除筛选", "Clear filters"),
    "deliveries.release": ("发布（定义或发布键）", "Release (definition or key)"),
    "deliveries.channel": ("渠道", "Channels"),
    "deliveries.state": ("状态", "States"),
    "deliveries.since": ("起始日期", "From date"),
    "deliveries.until": ("截止日期（含）", "To date (inclusive)"),
    "deliveries.incident": ("事件", "Incident"),
    "deliveries.by": ("按日期", "Dates are"),
    "deliveries.by.updated_at": ("最后变化时间", "last change"),
    "deliveries.by.created_at": ("创建时间", "creation"),
    "deliveries.export": ("导出 CSV", "Export CSV"),
    "deliveries.next": ("下一页", "Next page"),
    "deliveries.first": ("回到第一页", "First page"),
    "deliveries.empty": ("没有符合条件的投递。", "No delivery matches."),
    "deliveries.bad_filter": ("筛选条件“{field}”无效：{value}", "The filter “{field}” is not "
                              "valid: {value}"),
    "deliveries.bad_range": ("起始日期晚于截止日期", "the start date is after the end date"),
    "col.delivery": ("编号", "No."),
    "col.release": ("发布", "Release"),
    "col.channel": ("渠道", "Channel"),
    "col.action": ("动作", "Action"),
    "col.state": ("状态", "State"),
    "col.attempts": ("尝试", "Tries"),
    "col.updated": ("更新时间", "Updated"),
    "col.detail": ("链接或说明", "Link or detail"),
    "col.time": ("时间", "Time"),
    "col.duration": ("耗时", "Duration"),
    "col.outcome": ("结果", "Outcome"),
    "col.code": ("渠道代码与信息", "Channel code and message"),
    "col.explanation": ("说明", "Explanation"),
    "col.decision": ("重试决定", "Retry decision"),
    "col.note": ("说明", "Detail"),
    "col.actor": ("操作者", "Actor"),
    "col.event": ("事件", "Event"),
    "col.details": ("详情", "Details"),
    "delivery.title": ("投递 {id}", "Delivery {id}"),
    "delivery.release": ("发布", "Release"),
    "delivery.incident": ("事件", "Incident"),
    "delivery.channel": ("渠道", "Channel"),
    "delivery.state": ("状态", "State"),
    "delivery.action": ("动作", "Action"),
    "delivery.key": ("幂等键", "Idempotency key"),
    "delivery.payload": ("内容摘要", "Content"),
    "delivery.receipt": ("回执链接", "Receipt"),
    "delivery.remote_id": ("渠道编号", "Remote id"),
    "delivery.next_attempt": ("下次尝试", "Next attempt"),
    "delivery.reason": ("说明", "Detail"),
    "delivery.created": ("创建时间", "Created"),
    "delivery.published": ("发布时间", "Published"),
    "delivery.preview_link": ("查看各渠道预览", "See each channel's preview"),
    "delivery.attempts": ("每次尝试", "Attempts"),
    "delivery.no_attempts": ("尚无尝试。", "No attempt yet."),
    "delivery.audit": ("审计记录", "Audit events"),
    "delivery.actions": ("操作", "Actions"),
    "delivery.retry": ("重新发送", "Send again"),
    "delivery.retry_help": ("以同一幂等键重新发送这条{state}的投递。", "Sends this {state} delivery "
                            "again under the same idempotency key."),
    "delivery.retry_now": ("立即重试", "Retry now"),
    "delivery.retry_now_help": ("这条投递正在等待重试（下次：{at}）。接收方已恢复时可立即重试：同一幂等键，"
                                "不会重复发布。", "This delivery is waiting to retry (next try: "
                                "{at}). Once the receiving side works again, retry it now: same "
                                "idempotency key, never published twice."),
    "delivery.resolve": ("人工判定结果不明的投递", "Decide an unknown delivery"),
    "delivery.resolve_help": ("请先在渠道后台核实是否已发布。", "First check on the channel "
                              "whether it was published."),
    "delivery.resolve_url": ("已发布，其公开链接", "It was published, at this link"),
    "delivery.resolve_published": ("标记为已发布", "Mark published"),
    "delivery.resolve_again": ("未发布，重新发送", "It was not published: send again"),
    "delivery.done.retry": ("已安排重新发送。", "Sending again."),
    "delivery.done.published": ("已标记为已发布。", "Marked published."),
    "delivery.done.send_again": ("已判定为未发布，将重新发送。", "Decided not published; sending "
                                 "again."),
})
register({f"decision.{name}": words for name, words in history.DECISION_WORDS.items()})


class BadFilter(ValueError):
    """A filter value the log cannot use; names the field."""

    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value
        super().__init__(f"{name}={value!r}")


@dataclass(frozen=True)
class Filters:
    """The filter as typed (to refill the form) and as the log reads it."""

    values: dict[str, Any]
    where: logview.LogFilter
    cursor: str | None

    def query(self, **extra: str) -> str:
        """The filter as a query string (repeated keys for several channels or states)."""
        pairs: list[tuple[str, str]] = []
        for name in FILTER_FIELDS:
            value = self.values.get(name)
            if isinstance(value, list):
                pairs += [(name, v) for v in value]
            elif value:
                pairs.append((name, str(value)))
        pairs += list(extra.items())
        return urlencode(pairs)


def _date(name: str, text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadFilter(name, text) from None


def parse_filters(params: QueryParams, channels: list[str], zone: Any) -> Filters:
    """The log filter from the query string; BadFilter names the first bad field."""
    values: dict[str, Any] = {}
    for name in ("release", "incident"):
        text = params.get(name, "").strip()
        if len(text) > MAX_TEXT or any(ord(ch) < 32 for ch in text):
            raise BadFilter(name, text[:MAX_TEXT])
        values[name] = text
    chosen_channels = [v for v in params.getlist("channel") if v]
    for value in chosen_channels:
        if value not in channels:
            raise BadFilter("channel", value)
    chosen_states = [v for v in params.getlist("state") if v]
    for value in chosen_states:
        if value not in STATES:
            raise BadFilter("state", value)
    values["channel"], values["state"] = chosen_channels, chosen_states
    by = params.get("by", "") or "updated_at"
    if by not in logview.DATE_FIELDS:
        raise BadFilter("by", by)
    values["by"] = by if by != "updated_at" else ""
    since_day, until_day = _date("since", params.get("since", "")), _date("until",
                                                                           params.get("until", ""))
    if since_day and until_day and since_day > until_day:
        raise BadFilter("until", params.get("until", ""))
    values["since"] = since_day.isoformat() if since_day else ""
    values["until"] = until_day.isoformat() if until_day else ""
    since = datetime.combine(since_day, time(), zone) if since_day else None
    until = datetime.combine(until_day + timedelta(days=1), time(), zone) if until_day else None
    where = logview.LogFilter(release=values["release"] or None, channels=tuple(chosen_channels),
                              states=tuple(chosen_states), since=since, until=until,
                              date_field=by, incident=values["incident"] or None)
    cursor = params.get("after") or None
    if cursor is not None:
        try:
            logview.decode_cursor(cursor, by)
        except logview.BadCursor:
            raise BadFilter("after", cursor[:40]) from None
    return Filters(values, where, cursor)


@router.get(PATH, response_class=HTMLResponse)
def delivery_log(request: Request,
                 _account: Annotated[Account, Depends(require_page(role.LOG_READ))]) -> Response:
    app = current_app(request)
    channels = sorted(app.loaded.config.channels)
    try:
        filters = parse_filters(request.query_params, channels, app.loaded.zone)
    except BadFilter as exc:
        blank = {"release": "", "incident": "", "channel": [], "state": [], "since": "",
                 "until": "", "by": ""}
        return render(request, "deliveries.html.j2", {
            "filters": blank, "channels": channels, "rows": [], "next_url": None,
            "csv_url": None, "first_url": None, "bad": {"field": exc.name, "value": exc.value}},
            status_code=400)
    with app.store.read() as session:
        found = logview.page(session, filters.where, cursor=filters.cursor)
    next_url = f"{PATH}?{filters.query(after=found.next_cursor)}" if found.next_cursor else None
    first_url = f"{PATH}?{filters.query()}" if filters.cursor else None
    return render(request, "deliveries.html.j2", {
        "filters": filters.values, "channels": channels, "rows": found.rows,
        "next_url": next_url, "first_url": first_url, "bad": None,
        "csv_url": f"{PATH}.csv?{filters.query()}"})


@router.get(PATH + ".csv")
def delivery_log_csv(request: Request,
                     _account: Annotated[Account, Depends(require_page(role.LOG_READ))]
                     ) -> Response:
    app = current_app(request)
    try:
        filters = parse_filters(request.query_params, sorted(app.loaded.config.channels),
                                app.loaded.zone)
    except BadFilter:
        return delivery_log(request, _account)
    today = app.clock.now().astimezone(app.loaded.zone)
    name = f"deliveries-{today:%Y%m%d}.csv"
    return StreamingResponse(logview.export_csv(app.store, filters.where, zone=app.loaded.zone),
                             media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f"attachment; filename={name}"})


# --------------------------------------------------------------------------- one delivery


def _delivery_page(request: Request, delivery_id: str, *, done: str | None = None,
                   refusal: str | None = None, url: str = "", status_code: int = 200
                   ) -> HTMLResponse:
    app = current_app(request)
    number = _number(delivery_id)
    with app.store.read() as session:  # the same story as ``publisher log --delivery``
        story = history.load(session, number)
        if story is None:
            raise HTTPException(404)
        release = session.get(Release, story.row.release_id)
    zone = app.loaded.zone
    return render(request, "delivery.html.j2", {
        "row": story.row, "shown": story.shown, "detail": story.shown.detail(zone),
        "release": release, "tries": story.tries,
        "events": [(event, event.note(zone)) for event in story.events],
        "summary": preview.summary(story.row), "retryable": intervention.RETRYABLE,
        "done": done, "refusal": refusal, "url": url}, status_code=status_code)


@router.get(PATH + "/{delivery_id}", response_class=HTMLResponse)
def delivery_page(request: Request, delivery_id: str,
                  _account: Annotated[Account, Depends(require_page(role.LOG_READ))]
                  ) -> HTMLResponse:
    done = request.query_params.get("done")
    return _delivery_page(request, delivery_id,
                          done=done if done in ("retry", "published", "send_again") else None)


@router.get(PATH + "/{delivery_id}/preview", response_class=HTMLResponse)
def delivery_preview(request: Request, delivery_id: str,
                     _account: Annotated[Account, Depends(require_page(role.LOG_READ))]
                     ) -> HTMLResponse:
    """The delivery's message body as a whole document, for the release page's sandboxed frame
    (404 for a message without an HTML body)."""
    app = current_app(request)
    with app.store.read() as session:
        row = session.get(Delivery, _number(delivery_id))
    shown = preview.of(app, row) if row is not None and row.payload else None
    if shown is None or shown.document is None:
        raise HTTPException(404)
    return HTMLResponse(shown.document, headers=PREVIEW_HEADERS)


def _refused(request: Request, delivery_id: str, exc: intervention.InterventionRefused,
             url: str = "") -> HTMLResponse:
    """The delivery page again, saying why nothing was done (422: a bad entry, 409: a state
    that does not allow it)."""
    if exc.code == "not_found":
        raise HTTPException(404)
    reason = exc.message_en if language(request) == "en" else exc.message_zh
    status = 422 if exc.code in ("bad_url", "bad_decision") else 409
    return _delivery_page(request, delivery_id, refusal=reason, url=url, status_code=status)


def _number(delivery_id: str) -> int:
    """A delivery id from the path (404 for anything else)."""
    if not delivery_id.isdigit() or len(delivery_id) >= 12:
        raise HTTPException(404)
    return int(delivery_id)


@router.post(PATH + "/{delivery_id}/retry", response_class=HTMLResponse)
def retry(request: Request, delivery_id: str,
          account: Annotated[Account, Depends(require_page(role.DELIVERY_RETRY))],
          _form: Annotated[FormData, Depends(check_csrf)]) -> Response:
    app = current_app(request)
    try:
        changed = intervention.retry(app, _number(delivery_id), actor=account.actor)
    except intervention.InterventionRefused as exc:
        return _refused(request, delivery_id, exc)
    dispatcher: Any = getattr(request.app.state, "dispatcher", None)
    if dispatcher is not None:  # "retry now" means now: not after the channel's circuit cools
        dispatcher.circuits.half_open(changed.channel, app.clock.now())
    dispatcher_wake(request)
    return RedirectResponse(f"{PATH}/{delivery_id}?done=retry", status_code=303)


@router.post(PATH + "/{delivery_id}/resolve", response_class=HTMLResponse)
def resolve(request: Request, delivery_id: str,
            account: Annotated[Account, Depends(require_page(role.DELIVERY_RESOLVE))],
            form: Annotated[FormData, Depends(check_csrf)]) -> Response:
    app = current_app(request)
    decision, url = field(form, "decision"), field(form, "url")
    number = _number(delivery_id)
    try:
        if decision == intervention.PUBLISHED:
            intervention.resolve_published(app, number, actor=account.actor, url=url)
        elif decision == intervention.SEND_AGAIN:
            intervention.send_again(app, number, actor=account.actor)
            dispatcher_wake(request)
        else:
            raise intervention.InterventionRefused(
                "bad_decision", "请选择判定结果：已发布或重新发送",
                "choose a decision: published, or send again")
    except intervention.InterventionRefused as exc:
        return _refused(request, delivery_id, exc, url=url)
    return RedirectResponse(f"{PATH}/{delivery_id}?done={decision}", status_code=303)
