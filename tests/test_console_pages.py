"""The console's pages over real HTTP: overview, delivery log, deliveries, releases and audit."""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select, update

from channels.memory.adapter import MemoryStore
from channels.weibo.text import Counter
from publisher import audit, credential, release
from publisher import config as config_module
from publisher.app import App
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.history import decisions
from publisher.store import Store
from publisher.store.models import Attempt, AuditEvent, Delivery, Incident, Release, TokenRow
from publisher.web.api import create_app
from publisher.web.server import serve
from tests.support.console import Console, csrf_from
from tests.support.project import HOSTILE, HOSTILE_ESCAPED, REVIEWED, SHANGHAI, copy_project

DUE = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)  # the clock fixture's start: a Wednesday
KEY = "weekly@2026-12-02T10:00+08:00"
WEIBO = """\
  weibo-main:
    kind: weibo
    settings:
      link_base_url: http://portal.example.gov.cn/
      rip: 127.0.0.1
      posts_per_hour: 30
"""
SCRIPT_ESCAPED = "&lt;script&gt;"


@pytest.fixture
def console_app(project: Path, store: Store, clock: ManualClock) -> Iterator[App]:
    """The small project with a definition that needs review and an unused Weibo account."""
    path = project / "schedules.yaml"
    text = path.read_text(encoding="utf-8").replace("channels:\n  mem-a:", "channels:\n"
                                                    + WEIBO + "  mem-a:")
    path.write_text(text + REVIEWED, encoding="utf-8")
    MemoryStore.reset()
    yield App(loaded=config_module.load(path), store=store, clock=clock)
    MemoryStore.reset()


# --------------------------------------------------------------------------- helpers


def _create(app: App, definition: str = "weekly", due: datetime | None = None, *,
            actor: str = "staff:wang") -> int:
    outcome = release.create(app, definition, due or app.clock.now(), actor=actor,
                             origin="manual")
    return outcome.release_id


def _drain(app: App, minutes: float = 1) -> None:
    dispatcher = Dispatcher(app)
    try:
        dispatcher.drain(until=app.clock.now() + timedelta(minutes=minutes))
    finally:
        dispatcher.shutdown()


def _deliveries(app: App, release_id: int | None = None) -> dict[str, Delivery]:
    query = select(Delivery).order_by(Delivery.id)
    if release_id is not None:
        query = query.where(Delivery.release_id == release_id)
    with app.store.read() as session:
        return {d.channel: d for d in session.execute(query).scalars()}


def _delivery(app: App, delivery_id: int) -> Delivery:
    with app.store.read() as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        return row


def _release(app: App, release_id: int) -> Release:
    with app.store.read() as session:
        row = session.get(Release, release_id)
        assert row is not None
        return row


def _events(app: App, action: str) -> list[AuditEvent]:
    with app.store.read() as session:
        return list(session.execute(select(AuditEvent).where(AuditEvent.action == action)
                                    .order_by(AuditEvent.seq)).scalars())


def _ids(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr data-delivery="(\d+)"', page)]


def _next(page: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next"', page)
    return found.group(1).replace("&amp;", "&") if found else None


def _failed_and_published(app: App) -> tuple[int, int]:
    """A weekly release whose mem-a delivery failed (permanent) and mem-b published."""
    MemoryStore.script("mem-a", ["permanent"])
    release_id = _create(app)
    _drain(app)
    rows = _deliveries(app, release_id)
    assert rows["mem-a"].state == "failed" and rows["mem-b"].state == "published"
    return rows["mem-a"].id, rows["mem-b"].id


# --------------------------------------------------------------------------- the delivery log


def test_delivery_log_filters_by_release_channel_state_dates_and_incident(
        console: Console, clock: ManualClock) -> None:
    """The log narrows to a release (definition or key), to channels and states (several of
    each), to a date range in local days (the end day included) and to an incident, and the
    form shows what was chosen."""
    app = console.app
    failed, published = _failed_and_published(app)
    clock.advance(days=1)
    later = _create(app, due=DUE + timedelta(days=1))
    _drain(app)
    later_ids = sorted(d.id for d in _deliveries(app, later).values())
    with app.store.write() as session:
        session.add(Incident(key="bridge-2026", title="桥", area="某区", severity="重大",
                             status="open", opened_at=clock.now(), opened_by="staff:wang"))
        session.flush()
        incident_id = session.execute(select(Incident.id)).scalar_one()
        session.execute(update(Release).where(Release.id == later).values(incident_id=incident_id))
    viewer = console.signed_in("viewer")

    every = viewer.get("/deliveries")
    assert every.status_code == 200 and sorted(_ids(every.text)) == sorted([failed, published,
                                                                           *later_ids])
    assert _ids(viewer.get("/deliveries?release=" + quote(KEY, safe="")).text) == [
        published, failed]
    assert sorted(_ids(viewer.get("/deliveries?release=weekly").text)) == sorted(
        [failed, published, *later_ids])
    by_channel = viewer.get("/deliveries?channel=mem-a")
    assert sorted(_ids(by_channel.text)) == sorted([failed, _deliveries(app, later)["mem-a"].id])
    assert 'value="mem-a" checked' in by_channel.text
    by_state = viewer.get("/deliveries?state=failed&state=unknown")
    assert _ids(by_state.text) == [failed] and 'value="failed" checked' in by_state.text
    both = viewer.get("/deliveries?channel=mem-a&channel=mem-b&state=published")
    assert sorted(_ids(both.text)) == sorted([published, *later_ids])
    assert sorted(_ids(viewer.get("/deliveries?since=2026-12-03").text)) == later_ids
    assert sorted(_ids(viewer.get("/deliveries?until=2026-12-02").text)) == sorted(
        [failed, published])
    assert _ids(viewer.get("/deliveries?since=2026-12-04").text) == []
    assert "没有符合条件的投递" in viewer.get("/deliveries?since=2026-12-04").text
    assert sorted(_ids(viewer.get("/deliveries?incident=bridge-2026").text)) == later_ids
    assert sorted(_ids(viewer.get("/deliveries?by=created_at&since=2026-12-03").text)) == \
        later_ids
    english = viewer.get("/deliveries?lang=en&state=failed")
    assert "Delivery log" in english.text and ">failed<" in english.text


def test_paging_follows_next_links_through_every_row_once(console: Console,
                                                          clock: ManualClock) -> None:
    """With more deliveries than a page holds, the "next page" links (keyset cursors that keep
    the filters) walk every delivery exactly once, newest change first."""
    app = console.app
    for n in range(31):  # 62 deliveries: two pages of 50
        clock.set(DUE + timedelta(minutes=n))
        _create(app, due=DUE + timedelta(minutes=n))
    viewer = console.signed_in("viewer")
    seen: list[int] = []
    path: str | None = "/deliveries"
    pages = 0
    while path is not None:
        page = viewer.get(path)
        assert page.status_code == 200
        seen += _ids(page.text)
        path = _next(page.text)
        pages += 1
    assert pages == 2 and len(seen) == 62 and len(set(seen)) == 62
    with app.store.read() as session:
        assert set(seen) == set(session.execute(select(Delivery.id)).scalars())
    filtered = viewer.get("/deliveries?channel=mem-b")
    assert len(_ids(filtered.text)) == 31 and _next(filtered.text) is None
    second = viewer.get(_next(viewer.get("/deliveries?state=pending").text) or "")
    assert "after=" in second.url and "state=pending" in second.url
    assert 'data-page="first"' in second.text and len(_ids(second.text)) == 12


def test_csv_export_downloads_the_filtered_log(console: Console) -> None:
    """The export link carries the filters and downloads every matching row as a UTF-8 CSV
    with a BOM, a zh/en header and an attachment file name with today's date."""
    failed, _published = _failed_and_published(console.app)
    viewer = console.signed_in("viewer")
    page = viewer.get("/deliveries?channel=mem-a&state=failed")
    assert 'href="/deliveries.csv?channel=mem-a&amp;state=failed"' in page.text
    answer = viewer.get("/deliveries.csv?channel=mem-a&state=failed")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert answer.headers["Content-Disposition"] == \
        "attachment; filename=deliveries-20261202.csv"
    text = answer.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][0] == "投递编号 / delivery"
    assert [(r[0], r[4], r[6]) for r in rows[1:]] == [(str(failed), "mem-a", "failed")]
    everything = list(csv.reader(io.StringIO(
        viewer.get("/deliveries.csv").content.decode("utf-8").lstrip("\ufeff"))))
    assert len(everything) == 3


@pytest.mark.parametrize(("query", "name"), [
    ("state=bogus", "state"), ("channel=nowhere", "channel"), ("since=2026-13-01", "since"),
    ("until=yesterday", "until"), ("since=2026-12-05&until=2026-12-01", "until"),
    ("after=not-a-cursor", "after"), ("by=due_at", "by"), ("release=" + "x" * 201, "release"),
])
def test_bad_filter_values_answer_400_naming_the_field(console: Console, query: str,
                                                       name: str) -> None:
    """A filter value the log cannot use answers a 400 page naming the field (for the page and
    for the CSV export), with the filter form still there."""
    viewer = console.signed_in("viewer")
    for path in ("/deliveries", "/deliveries.csv"):
        answer = viewer.get(f"{path}?{query}")
        assert answer.status_code == 400, (path, answer.status_code)
        assert f'data-bad-field="{name}"' in answer.text and "筛选条件" in answer.text
        assert '<form method="get" action="/deliveries"' in answer.text


# --------------------------------------------------------------------------- one delivery


def test_delivery_page_lists_each_attempt_with_its_decision_and_audit_events(
        console: Console, clock: ManualClock) -> None:
    """A delivery that failed transiently, waited and then published shows each attempt's time,
    duration, outcome, the channel's code and message, the explanation, the retry decision (at
    once, the next try's time, final) and its audit events; the receipt links the URL."""
    app = console.app
    MemoryStore.script("mem-a", ["transient", "transient", "transient"])
    release_id = _create(app)
    _drain(app, minutes=0)  # one claim: three transient tries, then retry_wait
    row = _deliveries(app, release_id)["mem-a"]
    assert row.state == "retry_wait" and row.next_attempt_at is not None
    clock.set(row.next_attempt_at + timedelta(seconds=1))
    _drain(app)
    assert _delivery(app, row.id).state == "published"
    page = console.signed_in("viewer").get(f"/deliveries/{row.id}")
    assert page.status_code == 200
    decisions = re.findall(r'data-decision="([a-z_.]*)"', page.text)
    assert decisions == ["decision.again", "decision.again", "decision.retry_at",
                         "decision.published"]
    next_try = row.next_attempt_at.astimezone(SHANGHAI).strftime("%m-%d %H:%M:%S")
    assert f"{next_try}</time> 再试" in page.text
    outcomes = re.findall(r'data-outcome="([a-z_]+)"', page.text)
    assert outcomes == ["transient", "transient", "transient", "published"]
    assert "临时故障" in page.text and " ms" in page.text
    url = (_delivery(app, row.id).receipt or {})["url"]
    assert url == "memory://mem-a/1" and url in page.text
    assert f'href="{url}"' not in page.text  # only http(s) receipts become links
    for action in ("delivery.pending", "delivery.sending", "delivery.retry_wait",
                   "delivery.published"):
        assert f'data-action="{action}"' in page.text
    assert 'data-form="retry"' not in page.text  # a published delivery has no action
    assert console.signed_in("viewer").get("/deliveries/999999").status_code == 404
    assert console.signed_in("viewer").get("/deliveries/abc").status_code == 404


def test_retry_decisions_follow_claims_even_without_a_try_or_time_passing() -> None:
    """Attempts are matched to the claims around them: a claim that ended without trying (a
    follow-up waiting for its earlier post) takes no attempt, and a manual retry at the very
    same instant starts a new claim, so each attempt gets its own claim's ending."""
    at = DUE

    def event(seq: int, action: str, **details: object) -> AuditEvent:
        return AuditEvent(seq=seq, at=at, actor="w", action=action, subject="delivery:1",
                          details=details)

    events = [event(1, "delivery.pending"), event(2, "delivery.sending"),
              event(3, "delivery.retry_wait", reason="waiting for the earlier post",
                    next_attempt_at=at.isoformat()),
              event(4, "delivery.sending"), event(5, "delivery.failed", error={"code": "x"}),
              event(6, "delivery.retry"), event(7, "delivery.sending"),
              event(8, "delivery.published", receipt={"url": "https://x.gov.cn/"})]
    attempts = [Attempt(number=n, started_at=at, duration_ms=1, outcome=o)
                for n, o in ((1, "permanent"), (2, "published"))]
    found = decisions(attempts, events)
    assert {n: d.key for n, d in found.items()} == {1: "decision.failed",
                                                    2: "decision.published"}
    running = decisions(attempts[:1], events[:4])
    assert running[1].key == "decision.running"


def test_retry_sends_a_failed_delivery_again_and_is_audited(console: Console) -> None:
    """An editor's retry of a failed delivery makes it due again under the same key (303 back
    to its page), audits ``delivery.retry`` as console:<name>, and the dispatcher then
    publishes it; a second retry of the published delivery is refused with a clear 409."""
    app = console.app
    failed, _ = _failed_and_published(app)
    key = _delivery(app, failed).idempotency_key
    editor = console.signed_in("editor", name="li.wei")
    page = editor.get(f"/deliveries/{failed}")
    assert 'data-form="retry"' in page.text and 'data-form="resolve"' not in page.text
    answer = editor.post_form(f"/deliveries/{failed}/retry", from_page=f"/deliveries/{failed}")
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"/deliveries/{failed}?done=retry"
    assert "已安排重新发送" in editor.get(answer.headers["Location"]).text
    row = _delivery(app, failed)
    assert row.state == "retry_wait" and row.next_attempt_at == app.clock.now()
    event = _events(app, "delivery.retry")[-1]
    assert (event.actor, event.subject) == ("console:li.wei", f"delivery:{failed}")
    assert event.details["previous_state"] == "failed"
    _drain(app)
    assert _delivery(app, failed).state == "published"
    assert [p["key"] for p in MemoryStore.published("mem-a")] == [key]
    again = editor.post_form(f"/deliveries/{failed}/retry")
    assert again.status_code == 409 and "只能重试 failed、unknown 或 retry_wait" in again.text
    assert len(_events(app, "delivery.retry")) == 1


def test_retry_and_resolve_are_refused_to_roles_without_the_permission(
        console: Console) -> None:
    """A viewer, an approver and an urgent publisher cannot retry (403 page, nothing changes);
    an editor cannot resolve an unknown delivery; none of them sees the action forms."""
    app = console.app
    MemoryStore.script("mem-a", ["lost"])
    release_id = _create(app)
    _drain(app)
    unknown = _deliveries(app, release_id)["mem-a"]
    assert unknown.state == "unknown"
    for who in ("viewer", "approver", "urgent"):
        browser = console.signed_in(who)
        assert 'data-form="retry"' not in browser.get(f"/deliveries/{unknown.id}").text
        answer = browser.post_form(f"/deliveries/{unknown.id}/retry")
        assert answer.status_code == 403 and "delivery.retry" in answer.text
    editor = console.signed_in("editor")
    assert 'data-form="resolve"' not in editor.get(f"/deliveries/{unknown.id}").text
    refused = editor.post_form(f"/deliveries/{unknown.id}/resolve",
                               {"decision": "published", "url": "https://example.gov.cn/a"})
    assert refused.status_code == 403 and "delivery.resolve" in refused.text
    assert _delivery(app, unknown.id).state == "unknown"
    assert _events(app, "delivery.retry") == [] and _events(app, "delivery.resolved") == []


def test_admin_resolves_an_unknown_delivery_as_published_with_its_url(console: Console) -> None:
    """An admin marks an unknown delivery published at the URL found on the channel: a link
    that is not http(s) is refused (422) and changes nothing; a good one makes it published
    with that receipt and audits the decision; resolving it again is refused (409)."""
    app = console.app
    MemoryStore.script("mem-a", ["lost"])
    release_id = _create(app)
    _drain(app)
    unknown = _deliveries(app, release_id)["mem-a"]
    admin = console.signed_in("admin", name="boss")
    page = admin.get(f"/deliveries/{unknown.id}")
    assert 'data-form="resolve"' in page.text and 'data-form="retry"' in page.text
    for bad in ("javascript:alert(1)", "ftp://example.gov.cn/x", "example.gov.cn/a", ""):
        answer = admin.post_form(f"/deliveries/{unknown.id}/resolve",
                                 {"decision": "published", "url": bad})
        assert answer.status_code == 422, bad
        assert "链接无效" in answer.text and 'href="javascript:' not in answer.text
    assert _delivery(app, unknown.id).state == "unknown"
    url = "https://www.example.gov.cn/news/a.html"
    done = admin.post_form(f"/deliveries/{unknown.id}/resolve",
                           {"decision": "published", "url": url})
    assert done.status_code == 303 and done.headers["Location"].endswith("?done=published")
    row = _delivery(app, unknown.id)
    assert row.state == "published" and (row.receipt or {})["url"] == url
    assert row.published_at == app.clock.now()
    event = _events(app, "delivery.resolved")[-1]
    assert event.actor == "console:boss" and event.details["decision"] == "published"
    assert event.details["url"] == url and event.details["previous_state"] == "unknown"
    assert f'href="{url}"' in admin.get(f"/deliveries/{unknown.id}").text
    again = admin.post_form(f"/deliveries/{unknown.id}/resolve",
                            {"decision": "published", "url": url})
    assert again.status_code == 409 and "只能判定 unknown" in again.text
    odd = admin.post_form(f"/deliveries/{unknown.id}/resolve", {"decision": "maybe"})
    assert odd.status_code == 422


def test_admin_decides_an_unknown_delivery_was_not_published_and_sends_it_again(
        console: Console) -> None:
    """"Send again" on an unknown delivery makes it due under the same key, audits the
    decision ``send_again``, and the dispatcher then publishes it; on a failed delivery the
    decision is refused (only unknown ones are decided)."""
    app = console.app
    MemoryStore.script("mem-a", ["lost", "permanent"])
    first = _create(app)
    _drain(app)
    unknown = _deliveries(app, first)["mem-a"]
    admin = console.signed_in("admin", name="boss")
    answer = admin.post_form(f"/deliveries/{unknown.id}/resolve", {"decision": "send_again"})
    assert answer.status_code == 303
    assert _delivery(app, unknown.id).state == "retry_wait"
    event = _events(app, "delivery.resolved")[-1]
    assert (event.actor, event.details["decision"]) == ("console:boss", "send_again")
    _drain(app)  # the script's next outcome for mem-a is "permanent"
    assert _delivery(app, unknown.id).state == "failed"
    refused = admin.post_form(f"/deliveries/{unknown.id}/resolve", {"decision": "send_again"})
    assert refused.status_code == 409 and "only unknown can be resolved" not in refused.text
    assert "只能判定 unknown" in refused.text
    english = admin.post_form(f"/deliveries/{unknown.id}/resolve?lang=en",
                              {"decision": "send_again"})
    assert english.status_code == 409 and "only unknown can be resolved" in english.text


# --------------------------------------------------------------------------- releases


def test_editor_triggers_a_release_from_the_console(console: Console) -> None:
    """An editor picks a definition on /releases/new: the release is created from the inbox
    data with the account as its author, its deliveries wait for the dispatcher, and the
    browser lands on its page; an unknown definition is refused naming it; a viewer or an
    approver may not trigger."""
    editor = console.signed_in("editor", name="li.wei")
    form = editor.get("/releases/new")
    assert form.status_code == 200 and 'value="weekly"' in form.text
    assert 'data-definition="reviewed"' in form.text and 'data-review="required"' in form.text
    answer = editor.post_form("/releases", {"definition": "weekly"}, from_page="/releases/new")
    assert answer.status_code == 303
    location = answer.headers["Location"]
    release_id = int(re.match(r"/releases/(\d+)\?done=created$", location).group(1))  # type: ignore[union-attr]
    row = _release(console.app, release_id)
    assert (row.key, row.state, row.actor, row.origin) == (KEY, "active", "console:li.wei",
                                                          "manual")
    assert {d.state for d in _deliveries(console.app, release_id).values()} == {"pending"}
    page = editor.get(location)
    assert "已创建发布" in page.text and 'data-author>console:li.wei<' in page.text
    again = editor.post_form("/releases", {"definition": "weekly"})
    assert again.headers["Location"] == f"/releases/{release_id}?done=exists"
    unknown = editor.post_form("/releases", {"definition": "<b>nope</b>"})
    assert unknown.status_code == 422 and "没有这个发布定义" in unknown.text
    assert "<b>nope</b>" not in unknown.text and "&lt;b&gt;nope&lt;/b&gt;" in unknown.text
    for who in ("viewer", "approver", "urgent"):
        browser = console.signed_in(who)
        assert browser.get("/releases/new").status_code == 403
        assert browser.post_form("/releases", {"definition": "weekly"}).status_code == 403


def test_trigger_with_missing_data_shows_the_held_release_with_its_problems(
        console: Console, clock: ManualClock) -> None:
    """A trigger in a week whose data file is missing lands on the release page, held, with the
    problem listed and no delivery; the overview lists it among releases that need a person."""
    clock.advance(days=7)  # week 50: no file in the inbox
    editor = console.signed_in("editor")
    answer = editor.post_form("/releases", {"definition": "weekly"})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("?done=held")
    page = editor.get(answer.headers["Location"])
    assert "data-problems" in page.text and "2026-W50.csv" in page.text
    assert "没有投递" in page.text
    overview = editor.get("/").text
    assert 'data-table="attention"' in overview and "2026-W50.csv" in overview


def test_approver_cannot_approve_their_own_release_another_approver_can(
        console: Console) -> None:
    """A release that needs review, triggered in the console by li (editor and approver), waits
    for approval; li's approval is refused (403, nothing changes) and the page says why;
    a release made on the command line as staff:li is refused to console:li too; another
    approver approves it: it becomes active, audited as that approver."""
    app = console.app
    li = console.signed_in("editor", "approver", name="li")
    answer = li.post_form("/releases", {"definition": "reviewed"})
    assert answer.headers["Location"].endswith("?done=awaiting")
    release_id = int(answer.headers["Location"].split("/")[2].split("?")[0])
    assert _release(app, release_id).state == "awaiting_approval"
    page = li.get(f"/releases/{release_id}")
    assert "data-own" in page.text and 'data-form="approve"' in page.text
    refused = li.post_form(f"/releases/{release_id}/approve")
    assert refused.status_code == 403 and "不能审核自己创建的发布" in refused.text
    assert _release(app, release_id).state == "awaiting_approval"
    assert _events(app, "release.approved") == []

    cli_made = _create(app, "reviewed", DUE + timedelta(days=1, hours=2), actor="staff:wang")
    wang = console.signed_in("approver", name="wang")
    assert wang.post_form(f"/releases/{cli_made}/approve").status_code == 403
    assert _release(app, cli_made).state == "awaiting_approval"

    approved = wang.post_form(f"/releases/{release_id}/approve")
    assert approved.status_code == 303
    assert approved.headers["Location"] == f"/releases/{release_id}?done=approved"
    row = _release(app, release_id)
    assert row.state == "active" and row.details["approved_by"] == "console:wang"
    event = _events(app, "release.approved")[-1]
    assert (event.actor, event.subject) == ("console:wang", f"release:{row.key}")
    again = wang.post_form(f"/releases/{release_id}/approve")
    assert again.status_code == 409 and "不在待审核状态" in again.text
    assert console.signed_in("editor").post_form(
        f"/releases/{cli_made}/approve").status_code == 403


def test_approver_rejects_a_release_with_a_reason(console: Console) -> None:
    """Rejecting needs a reason (422 without one); with one the release is rejected, its
    deliveries fail with the reason, the page shows who and why, and it is audited."""
    app = console.app
    release_id = _create(app, "reviewed", DUE + timedelta(hours=2), actor="staff:wang")
    zhang = console.signed_in("approver", name="zhang")
    empty = zhang.post_form(f"/releases/{release_id}/reject", {"reason": "  "})
    assert empty.status_code == 422 and "驳回须说明理由" in empty.text
    assert _release(app, release_id).state == "awaiting_approval"
    answer = zhang.post_form(f"/releases/{release_id}/reject", {"reason": "数据待核 <i>x</i>"})
    assert answer.status_code == 303
    assert _release(app, release_id).state == "rejected"
    assert {d.state for d in _deliveries(app, release_id).values()} == {"failed"}
    page = zhang.get(answer.headers["Location"])
    assert "已驳回" in page.text and "数据待核 &lt;i&gt;x&lt;/i&gt;" in page.text
    assert "console:zhang" in page.text and 'data-form="approve"' not in page.text
    event = _events(app, "release.rejected")[-1]
    assert event.actor == "console:zhang" and event.details["reason"] == "数据待核 <i>x</i>"
    retry = console.signed_in("editor").post_form(
        f"/deliveries/{_deliveries(app, release_id)['mem-a'].id}/retry")
    assert retry.status_code == 409 and "rejected" in retry.text


def test_release_pages_are_found_by_id_or_key_and_speak_english(console: Console) -> None:
    """A release page answers by id and by key (as audit subjects link it), 404 for neither,
    and in English with ?lang=en."""
    release_id = _create(console.app)
    viewer = console.signed_in("viewer")
    by_key = viewer.get("/releases/" + quote(KEY, safe=""))
    assert by_key.status_code == 200 and 'data-delivery="' in by_key.text
    assert viewer.get(f"/releases/{release_id}").text.count("mem-a") >= 2
    assert viewer.get("/releases/999999").status_code == 404
    assert viewer.get("/releases/no-such-key").status_code == 404
    english = viewer.get(f"/releases/{release_id}?lang=en")
    assert "Deliveries" in english.text and "Each channel" in english.text


# --------------------------------------------------------------------------- the overview


def test_overview_shows_upcoming_waiting_and_channel_health(
        console: Console, clock: ManualClock) -> None:
    """The overview lists each scheduled definition's next due time (review marked, with its
    render time), releases awaiting approval, each channel's last success and recent failures,
    circuits as unknown without the daemon, the Weibo window's use and an expiring Weibo
    authorisation."""
    app = console.app
    _failed_and_published(app)
    awaiting = _create(app, "reviewed", DUE + timedelta(hours=2), actor="staff:wang")
    with app.store.write() as session:
        session.add(Delivery(release_id=awaiting, channel="weibo-main", kind="weibo",
                             state="published", action="send", idempotency_key="w" * 32,
                             payload={"kind": "weibo", "data": {"status": "x"}},
                             created_at=clock.now(), updated_at=clock.now(),
                             published_at=clock.now(), receipt={"remote_id": "1", "url": None}))
        session.add(TokenRow(key=credential.token_row_key("weibo-main"), sealed="x",
                             expires_at=clock.now() + timedelta(days=3)))
    page = console.signed_in("viewer").get("/")
    assert page.status_code == 200
    text = page.text
    upcoming = text[text.index('data-table="upcoming"'):text.index('data-table="health"')]
    assert 'data-definition="weekly"' in upcoming and "2026-12-02 10:00" in upcoming
    assert 'data-definition="reviewed"' in upcoming and "2026-12-03 09:00" in upcoming
    assert '<time datetime="2026-12-03T07:00:00+08:00">2026-12-03 07:00</time> 生成待审稿' \
        in upcoming
    attention = text[text.index('data-table="attention"'):text.index('data-table="upcoming"')]
    assert "待审核" in attention and "staff:wang" in attention
    health = text[text.index('data-table="health"'):]
    mem_a = health[health.index('data-channel="mem-a"'):health.index('data-channel="mem-b"')]
    assert 'data-failed="1"' in mem_a and 'data-circuit="unknown"' in mem_a
    mem_b = health[health.index('data-channel="mem-b"'):health.index('data-channel="weibo-main"')]
    assert "2026-12-02 10:00" in mem_b and 'data-failed="0"' in mem_b
    weibo = health[health.index('data-channel="weibo-main"'):]
    assert "近一小时 1 / 30" in weibo and 'data-credential="expiring"' in weibo
    recent = text[text.index('data-table="recent"'):]
    assert KEY in recent
    assert 'data-action="trigger"' not in text  # a viewer may not trigger


def test_console_in_the_daemon_wakes_its_dispatcher_and_shows_open_circuits(
        console_app: App, cheap_hashing: None) -> None:
    """Served with the daemon's wake and dispatcher, a trigger and a retry wake the dispatcher,
    and the overview shows a channel whose circuit the dispatcher opened."""
    woken = threading.Event()
    dispatcher = Dispatcher(console_app)
    api = create_app(console_app, wake=woken.set, dispatcher=dispatcher)
    server = serve(api, "127.0.0.1", 0)
    try:
        harness = Console(console_app, server, api)
        editor = harness.signed_in("editor")
        assert editor.post_form("/releases", {"definition": "weekly"}).status_code == 303
        assert woken.is_set()
        for _ in range(dispatcher.circuits.threshold):
            dispatcher.circuits.failed("mem-a", console_app.clock.now())
        page = editor.get("/").text
        health = page[page.index('data-table="health"'):]
        mem_a = health[health.index('data-channel="mem-a"'):health.index('data-channel="mem-b"')]
        assert 'data-circuit="open"' in mem_a and "已熔断" in mem_a
        mem_b = health[health.index('data-channel="mem-b"'):]
        assert 'data-circuit="closed"' in mem_b
    finally:
        server.stop()
        dispatcher.shutdown()


# --------------------------------------------------------------------------- audit


def test_audit_page_shows_the_chain_newest_first_and_its_verification(console: Console) -> None:
    """The audit page lists events newest first, a hundred a page with a link to older ones,
    says the chain is intact with its count; after a row is edited in the database it names
    the first bad row and marks it."""
    app = console.app
    with app.store.write() as session:
        for n in range(150):
            audit.append(session, at=app.clock.now(), actor="staff:test", action="test.event",
                         subject=f"delivery:{n}", details={"n": n, "text": HOSTILE})
    viewer = console.signed_in("viewer")
    page = viewer.get("/audit")
    seqs = [int(s) for s in re.findall(r'data-seq="(\d+)"', page.text)]
    total = len(_events(app, "test.event")) + len(_events(app, "account.created")) + \
        len(_events(app, "account.signed_in"))
    assert seqs == list(range(total, total - 100, -1))
    assert 'data-verdict="ok"' in page.text and f"共 {total} 条记录" in page.text
    assert HOSTILE not in page.text and SCRIPT_ESCAPED in page.text
    assert 'href="/deliveries/149"' in page.text
    older = viewer.get(_next(page.text) or "")
    assert [int(s) for s in re.findall(r'data-seq="(\d+)"', older.text)] == list(
        range(total - 100, 0, -1))
    assert "data-verdict" not in older.text and "verify=1" in older.text
    with app.store.write() as session:
        session.execute(update(AuditEvent).where(AuditEvent.seq == 7)
                        .values(details={"n": "edited"}))
    # the page checks only events after its checkpoint; the full check finds the edit, and
    # moves the checkpoint back, so the page shows the break from then on
    assert 'data-verdict="ok"' in viewer.get("/audit").text
    broken = viewer.get("/audit?verify=full")
    assert 'data-verdict="broken"' in broken.text and 'data-bad-seq="7"' in broken.text
    assert "审计链在第 7 条被破坏" in broken.text
    again = viewer.get("/audit")
    assert 'data-verdict="broken"' in again.text and 'data-bad-seq="7"' in again.text
    marked = viewer.get("/audit?before=8")
    assert 'data-seq="7" class="bad-row" data-bad="1"' not in marked.text  # not verified here
    verified = viewer.get("/audit?before=8&verify=1")
    assert 'data-bad="1"' in verified.text


def test_audit_page_verifies_only_the_events_added_since_its_last_check(console: Console) -> None:
    """The first view of /audit recomputes every event; the next recomputes only those appended
    since (3), says so with the time of the earlier check, and offers the full check, which
    recomputes them all again."""
    app = console.app
    viewer = console.signed_in("viewer")
    first = viewer.get("/audit")
    total = int(re.findall(r'data-checked="(\d+)"', first.text)[0])
    assert 'data-verdict="ok"' in first.text and 'data-since="0"' in first.text and total > 0
    with app.store.write() as session:
        for n in range(3):
            audit.append(session, at=app.clock.now(), actor="staff:test", action="test.event",
                         subject=f"delivery:{n}", details={"n": n})
    second = viewer.get("/audit")
    assert 'data-verdict="ok"' in second.text
    assert f'data-checked="3" data-since="{total}"' in second.text
    assert f"本次核验了第 {total} 条之后新增的 3 条" in second.text
    assert 'data-verify="full"' in second.text and "/audit?verify=full" in second.text
    full = viewer.get("/audit?verify=full")
    assert f'data-checked="{total + 3}" data-since="0"' in full.text
    assert f"共 {total + 3} 条记录，逐条核验无误" in full.text


# --------------------------------------------------------------------------- previews and XSS


@pytest.fixture
def shipped_app(tmp_path: Path, store: Store, clock: ManualClock) -> Iterator[App]:
    """The shipped config, templates and samples, every channel on its emulator, a food-safety
    sample whose data carries a script tag."""
    config = copy_project(tmp_path / "shipped")
    sample = config.parent / "samples" / "food-safety-sampling" / "unqualified.csv"
    header = sample.read_bytes().decode("gb18030").splitlines()[0]
    sample.write_text(f"{header}\n1,某食品厂,某区某路1号,某超市,某区某路2号,{HOSTILE}饼干,散装,/,"
                      f"2026-11-12,{HOSTILE}菌落总数║2.6×10⁵║≤10⁵,某检验所,糕点\n",
                      encoding="utf-8")
    app = App(loaded=config_module.load(config), store=store, clock=clock, sandbox=True)
    yield app
    app.close()


def test_release_page_shows_each_channel_as_it_will_look_and_escapes_data(
        shipped_app: App, cheap_hashing: None) -> None:
    """The release page shows the WeChat article (title, digest, its HTML in a sandboxed
    frame served with a script-free, sandboxing CSP), the Weibo text with its Weibo length
    count, the portal page and the gazette item; a script tag in a bureau's data shows escaped
    on every page and in every framed body, never as markup."""
    from publisher.cli.run import sample_data

    app = shipped_app
    outcome = release.create(app, "food-safety-sampling", DUE, actor="staff:wang",
                             origin="manual", data=sample_data(app, "food-safety-sampling"))
    assert outcome.state == "active", outcome.problems
    api = create_app(app)
    server = serve(api, "127.0.0.1", 0)
    try:
        harness = Console(app, server, api)
        viewer = harness.signed_in("viewer")
        page = viewer.get(f"/releases/{outcome.release_id}")
        assert page.status_code == 200
        text = page.text
        for kind in ("wechat", "weibo", "portal", "gazette"):
            assert f'data-kind="{kind}"' in text, kind
        rows = _deliveries(app, outcome.release_id)
        assert text.count('sandbox=""') == 3  # wechat, portal, gazette bodies
        frames = re.findall(r'<iframe class="preview-frame" sandbox="" [^>]*src="([^"]*)"', text)
        assert sorted(frames) == sorted(f"/deliveries/{rows[name].id}/preview" for name in
                                        ("wechat-main", "portal-main", "gazette-main"))
        bodies = []
        for frame in frames:
            body = viewer.get(frame)
            policy = body.headers["Content-Security-Policy"]
            assert body.status_code == 200 and "default-src 'none'" in policy
            assert policy.endswith("; sandbox") and "script-src" not in policy
            assert body.headers["X-Frame-Options"] == "SAMEORIGIN"
            bodies.append(body.text)
        # the bureau's cell reaches each body escaped by the content template
        assert all(HOSTILE_ESCAPED in body and HOSTILE not in body for body in bodies)
        assert viewer.get(f"/deliveries/{rows['weibo-main'].id}/preview").status_code == 404
        assert harness.browser().get(frames[0]).status_code == 303  # signed in only
        status = rows["weibo-main"].payload["data"]["status"]
        length = Counter(limit=140).length(status)
        assert f'data-length="{length}" data-limit="140"' in text
        assert f"字数 {length} / 140" in text
        wechat = rows["wechat-main"].payload["data"]
        assert wechat["title"] in text and "阅读原文" in text
        assert "公报栏目" in text and "departments" in text
        delivery_pages = [viewer.get(f"/deliveries/{d.id}").text for d in rows.values()]
        pages = [text, viewer.get("/deliveries").text, viewer.get("/").text,
                 viewer.get("/audit").text, *delivery_pages]
        # in the Weibo text (a plain-text template) it is escaped by the page
        assert HOSTILE in status and f"{HOSTILE_ESCAPED}菌落总数" in text
        for shown in pages:
            assert "<script>alert" not in shown and "<script" not in shown.replace(
                '<script src="/static/console.js" defer></script>', "")
        with app.store.write() as session:
            session.execute(update(Delivery).where(Delivery.id == rows["portal-main"].id).values(
                receipt={"remote_id": "x", "url": "javascript:alert(1)"}, state="published"))
        hostile_link = viewer.get(f"/deliveries/{rows['portal-main'].id}").text
        assert 'href="javascript:' not in hostile_link and "javascript:alert(1)" in hostile_link
        assert 'href="javascript:' not in viewer.get("/deliveries").text
        assert 'href="javascript:' not in viewer.get(f"/releases/{outcome.release_id}").text
    finally:
        server.stop()


def test_delivery_log_shows_a_script_in_a_release_title_escaped(console: Console) -> None:
    """A release whose title carries markup (a title template fed by data) shows it escaped in
    the log, on its release page, on its deliveries and in the overview."""
    app = console.app
    release_id = _create(app)
    with app.store.write() as session:
        session.execute(update(Release).where(Release.id == release_id).values(
            title=HOSTILE, hold_reason={"problems": [HOSTILE]}))
    viewer = console.signed_in("viewer")
    delivery_id = _deliveries(app, release_id)["mem-a"].id
    for path in ("/deliveries", f"/releases/{release_id}", f"/deliveries/{delivery_id}", "/"):
        page = viewer.get(path)
        assert page.status_code == 200
        assert HOSTILE not in page.text and SCRIPT_ESCAPED in page.text, path


def test_every_new_page_speaks_english_when_switched(console: Console) -> None:
    """With ?lang=en the overview, the delivery log, a failed delivery (its explanation too), a
    release awaiting approval, the trigger form and the audit chain render in English."""
    app = console.app
    failed, _ = _failed_and_published(app)
    awaiting = _create(app, "reviewed", DUE + timedelta(hours=2), actor="staff:wang")
    admin = console.signed_in("admin")
    expected = {"/": "Channel health", "/deliveries": "the channel refused for good",
                f"/deliveries/{failed}": "Retry decision", f"/releases/{awaiting}": "Approve",
                "/releases/new": "Trigger now", "/audit": "The audit chain is intact"}
    for path, words in expected.items():
        page = admin.get(f"{path}?lang=en")
        assert page.status_code == 200 and words in page.text, path
        assert 'lang="en"' in page.text
    assert "another approver than its author must approve it" in admin.get("/?lang=en").text


def test_forms_need_their_csrf_token_on_every_new_page(console: Console) -> None:
    """Retry, resolve, trigger, approve and reject posted without the session's CSRF token are
    refused (403) and change nothing."""
    app = console.app
    failed, _ = _failed_and_published(app)
    awaiting = _create(app, "reviewed", DUE + timedelta(hours=2), actor="staff:wang")
    admin = console.signed_in("admin")
    page = admin.get(f"/deliveries/{failed}")
    assert csrf_from(page.text)
    before = len(_events(app, "delivery.retry")) + len(_events(app, "release.approved"))
    for path, data in ((f"/deliveries/{failed}/retry", {}),
                       (f"/deliveries/{failed}/resolve", {"decision": "send_again"}),
                       ("/releases", {"definition": "weekly"}),
                       (f"/releases/{awaiting}/approve", {}),
                       (f"/releases/{awaiting}/reject", {"reason": "no"})):
        answer = admin.post_form(path, {**data, "note": "x"}, csrf="")
        assert answer.status_code == 403 and "表单已失效" in answer.text, path
    assert _delivery(app, failed).state == "failed"
    assert _release(app, awaiting).state == "awaiting_approval"
    assert len(_events(app, "delivery.retry")) + len(_events(app, "release.approved")) == before
