"""Every time shown to the public or to staff is local (config ``timezone``): portal pages and
feeds, the gazette, channel texts, console pages and CLI output, scanned for UTC times."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from publisher import config as config_module
from publisher import gazette, release
from publisher.app import App
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.store import Store
from publisher.store.models import Delivery, Release
from publisher.urgent import (
    UrgentCancel,
    UrgentPost,
    UrgentUpdate,
    cancel_incident,
    open_incident,
    update_incident,
)
from publisher.web import token
from publisher.web.api import create_app
from publisher.web.server import serve
from tests.support.console import Console
from tests.support.project import copy_project

# 10:51 in Shanghai is 02:51 UTC: every time of this test falls between 00:00 and 03:59 UTC,
# and between 08:00 and 11:59 local, so a time shown in UTC reads 00:xx-03:xx
START = datetime(2026, 12, 2, 2, 51, tzinfo=UTC)
UTC_CLOCK = re.compile(r"(?<![\d:])0[0-3]:[0-5]\d(?!\d)")
UTC_MARK = re.compile(r"\+00:00|\d\d:\d\dZ\b|\bUTC\b|\bGMT\b")
TIME_ATTRIBUTE = re.compile(r'<time datetime="([^"]*)"')
LOCAL_STAMP = re.compile(r"^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?\+08:00)?$")
PUBLISHER = str(Path(sys.executable).parent / "publisher")


@dataclass
class Shown:
    """One rendered thing people read, and where it came from."""

    where: str
    text: str


def assert_local(shown: list[Shown]) -> None:
    """No UTC clock time, no UTC offset or name, and every <time datetime> is local."""
    problems = []
    for item in shown:
        for pattern in (UTC_CLOCK, UTC_MARK):
            for found in pattern.finditer(item.text):
                around = item.text[max(found.start() - 60, 0):found.end() + 20]
                problems.append(f"{item.where}: {found.group(0)!r} in …{around}…")
        for value in TIME_ATTRIBUTE.findall(item.text):
            if not LOCAL_STAMP.match(value):
                problems.append(f"{item.where}: <time datetime={value!r}>")
    assert not problems, "\n".join(problems[:40])


def _drain(app: App, release_id: int | None = None) -> None:
    dispatcher = Dispatcher(app)
    try:
        dispatcher.drain(release_id, until=app.clock.now() + timedelta(minutes=10))
    finally:
        dispatcher.shutdown()


def _site_files(site: Path, label: str) -> list[Shown]:
    return [Shown(f"{label}:{path.relative_to(site)}", path.read_text(encoding="utf-8"))
            for path in sorted(site.rglob("*"))
            if path.suffix in (".html", ".atom", ".xml") and not path.name.startswith("_")]


@pytest.fixture
def published(tmp_path: Path) -> Iterator[tuple[App, dict[str, str]]]:
    """The shipped project on its emulators with a manual clock at 10:51 local: the food-safety
    release from its samples on every channel with the gazette issue compiled, and an incident
    reported, updated and withdrawn. Yields the App and the portal pages read along the way."""
    config = copy_project(tmp_path / "project")
    store = Store(f"sqlite:///{tmp_path / 'publisher.db'}")
    app = App(loaded=config_module.load(config), store=store, clock=ManualClock(START),
              sandbox=True)
    try:
        definition = app.loaded.definition("food-safety-sampling")
        assert definition.source is not None
        samples = {name: app.loaded.resolve(str(table.sample))
                   for name, table in definition.source.tables.items()}
        made = release.create(app, "food-safety-sampling", app.clock.now(), actor="staff:wang",
                              origin="manual", data=samples)
        assert made.state == "active", made.problems
        _drain(app, made.release_id)
        gazette.compile_next(app, "gazette-main", actor="staff:wang")
        first = open_incident(app, UrgentPost(
            title="某路段发生交通事故", facts="今日10时40分许，某路段发生交通事故，现场已封控。",
            area="某区某路段", severity="较大", instruction="请绕行。"), actor="staff:zhao")
        _drain(app, first.release_id)
        app.clock.advance(minutes=7)  # type: ignore[attr-defined]
        update = update_incident(app, first.incident_key,
                                 UrgentUpdate(facts="截至11时，道路已恢复通行。"), actor="staff:qian")
        _drain(app, update.release_id)
        site = app.loaded.resolve("var/site")
        pages = {shown.where: shown.text for shown in _site_files(site, "before withdrawal")}
        app.clock.advance(minutes=5)  # type: ignore[attr-defined]
        cancel = cancel_incident(app, first.incident_key,
                                 UrgentCancel(reason="经核实，此前信息有误。"), actor="staff:sun")
        _drain(app, cancel.release_id)
        yield app, pages
    finally:
        app.close()


def test_portal_pages_feeds_gazette_and_channel_texts_show_local_times(
        published: tuple[App, dict[str, str]]) -> None:
    """The withdrawal notice says 已于 <local time> 撤回, the timeline entry of an update, the
    Atom and CAP feeds, the sitemap, the gazette issue and every channel's text (WeChat, Weibo,
    the gazette, the portal) carry local times only, with +08:00 where machines read them."""
    app, before = published
    site = app.loaded.resolve("var/site")
    shown = [Shown(where, text) for where, text in before.items()]
    shown += _site_files(site, "after withdrawal")
    withdrawn = [s for s in shown if s.where.startswith("after") and "已撤回" in s.text
                 and "撤回，原内容不再提供" in s.text]
    assert withdrawn, "the incident page became the withdrawal notice"
    assert re.search(r'已于 <time datetime="2026-12-02T11:0\d:\d\d\+08:00">2026-12-02 11:0\d'
                     r"</time> 撤回", withdrawn[0].text), withdrawn[0].text
    timeline = [s for s in shown if "截至11时，道路已恢复通行" in s.text and "更新" in s.text]
    assert timeline and re.search(r'<time datetime="2026-12-02T10:5\d:\d\d\+08:00">', timeline[0].text)
    feed = next(s for s in shown if s.where == "after withdrawal:feed.atom")
    assert "+08:00</updated>" in feed.text
    assert any("gazette" in s.where and "出版" in s.text for s in shown)
    with app.store.read() as session:  # what each channel publishes (WeChat's published_at
        # is no text: a machine field, with its offset, bounding the reconcile search)
        payloads = [(d.channel, d.id, json.dumps(
            {k: v for k, v in d.payload["data"].items() if k != "published_at"},
            ensure_ascii=False)) for d in session.execute(select(Delivery)).scalars()]
    assert {channel for channel, _id, _text in payloads} >= {
        "portal-main", "wechat-main", "weibo-main", "gazette-main"}
    shown += [Shown(f"payload {channel} #{number}", text) for channel, number, text in payloads]
    assert_local(shown)


def test_console_pages_show_local_times_in_time_elements(
        published: tuple[App, dict[str, str]], cheap_hashing: None) -> None:
    """Every console page kind (overview, delivery log and its CSV, each delivery, each
    release, the audit chain, incidents, an incident, the trigger form) shows times in the
    configured zone, each inside <time datetime="…+08:00">, and no UTC time."""
    app, _pages = published
    arrived = app.data_dir / "food-safety-sampling" / "2026-W49" / "unqualified.csv"
    arrived.parent.mkdir(parents=True)
    arrived.write_bytes(app.loaded.resolve("samples/food-safety-sampling/unqualified.csv")
                        .read_bytes())
    os.utime(arrived, (START.timestamp(), START.timestamp()))  # shown on /releases/new
    api = create_app(app)
    server = serve(api, "127.0.0.1", 0)
    try:
        admin = Console(app, server, api).signed_in("admin")
        with app.store.read() as session:
            deliveries = list(session.execute(select(Delivery.id)).scalars())
            releases = list(session.execute(select(Release.id)).scalars())
        incident_key = next(iter(_incident_keys(app)))
        paths = ["/", "/deliveries", "/deliveries.csv", "/audit", "/incidents",
                 f"/incidents/{incident_key}", "/releases/new",
                 *(f"/deliveries/{number}" for number in deliveries),
                 *(f"/releases/{number}" for number in releases)]
        shown = []
        for path in paths:
            answer = admin.get(path)
            assert answer.status_code == 200, (path, answer.status_code)
            answer.encoding = "utf-8"
            shown.append(Shown(path, answer.text))
            if path != "/deliveries.csv":
                assert re.search(r'<time datetime="2026-12-02T1\d:\d\d:\d\d\+08:00">', answer.text), \
                    path
    finally:
        server.stop()
    assert_local(shown)


def _incident_keys(app: App) -> list[str]:
    from publisher.store.models import Incident

    with app.store.read() as session:
        return list(session.execute(select(Incident.key)).scalars())


def test_cli_output_shows_local_times(published: tuple[App, dict[str, str]]) -> None:
    """`publisher log` (table, JSON, CSV), `log --delivery` (table and JSON, its audit details
    included), `publisher releases`, `incident show` (table and JSON), `gazette show`, `tokens
    list` and the refusal to revoke a token twice print local times only."""
    app, _pages = published
    env = {**os.environ, "PUBLISHER_DATABASE_URL": app.store.url, "PUBLISHER_ACTOR": "staff:wang"}
    env.pop("PUBLISHER_CONFIG", None)

    def run(*args: str) -> Shown:
        result = subprocess.run([PUBLISHER, *args, "--config", str(app.loaded.file)], env=env,
                                capture_output=True, text=True, check=False, timeout=120,
                                cwd=app.loaded.root)
        assert result.returncode == 0, (args, result.stderr)
        return Shown("publisher " + " ".join(args), result.stdout)

    with app.store.read() as session:
        retried = session.execute(select(Delivery.id).where(Delivery.channel == "weibo-main")
                                  .order_by(Delivery.id)).scalars().first()
    assert retried is not None
    incident_key = _incident_keys(app)[0]
    token.create(app, "duty-desk", "urgent", actor="staff:wang")  # at the test's clock
    token.revoke(app, "duty-desk", actor="staff:wang")
    with pytest.raises(token.TokenError) as twice:
        token.revoke(app, "duty-desk", actor="staff:wang")
    shown = [run("log"), run("log", "--format", "json"), run("log", "--format", "csv"),
             run("log", "--delivery", str(retried)),
             run("log", "--delivery", str(retried), "--format", "json"),
             run("releases"), run("releases", "--format", "json"),
             run("incident", "show", incident_key),
             run("incident", "show", incident_key, "--format", "json"),
             run("gazette", "show"), run("tokens", "list")]
    assert "+08:00" in shown[1].text and "+08:00" in shown[4].text
    shown.append(Shown("tokens revoke, twice", str(twice.value)))
    assert_local(shown)
