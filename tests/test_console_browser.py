"""The console in headless Chromium against a real `publisher run`: sign in, trigger, watch, filter, retry."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import requests
from playwright.sync_api import ConsoleMessage, Page, expect
from sqlalchemy import select, update

from publisher import config as config_module
from publisher import release, review
from publisher.app import App
from publisher.cli.run import sample_data
from publisher.clock import ManualClock
from publisher.store import Store
from publisher.store.models import Delivery
from publisher.web import account as accounts
from publisher.web.api import create_app
from publisher.web.server import serve
from tests.support.browser import screenshot
from tests.support.net import free_port
from tests.support.project import HOSTILE, SHANGHAI, copy_project

PUBLISHER = str(Path(sys.executable).parent / "publisher")
PASSWORD = "correct horse battery staple"
WAIT_SECONDS = 30  # the longest any step may take before the test fails

CONFIG = """\
timezone: Asia/Shanghai
data_dir: inbox
templates_dir: templates
defaults:
  misfire_grace_minutes: 60
  retry_deadline_hours: 2
  workers: 2
  retry: {attempts_per_claim: 1, initial_wait_seconds: 0.1, max_wait_seconds: 1,
          sweep_wait_seconds: 1, max_sweep_wait_seconds: 2}
columns:
  news: 新闻
channels:
  portal-main:
    kind: portal
    settings: {site_name: 测试门户, site_dir: site, base_url: "http://127.0.0.1:1/"}
  mem-a:
    kind: memory
    settings: {fail_script: [permanent]}
  mem-b:
    kind: memory
    settings: {}
schemas:
  simple:
    columns:
      - {id: item, header: 项目}
      - {id: amount, header: 数量, type: int}
releases:
  bulletin:
    title: "{{ period.label }}抽检通报"
    issuing_organ: 某市市场监督管理局
    organ_code: "MB0000123"
    subject_category: 综合政务
    column: news
    schedule: manual
    source:
      period: day
      tables:
        items:
          path: "bulletin/items.csv"
          schema: simple
    channels: [portal-main, mem-a, mem-b]
web: {host: 127.0.0.1, port: 1}
"""
PORTAL = ("<p>本期抽检结果如下：</p><table><tr><th>项目</th><th>数量</th></tr>"
          "{% for r in tables['items'] %}<tr><td>{{ r.item }}</td><td>{{ r.amount }}</td></tr>"
          "{% endfor %}</table>")
MEMORY = "{% for r in tables['items'] %}{{ r.item }}：{{ r.amount }}\n{% endfor %}"


@dataclass
class Daemon:
    """A running `publisher run` with the console on ``base``, and its log file."""

    base: str
    log: Path
    process: subprocess.Popen[bytes]

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def _wait(condition: Callable[[], bool], what: str, seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    """`publisher run --sandbox --no-serve --web-port PORT` on a small project (a portal and two
    memory channels, the first refusing its first send), with an editor account made by
    `publisher users add`; stopped with SIGTERM after the test."""
    root = tmp_path / "project"
    (root / "templates" / "bulletin").mkdir(parents=True)
    (root / "templates" / "bulletin" / "portal.html.j2").write_text(PORTAL, encoding="utf-8")
    (root / "templates" / "bulletin" / "memory.txt.j2").write_text(MEMORY, encoding="utf-8")
    (root / "inbox" / "bulletin").mkdir(parents=True)
    (root / "inbox" / "bulletin" / "items.csv").write_text("项目,数量\n饼干,3\n月饼,5\n",
                                                           encoding="utf-8")
    config = root / "schedules.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    env = {**os.environ, "PUBLISHER_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
           "PUBLISHER_ACTOR": "staff:admin"}
    env.pop("PUBLISHER_CONFIG", None)
    added = subprocess.run([PUBLISHER, "users", "add", "li", "--role", "editor",
                            "--display-name", "李编辑", "--password-stdin", "--config",
                            str(config)], env=env, input=PASSWORD + "\n", text=True,
                           capture_output=True, check=False, timeout=120, cwd=root)
    assert added.returncode == 0, added.stderr
    port = free_port()
    log = tmp_path / "run.log"
    process = subprocess.Popen(
        [PUBLISHER, "run", "--config", str(config), "--sandbox", "--no-serve", "--web-port",
         str(port), "--poll-seconds", "30", "--json-logs"],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=root)
    running = Daemon(f"http://127.0.0.1:{port}", log, process)

    def healthy() -> bool:
        assert process.poll() is None, running.output()
        try:
            return requests.get(f"{running.base}/healthz", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        _wait(healthy, "the daemon's /healthz", 60)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)


def _row(page: Page, channel: str) -> str:
    return page.locator(f'table[data-table="deliveries"] tr[data-channel="{channel}"]') \
        .first.get_attribute("data-state") or ""


def framed_screenshot(page: Page, name: str) -> None:
    """A full-page screenshot of a page with sandboxed frames: they render in processes of
    their own, painted only inside the viewport, so the viewport becomes the whole page."""
    size = page.viewport_size or {"width": 1280, "height": 900}
    height = int(page.evaluate("document.documentElement.scrollHeight"))
    page.set_viewport_size({"width": size["width"], "height": max(height, size["height"])})
    try:
        screenshot(page, name)
    finally:
        page.set_viewport_size(size)


def _reload_until(page: Page, condition: Callable[[], bool], what: str) -> None:
    def check() -> bool:
        page.reload()
        return condition()

    _wait(check, what)


def test_staff_sign_in_trigger_watch_filter_and_retry_in_chromium(daemon: Daemon,
                                                                  page: Page) -> None:
    """An editor signs in through the form, triggers a release from the console, watches it
    reach published in the delivery log (one channel refuses it), filters the log to the failed
    delivery, retries it and sees it published; every page obeys the CSP and is kept as a
    screenshot."""
    blocked: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            blocked.append(message.text)

    page.on("console", on_console)
    base = daemon.base

    page.goto(base + "/deliveries")
    assert re.search(r"/login\?next=/deliveries$", page.url)
    expect(page.locator("h1")).to_have_text("登录")
    page.fill('input[name="name"]', "li")
    page.fill('input[name="password"]', PASSWORD)
    screenshot(page, "console-login")
    page.click('form[action="/login"] button[type="submit"]')
    page.wait_for_url(base + "/deliveries")
    expect(page.locator('[data-account="li"]')).to_have_text("李编辑")

    page.goto(base + "/")
    page.click('a[data-action="trigger"]')
    page.wait_for_url(base + "/releases/new")
    page.check('input[name="definition"][value="bulletin"]')
    screenshot(page, "console-trigger")
    page.click('button[data-action="trigger"]')
    page.wait_for_url(re.compile(r"/releases/\d+\?done=created$"))
    expect(page.locator('[data-done="created"]')).to_be_visible()
    release_url = page.url.split("?")[0]

    page.goto(base + "/deliveries?release=bulletin")
    _reload_until(page, lambda: _row(page, "mem-b") == "published"
                  and _row(page, "portal-main") == "published"
                  and _row(page, "mem-a") == "failed",
                  "portal-main and mem-b published, mem-a failed")
    screenshot(page, "console-delivery-log")

    page.check('input[name="state"][value="failed"]')
    page.click('form.filters button[type="submit"]')
    page.wait_for_url(re.compile(r"state=failed"))
    rows = page.locator('table[data-table="deliveries"] tbody tr')
    expect(rows).to_have_count(1)
    assert rows.first.get_attribute("data-channel") == "mem-a"
    expect(page.locator('input[name="release"]')).to_have_value("bulletin")
    screenshot(page, "console-delivery-log-filtered")

    rows.first.locator("a").first.click()
    page.wait_for_url(re.compile(r"/deliveries/\d+$"))
    expect(page.locator('h1 [data-state]')).to_have_attribute("data-state", "failed")
    expect(page.locator('tr[data-attempt="1"]')).to_have_attribute("data-outcome", "permanent")
    screenshot(page, "console-delivery-failed")
    page.once("dialog", lambda dialog: dialog.accept())  # console.js asks before sending again
    page.click('form[data-form="retry"] button')
    page.wait_for_url(re.compile(r"\?done=retry$"))
    expect(page.locator('[data-done="retry"]')).to_be_visible()
    _reload_until(page, lambda: page.locator("h1 [data-state]").get_attribute("data-state")
                  == "published", "the retried delivery to publish")
    expect(page.locator('tr[data-attempt="2"]')).to_have_attribute("data-outcome", "published")
    expect(page.locator('tr[data-action="delivery.retry"] td').nth(2)).to_have_text("console:li")
    screenshot(page, "console-delivery-retried")

    page.goto(release_url)
    frame = page.frame_locator('article[data-kind="portal"] iframe.preview-frame')
    expect(frame.locator("table")).to_contain_text("月饼")
    expect(page.locator('table[data-table="deliveries"] tr[data-state="published"]')) \
        .to_have_count(3)
    framed_screenshot(page, "console-release")

    page.goto(base + "/audit")
    expect(page.locator('[data-verdict="ok"]')).to_be_visible()
    screenshot(page, "console-audit")

    page.goto(base + "/")
    expect(page.locator('table[data-table="health"] tr[data-channel="mem-a"] [data-circuit]')) \
        .to_have_attribute("data-circuit", "closed")  # the daemon's dispatcher is known
    screenshot(page, "console-overview")
    page.click("a.lang")
    expect(page.locator("h1")).to_have_text("Overview")
    screenshot(page, "console-overview-en")
    assert blocked == [], blocked


# --------------------------------------------------------------------------- every channel's look

FOOD = "food-safety-sampling"
# markup a payload should never carry, put in the portal body to prove the frame runs nothing
INJECTED = ("<script>parent.document.body.setAttribute('data-xss', 'script')</script>"
            "<img src=\"x\" onerror=\"parent.document.body.setAttribute('data-xss', 'img')\">")


@dataclass
class Shipped:
    """A console over the shipped project (every channel on its emulator) and one release of the
    food-safety definition, made to need review, awaiting approval."""

    app: App
    base: str
    release_id: int


@pytest.fixture
def shipped(tmp_path: Path) -> Iterator[Shipped]:
    """The shipped config, templates and samples on SQLite with a script tag in the sample data;
    the food-safety definition needs review; an approver account "wang"."""
    config = copy_project(tmp_path / "shipped")
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("    misfire_grace_minutes: 240\n",
                                   "    misfire_grace_minutes: 240\n    review: required\n", 1),
                      encoding="utf-8")
    sample = config.parent / "samples" / FOOD / "unqualified.csv"
    header = sample.read_bytes().decode("gb18030").splitlines()[0]
    sample.write_text(f"{header}\n1,某食品厂,某区某路1号,某超市,某区某路2号,{HOSTILE}饼干,散装,/,"
                      f"2026-11-12,{HOSTILE}菌落总数║2.6×10⁵║≤10⁵,某检验所,糕点\n", encoding="utf-8")
    clock = ManualClock(datetime(2026, 12, 2, 8, 0, tzinfo=SHANGHAI))
    app = App(loaded=config_module.load(config), store=Store(f"sqlite:///{tmp_path / 'db'}"),
              clock=clock, sandbox=True)
    accounts.create(app, "wang", PASSWORD, ["approver"], actor="staff:test", display_name="王审核")
    outcome = release.create(app, FOOD, review.manual_due(app, FOOD, clock.now()),
                             actor="staff:li", origin="manual", data=sample_data(app, FOOD))
    assert outcome.state == "awaiting_approval", outcome.problems
    with app.store.write() as session:
        portal = session.execute(select(Delivery).where(
            Delivery.release_id == outcome.release_id, Delivery.channel == "portal-main")
        ).scalar_one()
        payload = dict(portal.payload)
        payload["data"] = {**payload["data"], "body_html": INJECTED + payload["data"]["body_html"]}
        session.execute(update(Delivery).where(Delivery.id == portal.id).values(payload=payload))
    server = serve(create_app(app), "127.0.0.1", 0)
    try:
        yield Shipped(app, server.url.rstrip("/"), outcome.release_id)
    finally:
        server.stop()
        app.close()


def test_release_page_shows_every_channel_and_its_frames_run_no_script(shipped: Shipped,
                                                                      page: Page) -> None:
    """In Chromium the release page shows the WeChat article, the Weibo text with its count,
    the portal page and the gazette item; a script and an onerror handler inside a message body
    do not run (the frames are sandboxed), the bureau's script tag shows as text, and an
    approver approves the release from the page."""
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text))
    page.goto(f"{shipped.base}/releases/{shipped.release_id}")
    page.fill('input[name="name"]', "wang")
    page.fill('input[name="password"]', PASSWORD)
    page.click('form[action="/login"] button[type="submit"]')
    page.wait_for_url(f"{shipped.base}/releases/{shipped.release_id}")
    for kind in ("wechat", "weibo", "portal", "gazette"):
        expect(page.locator(f'article[data-kind="{kind}"]')).to_be_visible()
    expect(page.locator('article[data-kind="weibo"] [data-text]')).to_contain_text(
        f"{HOSTILE}菌落总数")
    expect(page.locator('article[data-kind="weibo"] .counter')).to_contain_text("/ 140")
    portal = page.frame_locator('article[data-kind="portal"] iframe')
    expect(portal.locator("body")).to_contain_text(f"{HOSTILE}饼干")
    wechat = page.frame_locator('article[data-kind="wechat"] iframe')
    expect(wechat.locator("body")).to_contain_text("饼干")
    gazette = page.frame_locator('article[data-kind="gazette"] iframe')
    expect(gazette.locator("body")).to_contain_text("饼干")
    page.wait_for_timeout(500)  # give an injected handler its chance to run
    assert page.evaluate("document.body.getAttribute('data-xss')") is None
    assert page.evaluate("typeof window.alert") == "function"
    assert not [text for text in blocked if "Content Security Policy" in text], blocked
    assert any("Blocked script execution" in text and "/preview" in text
               for text in blocked), blocked  # Chromium says why the injected script did not run
    framed_screenshot(page, "console-release-channels")

    page.click('form[data-form="approve"] button')
    page.wait_for_url(re.compile(r"\?done=approved$"))
    # approved: its deliveries wait for their due time, so the release is under way
    expect(page.locator("h1 [data-release-outcome]")).to_have_attribute(
        "data-release-outcome", "in_progress")
    expect(page.locator("h1 [data-release-outcome]")).to_have_text("进行中")
    screenshot(page, "console-release-approved")
