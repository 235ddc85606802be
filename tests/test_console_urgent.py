"""The console's urgent pages over real HTTP: compose, preview with counters, confirm, board, next steps."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from channels.weibo.text import Counter
from publisher.store.models import Incident
from tests.support.console import Console
from tests.support.urgent_console import (
    CHANNELS,
    POST,
    audit_events,
    console,
    console_app,
    drain_all,
    form_pairs,
    hidden_fields,
    open_by_form,
    post_form,
    table_counts,
    wakes,
)

__all__ = ["console", "console_app", "wakes"]  # the urgent console's fixtures, over the plain console's


# --------------------------------------------------------------------------- fixtures


# --------------------------------------------------------------------------- helpers


def _no_inline_code(page: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "an inline script"
    assert " style=" not in page and "<style" not in page, "an inline style"


# --------------------------------------------------------------------------- compose and preview


def test_compose_form_offers_the_urgent_channels_and_marks_drills(console: Console) -> None:
    """The compose form lists every channel that takes urgent posts with the urgent section's
    checked and a disabled one unselectable, offers Actual/Exercise/Test with the drill
    explained, loads its script from /static and has no inline script or style."""
    page = console.signed_in("urgent").get("/urgent")
    assert page.status_code == 200
    for name in CHANNELS:
        assert f'name="channels" value="{name}" checked' in page.text, name
    assert 'value="mem-off" disabled' in page.text
    for status in ("Actual", "Exercise", "Test"):
        assert f'name="status" value="{status}"' in page.text
    assert "演练和测试只发往各渠道的模拟器" in page.text
    assert '<script src="/static/urgent.js" defer></script>' in page.text
    _no_inline_code(page.text)
    script = console.browser().get("/static/urgent.js")
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]


def test_compose_form_preselects_neither_kind_nor_grade(console: Console) -> None:
    """The compose form has no kind of post (正式发布 or a drill) and no grade chosen, both
    required; a preview or a publish without them is refused naming each, in Chinese or
    English, with the form refilled, and records nothing."""
    browser = console.signed_in("urgent")
    page = browser.get("/urgent").text
    assert " checked" not in page.split('class="status-choice"')[1].split("</fieldset>")[0]
    for status in ("Actual", "Exercise", "Test"):
        assert f'name="status" value="{status}" required>' in page
    assert '<select id="field-severity" name="severity" required>' in page
    assert '<option value="" disabled selected>请选择</option>' in page
    assert re.findall(r'<option value="([^"]+)"', page) == ["特别重大", "重大", "较大", "一般", "未定级"]
    unchosen = {k: v for k, v in POST.items() if k not in ("status", "severity")}
    for path in ("/urgent/preview", "/urgent"):
        answer = post_form(browser, path, unchosen)
        assert answer.status_code == 422, path
        assert ('<li data-problem-for="status"><a href="#field-status">请选择发布性质。</a></li>'
                in answer.text)  # the error summary links to the field
        assert ('<li data-problem-for="severity"><a href="#field-severity">请选择事件等级。</a></li>'
                in answer.text)
        assert 'id="field-status" type="radio"' in answer.text
        assert 'id="field-severity" name="severity"' in answer.text
        assert 'value="某高架桥发生垮塌"' in answer.text
    live = post_form(browser, "/urgent/preview.json", unchosen).json()
    assert live["ok"] is False and set(live["fields"]) == {"status", "severity"}
    english = browser.post("/urgent/preview?lang=en",
                           data=[*form_pairs(unchosen), ("csrf_token", browser.csrf())])
    assert "Kind of post: choose one." in english.text and "Grade: choose one." in english.text
    assert table_counts(console.app)[0] == 0


def test_preview_shows_every_channel_with_its_length_counter(console: Console) -> None:
    """The preview shows each channel's message with the lengths its channel limits (Weibo
    counted the Weibo way against 140, WeChat's title against 32, the memory title against 64)
    and a confirmation carrying the same fields, which "back to edit" returns to the form;
    nothing is recorded."""
    browser = console.signed_in("urgent")
    before = table_counts(console.app)
    page = post_form(browser, "/urgent/preview", POST)
    assert page.status_code == 200, page.text[-2000:]
    for name in CHANNELS:
        assert f'data-channel="{name}" data-action="send" data-ok="true"' in page.text, name
    assert 'data-measure="weibo_status"' in page.text and "/ 140" in page.text
    assert 'data-measure="title" data-used="8" data-limit="32"' in page.text  # WeChat
    assert 'data-measure="title" data-used="8" data-limit="64"' in page.text  # memory
    assert "立即发布" in page.text and "返回修改" in page.text
    hidden = dict(hidden_fields(page.text, "/urgent"))
    assert {k: hidden[k] for k in POST} == POST
    assert [v for k, v in hidden_fields(page.text, "/urgent") if k == "channels"] == CHANNELS
    _no_inline_code(page.text)
    back = browser.post("/urgent/preview", data=[*hidden_fields(page.text, "/urgent"), ("back", "1")])
    assert back.status_code == 200 and 'action="/urgent/preview"' in back.text
    assert 'value="某高架桥发生垮塌"' in back.text and "data-publish" not in back.text

    live = post_form(browser, "/urgent/preview.json", POST)
    assert live.status_code == 200 and live.json()["ok"] is True
    channels = {c["channel"]: c for c in live.json()["channels"]}
    assert sorted(channels) == CHANNELS
    weibo = channels["weibo-main"]
    # the headline, the report's local time (what tells similar reports apart), the facts
    assert re.match(r"【某高架桥发生垮塌】（\d+月\d+日\d\d:\d\d）今日9时40分", weibo["text"])
    assert weibo["text"].endswith("http://127.0.0.1:8180/emergency/" + weibo["text"].rsplit("/", 1)[1])
    (measure,) = weibo["measures"]
    assert measure == {"name": "weibo_status", "used": Counter().length(weibo["text"]),
                       "limit": 140, "unit": "weibo_chars", "ok": True}
    assert 'data-channel="weibo-main"' in live.json()["html"]
    assert table_counts(console.app) == before


def test_over_limit_content_is_refused_naming_the_channel_and_field(console: Console,
                                                                    wakes: list[int]) -> None:
    """Facts too long for a Weibo post and a title too long for the memory channel are refused
    on those channels, each naming its field and limit while the others show their preview; no
    confirmation is offered, and posting the same fields anyway records and sends nothing."""
    browser = console.signed_in("urgent")
    before = table_counts(console.app)
    long = POST | {"facts": "现场" * 80, "title": "某" * 70}
    page = post_form(browser, "/urgent/preview", long)
    assert page.status_code == 422
    assert re.search(r'data-channel="weibo-main" data-action="send" data-ok="false">.*?'
                     r'data-field="status">微博正文超出', page.text, re.DOTALL)
    assert re.search(r'data-channel="mem-a" data-action="send" data-ok="false">.*?'
                     r'data-field="title">', page.text, re.DOTALL)
    assert 'data-channel="portal-main" data-action="send" data-ok="true"' in page.text
    assert "data-publish" not in page.text and 'action="/urgent"' not in page.text
    assert "现场现场" in page.text  # the form, refilled
    live = post_form(browser, "/urgent/preview.json", long).json()
    refused = {c["channel"]: c["field"] for c in live["channels"] if c["problem"]}
    assert refused == {"weibo-main": "status", "mem-a": "title"}
    anyway = post_form(browser, "/urgent", long)
    assert anyway.status_code == 422 and "weibo-main" in anyway.text
    assert table_counts(console.app) == before and wakes == []


def test_missing_fields_are_named_and_the_form_refilled(console: Console) -> None:
    """A preview without facts or any channel names both fields, keeps what was typed, and
    records nothing."""
    browser = console.signed_in("urgent")
    page = post_form(browser, "/urgent/preview", POST | {"facts": " ", "channels": []})
    assert page.status_code == 422
    assert "请填写已核实的事实。" in page.text and "请至少选择一个渠道。" in page.text
    assert 'value="某高架桥发生垮塌"' in page.text and 'aria-invalid="true"' in page.text
    english = browser.post("/urgent/preview?lang=en",
                           data=[*form_pairs(POST | {"facts": ""}), ("csrf_token", browser.csrf())])
    assert english.status_code == 422 and "Verified facts is required." in english.text
    assert table_counts(console.app)[0] == 0


# --------------------------------------------------------------------------- confirm and board


def test_confirm_opens_the_incident_as_the_account_and_the_board_shows_it(
        console: Console, wakes: list[int]) -> None:
    """Publish now opens the incident with the account as actor in the audit chain, wakes the
    dispatcher and leads to the incident's page; pressing it twice opens one incident; once
    delivered, the board and its JSON show every channel published with its link."""
    browser = console.signed_in("urgent", name="zhao.lei")
    confirmation = post_form(browser, "/urgent/preview", POST)
    fields = hidden_fields(confirmation.text, "/urgent")
    first = browser.post("/urgent", data=fields)
    second = browser.post("/urgent", data=fields)  # a double click
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    key = first.headers["Location"].removeprefix("/incidents/").removesuffix("?posted=1")
    assert wakes == [1]
    with console.app.store.read() as session:
        (incident,) = session.execute(select(Incident)).scalars()
    assert incident.key == key and incident.opened_by == "console:zhao.lei"
    assert [e.actor for e in audit_events(console.app, "incident.opened")] == ["console:zhao.lei"]
    assert {e.actor for e in audit_events(console.app, "release.created")} == {"console:zhao.lei"}

    page = browser.get(first.headers["Location"])
    assert page.status_code == 200 and "紧急信息已提交" in page.text
    assert page.text.count('data-state="pending"') == 4
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in page.text
    _no_inline_code(page.text.replace('<noscript><meta http-equiv="refresh" content="5">'
                                      '</noscript>', ""))
    drain_all(console.app)
    status = browser.get(f"/incidents/{key}/status.json")
    assert status.status_code == 200 and status.json()["outstanding"] is False
    cells = status.json()["cells"]
    assert sorted(c["channel"] for c in cells) == CHANNELS
    assert {c["state"] for c in cells} == {"published"}
    links = {c["channel"]: c["url"] for c in cells if c["url"]}
    assert links["portal-main"].startswith("http://127.0.0.1:8180/emergency/")
    assert "mem-a" not in links  # memory:// is no web address: not made a link
    assert {c["state_label"] for c in cells} == {"已发布"}
    page = browser.get(f"/incidents/{key}")
    assert page.text.count('data-state="published"') == 4 and "4/4 已发布" in page.text
    assert 'http-equiv="refresh"' not in page.text  # nothing left in flight
    assert "zhao.lei" in page.text and "首报" in page.text
    listing = browser.get("/incidents")
    assert listing.status_code == 200 and f'href="/incidents/{key}"' in listing.text


def test_banner_says_where_the_post_really_stands(console: Console) -> None:
    """The notice over a post's board says it is going out while any channel is, then that it
    is out on every channel once all are published (no longer "going out"); a channel that
    failed is named with its state instead, and status.json carries the same words."""
    browser = console.signed_in("urgent")
    key = open_by_form(console, browser)
    page = browser.get(f"/incidents/{key}?posted=1").text
    assert 'data-notice-state="going"' in page and "正在发往各渠道（已发布 0/4）" in page
    drain_all(console.app)
    page = browser.get(f"/incidents/{key}?posted=1").text
    assert 'data-notice-state="done"' in page and "已发往全部渠道（4/4 已发布）" in page
    assert "正在发往" not in page
    assert browser.get(f"/incidents/{key}/status.json").json()["banner"] == {
        "state": "done", "text": "已发往全部渠道（4/4 已发布）。"}
    assert "data-notice" not in browser.get(f"/incidents/{key}").text  # only after posting

    broken = open_by_form(console, browser, channels=["mem-a", "mem-broken"])
    drain_all(console.app)
    page = browser.get(f"/incidents/{broken}?posted=1").text
    assert 'data-notice-state="problem"' in page and "正在发往" not in page
    assert "未能发往全部渠道：mem-broken（失败）" in page
    english = browser.get(f"/incidents/{broken}/status.json?lang=en").json()["banner"]
    assert english["text"].startswith("Not published on every channel: mem-broken (failed)")


def test_drill_is_marked_from_preview_to_board(console: Console) -> None:
    """An Exercise is marked as a drill on the confirmation (banner and 【演练】 in each
    message), recorded as a drill, and marked on the incident's page and in the list."""
    browser = console.signed_in("urgent")
    confirmation = post_form(browser, "/urgent/preview", POST | {"status": "Exercise"})
    assert confirmation.status_code == 200 and "data-drill" in confirmation.text
    assert "【演练】" in confirmation.text
    answer = browser.post("/urgent", data=hidden_fields(confirmation.text, "/urgent"))
    key = answer.headers["Location"].removeprefix("/incidents/").removesuffix("?posted=1")
    with console.app.store.read() as session:
        assert session.execute(select(Incident.drill)).scalar_one() is True
    assert "data-drill" in browser.get(f"/incidents/{key}").text
    assert 'class="tag drill"' in browser.get("/incidents").text


def test_update_correction_and_withdrawal_through_the_forms(console: Console) -> None:
    """An update, then a correction, then a withdrawal are each previewed exactly as planned
    (follow-ups where the channel takes them, a new WeChat article), confirmed, audited with
    the account, and shown on the board; the withdrawn incident offers no further step and
    refuses one with 409."""
    browser = console.signed_in("urgent", name="qian.li")
    key = open_by_form(console, browser)
    drain_all(console.app)
    page = browser.get(f"/incidents/{key}")
    assert f'action="/incidents/{key}/update/preview"' in page.text
    assert f'action="/incidents/{key}/cancel/preview"' in page.text

    update = {"facts": "截至10时，已有3人送医救治。", "correction": "", "title": "",
              "instruction": "", "severity": ""}
    preview = post_form(browser, f"/incidents/{key}/update/preview", list(update.items()))
    assert preview.status_code == 200, preview.text[-2000:]
    assert "确认续报" in preview.text
    assert 'data-channel="weibo-main" data-action="follow_up"' in preview.text
    assert 'data-channel="portal-main" data-action="follow_up"' in preview.text
    assert 'data-channel="wechat-main" data-action="send"' in preview.text
    assert 'data-measure="comment"' in preview.text
    done = browser.post(f"/incidents/{key}/update",
                        data=hidden_fields(preview.text, f"/incidents/{key}/update"))
    assert done.status_code == 303 and done.headers["Location"] == f"/incidents/{key}?posted=step"
    drain_all(console.app)

    correction = update | {"facts": "截至11时，共2人送医。", "correction": "此前“3人送医”有误，应为2人"}
    preview = post_form(browser, f"/incidents/{key}/update/preview", list(correction.items()))
    assert preview.status_code == 200 and "确认更正" in preview.text
    assert "此前“3人送医”有误" in preview.text
    done = browser.post(f"/incidents/{key}/update",
                        data=hidden_fields(preview.text, f"/incidents/{key}/update"))
    assert done.status_code == 303
    drain_all(console.app)

    preview = post_form(browser, f"/incidents/{key}/cancel/preview", [("reason", "经核实，信息有误")])
    assert preview.status_code == 200 and "确认撤回" in preview.text
    assert 'data-action="retract"' in preview.text
    done = browser.post(f"/incidents/{key}/cancel",
                        data=hidden_fields(preview.text, f"/incidents/{key}/cancel"))
    assert done.status_code == 303
    drain_all(console.app)

    for action in ("incident.updated", "incident.corrected", "incident.withdrawn"):
        assert [e.actor for e in audit_events(console.app, action)] == ["console:qian.li"], action
    assert audit_events(console.app, "incident.corrected")[0].details["correction"] == \
        "此前“3人送医”有误，应为2人"
    page = browser.get(f"/incidents/{key}")
    assert 'data-incident-status="withdrawn"' in page.text and "data-closed" in page.text
    assert "/update/preview" not in page.text
    for step in ("首报", "续报", "更正", "撤回"):
        assert f"<strong>{step}</strong>" in page.text, step
    assert 'data-state="retracted"' in page.text
    refused = post_form(browser, f"/incidents/{key}/update/preview", list(update.items()))
    assert refused.status_code == 409 and "事件已撤回" in refused.text


def test_update_without_facts_refills_its_form(console: Console) -> None:
    """An update previewed without facts answers the incident page with its form open and the
    field named, and records nothing."""
    browser = console.signed_in("urgent")
    key = open_by_form(console, browser)
    before = table_counts(console.app)
    page = post_form(browser, f"/incidents/{key}/update/preview",
                 [("facts", ""), ("correction", "应为2人")])
    assert page.status_code == 422 and "请填写最新情况。" in page.text
    assert '<details class="step-form" open>' in page.text and "应为2人" in page.text
    assert table_counts(console.app) == before


# --------------------------------------------------------------------------- refusals


def test_forms_without_their_csrf_token_are_refused(console: Console, wakes: list[int]) -> None:
    """Publishing, the live preview, an update and a withdrawal without the session's CSRF
    token (or with another session's) answer 403 and record nothing."""
    browser = console.signed_in("urgent")
    key = open_by_form(console, browser)
    foreign = console.signed_in("urgent").csrf()
    before, woken = table_counts(console.app), len(wakes)
    for path, fields in (("/urgent", form_pairs(POST)), ("/urgent/preview.json", form_pairs(POST)),
                         (f"/incidents/{key}/update", [("facts", "新情况")]),
                         (f"/incidents/{key}/cancel", [("reason", "误报")])):
        for token in ("", foreign):
            answer = browser.post(path, data=[*fields, ("csrf_token", token)])
            assert answer.status_code == 403 and "表单已失效" in answer.text, (path, token)
    assert table_counts(console.app) == before and len(wakes) == woken


def test_viewer_reads_incidents_but_cannot_post(console: Console) -> None:
    """A viewer sees the list, the board and its JSON, without the next-step forms; the compose
    page and every urgent post are refused with 403."""
    key = open_by_form(console, console.signed_in("urgent"))
    viewer = console.signed_in("viewer")
    assert f'href="/incidents/{key}"' in viewer.get("/incidents").text
    assert "/urgent" not in viewer.get("/incidents").text.split("</header>", 1)[1]
    page = viewer.get(f"/incidents/{key}")
    assert page.status_code == 200 and "data-cell=" in page.text and "step-form" not in page.text
    assert viewer.get(f"/incidents/{key}/status.json").status_code == 200
    assert viewer.get("/urgent").status_code == 403
    before = table_counts(console.app)
    for path, fields in (("/urgent/preview", form_pairs(POST)), ("/urgent", form_pairs(POST)),
                         (f"/incidents/{key}/update", [("facts", "新情况")]),
                         (f"/incidents/{key}/cancel", [("reason", "误报")])):
        answer = post_form(viewer, path, fields)
        assert answer.status_code == 403 and "无权访问" in answer.text, path
    assert table_counts(console.app) == before


def test_unknown_incident_answers_404(console: Console) -> None:
    """An unknown incident key answers a 404 page, its status 404 JSON, and its forms 404."""
    browser = console.signed_in("urgent")
    assert browser.get("/incidents/incident-19990101-000000").status_code == 404
    status = browser.get("/incidents/incident-19990101-000000/status.json")
    assert status.status_code == 404 and status.json() == {"error": "not_found"}
    answer = post_form(browser, "/incidents/incident-19990101-000000/update/preview",
                   [("facts", "x")])
    assert answer.status_code == 404


def test_pages_speak_english_when_switched(console: Console) -> None:
    """With ?lang=en the compose page, the preview's counters and the board are in English."""
    browser = console.signed_in("urgent")
    assert "Urgent post" in browser.get("/urgent?lang=en").text
    page = post_form(browser, "/urgent/preview", POST)
    assert "Confirm and publish" in page.text and "Weibo count" in page.text
    key = open_by_form(console, browser)
    board = browser.get(f"/incidents/{key}")
    assert "Status on each channel" in board.text and ">pending<" in board.text
    assert browser.get(f"/incidents/{key}/status.json").json()["cells"][0]["state_label"] == \
        "pending"


def test_event_time_goes_from_the_form_to_the_incident(console: Console) -> None:
    """The compose form's optional event time (local, datetime-local) is shown on the
    confirmation, carried through it, and kept on the incident in the configured zone; one in
    the future is refused, naming it, and opens nothing."""
    browser = console.signed_in("urgent")
    later = post_form(browser, "/urgent/preview", {**POST, "event_at": "2099-01-01T09:00"})
    assert later.status_code == 200
    refused = browser.post("/urgent", data=hidden_fields(later.text, "/urgent"))
    assert refused.status_code == 422 and "event_at" in refused.text
    assert table_counts(console.app)[0] == 0
    confirmation = post_form(browser, "/urgent/preview", {**POST, "event_at": "2026-12-02T09:40"})
    assert "data-event-at>2026-12-02 09:40<" in confirmation.text
    answer = browser.post("/urgent", data=hidden_fields(confirmation.text, "/urgent"))
    assert answer.status_code == 303
    with console.app.store.read() as session:
        (incident,) = session.execute(select(Incident)).scalars()
    assert incident.event_at == datetime(2026, 12, 2, 9, 40, tzinfo=ZoneInfo("Asia/Shanghai"))
