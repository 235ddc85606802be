"""The daemon in a subprocess: killed mid-send and restarted, nothing is lost or duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from channels.webhook.sandbox import Sink, serve
from publisher.store import Store
from publisher.store.models import AuditEvent, Delivery, Release
from tests.support.project import ROOT, TEMPLATE

PUBLISHER = str(Path(sys.executable).parent / "publisher")
pytestmark = pytest.mark.slow

CONFIG = """\
timezone: Asia/Shanghai
data_dir: inbox
defaults:
  misfire_grace_minutes: 10
  retry_deadline_hours: 1
  workers: 2
  retry: {{attempts_per_claim: 2, initial_wait_seconds: 0.2, max_wait_seconds: 1,
          sweep_wait_seconds: 1, max_sweep_wait_seconds: 2}}
columns: {{news: 新闻}}
channels:
  sink:
    kind: webhook
    settings: {{url: "{url}", token: "${{SINK_TOKEN}}", timeout_seconds: 10}}
  portal:
    kind: portal
    settings: {{site_name: 测试门户, site_dir: site, base_url: "http://127.0.0.1:1/"}}
schemas:
  simple:
    columns:
      - {{id: item, header: 项目}}
      - {{id: amount, header: 数量, type: int}}
releases:
  tick:
    title: "第{{{{ period.label }}}}次测试发布"
    issuing_organ: 测试局
    organ_code: "MB0000001"
    subject_category: 综合政务
    column: news
    schedule: "*/3 * * * * *"
    source:
      period: day
      tables:
        items: {{path: "items.csv", schema: simple}}
    channels: [sink, portal]
"""


def _project(root: Path, url: str) -> Path:
    (root / "templates" / "tick").mkdir(parents=True)
    (root / "templates" / "tick" / "webhook.txt.j2").write_text(TEMPLATE, encoding="utf-8")
    (root / "templates" / "tick" / "portal.html.j2").write_text(
        "<p>{{ release.title }}</p>" + TEMPLATE, encoding="utf-8")
    (root / "inbox").mkdir()
    (root / "inbox" / "items.csv").write_text("项目,数量\n苹果,3\n", encoding="utf-8")
    config = root / "schedules.yaml"
    config.write_text(CONFIG.format(url=url), encoding="utf-8")
    return config


@pytest.fixture
def sink() -> Iterator[Sink]:
    running = serve()
    yield running
    running.stop()


def _start(config: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [PUBLISHER, "run", "--config", str(config), "--no-serve", "--no-web", "--poll-seconds",
         "0.1", "--json-logs"],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=config.parent)


def _wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _rows(store: Store) -> tuple[list[Release], list[Delivery]]:
    with store.read() as session:
        return (list(session.execute(select(Release)).scalars()),
                list(session.execute(select(Delivery)).scalars()))


def test_sigkill_mid_send_loses_and_duplicates_nothing(tmp_path: Path, sink: Sink) -> None:
    """SIGKILL while deliveries are sending, then restart: each lands exactly once, and the run
    that fell due while the bot was down goes out once."""
    config = _project(tmp_path, sink.url)
    db = tmp_path / "bot.db"
    env = {**os.environ, "PUBLISHER_DATABASE_URL": f"sqlite:///{db}", "SINK_TOKEN": "tok-e2e-1234"}
    env.pop("PUBLISHER_CONFIG", None)
    log = tmp_path / "run.log"
    sink.state.delay_seconds = 1.5  # the remote accepts, then answers slowly
    first = _start(config, env, log)
    try:
        _wait(lambda: db.exists(), 20, "the database")
        store = Store(f"sqlite:///{db}", migrate=False)
        _wait(lambda: len(sink.state.accepted) >= 1
              and any(d.state == "sending" for d in _rows(store)[1]), 30, "a send in flight")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    killed_at = time.time()
    stuck = [d for d in _rows(store)[1] if d.state == "sending"]
    assert stuck, "the kill must leave a delivery in sending"
    time.sleep(max(0.0, 4.0 - (time.time() - killed_at)))  # at least one fire time passes while down
    sink.state.delay_seconds = 0.0
    second = _start(config, env, log)
    settled_ids: set[int] = set()
    try:
        def settled() -> bool:
            releases, deliveries = _rows(store)
            done = (any(r.origin == "catch-up" for r in releases) and bool(deliveries)
                    and all(d.state in ("published", "unknown", "failed") for d in deliveries))
            if done:
                settled_ids.update(d.id for d in deliveries)
            return done
        _wait(settled, 40, "every delivery to settle after restart")
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0
    finally:
        if second.poll() is None:
            second.kill()
    releases, deliveries = _rows(store)
    by_id = {d.id: d for d in deliveries}
    for d in stuck:
        assert by_id[d.id].state == "published", (d.channel, by_id[d.id].reason)
    for d in deliveries:
        if d.id not in settled_ids:  # the fast schedule made it after everything had settled
            assert d.state in ("pending", "sending", "published", "unknown"), d.state
            continue
        assert d.state in ("published", "unknown"), (d.channel, d.state, d.last_error)
        if d.state == "unknown":
            assert d.reason
        if d.channel == "sink" and d.state == "published":
            assert sink.state.count(d.idempotency_key) == 1
    published_keys = {d.idempotency_key for d in deliveries if d.channel == "sink"}
    assert set(sink.state.accepted) <= published_keys  # nothing landed that we lost track of
    assert all(sink.state.count(key) == 1 for key in sink.state.accepted)  # no duplicates
    pages = sorted((tmp_path / "site" / "news").glob("tick-*.html"))
    assert len(pages) == sum(1 for d in deliveries if d.channel == "portal" and d.state == "published")
    assert sum(1 for r in releases if r.origin == "catch-up") == 1
    verify = subprocess.run([PUBLISHER, "audit", "verify", "--config", str(config)],
                            env=env, capture_output=True, text=True, timeout=60, check=False)
    assert verify.returncode == 0, verify.stderr
    logged = log.read_text(encoding="utf-8")
    assert "tok-e2e-1234" not in logged
    store.dispose()


def test_second_daemon_refuses_to_run(tmp_path: Path, sink: Sink) -> None:
    """A second `publisher run` on the same database exits 3 naming the active scheduler."""
    config = _project(tmp_path, sink.url)
    db = tmp_path / "bot.db"
    env = {**os.environ, "PUBLISHER_DATABASE_URL": f"sqlite:///{db}", "SINK_TOKEN": "tok-e2e-1234"}
    log = tmp_path / "run.log"
    first = _start(config, env, log)
    try:
        _wait(lambda: "run.started" in (log.read_text(encoding="utf-8") if log.exists() else ""),
              30, "the first daemon")
        second = subprocess.run(
            [PUBLISHER, "run", "--config", str(config), "--no-serve", "--no-web"], env=env,
            capture_output=True, text=True, timeout=60, check=False)
        assert second.returncode == 3
        assert "another scheduler is active" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(20)


def test_readme_first_command_publishes_the_sample_release(tmp_path: Path) -> None:
    """`make run`'s command starts with no credentials, publishes the sample food-safety release
    through the portal, and serves the page on 127.0.0.1."""
    import re

    import requests

    recipe = (ROOT / "Makefile").read_text(encoding="utf-8").split("\nrun:", 1)[1].splitlines()[1]
    assert recipe.strip() == "$(BIN)/publisher run --sandbox --demo"
    log = tmp_path / "run.log"
    bot = _demo(tmp_path, log)
    try:
        pages = tmp_path / "var" / "site" / "food-safety"
        feed_file = tmp_path / "var" / "site" / "feed.atom"
        _wait(lambda: any(pages.glob("food-safety-sampling-*.html")) if pages.exists() else False,
              60, "the food-safety page")
        # the page is written first, then the indexes and the feed
        _wait(lambda: feed_file.exists() and "food-safety-sampling-" in feed_file.read_text(
            encoding="utf-8"), 30, "the feed entry")
        text = log.read_text(encoding="utf-8")
        served = re.search(r"portal site at (http://127\.0\.0\.1:\d+/)", text)
        assert served, text
        page = next(pages.glob("food-safety-sampling-*.html")).name
        response = requests.get(f"{served.group(1)}food-safety/{page}", timeout=10)
        assert response.status_code == 200
        assert "食品安全监督抽检" in response.text and "索引号" in response.text
        feed = requests.get(f"{served.group(1)}feed.atom", timeout=10)
        assert page in feed.text
        _wait_demo_published(tmp_path, log)  # every channel kind in this build, through its emulator
    finally:
        bot.send_signal(signal.SIGTERM)
        assert bot.wait(30) == 0
    assert (tmp_path / "var" / "publisher.db").exists()
    # the emulators were the sandbox service, the daemon's child: stopped with it, state kept
    assert "sandbox service (pid" in log.read_text(encoding="utf-8")
    sandbox = tmp_path / "var" / "sandbox"
    assert (sandbox / "weibo-main.json").exists() and (sandbox / "wechat-main.json").exists()
    assert not (sandbox / "service.json").exists()


DEMO_CHANNELS = {("portal-main", "published"), ("wechat-main", "published"),
                 ("weibo-main", "published"), ("gazette-main", "queued")}


def _demo(root: Path, log: Path) -> subprocess.Popen[bytes]:
    """``publisher run --sandbox --demo`` (`make run`) in a copy of the shipped project."""
    import shutil

    for name in ("schedules.yaml", "templates", "samples"):
        source, copy = ROOT / name, root / name
        if copy.exists():
            continue
        if source.is_dir():
            shutil.copytree(source, copy)
        else:
            shutil.copy(source, copy)
    config = root / "schedules.yaml"  # the sandbox service as shipped, on free ports
    config.write_text(config.read_text(encoding="utf-8").replace("  base_port: 8700",
                                                                 "  base_port: 0"),
                      encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PUBLISHER_", "WECHAT_", "WEIBO_"))}
    return subprocess.Popen(
        [PUBLISHER, "run", "--sandbox", "--demo", "--port", "0", "--web-port", "0", "--json-logs"],
        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=root)


def _wait_demo_published(root: Path, log: Path) -> None:
    _wait(lambda: "run.started" in log.read_text(encoding="utf-8"), 60, "the daemon")
    store = Store(f"sqlite:///{root / 'var' / 'publisher.db'}", migrate=False)
    try:
        _wait(lambda: {(d.channel, d.state) for d in _rows(store)[1]} == DEMO_CHANNELS,
              60, "every channel to publish (the gazette item waits for its issue)")
    finally:
        store.dispose()


def test_demo_twice_publishes_the_period_once(tmp_path: Path) -> None:
    """A second `make run` on the same database says this period's sample release is already
    out and publishes nothing: the portal lists one notice, the gazette queue holds one copy."""
    import json
    import re

    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = _demo(tmp_path, first_log)
    try:
        _wait_demo_published(tmp_path, first_log)
    finally:
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0
    second = _demo(tmp_path, second_log)
    try:
        _wait(lambda: "run.started" in second_log.read_text(encoding="utf-8"), 60,
              "the second daemon")
        _wait(lambda: "\nfood-safety-sampling@" in second_log.read_text(encoding="utf-8"), 30,
              "the demo's answer")
        store = Store(f"sqlite:///{tmp_path / 'var' / 'publisher.db'}", migrate=False)
        try:  # whatever the second run sent has landed before it is counted
            _wait(lambda: all(d.state in ("published", "queued") for d in _rows(store)[1]), 60,
                  "every delivery to settle")
        finally:
            store.dispose()
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0
    site = tmp_path / "var" / "site"
    pages = sorted((site / "food-safety").glob("food-safety-sampling-*.html"))
    assert len(pages) == 1
    listing = (site / "food-safety" / "index.html").read_text(encoding="utf-8")
    assert listing.count("food-safety-sampling-") == listing.count(pages[0].name) > 0
    queue = json.loads((site / "_gazette" / "state.json").read_text(encoding="utf-8"))["queue"]
    assert len(queue) == 1
    store = Store(f"sqlite:///{tmp_path / 'var' / 'publisher.db'}", migrate=False)
    try:
        releases, deliveries = _rows(store)
    finally:
        store.dispose()
    assert len(releases) == 1 and len(deliveries) == len(DEMO_CHANNELS)
    said = [line for line in second_log.read_text(encoding="utf-8").splitlines()
            if "--demo" in line]
    assert len(said) == 1 and re.search(r"本期（\d{4}年第\d+周）已发布", said[0]), said


def test_a_bad_file_dropped_into_the_inbox_is_reported_by_the_daemon(tmp_path: Path,
                                                                      sink: Sink) -> None:
    """With `publisher run` going, a GB18030 CSV with a bad cell copied into the inbox for a
    coming run is checked within a few scans: audited as from the inbox with the row, column
    and value, and alerted (a log line), with nothing published from it."""
    config = _project(tmp_path, sink.url)
    text = config.read_text(encoding="utf-8").replace('schedule: "*/3 * * * * *"',
                                                      'schedule: "0 10 * * wed"')
    text = text.replace('items: {path: "items.csv", schema: simple}',
                        'items: {path: "{date:%Y-%m-%d}.csv", schema: simple}')
    config.write_text(text + "intake: {inbox_scan_seconds: 0.5}\n", encoding="utf-8")
    db = tmp_path / "bot.db"
    env = {**os.environ, "PUBLISHER_DATABASE_URL": f"sqlite:///{db}", "SINK_TOKEN": "tok-e2e-1234"}
    log = tmp_path / "run.log"
    daemon = _start(config, env, log)
    store = Store(f"sqlite:///{db}")
    try:
        _wait(lambda: "run.started" in (log.read_text(encoding="utf-8") if log.exists() else ""),
              30, "the daemon")
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        ahead = (2 - today.weekday()) % 7
        due = today + timedelta(days=ahead)
        if ahead == 0 and datetime.now(ZoneInfo("Asia/Shanghai")).hour >= 10:
            due += timedelta(days=7)
        bad = tmp_path / "inbox" / f"{due:%Y-%m-%d}.csv"
        bad.write_bytes("项目,数量\n苹果,三个\n".encode("gb18030"))
        def reported() -> bool:
            with store.read() as session:
                return session.execute(select(AuditEvent).where(
                    AuditEvent.action == "data.arrived")).first() is not None

        _wait(reported, 30, "the inbox check")
        with store.read() as session:
            event = session.execute(select(AuditEvent).where(
                AuditEvent.action == "data.arrived")).scalar_one()
        assert event.actor == "inbox" and event.details["ready"] is False
        assert any("三个" in p and "数量" in p for p in event.details["problems"])
        assert '"alert": "data.invalid"' in log.read_text(encoding="utf-8")
        assert _rows(store) == ([], [])
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(20)
        store.dispose()
