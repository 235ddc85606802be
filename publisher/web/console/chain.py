"""``GET /audit``: the audit chain, newest first, with the result of verifying it."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from publisher import audit
from publisher.store.models import AuditEvent
from publisher.web import role
from publisher.web.account import Account
from publisher.web.auth import current_app
from publisher.web.console.deps import page_router, render, require_page
from publisher.web.console.i18n import register
from publisher.zone import localised

router = page_router()
PATH = "/audit"
PAGE_SIZE = 100
MAX_SEQ = 2**62

register({
    "audit.title": ("审计记录", "Audit chain"),
    "audit.help": ("每条记录都包含前一条记录的哈希值，任何修改、删除或调换都会被发现。", "Each event "
                   "carries the hash of the one before it: an edit, deletion or reordering is "
                   "found."),
    "audit.ok": ("审计链完整：共 {count} 条记录，逐条核验无误。", "The audit chain is intact: "
                 "{count} events, each verified."),
    "audit.broken": ("审计链在第 {seq} 条被破坏：{reason}", "The audit chain is broken at event "
                     "{seq}: {reason}"),
    "audit.show_bad": ("查看该条记录", "Show that event"),
    "audit.ok_since": ("审计链完整：共 {count} 条记录；本次核验了第 {since} 条之后新增的 {checked} "
                       "条，此前的记录已于 {verified_at} 核验。", "The audit chain is intact: {count} "
                       "events; this view verified the {checked} added after event {since}, the "
                       "ones before it were verified at {verified_at}."),
    "audit.verify": ("核验新增记录", "Verify new events"),
    "audit.verify_full": ("完整核验（逐条重新计算整条链）", "Full check (recompute the whole "
                          "chain)"),
    "audit.not_verified": ("本页未核验。", "Not verified on this page."),
    "audit.empty": ("还没有审计记录。", "No audit event yet."),
    "audit.older": ("更早的记录", "Older events"),
    "audit.newest": ("最新的记录", "Newest events"),
    "col.seq": ("序号", "No."),
    "col.subject": ("对象", "Subject"),
    "col.hash": ("哈希", "Hash"),
})


def _before(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and int(text) <= MAX_SEQ else None


@router.get(PATH, response_class=HTMLResponse)
def audit_page(request: Request,
               _account: Annotated[Account, Depends(require_page(role.AUDIT_READ))]
               ) -> HTMLResponse:
    """The newest events (or those before ``?before=``). The first page verifies the events
    added since the chain was last found intact (the stored checkpoint), ``?verify=full`` the
    whole chain; either verdict moves the checkpoint (``audit.record``)."""
    app = current_app(request)
    before = _before(request.query_params.get("before"))
    mode = request.query_params.get("verify")
    check = before is None or mode in ("1", "full")
    verdict, mark = None, None
    with app.store.read() as session:
        if check:
            mark = None if mode == "full" else audit.checkpoint(session)
            verdict = audit.verify(session, since=mark)
        query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(PAGE_SIZE + 1)
        if before is not None:
            query = query.where(AuditEvent.seq < before)
        events = list(session.execute(query).scalars())
    if verdict is not None and not (verdict.ok and verdict.checked == 0 and mark is not None):
        with app.store.write() as session:
            audit.record(session, verdict, at=app.clock.now())
    more = len(events) > PAGE_SIZE
    events = events[:PAGE_SIZE]
    rows = [{"event": e, "details": json.dumps(localised(e.details, app.loaded.zone),
                                               ensure_ascii=False, sort_keys=True, default=str)}
            for e in events]
    older = f"{PATH}?before={events[-1].seq}" if more and events else None
    here = f"{PATH}?before={before}&" if before is not None else f"{PATH}?"
    return render(request, "audit.html.j2", {
        "rows": rows, "verdict": verdict, "older": older, "paged": before is not None,
        "bad_seq": verdict.bad_seq if verdict and not verdict.ok else None,
        "verified_at": mark.verified_at if mark is not None else None,
        "verify_url": f"{here}verify=1" if before is not None else None,
        "full_url": f"{here}verify=full"})
