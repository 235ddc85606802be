"""Weibo answers lost between the bot and the emulator, and its hourly window across restarts.

A fault proxy (tests/support/fault_proxy.py) holds or drops share.json's answer after the
emulator accepted the post. The delivery must not be resent blind: the next claims search the
account's timeline for the delivery's own mark (paging back to its first send) and the
emulator ends with exactly one live post. Nothing here relies on Weibo refusing a repeated
text: the emulator is also run with that check off.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from channels.weibo.limiter import forget_all
from channels.weibo.mark import mark_for
from channels.weibo.platform import PlatformConfig
from channels.weibo.sandbox import Emulator, serve
from publisher import config as config_module
from publisher.app import App
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.store import Store
from publisher.store.models import AuditEvent, Delivery
from tests.support import fault_proxy, rows
from tests.support.fault_proxy import FaultProxy, Rule
from tests.support.project import PROJECT_YAML, SHANGHAI
from tests.support.rows import run_delivery, wait_until

DUE = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)
TIMEOUT_SECONDS = 1.5  # the client's; every held answer comes later
HELD_SECONDS = 3.0
SHARE = r"/2/statuses/share\.json$"
TEMPLATE = "本周抽检：{% for r in tables['items'] %}{{ r.item }}{{ r.amount }}批次；{% endfor %}"


@dataclass
class Site:
    """A bot with one Weibo channel reaching the emulator through a fault proxy."""

    app: App
    emulator: Emulator
    proxy: FaultProxy
    clock: ManualClock

    def delivery(self) -> int:
        return rows.release_delivery(self.app, "weekly", DUE)

    def live(self, key: str) -> list[dict[str, Any]]:
        """The live posts at the emulator ending with this delivery's mark."""
        mark = mark_for(key)
        return [p for p in self.emulator.platform.live_posts() if p["text"].endswith(mark)]

    def timeline_reads(self) -> int:
        with self.emulator.platform.lock:
            return sum(1 for _at, _uid, path in self.emulator.platform.calls
                       if path.endswith("user_timeline.json"))


def _project(root: Path, base_url: str, **settings: Any) -> Path:
    (root / "templates" / "weekly").mkdir(parents=True)
    (root / "templates" / "weekly" / "weibo.txt.j2").write_text(TEMPLATE, encoding="utf-8")
    (root / "inbox" / "weekly").mkdir(parents=True)
    (root / "inbox" / "weekly" / "2026-W49.csv").write_text("项目,数量\n苹果,3\n",
                                                           encoding="utf-8")
    extra = "".join(f"      {name}: {value}\n" for name, value in settings.items())
    channels = PROJECT_YAML[PROJECT_YAML.index("channels:"):PROJECT_YAML.index("schemas:")]
    text = PROJECT_YAML.replace(channels, f"""channels:
  weibo-main:
    kind: weibo
    settings:
      access_token: "${{WEIBO_TOKEN}}"
      link_base_url: "http://www.gov.example.cn/"
      rip: "211.156.0.1"
      base_url: "{base_url}"
      timeout_seconds: {TIMEOUT_SECONDS}
{extra}""").replace("channels: [mem-a, mem-b]", "channels: [weibo-main]")
    (root / "schedules.yaml").write_text(text, encoding="utf-8")
    return root / "schedules.yaml"


@contextmanager
def _site(tmp_path: Path, clock: ManualClock, database_url: str | None = None,
          config: PlatformConfig | None = None, **settings: Any) -> Iterator[Site]:
    """The bot, the emulator (sharing the test's clock) and the proxy between them."""
    emulator = serve(config=config or PlatformConfig(safe_domain="gov.example.cn"),
                     clock=clock.now)
    token = emulator.platform.issue_token().value
    proxy = fault_proxy.serve(emulator.url)
    path = _project(tmp_path / "project", proxy.url, **{"settle_seconds": 60, **settings})
    store = Store(database_url or f"sqlite:///{tmp_path / 'bot.db'}")
    app = App(loaded=config_module.load(path), store=store, clock=clock,
              environ={"WEIBO_TOKEN": token})
    try:
        yield Site(app, emulator, proxy, clock)
    finally:
        app.close()
        proxy.stop()
        emulator.stop()


@pytest.mark.parametrize("fault", ["late_answer", "drop"])
@pytest.mark.parametrize("repeats_refused", [True, False])
def test_a_lost_share_answer_makes_one_post(tmp_path: Path, clock: ManualClock, fault: str,
                                            repeats_refused: bool) -> None:
    """share.json lands at Weibo but its answer comes after the client's timeout (or never):
    the delivery waits in retry_wait, a later claim finds the post by the delivery's mark on
    the timeline, and Weibo holds exactly one post, whether or not it refuses repeated text."""
    config = PlatformConfig(safe_domain="gov.example.cn",
                            repeat_window_seconds=None if repeats_refused else 0)
    with _site(tmp_path, clock, config=config) as site:
        site.proxy.state.add(Rule(fault, "POST", SHARE, seconds=HELD_SECONDS))
        delivery_id = site.delivery()
        dispatcher = Dispatcher(site.app)
        try:
            assert dispatcher.deliver(delivery_id) == "retry_wait"
            assert site.proxy.state.wait(fault, timeout=30)
            state = run_delivery(site.app, dispatcher, delivery_id, clock)
        finally:
            dispatcher.shutdown()
        row = rows.delivery(site.app, delivery_id)
        [post] = site.live(row.idempotency_key)
        assert len(site.emulator.platform.posts) == 1
        assert state == "published" and row.receipt is not None
        assert row.receipt["remote_id"] == post["idstr"]
        assert rows.outcomes(site.app, delivery_id) == ["unknown"]  # never shared again


def test_the_post_is_found_beyond_the_newest_hundred(tmp_path: Path, clock: ManualClock) -> None:
    """120 posts made after the lost answer push the delivery's post off the first page: the
    search pages back (max_id) to it, and stops at the posts older than its first send
    instead of reading the account's whole history."""
    config = PlatformConfig(safe_domain="gov.example.cn", posts_per_hour=1000)
    with _site(tmp_path, clock, config=config) as site:
        platform = site.emulator.platform
        token = next(iter(platform.tokens.values()))
        link = "http://www.gov.example.cn/x.html"
        for n in range(150):  # the account's history, two hours before
            clock.set(DUE - timedelta(hours=2) + timedelta(seconds=n))
            platform.share(token, {"status": f"往期第{n}条 {link}", "rip": "1.1.1.1"}, None, False)
        clock.set(DUE)
        site.proxy.state.add(Rule("drop", "POST", SHARE))
        delivery_id = site.delivery()
        dispatcher = Dispatcher(site.app)
        try:
            assert dispatcher.deliver(delivery_id) == "retry_wait"
            assert site.proxy.state.wait("drop", timeout=30)
            for n in range(120):  # other posts land meanwhile (another app, staff by hand)
                clock.advance(seconds=1)
                platform.share(token, {"status": f"其他第{n}条 {link}", "rip": "1.1.1.1"},
                               None, False)
            before = site.timeline_reads()
            state = run_delivery(site.app, dispatcher, delivery_id, clock)
        finally:
            dispatcher.shutdown()
        row = rows.delivery(site.app, delivery_id)
        [post] = site.live(row.idempotency_key)
        assert state == "published" and row.receipt is not None
        assert row.receipt["remote_id"] == post["idstr"]
        assert site.timeline_reads() - before == 2  # 100 newer, then the page reaching it
        assert len(platform.posts) == 271


def test_a_share_slower_than_the_settle_time_is_deleted_on_recheck(
        tmp_path: Path, clock: ManualClock) -> None:
    """Weibo (here without a repeated-text check) takes longer than the settle time: the
    resend posts, then the held first request lands too. The look after the resend finds
    both by the mark, keeps the first published copy, deletes the late one and records it."""
    config = PlatformConfig(safe_domain="gov.example.cn", repeat_window_seconds=0)
    with _site(tmp_path, clock, config=config, settle_seconds=1) as site:
        site.proxy.state.add(Rule("delay", "POST", SHARE, seconds=HELD_SECONDS))
        delivery_id = site.delivery()
        dispatcher = Dispatcher(site.app)
        try:
            assert run_delivery(site.app, dispatcher, delivery_id, clock) == "published"
            wait_until(lambda: len(site.emulator.platform.posts) == 2)  # the held one lands
            clock.advance(seconds=1)
            assert dispatcher.recheck() == 1
        finally:
            dispatcher.shutdown()
        row = rows.delivery(site.app, delivery_id)
        [kept] = site.live(row.idempotency_key)
        [late] = [p for p in site.emulator.platform.posts if p["deleted"]]
        assert row.state == "published" and row.receipt is not None
        assert row.receipt["remote_id"] == kept["idstr"] and kept["idstr"] < late["idstr"]
        assert [d["remote_id"] for d in row.receipt["details"]["duplicates"]] == [late["idstr"]]
        with site.app.store.read() as session:
            event = session.execute(select(AuditEvent).where(
                AuditEvent.action == "delivery.duplicate_removed")).scalar_one()
        assert event.subject == f"delivery:{delivery_id}"


def test_a_timeline_that_hides_older_posts_goes_to_a_person(
        tmp_path: Path, clock: ManualClock) -> None:
    """Where the timeline shows only the newest 5 posts (reported for live Weibo, unconfirmed)
    and more than 5 came after the lost answer, the bot cannot tell whether its post landed:
    the delivery ends unknown for a person, never shared again."""
    config = PlatformConfig(safe_domain="gov.example.cn", timeline_visible=5)
    with _site(tmp_path, clock, config=config) as site:
        platform = site.emulator.platform
        token = next(iter(platform.tokens.values()))
        site.proxy.state.add(Rule("late_answer", "POST", SHARE, seconds=HELD_SECONDS))
        delivery_id = site.delivery()
        dispatcher = Dispatcher(site.app)
        try:
            assert dispatcher.deliver(delivery_id) == "retry_wait"
            assert site.proxy.state.wait("late_answer", timeout=30)
            for n in range(6):
                clock.advance(seconds=1)
                platform.share(token, {"status": f"其他第{n}条 http://www.gov.example.cn/",
                                       "rip": "1.1.1.1"}, None, False)
            state = run_delivery(site.app, dispatcher, delivery_id, clock)
        finally:
            dispatcher.shutdown()
        row = rows.delivery(site.app, delivery_id)
        assert state == "unknown"
        assert row.reason is not None and "人工" in row.reason and "最近 5 条" in row.reason
        assert len(site.live(row.idempotency_key)) == 1 and len(platform.posts) == 7


def test_hourly_window_holds_across_a_restart(tmp_path: Path, clock: ManualClock,
                                              database_url: str) -> None:
    """Three posts an hour: one bot process posts three releases, restarts (a new App and
    Dispatcher on the same database, nothing kept in memory), and the fourth release still
    waits in retry_wait for the window: Weibo counts three posts in that hour, and the fourth
    goes once the first leaves the window."""
    emulator = serve(config=PlatformConfig(safe_domain="gov.example.cn", posts_per_hour=1000),
                     clock=clock.now)
    token = emulator.platform.issue_token().value
    path = _project(tmp_path / "project", emulator.url, posts_per_hour=3, window_wait_seconds=0)
    text = path.read_text(encoding="utf-8").replace("retry_deadline_hours: 2",
                                                    "retry_deadline_hours: 720")
    path.write_text(text, encoding="utf-8")
    weeks = [DUE - timedelta(weeks=n) for n in range(3, -1, -1)]  # W46 … W49, oldest first
    for due in weeks:
        week = due.isocalendar().week
        (path.parent / "inbox" / "weekly" / f"2026-W{week}.csv").write_text(
            f"项目,数量\n第{week}周,{week}\n", encoding="utf-8")

    def start() -> tuple[App, Dispatcher]:
        app = App(loaded=config_module.load(path), store=Store(database_url), clock=clock,
                  environ={"WEIBO_TOKEN": token})
        return app, Dispatcher(app)

    def deliver(app: App, dispatcher: Dispatcher, due: datetime) -> str | None:
        return dispatcher.deliver(rows.release_delivery(app, "weekly", due))

    try:
        app, dispatcher = start()
        first_post = clock.now()
        for due in weeks[:3]:
            assert deliver(app, dispatcher, due) == "published"
            clock.advance(minutes=1)
        dispatcher.shutdown()
        app.close()
        forget_all()  # a new process: nothing of the first one's memory survives

        app, dispatcher = start()
        try:
            assert deliver(app, dispatcher, weeks[3]) == "retry_wait"
            assert len(emulator.platform.posts) == 3
            with app.store.read() as session:
                waiting = session.execute(select(Delivery).where(
                    Delivery.state == "retry_wait")).scalar_one()
            assert waiting.next_attempt_at == first_post + timedelta(hours=1)
            assert waiting.last_error is not None and waiting.last_error["code"] == "window_full"
            clock.set(first_post + timedelta(hours=1))
            assert dispatcher.deliver(waiting.id) == "published"
            assert len(emulator.platform.posts) == 4
        finally:
            dispatcher.shutdown()
            app.close()
    finally:
        emulator.stop()
