"""Alerts to staff through Apprise: a real loopback receiver, de-duplication, dead ends, secrets."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from sqlalchemy import select

from channels.loopback import Loopback
from publisher import credential, release
from publisher.alert import DRILL_MARK, LITERAL_PROBLEM, UNPARSEABLE_PROBLEM, Alerts, alert
from publisher.clock import ManualClock
from publisher.scheduler import Scheduler
from publisher.store import Store
from publisher.store.models import Release
from tests.support.alerts import AlertServer, Inbox, alerts_yaml, make_app, receiver
from tests.support.logs import Events, named, rendered
from tests.support.net import free_port
from tests.support.project import PROJECT_YAML, SHANGHAI

__all__ = ["receiver"]  # a fixture, used by name

PUBLISHER = str(Path(sys.executable).parent / "publisher")
PASSWORD = "s3cret-Kq7!vX2/pw"  # "!" and "/" defeat shape rules: only the registered value masks it
BAD_TOKEN = "not-valid!tok3n-Zr9"  # DingTalk tokens are [a-z0-9]+: Apprise refuses (and echoes) it


# --------------------------------------------------------------------------- the receiver


@pytest.fixture
def memory_store() -> Iterator[Store]:
    """A throwaway store for tests that never touch the database."""
    s = Store("sqlite://")
    yield s
    s.dispose()


# --------------------------------------------------------------------------- behaviour


def test_held_release_alert_reaches_the_apprise_url_in_zh_and_en(
        project: Path, store: Store, clock: ManualClock,
        receiver: tuple[Loopback[AlertServer], Inbox]) -> None:
    """A release held for missing data sends one alert to the configured json:// URL, its title in
    Chinese then English and its body listing the problems."""
    server, inbox = receiver
    app = make_app(project, store, clock, [f"json://127.0.0.1:{server.port}/hooks/alerts"])
    try:
        outcome = release.create(app, "weekly", datetime(2026, 12, 9, 10, 0, tzinfo=SHANGHAI),
                                 actor="staff:test", origin="manual")  # week 50 has no data file
        assert outcome.state == "held"
        assert app.alerts.flush(10)
    finally:
        app.close()
    posts = inbox.wait_for(1)
    assert len(posts) == 1
    assert posts[0]["path"] == "/hooks/alerts"
    title, body = posts[0]["body"]["title"], posts[0]["body"]["message"]
    assert title.startswith(f"发布已暂停：{outcome.key}")
    assert f"release held: {outcome.key}" in title
    assert title.index("发布已暂停") < title.index("release held")
    assert "问题 problems:" in body
    assert f"发布编号 release_id: {outcome.release_id}" in body
    assert "类别 kind: release.held" in body


def test_the_same_alert_within_the_interval_is_sent_once(
        project: Path, memory_store: Store, clock: ManualClock,
        receiver: tuple[Loopback[AlertServer], Inbox], log_events: Events) -> None:
    """A repeat of one (kind, subject) inside min_interval_seconds is logged but not sent; another
    subject is sent; after the interval (by the app's clock) the repeat goes out again."""
    server, inbox = receiver
    app = make_app(project, memory_store, clock, [f"json://127.0.0.1:{server.port}/"],
                   interval=600)
    try:
        for _ in range(3):
            alert(app, "delivery.failed", "投递失败：mem-a", "delivery failed: mem-a",
                  delivery_id=7)
        alert(app, "delivery.failed", "投递失败：mem-b", "delivery failed: mem-b", delivery_id=8)
        assert app.alerts.flush(10)
        assert len(inbox.wait_for(2)) == 2
        clock.advance(seconds=599)
        alert(app, "delivery.failed", "投递失败：mem-a", "delivery failed: mem-a", delivery_id=7)
        clock.advance(seconds=2)
        alert(app, "delivery.failed", "投递失败：mem-a", "delivery failed: mem-a", delivery_id=7)
        assert app.alerts.flush(10)
    finally:
        app.close()
    titles = [post["body"]["title"] for post in inbox.wait_for(3)]
    assert titles.count("投递失败：mem-a / delivery failed: mem-a") == 2
    assert titles.count("投递失败：mem-b / delivery failed: mem-b") == 1
    assert len(named(log_events, "alert")) == 6  # every alert is in the log, sent or not
    assert len(named(log_events, "alert.repeated")) == 3
    assert len(named(log_events, "alert.sent")) == 3


def test_alerts_from_a_sandbox_run_are_marked_as_a_drill(
        project: Path, memory_store: Store, clock: ManualClock,
        receiver: tuple[Loopback[AlertServer], Inbox]) -> None:
    """An App whose channels are on their emulators (--sandbox) titles its alerts 【演练 drill】."""
    server, inbox = receiver
    app = make_app(project, memory_store, clock, [f"json://127.0.0.1:{server.port}/"])
    app.sandbox = True
    try:
        alert(app, "release.held", "发布已暂停：x", "release held: x", release_id=1)
        assert app.alerts.flush(10)
    finally:
        app.close()
    assert [post["body"]["title"] for post in inbox.wait_for(1)] == [
        f"{DRILL_MARK}发布已暂停：x / release held: x"]


def test_a_dead_endpoint_neither_raises_nor_blocks_the_caller(
        project: Path, memory_store: Store, clock: ManualClock,
        receiver: tuple[Loopback[AlertServer], Inbox], log_events: Events) -> None:
    """With one URL refusing connections and one holding every request, alert() returns at once
    and raises nothing; the refused send is logged as alert.failed by index; a full queue drops
    with a log line; close() gives up within its bounded wait."""
    server, inbox = receiver
    inbox.hang = True
    app = make_app(project, memory_store, clock,
                   [f"json://127.0.0.1:{free_port()}/", f"json://127.0.0.1:{server.port}/"])
    app._alerts = Alerts(app, queue_size=1)
    alert(app, "release.held", "发布已暂停：a", "release held: a", release_id=1)
    assert inbox.holding.wait(10)  # the sender is stuck on the hanging URL ...
    assert not inbox.posts  # ... and the caller got on with its work meanwhile
    alert(app, "release.held", "发布已暂停：b", "release held: b", release_id=2)  # queued
    alert(app, "release.held", "发布已暂停：c", "release held: c", release_id=3)  # queue full
    assert [line["alert"] for line in named(log_events, "alert.dropped")] == ["release.held"]
    failed = named(log_events, "alert.failed")
    assert [(line["url_index"], line["service"]) for line in failed] == [(0, "JSON")]
    assert app.alerts.close(wait_seconds=0.2) is False  # bounded: the receiver still holds
    assert named(log_events, "alert.unsent")
    inbox.release.set()
    alert(app, "release.held", "发布已暂停：d", "release held: d", release_id=4)  # after close
    assert named(log_events, "alert.dropped")[-1]["reason"] == "sender closed"
    assert app.alerts.flush(10)  # what was queued still went out once the receiver let go
    assert [post["body"]["title"] for post in inbox.wait_for(2)] == [
        "发布已暂停：a / release held: a", "发布已暂停：b / release held: b"]
    app.close()


def test_url_secrets_never_reach_the_logs(
        project: Path, memory_store: Store, clock: ManualClock,
        receiver: tuple[Loopback[AlertServer], Inbox], log_stream: io.StringIO) -> None:
    """A password from ${ENV} in a json:// URL reaches the receiver as Basic auth but no log
    line; a refused send, a failed send (HTTP 500) and an unparseable URL are logged by index
    only; a secret-looking detail is masked in the message too."""
    server, inbox = receiver
    inbox.statuses = [500]
    environ = {"ALERT_PASSWORD": PASSWORD, "DING_TOKEN": BAD_TOKEN}
    app = make_app(project, memory_store, clock, [
        f"json://alerter:${{ALERT_PASSWORD}}@127.0.0.1:{server.port}/hook",
        f"json://alerter:${{ALERT_PASSWORD}}@127.0.0.1:{free_port()}/hook",
        "dingtalk://${DING_TOKEN}/",
        "json://127.0.0.1:9/${UNSET_ALERT_VARIABLE}",
    ], environ=environ, interval=0)
    try:
        alert(app, "delivery.failed", "投递失败：mem-a", "delivery failed: mem-a", delivery_id=1,
              error=f"upstream said access_token={PASSWORD}")
        alert(app, "delivery.failed", "投递失败：mem-a", "delivery failed: mem-a", delivery_id=1)
        assert app.alerts.flush(10)
    finally:
        app.close()
    posts = inbox.wait_for(2)
    expected = "Basic " + base64.b64encode(f"alerter:{PASSWORD}".encode()).decode()
    assert [post["authorization"] for post in posts] == [expected, expected]
    assert "access_token=***" in posts[0]["body"]["message"]
    text = log_stream.getvalue()
    for secret in (PASSWORD, BAD_TOKEN):
        for fragment in {secret[i:i + 6] for i in range(len(secret) - 5)}:
            assert fragment not in text, fragment
    unusable = {line["url_index"]: line["reason"] for line in rendered(log_stream, "alert.url_unusable")}
    assert sorted(unusable) == [2, 3]
    assert unusable[2] == UNPARSEABLE_PROBLEM
    assert "UNSET_ALERT_VARIABLE" in unusable[3]
    failed = sorted(line["url_index"] for line in rendered(log_stream, "alert.failed"))
    assert failed == [0, 1, 1]  # the 500 once, the refused port twice
    assert [line["url_index"] for line in rendered(log_stream, "alert.sent")] == [0]


def test_a_run_missed_while_up_is_recorded_and_alerted(
        project: Path, store: Store, clock: ManualClock,
        receiver: tuple[Loopback[AlertServer], Inbox]) -> None:
    """When APScheduler reports a run missed past its grace (the process stalled), the release is
    recorded as missed and staff are alerted."""
    server, inbox = receiver
    app = make_app(project, store, clock, [f"json://127.0.0.1:{server.port}/"])
    due = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)
    clock.set(due + timedelta(hours=3))
    try:
        Scheduler(app)._job_missed(JobExecutionEvent(EVENT_JOB_MISSED, "weekly", None, due))
        Scheduler(app)._job_missed(JobExecutionEvent(EVENT_JOB_MISSED, "credentials", None, due))
        assert app.alerts.flush(10)
        with app.store.read() as session:
            rows = session.execute(select(Release.key, Release.state)).all()
    finally:
        app.close()
    key = release.occurrence_key("weekly", due, app)
    assert [tuple(row) for row in rows] == [(key, "missed")]
    posts = inbox.wait_for(1)
    assert [post["body"]["title"] for post in posts] == [f"错过发布：{key} / missed release: {key}"]


WEIBO_YAML = PROJECT_YAML.replace("schemas:\n", """\
  weibo-soon:
    kind: weibo
    settings: {link_base_url: "https://www.example.gov.cn/", rip: 203.0.113.5}
  weibo-later:
    kind: weibo
    settings: {link_base_url: "https://www.example.gov.cn/", rip: 203.0.113.5,
               expiry_warning_days: 3}
  weibo-none:
    kind: weibo
    settings: {link_base_url: "https://www.example.gov.cn/", rip: 203.0.113.5}
schemas:
""", 1)


def test_a_weibo_authorisation_near_expiry_is_alerted(
        project: Path, store: Store, clock: ManualClock,
        receiver: tuple[Loopback[AlertServer], Inbox]) -> None:
    """An authorisation stored by `publisher weibo authorize` that ends inside the account's
    expiry_warning_days is alerted with the command to renew it; one further off, or none, is not."""
    from channels.weibo.oauth import Grant
    from channels.weibo.oauth import store as store_grant
    from publisher.tokens import DatabaseTokenCache

    server, inbox = receiver
    app = make_app(project, store, clock, [f"json://127.0.0.1:{server.port}/"], base=WEIBO_YAML)
    now = clock.now()
    for name, left in (("weibo-soon", timedelta(days=5, hours=1)),
                       ("weibo-later", timedelta(days=5, hours=1))):
        cache = DatabaseTokenCache(store, clock, name, f"key-of-{name}".encode())
        store_grant(cache, name, Grant(f"token-of-{name}", now + left, "uid"))
    try:
        found = credential.alert_expiring(app)
        assert app.alerts.flush(10)
    finally:
        app.close()
    assert [(e.channel, e.left.days) for e in found] == [("weibo-soon", 5)]
    posts = inbox.wait_for(1)
    assert len(posts) == 1
    title = posts[0]["body"]["title"]
    assert "微博账号 weibo-soon 的授权将于 5 天后" in title
    assert "expires in 5 days" in title
    assert "publisher weibo authorize weibo-soon" in title


CHECK_YAML = PROJECT_YAML.replace(
    "          schema: simple\n",
    "          schema: simple\n          sample: inbox/weekly/2026-W49.csv\n")


def test_check_names_a_bad_alert_url_by_path_never_printing_it(project: Path, tmp_path: Path) -> None:
    """`publisher check` reports an alert URL Apprise cannot parse, and one with a literal password,
    by file, line and YAML path, without printing either URL or its secret; good URLs pass."""
    literal = "Lit3ral-pass-Q9"
    config = project / "schedules.yaml"
    config.write_text(CHECK_YAML + alerts_yaml([
        "wecombot://${BOT_KEY}",
        "dingtalk://${DING_TOKEN}/",
        f"mailto://ops:{literal}@mail.example.gov.cn",
        "nosuchservice://abc/def",
        "json://127.0.0.1:9/${NOT_SET_HERE}",
    ]), encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "PUBLISHER_DATABASE_URL": f"sqlite:///{tmp_path / 'db'}",
           "BOT_KEY": "0f3b6c2e-key-ab12", "DING_TOKEN": BAD_TOKEN}
    result = subprocess.run([PUBLISHER, "check", "--config", str(config)], env=env,
                            capture_output=True, text=True, check=False, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    text = config.read_text(encoding="utf-8").splitlines()
    for index, needle, message in ((1, "dingtalk://", UNPARSEABLE_PROBLEM),
                                   (2, "mailto://", LITERAL_PROBLEM),
                                   (3, "nosuchservice://", UNPARSEABLE_PROBLEM)):
        line = next(n for n, content in enumerate(text, 1) if needle in content)
        assert f"{config}:{line}: alerts.urls.{index}: {message}" in output, output
    assert "alerts.urls.0" not in output and "alerts.urls.4" not in output
    for secret in (BAD_TOKEN, literal, "0f3b6c2e-key-ab12", "nosuchservice", "mail.example"):
        assert secret not in output
