"""The console's urgent pages under test: a sandboxed App with every urgent channel, forms and counts."""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from channels.memory.adapter import MemoryStore
from publisher import config as config_module
from publisher.app import App
from publisher.dispatch import Dispatcher
from publisher.store import Store
from publisher.store.models import AuditEvent, Delivery, Incident, Release
from publisher.web.api import create_app
from publisher.web.server import serve
from tests.support.console import Browser, Console
from tests.support.project import ROOT

CONFIG = """\
timezone: Asia/Shanghai
data_dir: inbox
columns: {emergency: 突发事件}
channels:
  portal-main:
    kind: portal
    settings: {site_name: 测试门户, site_dir: site, base_url: "http://127.0.0.1:8180/"}
  wechat-main:
    kind: wechat
    settings: {app_id: wx0000000000000000, app_secret: "${WECHAT_APP_SECRET}",
               portal_base_url: "http://127.0.0.1:8180/", author: 某市人民政府,
               cover_image: templates/_layouts/wechat-cover.jpg}
  weibo-main:
    kind: weibo
    settings: {link_base_url: "http://127.0.0.1:8180/", rip: 127.0.0.1}
  mem-a:
    kind: memory
    settings: {}
  mem-off:
    kind: memory
    enabled: false
    settings: {}
  mem-broken:
    kind: memory
    settings: {fail_script: [permanent]}
releases: {}
urgent:
  issuing_organ: 某市人民政府新闻办公室
  organ_code: "MB0000999"
  subject_category: 综合政务
  column: emergency
  channels: [portal-main, wechat-main, weibo-main, mem-a]
  sender: www.example.gov.cn
"""


CHANNELS = ["mem-a", "portal-main", "wechat-main", "weibo-main"]
POST = {"status": "Actual", "title": "某高架桥发生垮塌", "area": "某区某高架桥",
        "severity": "较大", "facts": "今日9时40分，某高架桥一段桥面垮塌，现场已封闭。",
        "instruction": "请绕行。"}


_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@pytest.fixture
def console_app(tmp_path: Path, store: Store) -> Iterator[App]:
    """An App with portal, WeChat, Weibo and memory channels on their emulators (sandbox), the
    shipped urgent templates, and the parametrised database."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(ROOT / "templates", root / "templates")
    (root / "schedules.yaml").write_text(CONFIG, encoding="utf-8")
    MemoryStore.reset()
    app = App(loaded=config_module.load(root / "schedules.yaml"), store=store, sandbox=True)
    try:
        yield app
    finally:
        while app._stops:  # the emulators it started; the store is the fixture's
            app._stops.pop()()
        MemoryStore.reset()


@pytest.fixture
def wakes() -> list[int]:
    """Each wake of the dispatcher the console asked for."""
    return []


@pytest.fixture
def console(console_app: App, cheap_hashing: None, wakes: list[int]) -> Iterator[Console]:
    """The API and console over the urgent App, on a free loopback port, counting wakes."""
    api = create_app(console_app, wake=lambda: wakes.append(1))
    server = serve(api, "127.0.0.1", 0)
    try:
        yield Console(console_app, server, api)
    finally:
        server.stop()


def form_pairs(values: dict[str, Any]) -> list[tuple[str, str]]:
    """The compose form's fields as posted: one pair per value, one per chosen channel."""
    pairs = [(k, str(v)) for k, v in values.items() if k != "channels"]
    return pairs + [("channels", c) for c in values.get("channels", CHANNELS)]


def post_form(browser: Browser, path: str, values: dict[str, Any] | list[tuple[str, str]], *,
              csrf: str | None = None) -> requests.Response:
    """Post ``values`` (a dict as the form, or pairs as given) with the CSRF token."""
    pairs = form_pairs(values) if isinstance(values, dict) else list(values)
    token = browser.csrf() if csrf is None else csrf
    return browser.post(path, data=[*pairs, ("csrf_token", token)] if token else pairs)


def hidden_fields(page: str, action: str) -> list[tuple[str, str]]:
    """The hidden fields of the form posting to ``action`` (a confirmation's)."""
    start = page.index(f'action="{action}"')
    form = page[start:page.index("</form>", start)]
    return [(html.unescape(n), html.unescape(v)) for n, v in _HIDDEN.findall(form)]


def table_counts(app: App) -> tuple[int, int, int, int]:
    """The numbers of incidents, releases, deliveries and audit events stored."""
    with app.store.read() as session:
        return tuple(int(session.execute(select(func.count()).select_from(model)).scalar_one())
                     for model in (Incident, Release, Delivery, AuditEvent))  # type: ignore[return-value]


def drain_all(app: App) -> None:
    """A dispatcher of its own sends everything due, then shuts down."""
    dispatcher = Dispatcher(app)
    try:
        dispatcher.drain()
    finally:
        dispatcher.shutdown()


def open_by_form(console: Console, browser: Browser, **changes: Any) -> str:
    """Preview and confirm a first report through the forms; the incident's key."""
    confirmation = post_form(browser, "/urgent/preview", POST | changes)
    assert confirmation.status_code == 200, confirmation.text[-2000:]
    answer = browser.post("/urgent", data=hidden_fields(confirmation.text, "/urgent"))
    assert answer.status_code == 303, answer.text[-2000:]
    location = answer.headers["Location"]
    assert location.startswith("/incidents/incident-") and location.endswith("?posted=1")
    return location.removeprefix("/incidents/").removesuffix("?posted=1")


def audit_events(app: App, action: str) -> list[AuditEvent]:
    with app.store.read() as session:
        return list(session.execute(select(AuditEvent).where(AuditEvent.action == action)
                                    .order_by(AuditEvent.seq)).scalars())
