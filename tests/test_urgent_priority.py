"""The priority lane under load: urgent posts overtake 500 queued routine deliveries on every channel."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import func, select

from channels.webhook.sandbox import Sink
from channels.webhook.sandbox import serve as serve_sink
from channels.wechat.sandbox import Account
from channels.wechat.sandbox import Emulator as WechatEmulator
from channels.wechat.sandbox import serve as serve_wechat
from channels.weibo.platform import PlatformConfig
from channels.weibo.sandbox import Emulator as WeiboEmulator
from channels.weibo.sandbox import serve as serve_weibo
from publisher import config as config_module
from publisher import release
from publisher.app import App
from publisher.clock import SystemClock
from publisher.dispatch import Dispatcher
from publisher.store import Store
from publisher.store.models import Delivery
from publisher.urgent import UrgentPost, open_incident
from tests.support.project import ROOT, SHANGHAI

LATENCY_SECONDS = 0.2  # every remote call of every emulator-backed channel
CHANNELS = ("hook", "portal-main", "wechat-main", "weibo-main")
ROUTINE_RELEASES = 125  # x 4 channels = 500 routine deliveries
BACKLOG_STARTED = 12  # routine deliveries published before the first incident opens
INCIDENTS = 3  # first reports opened one after another while the backlog runs
WAIT_SECONDS = 20.0  # every wait below gives up after this

CONFIG = """\
timezone: Asia/Shanghai
data_dir: inbox
templates_dir: templates
columns: {{news: 新闻, emergency: 突发事件}}
channels:
  portal-main:
    kind: portal
    settings: {{site_name: 测试门户, site_dir: site, base_url: "http://127.0.0.1:8180/"}}
  wechat-main:
    kind: wechat
    settings:
      app_id: wx0000000000000000
      app_secret: ${{WECHAT_APP_SECRET}}
      base_url: "{wechat}"
      portal_base_url: "http://127.0.0.1:8180/"
      cover_image: templates/_layouts/wechat-cover.jpg
  weibo-main:
    kind: weibo
    settings:
      access_token: ${{WEIBO_ACCESS_TOKEN}}
      base_url: "{weibo}"
      link_base_url: "http://127.0.0.1:8180/"
      rip: 127.0.0.1
      posts_per_hour: 1000  # 125 routine posts: the usual 30 would hold them for the hour
  hook:
    kind: webhook
    settings: {{url: "{hook}"}}
schemas:
  simple: {{columns: [{{id: item, header: 项目}}, {{id: amount, header: 数量, type: int}}]}}
releases:
  daily:
    title: "{{{{ period.label }}}}例行发布"
    issuing_organ: 测试局
    organ_code: "MB0000001"
    subject_category: 综合政务
    column: news
    schedule: manual
    source: {{period: day, tables: {{items: {{path: "items.csv", schema: simple}}}}}}
    channels: [portal-main, wechat-main, weibo-main, hook]
urgent:
  issuing_organ: 某市人民政府新闻办公室
  organ_code: "MB0000999"
  subject_category: 综合政务
  column: emergency
  channels: [portal-main, wechat-main, weibo-main, hook]
  sender: www.example.gov.cn
"""
ITEMS = "{% for r in tables['items'] %}{{ r.item }}：{{ r.amount }}{% endfor %}"
ROUTINE_TEMPLATES = {
    "portal.html.j2": "<p>" + ITEMS + "</p>",
    "wechat.html.j2": '{% extends "_layouts/wechat-article.html.j2" %}'
                      "{% block lead %}<p>" + ITEMS + "</p>{% endblock %}",
    "weibo.txt.j2": "【{{ release.title }}】" + ITEMS,
    "webhook.txt.j2": ITEMS,
}


@dataclass
class Remotes:
    """The emulators the channels talk to, each slowed to LATENCY_SECONDS per call."""

    wechat: WechatEmulator
    weibo: WeiboEmulator
    hook: Sink
    weibo_token: str


@pytest.fixture
def remotes() -> Iterator[Remotes]:
    """WeChat, Weibo and webhook emulators on loopback, 200 ms per call, stopped afterwards."""
    wechat = serve_wechat(account=Account(publish_polls=0, latency_seconds=LATENCY_SECONDS,
                                          mass_quota_per_day=10))
    weibo = serve_weibo(config=PlatformConfig(posts_per_hour=1000, calls_per_hour=100_000,
                                              latency_seconds=LATENCY_SECONDS))
    hook = serve_sink()
    hook.state.delay_seconds = LATENCY_SECONDS
    try:
        yield Remotes(wechat, weibo, hook, weibo.platform.issue_token().value)
    finally:
        for running in (hook, weibo, wechat):
            running.stop()


def _project(root: Path, remotes: Remotes) -> Path:
    shutil.copytree(ROOT / "templates", root / "templates")
    folder = root / "templates" / "daily"
    folder.mkdir()
    for name, text in ROUTINE_TEMPLATES.items():
        (folder / name).write_text(text, encoding="utf-8")
    (root / "inbox").mkdir()
    (root / "inbox" / "items.csv").write_text("项目,数量\n苹果,3\n", encoding="utf-8")
    config = root / "schedules.yaml"
    config.write_text(CONFIG.format(wechat=remotes.wechat.url, weibo=remotes.weibo.url,
                                    hook=remotes.hook.url), encoding="utf-8")
    return config


class Daemon:
    """The ``publisher run`` loop in a thread: run_once, then wait for the poll or a wake."""

    def __init__(self, dispatcher: Dispatcher, poll_seconds: float = 0.05) -> None:
        self.dispatcher, self.poll_seconds = dispatcher, poll_seconds
        self.stop, self.wake = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._loop, name="daemon-loop", daemon=True)

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.dispatcher.run_once()
            self.wake.wait(self.poll_seconds)
            self.wake.clear()

    def halt(self) -> None:
        self.stop.set()
        self.wake.set()
        self.thread.join(timeout=WAIT_SECONDS)
        self.dispatcher.shutdown(wait=True)  # queued routine work is cancelled, running ends


def _published(app: App, release_id: int | None = None) -> int:
    """Published deliveries: routine ones, or those of one release."""
    query = select(func.count()).select_from(Delivery).where(Delivery.state == "published")
    query = query.where(Delivery.urgent.is_(False)) if release_id is None \
        else query.where(Delivery.release_id == release_id)
    with app.store.read() as session:
        return int(session.execute(query).scalar_one())


def _reached_all(app: App, release_id: int) -> bool:
    return _published(app, release_id) == len(CHANNELS)


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


@dataclass(frozen=True)
class Trigger:
    """One incident opened during the backlog, and when its deliveries existed (committed)."""

    release_id: int
    at: datetime


def _open(app: App, daemon: Daemon, number: int) -> Trigger:
    """Open an incident (its key counts seconds, so never two in one second) and wake the loop."""
    time.sleep(1.0 - time.time() % 1.0 + 0.01)
    outcome = open_incident(app, UrgentPost(
        title=f"某高架桥发生垮塌（第{number}报）",
        facts=f"今日9时{40 + number}分，某高架桥第{number}段桥面垮塌，现场已封闭。",
        area="某区某高架桥", severity="较大", instruction="请绕行。"), actor="staff:zhao")
    at = app.clock.now()
    daemon.wake.set()  # `publisher urgent` sends at once (its own drain); so does the loop here
    assert outcome.channels == CHANNELS
    return Trigger(outcome.release_id, at)


def _late(rows: list[Delivery], trigger: Trigger, workers: int) -> list[str]:
    """Routine deliveries not yet started at the trigger that completed on a channel before the
    urgent post reached it (those in flight at the trigger may finish)."""
    def at(moment: datetime | None) -> str:
        return "-" if moment is None else f"{(moment - trigger.at).total_seconds():+.3f}s"

    urgent = {d.channel: d for d in rows if d.release_id == trigger.release_id}
    routine = [d for d in rows if not d.urgent]
    in_flight = {d.id for d in routine if d.claimed_at is not None and d.claimed_at <= trigger.at
                 and (d.published_at is None or d.published_at > trigger.at)}
    assert len(in_flight) <= workers, in_flight  # at most one per routine worker
    late = []
    for channel in CHANNELS:
        reached = urgent[channel].published_at
        assert urgent[channel].state == "published" and reached is not None
        late += [f"{channel}: routine delivery {d.id} started {at(d.claimed_at)} and completed "
                 f"{at(d.published_at)}; the urgent one started {at(urgent[channel].claimed_at)}"
                 f" and reached it {at(reached)}"
                 for d in routine if d.channel == channel and d.id not in in_flight
                 and d.published_at is not None and trigger.at < d.published_at <= reached]
    return late


def test_urgent_post_overtakes_500_queued_routine_deliveries(
        tmp_path: Path, database_url: str, remotes: Remotes) -> None:
    """With 500 routine deliveries queued and every remote channel slowed to 200 ms per call,
    each urgent post reaches every channel before any routine delivery that had not started
    when the incident opened completes on that channel."""
    config = _project(tmp_path / "project", remotes)
    app = App(loaded=config_module.load(config), store=Store(database_url), clock=SystemClock(),
              environ={"WECHAT_APP_SECRET": "sandbox-app-secret",
                       "WEIBO_ACCESS_TOKEN": remotes.weibo_token})
    triggers: list[Trigger] = []
    try:
        start = datetime(2026, 12, 2, 8, 0, tzinfo=SHANGHAI)
        for day in range(ROUTINE_RELEASES):
            outcome = release.create(app, "daily", start + timedelta(days=day), actor="t",
                                     origin="manual")
            assert outcome.state == "active", outcome
        assert _count(app) == ROUTINE_RELEASES * len(CHANNELS) == 500
        daemon = Daemon(Dispatcher(app))
        daemon.thread.start()
        try:
            _wait_for(lambda: _published(app) >= BACKLOG_STARTED, "the routine backlog to start")
            for number in range(1, INCIDENTS + 1):
                triggers.append(trigger := _open(app, daemon, number))
                _wait_for(partial(_reached_all, app, trigger.release_id),
                          f"urgent post {number} to reach every channel")
        finally:
            daemon.halt()
        with app.store.read() as session:
            rows = list(session.execute(select(Delivery)).scalars())
    finally:
        app.close()
    # the urgent posts went over HTTP to the emulators: mass-sent, shared, posted once each
    assert len(remotes.wechat.account.mass_sends) == INCIDENTS
    assert sum("桥面垮塌" in p["text"] for p in remotes.weibo.platform.posts) == INCIDENTS
    keys = {d.idempotency_key for d in rows if d.urgent and d.channel == "hook"}
    assert sum(post["key"] in keys for post in remotes.hook.state.posts) == INCIDENTS
    assert all(d.claims <= 1 for d in rows)  # one claim each: claimed_at is when it started
    workers = app.loaded.config.defaults.workers
    late = [line for trigger in triggers for line in _late(rows, trigger, workers)]
    assert not late, "\n".join(late)


def _count(app: App) -> int:
    with app.store.read() as session:
        return int(session.execute(select(func.count()).select_from(Delivery)).scalar_one())
