"""Answers lost between the bot and a remote (WordPress, WeChat), counted at the emulator.

Each fault is the real one, on loopback: a fault proxy (tests/support/fault_proxy.py) or the
emulator itself holds a request past the client's timeout, or drops its answer, while the
remote still completes it. The dispatcher must not resend blind: it reconciles with the
channel after the settle time, and whatever happens, the emulator ends with exactly one
live publication per delivery (a copy made anyway is removed and recorded).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from channels.wechat.sandbox import Account
from channels.wechat.sandbox import Emulator as WechatEmulator
from channels.wechat.sandbox import serve as serve_wechat
from channels.wordpress.adapter import TRASH
from channels.wordpress.content import owner_of
from channels.wordpress.sandbox import Emulator as WordPressEmulator
from channels.wordpress.sandbox import serve as serve_wordpress
from publisher import config as config_module
from publisher import release
from publisher.app import App
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.store import Store
from publisher.store.models import AuditEvent, Delivery
from publisher.urgent import UrgentPost, open_incident
from tests.support import fault_proxy, rows
from tests.support.fault_proxy import FaultProxy, Rule
from tests.support.project import PROJECT_YAML, ROOT, SHANGHAI
from tests.support.rows import run_delivery, wait_until

DUE = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)
# the client's timeout: long enough that an unhindered request on a loaded machine answers in
# time, while every held one comes later
TIMEOUT_SECONDS = 1.5
HELD_SECONDS = 3.0
CREATE = r"/wp-json/wp/v2/posts$"
WP_TEMPLATE = "<p>{% for r in tables['items'] %}{{ r.item }}：{{ r.amount }}；{% endfor %}</p>"


# --------------------------------------------------------------------------- WordPress


@dataclass
class Site:
    """A bot configured with one WordPress channel, reaching the emulator through a proxy."""

    app: App
    emulator: WordPressEmulator
    proxy: FaultProxy
    clock: ManualClock

    def delivery(self) -> int:
        outcome = release.create(self.app, "weekly", DUE, actor="staff:li", origin="manual")
        assert outcome.state == "active", outcome.problems
        with self.app.store.read() as session:
            return session.execute(select(Delivery.id).where(
                Delivery.release_id == outcome.release_id)).scalar_one()

    def posts(self, key: str) -> list[dict[str, Any]]:
        """The posts at the emulator carrying this delivery's owner mark."""
        with self.emulator.state.lock:
            return [dict(p) for p in self.emulator.state.posts.values()
                    if owner_of(p["content"]) == key]


@contextmanager
def _site(tmp_path: Path, clock: ManualClock, settle_seconds: float,
          through: str | None = None) -> Iterator[Site]:
    """The bot and the emulator (``through``: another address instead of the proxy's)."""
    emulator = serve_wordpress()
    emulator.state.add_user("bot", "pass word")
    proxy = fault_proxy.serve(emulator.url)
    root = tmp_path / "project"
    (root / "templates" / "weekly").mkdir(parents=True)
    (root / "templates" / "weekly" / "wordpress.html.j2").write_text(WP_TEMPLATE,
                                                                   encoding="utf-8")
    (root / "inbox" / "weekly").mkdir(parents=True)
    (root / "inbox" / "weekly" / "2026-W49.csv").write_text("项目,数量\n苹果,3\n",
                                                           encoding="utf-8")
    channels = PROJECT_YAML[PROJECT_YAML.index("channels:"):PROJECT_YAML.index("schemas:")]
    text = PROJECT_YAML.replace(channels, f"""channels:
  wp:
    kind: wordpress
    settings:
      base_url: "{through or proxy.url}"
      username: bot
      application_password: "${{WP_PASSWORD}}"
      timeout_seconds: {TIMEOUT_SECONDS}
      settle_seconds: {settle_seconds}
""").replace("channels: [mem-a, mem-b]", "channels: [wp]")
    (root / "schedules.yaml").write_text(text, encoding="utf-8")
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    app = App(loaded=config_module.load(root / "schedules.yaml"), store=store, clock=clock,
              environ={"WP_PASSWORD": "pass word"})
    try:
        yield Site(app, emulator, proxy, clock)
    finally:
        app.close()
        proxy.stop()
        emulator.stop()


@pytest.fixture
def site(tmp_path: Path, clock: ManualClock) -> Iterator[Site]:
    with _site(tmp_path, clock, settle_seconds=60) as running:
        yield running


@pytest.mark.parametrize("fault", ["delay", "late_answer", "drop"])
def test_a_create_answered_too_late_makes_one_post(site: Site, fault: str) -> None:
    """POST /posts reaches WordPress but its answer does not reach the bot in time (held on
    the way in, held on the way back, or dropped): the delivery waits in retry_wait, the next
    claim finds the post by its owner mark, and WordPress holds exactly one post."""
    site.proxy.state.add(Rule(fault, "POST", CREATE, seconds=HELD_SECONDS))
    delivery_id = site.delivery()
    dispatcher = Dispatcher(site.app)
    try:
        first = dispatcher.deliver(delivery_id)
        # the settle time is long enough: the held create has landed before anyone looks
        assert site.proxy.state.wait(fault, timeout=30)
        state = first if first != "retry_wait" else run_delivery(site.app, dispatcher, delivery_id,
                                                         site.clock)
    finally:
        dispatcher.shutdown()
    row = rows.delivery(site.app, delivery_id)
    posts = site.posts(row.idempotency_key)
    assert [p["status"] for p in posts] == ["publish"], [p["slug"] for p in posts]
    assert site.emulator.state.creates == 1
    assert state == "published" and row.receipt is not None
    assert row.receipt["remote_id"] == str(posts[0]["id"])
    assert rows.outcomes(site.app, delivery_id) == ["unknown"]  # the create was never repeated


def test_a_slow_create_overtaken_by_a_resend_is_trashed_and_recorded(
        tmp_path: Path, clock: ManualClock) -> None:
    """WordPress is slower than the settle time: the resend's post takes the slug, the first
    create ends as <slug>-2 (wp_unique_post_slug), and the look after the resend trashes that
    copy; the delivery keeps one post, and both are recorded in its receipt and the audit."""
    with _site(tmp_path, clock, settle_seconds=1) as site:
        site.emulator.state.faults.append("slow:4")  # the next create spends 4 s in WordPress
        delivery_id = site.delivery()
        dispatcher = Dispatcher(site.app)
        try:
            assert run_delivery(site.app, dispatcher, delivery_id, clock) == "published"
            wait_until(lambda: site.emulator.state.creates == 2)  # the slow one lands at last
            clock.advance(seconds=1)
            assert dispatcher.recheck() == 1
        finally:
            dispatcher.shutdown()
        row = rows.delivery(site.app, delivery_id)
        posts = {p["status"]: p for p in site.posts(row.idempotency_key)}
        slug = posts["publish"]["slug"]
        assert sorted(p["status"] for p in site.posts(row.idempotency_key)) == ["publish", TRASH]
        assert posts[TRASH]["slug"] == f"{slug}-2__trashed"
        assert row.state == "published" and row.receipt is not None
        assert row.receipt["remote_id"] == str(posts["publish"]["id"])
        removed = row.receipt["details"]["duplicates"]
        assert [d["remote_id"] for d in removed] == [str(posts[TRASH]["id"])]
        assert row.reason and "duplicate" in row.reason
        with site.app.store.read() as session:
            event = session.execute(select(AuditEvent).where(
                AuditEvent.action == "delivery.duplicate_removed")).scalar_one()
        assert event.subject == f"delivery:{delivery_id}"
        assert event.details["kept"]["remote_id"] == str(posts["publish"]["id"])
        assert [d["remote_id"] for d in event.details["duplicates"]] == [str(posts[TRASH]["id"])]


def test_a_refused_connection_is_a_plain_retry(tmp_path: Path, clock: ManualClock) -> None:
    """Nothing listens: the request never left, so the claim retries it at once (tenacity) and
    then waits in retry_wait without any reconcile mark."""
    stopped = serve_wordpress()
    url = stopped.url
    stopped.stop()
    with _site(tmp_path, clock, settle_seconds=60, through=url) as site:
        delivery_id = site.delivery()
        dispatcher = Dispatcher(site.app)
        try:
            assert dispatcher.deliver(delivery_id) == "retry_wait"
        finally:
            dispatcher.shutdown()
        row = rows.delivery(site.app, delivery_id)
        attempts = site.app.loaded.config.defaults.retry.attempts_per_claim
        assert rows.outcomes(site.app, delivery_id) == ["transient"] * attempts
        assert row.unconfirmed_at is None and row.last_error is not None
        assert row.last_error["code"] == "network"


def test_a_gateway_error_answer_is_a_plain_retry(site: Site) -> None:
    """A 502 is an answer (WordPress finished or never ran): the claim retries, the send looks
    for the post first, and WordPress holds one post."""
    site.proxy.state.add(Rule("error", "POST", CREATE, status=502))
    delivery_id = site.delivery()
    dispatcher = Dispatcher(site.app)
    try:
        assert dispatcher.deliver(delivery_id) == "published"
    finally:
        dispatcher.shutdown()
    row = rows.delivery(site.app, delivery_id)
    assert rows.outcomes(site.app, delivery_id) == ["transient", "published"]
    assert len(site.posts(row.idempotency_key)) == 1 and row.unconfirmed_at is None


# --------------------------------------------------------------------------- WeChat


@dataclass
class Wechat:
    """A bot on the repository's own configuration, its WeChat account behind a proxy."""

    app: App
    emulator: WechatEmulator
    proxy: FaultProxy

    @property
    def account(self) -> Account:
        return self.emulator.account

    def delivery(self, release_id: int) -> int:
        with self.app.store.read() as session:
            return session.execute(select(Delivery.id).where(
                Delivery.release_id == release_id,
                Delivery.channel == "wechat-main")).scalar_one()


@pytest.fixture
def wechat(tmp_path: Path, clock: ManualClock) -> Iterator[Wechat]:
    account = Account(app_secret="wx-secret-for-test", clock=lambda: clock.now().timestamp(),
                      publish_polls=0, publish_seconds=5, submit_keeps_draft=True)
    emulator = serve_wechat(account=account)
    proxy = fault_proxy.serve(emulator.url)
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    text = (ROOT / "schedules.yaml").read_text(encoding="utf-8")
    text = text.replace("app_id: wx0000000000000000", f"app_id: wx0000000000000000\n"
                        f"      base_url: {proxy.url}\n      timeout_seconds: {TIMEOUT_SECONDS}")
    text = text.replace("channels: [portal-main, wechat-main, weibo-main]   #",
                        "channels: [wechat-main]   #")
    (tmp_path / "schedules.yaml").write_text(text, encoding="utf-8")
    store = Store(f"sqlite:///{tmp_path / 'bot.db'}")
    app = App(loaded=config_module.load(tmp_path / "schedules.yaml"), store=store, clock=clock,
              environ={"WECHAT_APP_SECRET": "wx-secret-for-test",
                       "WEIBO_APP_SECRET": "unused-here"})
    try:
        yield Wechat(app, emulator, proxy)
    finally:
        app.close()
        proxy.stop()
        emulator.stop()


def _routine(wx: Wechat, tmp_path: Path) -> int:
    samples = tmp_path / "samples" / "food-safety-sampling"
    outcome = release.create(wx.app, "food-safety-sampling", DUE, actor="t", origin="manual",
                             data={"unqualified": samples / "unqualified.csv",
                                   "qualified": samples / "qualified.csv"})
    assert outcome.state == "active", outcome.problems
    return wx.delivery(outcome.release_id)


@pytest.mark.parametrize("fault", ["late_answer", "drop"])
def test_a_lost_submit_answer_publishes_one_article(
        wechat: Wechat, tmp_path: Path, clock: ManualClock, fault: str) -> None:
    """freepublish/submit is accepted but its answer is lost, and the platform keeps the draft:
    the published list is checked before any second submit, and one article is published."""
    wechat.proxy.state.add(Rule(fault, "POST", r"/freepublish/submit$", seconds=HELD_SECONDS))
    delivery_id = _routine(wechat, tmp_path)
    dispatcher = Dispatcher(wechat.app)

    def landed() -> None:  # the settle time is long enough for the submit to have landed
        assert wechat.proxy.state.wait(fault, timeout=30)

    try:
        state = run_delivery(wechat.app, dispatcher, delivery_id, clock, between=landed)
    finally:
        dispatcher.shutdown()
    account = wechat.account
    assert len(account.jobs) == 1 and account.calls["freepublish/submit"] == 1
    assert len(account.published()) == 1
    row = rows.delivery(wechat.app, delivery_id)
    assert state == "published" and row.receipt and row.receipt["url"]
    assert row.receipt["url"] == account.published()[0]["url"]


def test_a_submit_that_never_arrived_is_sent_once_after_the_settle_time(
        wechat: Wechat, tmp_path: Path, clock: ManualClock) -> None:
    """The connection is reset with the submit (it never reached WeChat, which the bot cannot
    know): the article is not found, and after the settle time it is submitted once more."""
    wechat.proxy.state.add(Rule("reset", "POST", r"/freepublish/submit$"))
    delivery_id = _routine(wechat, tmp_path)
    start = clock.now()
    dispatcher = Dispatcher(wechat.app)
    try:
        assert run_delivery(wechat.app, dispatcher, delivery_id, clock) == "published"
    finally:
        dispatcher.shutdown()
    account = wechat.account
    assert len(account.jobs) == 1 and len(account.published()) == 1
    assert account.calls["draft/add"] == 1  # the kept draft was reused
    assert clock.now() - start >= timedelta(seconds=300)  # wechat's settle_seconds
    assert rows.outcomes(wechat.app, delivery_id) == ["unknown", "published"]


def test_a_lost_mass_send_answer_waits_in_retry_wait(
        wechat: Wechat, clock: ManualClock) -> None:
    """An urgent mass send is accepted but its answer dropped: no worker sleeps out WeChat's
    one-minute guard (45066); the delivery waits in retry_wait and the same clientmsgid then
    answers with the earlier send (45065): one mass send."""
    wechat.proxy.state.add(Rule("drop", "POST", r"/message/mass/sendall$"))
    outcome = open_incident(wechat.app, UrgentPost(
        title="某高架桥发生垮塌", facts="今日9时40分，某高架桥一段桥面垮塌，现场已封闭。",
        area="某区某高架桥", severity="较大", instruction="请绕行。"), actor="staff:zhao")
    delivery_id = wechat.delivery(outcome.release_id)
    dispatcher = Dispatcher(wechat.app)
    try:
        state = run_delivery(wechat.app, dispatcher, delivery_id, clock)
    finally:
        dispatcher.shutdown()
    account = wechat.account
    assert state == "published" and len(account.mass_sends) == 1
    assert account.mass_sends[0]["clientmsgid"] == rows.delivery(wechat.app, delivery_id).idempotency_key
    assert all(seconds < 60 for seconds in clock.sleeps), clock.sleeps
    assert rows.outcomes(wechat.app, delivery_id) == ["unknown", "published"]
