"""What the console's preview shows is what lands at the emulators, however long staff take to
confirm: the same page address, the same texts; a confirmation that no longer matches is shown
again instead of being sent."""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from channels.memory.adapter import MemoryStore
from channels.wechat.content import plain_text
from channels.weibo.mark import without_mark
from publisher import config as config_module
from publisher.app import App
from publisher.clock import ManualClock
from publisher.store import Store
from publisher.store.models import Incident, Release
from publisher.web.api import create_app
from publisher.web.server import serve
from tests.support.console import Console
from tests.support.project import ROOT, SHANGHAI
from tests.support.urgent_console import CONFIG, POST, drain_all, form_pairs, hidden_fields

PREVIEWED = datetime(2026, 12, 2, 9, 40, 15, tzinfo=SHANGHAI)  # seconds in the page's address
_CARD = re.compile(r'<article [^>]*class="preview" data-channel="(?P<name>[^"]+)" data-action="'
                   r'(?P<action>[^"]+)" data-ok="true">.*?<div class="preview-text">'
                   r'(?P<text>.*?)</div>', re.DOTALL)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(PREVIEWED)


@pytest.fixture
def console(tmp_path: Path, store: Store, clock: ManualClock, cheap_hashing: None
            ) -> Iterator[Console]:
    """The console over portal, WeChat, Weibo and memory channels on their emulators, with a
    clock that moves only when the test says (staff reading the confirmation)."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(ROOT / "templates", root / "templates")
    (root / "schedules.yaml").write_text(CONFIG, encoding="utf-8")
    MemoryStore.reset()
    app = App(loaded=config_module.load(root / "schedules.yaml"), store=store, clock=clock,
              sandbox=True)
    server = serve(create_app(app), "127.0.0.1", 0)
    try:
        yield Console(app, server, create_app(app))
    finally:
        server.stop()
        while app._stops:  # the emulators it started; the store is the fixture's
            app._stops.pop()()
        MemoryStore.reset()


def _previews(page: str) -> dict[str, str]:
    """Each channel's previewed text on a confirmation page, by ``channel/action``."""
    return {f"{m['name']}/{m['action']}": html.unescape(m["text"]) for m in _CARD.finditer(page)}


def _emulated(app: App, channel: str, path: str) -> Any:
    base = app.channel(channel).settings.base_url.rstrip("/")
    reply = requests.get(f"{base}{path}", timeout=5)
    reply.raise_for_status()
    return reply.json()


def _incidents(app: App) -> int:
    with app.store.read() as session:
        return int(session.execute(select(func.count()).select_from(Incident)).scalar_one())


def test_report_lands_where_and_as_its_preview_said(console: Console, clock: ManualClock
                                                   ) -> None:
    """A first report confirmed 50 s after its preview (into the next minute) is published at
    the address the preview showed, in the words it showed: the Weibo post is the previewed
    text with its link, the portal page is at that link, WeChat's 阅读原文 points there and its
    article reads as previewed, and the board links the same page."""
    browser = console.signed_in("urgent")
    confirmation = browser.post("/urgent/preview", data=[*form_pairs(POST),
                                                          ("csrf_token", browser.csrf())])
    assert confirmation.status_code == 200, confirmation.text[-2000:]
    shown = _previews(confirmation.text)
    weibo_text = shown["weibo-main/send"]
    link = without_mark(weibo_text).rsplit(" ", 1)[1]  # the link, before the delivery's mark
    assert link == "http://127.0.0.1:8180/emergency/urgent-20261202-094015.html"

    clock.advance(seconds=50)  # staff read the confirmation
    answer = browser.post("/urgent", data=hidden_fields(confirmation.text, "/urgent"))
    assert answer.status_code == 303, answer.text[-2000:]
    drain_all(console.app)

    (post,) = _emulated(console.app, "weibo-main", "/_sandbox/posts")["posts"]
    assert post["text"] == weibo_text
    (article,) = _emulated(console.app, "wechat-main", "/_sandbox/articles")["articles"]
    assert article["content_source_url"] == link
    assert plain_text(article["content"]) == shown["wechat-main/send"]
    site = console.app.loaded.resolve(console.app.channel("portal-main").settings.site_dir)
    assert (site / "emergency" / "urgent-20261202-094015.html").is_file()
    key = answer.headers["Location"].removeprefix("/incidents/").removesuffix("?posted=1")
    cells = browser.get(f"/incidents/{key}/status.json").json()["cells"]
    assert {c["channel"]: c["url"] for c in cells}["portal-main"] == link


def test_old_preview_is_shown_again_not_sent(console: Console, clock: ManualClock) -> None:
    """A confirmation older than ten minutes is not sent with its old time and address: the
    answer is the confirmation again (409) saying why, with the new time and address, and
    nothing is recorded until that one is confirmed."""
    browser = console.signed_in("urgent")
    confirmation = browser.post("/urgent/preview", data=[*form_pairs(POST),
                                                          ("csrf_token", browser.csrf())])
    clock.advance(minutes=11)
    again = browser.post("/urgent", data=hidden_fields(confirmation.text, "/urgent"))
    assert again.status_code == 409 and "data-outdated" in again.text
    assert "预览已超过 10 分钟" in again.text
    assert _incidents(console.app) == 0
    renewed = _previews(again.text)["weibo-main/send"]
    assert without_mark(renewed).endswith("/emergency/urgent-20261202-095115.html")
    done = browser.post("/urgent", data=hidden_fields(again.text, "/urgent"))
    assert done.status_code == 303
    drain_all(console.app)
    (post,) = _emulated(console.app, "weibo-main", "/_sandbox/posts")["posts"]
    assert post["text"] == renewed


def test_address_taken_meanwhile_is_shown_again(console: Console) -> None:
    """Two staff preview in the same second: the page address both saw goes to the first to
    confirm; the second is shown the confirmation again with the address it would now get,
    and sent only when confirmed."""
    first, second = console.signed_in("urgent"), console.signed_in("urgent")
    pages = [b.post("/urgent/preview", data=[*form_pairs(POST), ("csrf_token", b.csrf())])
             for b in (first, second)]
    assert _previews(pages[0].text) == _previews(pages[1].text)
    assert first.post("/urgent", data=hidden_fields(pages[0].text, "/urgent")).status_code == 303
    again = second.post("/urgent", data=hidden_fields(pages[1].text, "/urgent"))
    assert again.status_code == 409 and "data-outdated" in again.text
    assert without_mark(_previews(again.text)["weibo-main/send"]).endswith(
        "urgent-20261202-094015-2.html")
    assert _incidents(console.app) == 1
    assert second.post("/urgent", data=hidden_fields(again.text, "/urgent")).status_code == 303
    with console.app.store.read() as session:
        keys = sorted(session.execute(select(Release.key)).scalars())
    assert keys == ["urgent@2026-12-02T09:40:15+08:00", "urgent@2026-12-02T09:40:15+08:00~2"]


def test_update_lands_as_its_preview_said(console: Console, clock: ManualClock) -> None:
    """An update confirmed a minute after its preview goes out with the time and words the
    preview showed: the WeChat article and the Weibo comment read exactly as previewed."""
    browser = console.signed_in("urgent")
    confirmation = browser.post("/urgent/preview", data=[*form_pairs(POST),
                                                          ("csrf_token", browser.csrf())])
    answer = browser.post("/urgent", data=hidden_fields(confirmation.text, "/urgent"))
    key = answer.headers["Location"].removeprefix("/incidents/").removesuffix("?posted=1")
    drain_all(console.app)
    clock.advance(minutes=9, seconds=50)  # 09:50:05
    update = [("facts", "截至9时50分，已有3人送医救治。"), ("correction", ""), ("title", ""),
              ("instruction", ""), ("severity", "")]
    preview = browser.post(f"/incidents/{key}/update/preview",
                           data=[*update, ("csrf_token", browser.csrf())])
    assert preview.status_code == 200, preview.text[-2000:]
    shown = _previews(preview.text)
    assert "09:50" in shown["wechat-main/send"]
    clock.advance(minutes=1)  # into 09:51
    done = browser.post(f"/incidents/{key}/update",
                        data=hidden_fields(preview.text, f"/incidents/{key}/update"))
    assert done.status_code == 303, done.text[-2000:]
    drain_all(console.app)
    articles = _emulated(console.app, "wechat-main", "/_sandbox/articles")["articles"]
    (published,) = [a for a in articles if a["via"] == "publish"]  # the report was mass-sent
    assert plain_text(published["content"]) == shown["wechat-main/send"]
    (comment,) = _emulated(console.app, "weibo-main", "/_sandbox/posts")["comments"]
    assert comment["text"] == shown["weibo-main/follow_up"]
