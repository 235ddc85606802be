"""``/releases``: one release with each channel's message as it will show, approval, and triggering."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from publisher import inbox, release, review
from publisher.outcome import of_release
from publisher.scan import Finding
from publisher.store.models import Delivery, Incident, Release
from publisher.web import role
from publisher.web.account import Account
from publisher.web.auth import current_app
from publisher.web.console import preview
from publisher.web.console.deps import check_csrf, field, page_router, render, require_page
from publisher.web.console.i18n import language, register
from publisher.web.console.show import dispatcher_wake, release_path

router = page_router()
PATH = "/releases"
MAX_REASON_CHARS = 500

register({
    "release.title": ("发布", "Release"),
    "release.key": ("发布键", "Key"),
    "release.name": ("标题", "Title"),
    "release.definition": ("发布定义", "Definition"),
    "release.state": ("状态", "State"),
    "release.due": ("发布时间", "Due"),
    "release.created": ("创建时间", "Created"),
    "release.author": ("创建者", "Created by"),
    "release.origin": ("来源", "Origin"),
    "release.index_number": ("索引号", "Index number"),
    "release.period": ("期间", "Period"),
    "release.deadline": ("重试截止", "Retry deadline"),
    "release.incident": ("事件", "Incident"),
    "release.cap": ("CAP 标识", "CAP identifier"),
    "release.msg_type": ("CAP 消息类型", "CAP message type"),
    "release.hold_reason": ("暂停原因", "Why it is held"),
    "release.findings": ("内容检查", "Content checks"),
    "release.approved_by": ("审核人", "Approved by"),
    "release.rejected_by": ("驳回人", "Rejected by"),
    "release.rejected_reason": ("驳回理由", "Reason for rejection"),
    "release.deliveries": ("各渠道投递", "Deliveries"),
    "release.no_deliveries": ("没有投递：内容或数据有问题时，任何渠道都不发送。", "No delivery: when "
                              "content or data has a problem, no channel sends."),
    "release.previews": ("各渠道预览", "Each channel's message"),
    "release.preview_frame": ("{channel} 的内容预览", "Preview of the content for {channel}"),
    "release.log_link": ("在投递日志中查看", "See in the delivery log"),
    "release.review": ("审核", "Review"),
    "release.review_help": ("批准后于发布时间发出；驳回则不会发布。", "Approved, it goes out at its "
                            "due time; rejected, it is never published."),
    "release.own": ("这是您创建的发布，须由其他审核人批准。", "You created this release: another "
                    "approver must approve it."),
    "release.overdue": ("已过发布时间，不能再批准。", "Its due time has passed: it can no longer "
                        "be approved."),
    "release.approve": ("批准", "Approve"),
    "release.reject": ("驳回", "Reject"),
    "release.reason": ("驳回理由", "Reason"),
    "release.done.approved": ("已批准，将于发布时间发出。", "Approved: it goes out at its due "
                              "time."),
    "release.done.rejected": ("已驳回，不会发布。", "Rejected: it is never published."),
    "release.done.created": ("已创建发布。", "The release was created."),
    "release.done.awaiting": ("已创建，等待其他审核人批准。", "Created; it waits for another "
                              "approver."),
    "release.done.exists": ("这个发布已存在，未重复创建。", "This release exists already; it was "
                            "not created again."),
    "release.done.held": ("已创建，但因问题暂停，未发送任何渠道。", "Created, but held for its "
                          "problems: no channel sends."),
    "preview.author": ("作者", "Author"),
    "preview.digest": ("摘要", "Digest"),
    "preview.read_more": ("阅读原文", "Read more"),
    "preview.picture": ("配图", "Picture"),
    "preview.length": ("字数 {length} / {limit}（按微博计数）", "{length} of {limit} characters "
                       "(as Weibo counts)"),
    "preview.over": ("超出上限", "over the limit"),
    "preview.column": ("栏目", "Column"),
    "preview.path": ("地址", "Path"),
    "preview.summary": ("摘要", "Summary"),
    "preview.attachments": ("附件", "Attachments"),
    "preview.section": ("公报栏目", "Section"),
    "preview.organ": ("发布机关", "Issuing organ"),
    "preview.doc_no": ("文号", "Document number"),
    "preview.signed_date": ("成文日期", "Signed"),
    "preview.published_date": ("公布日期", "Published"),
    "trigger.title": ("立即发布", "Trigger a release"),
    "trigger.help": ("按所选发布定义立即创建一次发布，数据取自收件箱中本期的文件；需审核的定义将等待"
                     "其他审核人批准。", "Creates a release of the chosen definition now, from "
                     "this period's files in the inbox; a definition that needs review waits for "
                     "another approver."),
    "trigger.definition": ("发布定义", "Definition"),
    "trigger.submit": ("立即发布", "Trigger now"),
    "trigger.schedule": ("计划", "Schedule"),
    "trigger.channels": ("渠道", "Channels"),
    "trigger.data": ("数据文件", "Data files"),
    "trigger.review": ("需审核", "Needs review"),
    "trigger.unknown": ("没有这个发布定义：{name}", "No such definition: {name}"),
    "trigger.manual": ("仅手动", "manual only"),
    "trigger.inbox": ("收件箱", "Inbox"),
    "trigger.period": ("本次期间：{label}", "Period now: {label}"),
    "trigger.no_data": ("不读取数据文件", "reads no data file"),
    "trigger.arrived": ("已到达", "arrived"),
    "trigger.missing": ("尚未到达", "not arrived yet"),
    "trigger.several": ("有 {count} 个文件，只能保留一个", "{count} files: keep exactly one"),
    "trigger.pattern": ("路径模式", "path pattern"),
})


def _lookup(session: Session, key_or_id: str) -> Release | None:
    """A release by its id or its key."""
    if key_or_id.isdigit() and len(key_or_id) < 12:
        return session.get(Release, int(key_or_id))
    return session.execute(select(Release).where(Release.key == key_or_id)).scalar_one_or_none()


def _release_page(request: Request, account: Account, key_or_id: str, *,
                  done: str | None = None, refusal: str | None = None, reason: str = "",
                  status_code: int = 200) -> HTMLResponse:
    app = current_app(request)
    with app.store.read() as session:
        row = _lookup(session, key_or_id)
        if row is None:
            raise HTTPException(404)
        deliveries = list(session.execute(select(Delivery).where(Delivery.release_id == row.id)
                                          .order_by(Delivery.channel, Delivery.id)).scalars())
        incident = session.get(Incident, row.incident_id) if row.incident_id else None
        outcome = of_release(session, row)
    details = row.details or {}
    authors = review.authors(row)
    findings = [Finding.from_json(f) for f in (row.hold_reason or {}).get("findings")
                or details.get("findings") or []]  # the held problems list the block ones
    return render(request, "release.html.j2", {
        "release": row, "deliveries": deliveries, "incident": incident, "outcome": outcome,
        "previews": [preview.of(app, d) for d in deliveries if d.payload],
        "problems": [str(p) for p in (row.hold_reason or {}).get("problems") or []
                     if not str(p).endswith(tuple(f.describe() for f in findings))],
        "findings": findings,
        "cap": (details.get("cap") or {}).get("identifier"),
        "approved_by": details.get("approved_by"), "rejected_by": details.get("rejected_by"),
        "rejected_reason": details.get("rejected_reason"),
        "awaiting": row.state == review.AWAITING,
        "own": any(review.same_person(account.actor, name) for name in authors),
        "overdue": row.due_at <= app.clock.now(), "done": done, "refusal": refusal,
        "reason": reason}, status_code=status_code)


# --------------------------------------------------------------------------- triggering


def _definitions(request: Request) -> list[dict[str, object]]:
    """Each definition with the data files a release created now would read: the paths for
    its period, and whether each file has arrived (its size and time)."""
    app = current_app(request)
    now = app.clock.now()
    return [{"id": name, "schedule": d.schedule, "review": d.review == "required",
             "channels": d.channels, "data": inbox.expected(app, name, now)}
            for name, d in sorted(app.loaded.config.releases.items())]


def _trigger_page(request: Request, *, chosen: str = "", error: str | None = None,
                  status_code: int = 200) -> HTMLResponse:
    return render(request, "trigger.html.j2", {
        "definitions": _definitions(request), "chosen": chosen, "error": error,
        "inbox": current_app(request).data_dir, "size_text": inbox.size_text},
        status_code=status_code)


@router.get(PATH + "/new", response_class=HTMLResponse)
def trigger_form(request: Request,
                 _account: Annotated[Account, Depends(require_page(role.RELEASE_TRIGGER))]
                 ) -> HTMLResponse:
    return _trigger_page(request, chosen=request.query_params.get("definition", ""))


@router.post(PATH, response_class=HTMLResponse)
def trigger(request: Request,
            account: Annotated[Account, Depends(require_page(role.RELEASE_TRIGGER))],
            form: Annotated[FormData, Depends(check_csrf)]) -> Response:
    app = current_app(request)
    name = field(form, "definition").strip()
    if name not in app.loaded.config.releases:
        return _trigger_page(request, chosen=name, error=name[:100], status_code=422)
    due = review.manual_due(app, name, app.clock.now())  # later, when it needs review
    outcome = release.create(app, name, due, actor=account.actor, origin="manual")
    if outcome.state == "active":
        dispatcher_wake(request)
    if outcome.state == "held":  # its problems are on the release page
        done = "held"
    elif not outcome.created:
        done = "exists"
    else:
        done = "awaiting" if outcome.state == review.AWAITING else "created"
    return RedirectResponse(f"{PATH}/{outcome.release_id}?done={done}", status_code=303)


# --------------------------------------------------------------------------- one release


DONE = ("approved", "rejected", "created", "awaiting", "exists", "held")


@router.get(PATH + "/{key_or_id}", response_class=HTMLResponse)
def release_page(request: Request, key_or_id: str,
                 account: Annotated[Account, Depends(require_page(role.LOG_READ))]
                 ) -> HTMLResponse:
    done = request.query_params.get("done")
    return _release_page(request, account, key_or_id, done=done if done in DONE else None)


def _refused(request: Request, account: Account, key_or_id: str, exc: review.ReviewRefused,
             reason: str = "") -> HTMLResponse:
    """The release page again, saying why nothing was done."""
    if exc.code == "not_found":
        raise HTTPException(404)
    words = exc.message_en if language(request) == "en" else exc.message_zh
    status = {"own_release": 403, "no_reason": 422}.get(exc.code, 409)
    return _release_page(request, account, key_or_id, refusal=words, reason=reason,
                         status_code=status)


@router.post(PATH + "/{key_or_id}/approve", response_class=HTMLResponse)
def approve(request: Request, key_or_id: str,
            account: Annotated[Account, Depends(require_page(role.RELEASE_APPROVE))],
            _form: Annotated[FormData, Depends(check_csrf)]) -> Response:
    try:
        decision = review.approve(current_app(request), key_or_id, actor=account.actor)
    except review.ReviewRefused as exc:
        return _refused(request, account, key_or_id, exc)
    dispatcher_wake(request)
    return RedirectResponse(f"{release_path(decision.release_id)}?done=approved",
                            status_code=303)


@router.post(PATH + "/{key_or_id}/reject", response_class=HTMLResponse)
def reject(request: Request, key_or_id: str,
           account: Annotated[Account, Depends(require_page(role.RELEASE_APPROVE))],
           form: Annotated[FormData, Depends(check_csrf)]) -> Response:
    reason = field(form, "reason").strip()[:MAX_REASON_CHARS]
    try:
        decision = review.reject(current_app(request), key_or_id, actor=account.actor,
                                 reason=reason)
    except review.ReviewRefused as exc:
        return _refused(request, account, key_or_id, exc, reason=reason)
    return RedirectResponse(f"{release_path(decision.release_id)}?done=rejected",
                            status_code=303)
