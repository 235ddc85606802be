"""Headless Chromium posts an urgent message through the console and watches every channel publish live."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect
from sqlalchemy import select

from channels.memory.adapter import MemoryStore
from channels.webhook.sandbox import Sink
from channels.webhook.sandbox import serve as serve_sink
from publisher import config as config_module
from publisher.app import App
from publisher.store import Store
from publisher.store.models import Delivery
from publisher.urgent import UrgentPost, open_incident
from publisher.web import account as accounts
from publisher.web.api import create_app
from publisher.web.server import serve
from tests.support.browser import screenshot
from tests.support.console import PASSWORD
from tests.support.net import free_port
from tests.support.urgent_site import CHANNELS, FACTS, WAIT_MS, Daemon, Site, site, urgent_project

__all__ = ["site"]  # a fixture, used by name

PUBLISHER = str(Path(sys.executable).parent / "publisher")


def _sign_in(page: Page, base: str, path: str, name: str = "zhao.lei") -> None:
    """Open ``path``, get sent to the sign-in form, fill it in and come back to ``path``."""
    page.goto(base + path)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    expect(page).to_have_url(base + path)


def _compose(page: Page) -> None:
    """Fill in the compose form (choosing the kind of post and the grade: neither is chosen
    for staff) and see the live previews with their counters."""
    expect(page.locator("input[name=status]:checked")).to_have_count(0)
    expect(page.locator("select[name=severity]")).to_have_value("")
    page.fill("input[name=title]", "某高架桥发生垮塌")
    page.fill("input[name=area]", "某区某高架桥")
    page.fill("textarea[name=facts]", FACTS)
    expect(page.locator('#previews [data-previews="none"]')).to_have_text("请先填写必填项。",
                                                                          timeout=WAIT_MS)
    page.check("input[name=status][value=Actual]")
    page.select_option("select[name=severity]", "较大")
    weibo = page.locator('#previews [data-channel="weibo-main"] [data-measure="weibo_status"]')
    expect(weibo).to_contain_text("/ 140", timeout=WAIT_MS)
    used = int(weibo.get_attribute("data-used") or 0)
    page.fill("textarea[name=instruction]", "请绕行某路、某路。")  # the counter follows the typing
    expect(weibo).not_to_have_attribute("data-used", str(used), timeout=WAIT_MS)
    for name in CHANNELS:
        expect(page.locator(f'#previews [data-channel="{name}"][data-ok="true"]')).to_have_count(1)
    expect(page.locator('#previews [data-channel="wechat-main"] [data-measure="title"]')
           ).to_contain_text("/ 32")


def test_post_urgent_and_watch_every_channel_publish_live(page: Page, site: Site) -> None:
    """A staff member signs in, composes an urgent post (live previews with Weibo's and
    WeChat's counters, a Weibo refusal while the facts are too long), previews and confirms it,
    and the board turns every channel's state cell to published as the dispatcher sends,
    and the notice from "going out" to "published on every channel", without the page
    reloading."""
    _sign_in(page, site.base, "/urgent")
    _compose(page)
    screenshot(page, "urgent-compose")
    page.fill("textarea[name=facts]", FACTS * 5)  # too long for a Weibo post: refused live
    weibo = page.locator('#previews [data-channel="weibo-main"]')
    expect(weibo).to_have_attribute("data-ok", "false", timeout=WAIT_MS)
    expect(weibo.locator('[data-problem][data-field="status"]')).to_contain_text("微博正文超出")
    expect(page.locator('#previews [data-channel="portal-main"][data-ok="true"]')).to_have_count(1)
    screenshot(page, "urgent-compose-over-limit")
    page.fill("textarea[name=facts]", FACTS)
    expect(weibo).to_have_attribute("data-ok", "true", timeout=WAIT_MS)

    page.click("form#compose button[type=submit]")
    expect(page).to_have_url(site.base + "/urgent/preview")
    expect(page.locator("h1")).to_have_text("确认发布")
    for name in CHANNELS:
        card = page.locator(f'[data-channel="{name}"][data-ok="true"]')
        expect(card).to_have_count(1)
        expect(card.locator(".measure").first).to_contain_text("/")
    screenshot(page, "urgent-preview")

    page.click("[data-publish]")
    expect(page).to_have_url(re.compile(r"/incidents/incident-\d{8}-\d{6}\?posted=1$"))
    cells = page.locator("[data-cell] [data-state]")
    expect(cells).to_have_count(len(CHANNELS))
    expect(page.locator('[data-cell] [data-state="pending"]')).to_have_count(len(CHANNELS))
    expect(page.locator("[data-live]")).to_be_visible()  # the script took over the board
    notice = page.locator("[data-notice]")
    expect(notice).to_contain_text("正在发往各渠道")
    page.evaluate("window.stillTheSamePage = true")
    screenshot(page, "urgent-board-pending")

    site.daemon.thread.start()  # the dispatcher goes to work; the page is not touched again
    published = page.locator('[data-cell] [data-state="published"]')
    expect(published).to_have_count(len(CHANNELS), timeout=WAIT_MS)
    assert page.evaluate("window.stillTheSamePage === true"), "the page was reloaded"
    for name in CHANNELS:
        row = page.locator(f'[data-cell][data-channel="{name}"]')
        expect(row.locator("[data-state]")).to_have_text("已发布")
        expect(row.locator("[data-public]")).to_have_text(re.compile(r"^\d+\.\d\d s$"))
    expect(page.locator('[data-cell][data-channel="portal-main"] [data-url] a')).to_have_attribute(
        "href", re.compile(r"^http://127\.0\.0\.1:8180/emergency/"))
    expect(page.locator("[data-summary-for]")).to_have_text("3/3 已发布")
    expect(notice).to_have_text("已发往全部渠道（3/3 已发布）。")  # no longer "going out"
    expect(notice).to_have_attribute("data-notice-state", "done")
    screenshot(page, "urgent-board-published")


# --------------------------------------------------------------------------- publisher run


def _healthy(page: Page, base: str) -> bool:
    try:
        return page.request.get(base + "/healthz", timeout=2000).ok
    except PlaywrightError:  # not listening yet
        return False


@pytest.mark.slow
def test_publisher_run_serves_the_console_end_to_end(page: Page, tmp_path: Path) -> None:
    """Against `publisher run --sandbox` in a subprocess, an account made by `publisher users
    add` signs in, posts an urgent message through the forms, and the board shows every
    channel published; the daemon then stops cleanly."""
    config = urgent_project(tmp_path)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PUBLISHER_", "WECHAT_", "WEIBO_"))}
    added = subprocess.run(
        [PUBLISHER, "users", "add", "duty", "--role", "urgent", "--display-name", "值班员",
         "--password-stdin", "--config", str(config)], env=env, input=PASSWORD + "\n",
        text=True, capture_output=True, check=False, timeout=120, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "run.log"
    bot = subprocess.Popen(
        [PUBLISHER, "run", "--config", str(config), "--sandbox", "--no-serve", "--web-port",
         str(port), "--poll-seconds", "60", "--json-logs"],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60  # for the daemon to listen
        while not _healthy(page, base):
            assert bot.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "publisher run did not answer /healthz"
            page.wait_for_timeout(100)
        _sign_in(page, base, "/urgent", name="duty")
        _compose(page)
        page.click("form#compose button[type=submit]")
        page.click("[data-publish]")
        expect(page).to_have_url(re.compile(r"/incidents/incident-\d{8}-\d{6}\?posted=1$"))
        # the poll is 60 s: publishing well inside it shows the console woke the dispatcher
        expect(page.locator('[data-cell] [data-state="published"]')).to_have_count(
            len(CHANNELS), timeout=WAIT_MS)
        screenshot(page, "urgent-run-board-published")
    finally:
        bot.send_signal(signal.SIGTERM)
        try:
            code = bot.wait(30)
        finally:
            if bot.poll() is None:
                bot.kill()
    assert code == 0, log.read_text(encoding="utf-8")
    assert PASSWORD not in log.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- retry now


HOOK = """\
  hook:
    kind: webhook
    settings: {url: "%s"}
"""


@pytest.fixture
def broken_hook(tmp_path: Path, cheap_hashing: None) -> Iterator[tuple[Site, Sink]]:
    """The console over the shipped project with a webhook (a sink that fails once with 503)
    as an urgent channel beside the portal, urgent deliveries waiting 15 minutes between
    claims, and an account that may post and retry."""
    config = urgent_project(tmp_path)
    sink = serve_sink()
    sink.state.faults.append(503)
    text = config.read_text(encoding="utf-8")
    text = text.replace("\nchannels:\n", "\nchannels:\n" + HOOK % sink.url, 1)
    text = text.replace("  channels: [portal-main, wechat-main, weibo-main]   #",
                        "  channels: [portal-main, hook]   #")
    text = text.replace("    sweep_wait_seconds: 10\n    max_sweep_wait_seconds: 60\n",
                        "    sweep_wait_seconds: 900\n    max_sweep_wait_seconds: 900\n")
    text = text.replace("  urgent_retry:                # urgent posts: the first retry within "
                        "seconds\n    attempts_per_claim: 4\n",
                        "  urgent_retry:\n    attempts_per_claim: 1\n")
    config.write_text(text, encoding="utf-8")
    MemoryStore.reset()
    app = App(loaded=config_module.load(config),
              store=Store(f"sqlite:///{tmp_path / 'publisher.db'}"))
    accounts.create(app, "zhao.lei", PASSWORD, ["urgent", "editor"], actor="staff:test")
    daemon = Daemon(app)
    server = serve(create_app(app, wake=daemon.wake.set, dispatcher=daemon.dispatcher),
                   "127.0.0.1", 0)
    daemon.thread.start()
    try:
        yield Site(app, server, daemon), sink
    finally:
        server.stop()
        daemon.halt()
        app.close()
        sink.stop()


def test_retry_now_after_fixing_a_webhook(page: Page, broken_hook: tuple[Site, Sink]) -> None:
    """A webhook that failed waits 15 minutes to be tried again; once it works, a staff member
    presses 立即重试 on the delivery's page and sees it published at once, audited with their
    name."""
    site, sink = broken_hook
    outcome = open_incident(site.app, UrgentPost(
        title="某高架桥发生垮塌", facts=FACTS, area="某区某高架桥", severity="较大"),
        actor="staff:test")
    site.daemon.wake.set()
    with site.app.store.read() as session:
        (hook,) = session.execute(select(Delivery).where(
            Delivery.release_id == outcome.release_id, Delivery.channel == "hook")).scalars()
    _sign_in(page, site.base, f"/deliveries/{hook.id}")
    state = page.locator("h1 [data-state]")
    for _ in range(WAIT_MS // 500):  # the daemon's try, then the 15-minute wait
        if state.get_attribute("data-state") == "retry_wait":
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(state).to_have_attribute("data-state", "retry_wait")
    assert not sink.state.faults  # the webhook works again
    with site.app.store.read() as session:
        waiting = session.get(Delivery, hook.id)
        assert waiting is not None and waiting.next_attempt_at is not None
    assert (waiting.next_attempt_at - site.app.clock.now()).total_seconds() > 60  # jittered
    button = page.locator('form[data-form="retry"] button')
    expect(button).to_have_text("立即重试")
    screenshot(page, "delivery-retry-now")
    page.once("dialog", lambda dialog: dialog.accept())
    button.click()
    page.wait_for_url(re.compile(r"\?done=retry$"))
    for _ in range(WAIT_MS // 500):
        if state.get_attribute("data-state") == "published":
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(state).to_have_attribute("data-state", "published")
    expect(page.locator('tr[data-action="delivery.retry"] td').nth(2)).to_have_text(
        "console:zhao.lei")
    assert len(sink.state.accepted) == 1
