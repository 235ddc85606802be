"""/metrics and /healthz over real uvicorn: delivery gauges from the database, attempt timings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from publisher import config as config_module
from publisher import release
from publisher.app import App
from publisher.dispatch import STATES, Dispatcher
from publisher.store import Store
from publisher.store.models import Delivery
from publisher.urgent import UrgentPost, open_incident
from publisher.web.api import create_app
from publisher.web.server import WebServer, serve
from tests.support.project import SHANGHAI

TIMEOUT_SECONDS = 30
DUE = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def server(app: App) -> Iterator[WebServer]:
    """The bot's API for the test App on a free loopback port, stopped after the test."""
    running = serve(create_app(app), "127.0.0.1", 0)
    try:
        yield running
    finally:
        running.stop()


def scrape(server: WebServer) -> Samples:
    """Every sample of /metrics, keyed by name and sorted labels (no token sent)."""
    response = requests.get(server.url + "metrics", timeout=TIMEOUT_SECONDS)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples}


def _drain(app: App, release_id: int) -> None:
    dispatcher = Dispatcher(app)
    try:
        dispatcher.drain(release_id, until=app.clock.now() + timedelta(seconds=1))
    finally:
        dispatcher.shutdown()


def _gauge(samples: Samples) -> dict[tuple[str, str, str], float]:
    return {(labels["channel"], labels["state"], labels["drill"]): value
            for (name, pairs) in samples if name == "publisher_deliveries"
            for labels in [dict(pairs)] for value in [samples[(name, pairs)]]}


def test_delivery_gauge_matches_the_database(app: App, server: WebServer, project: Path
                                             ) -> None:
    """After one release is sent and a second waits, publisher_deliveries shows each channel and
    state as the database counts them, zeros for the other states, without a token."""
    from channels.memory.adapter import MemoryStore

    (project / "inbox" / "weekly" / "2026-W50.csv").write_text("项目,数量\n桃,1\n",
                                                               encoding="utf-8")
    MemoryStore.script("mem-b", ["permanent"])
    first = release.create(app, "weekly", DUE, actor="staff:li", origin="manual")
    _drain(app, first.release_id)
    release.create(app, "weekly", DUE + timedelta(days=7), actor="staff:li", origin="manual")
    with app.store.read() as session:
        counted = {(channel, state, "false"): float(n) for channel, state, n in session.execute(
            select(Delivery.channel, Delivery.state, func.count())
            .group_by(Delivery.channel, Delivery.state)).all()}
    assert counted == {("mem-a", "published", "false"): 1.0, ("mem-a", "pending", "false"): 1.0,
                       ("mem-b", "failed", "false"): 1.0, ("mem-b", "pending", "false"): 1.0}

    gauge = _gauge(scrape(server))
    assert {key: value for key, value in gauge.items() if value} == counted
    assert set(gauge) == {(channel, state, "false") for channel in ("mem-a", "mem-b")
                          for state in STATES}
    assert scrape(server)[("publisher_database_up", ())] == 1.0


def test_attempt_histogram_counts_each_attempt(app: App, server: WebServer) -> None:
    """A dispatch adds its attempts to publisher_attempt_duration_seconds by channel and outcome,
    each in a bucket no larger than +Inf."""
    from channels.memory.adapter import MemoryStore

    def count(samples: Samples, channel: str, outcome: str) -> float:
        return samples.get(("publisher_attempt_duration_seconds_count",
                            (("channel", channel), ("outcome", outcome))), 0.0)

    before = scrape(server)
    MemoryStore.script("mem-a", ["transient", "ok"])
    outcome = release.create(app, "weekly", DUE, actor="staff:li", origin="manual")
    _drain(app, outcome.release_id)
    after = scrape(server)
    assert count(after, "mem-a", "transient") - count(before, "mem-a", "transient") == 1
    assert count(after, "mem-a", "published") - count(before, "mem-a", "published") == 1
    assert count(after, "mem-b", "published") - count(before, "mem-b", "published") == 1
    infinite = ("publisher_attempt_duration_seconds_bucket",
                (("channel", "mem-b"), ("le", "+Inf"), ("outcome", "published")))
    assert after[infinite] == count(after, "mem-b", "published")


def test_urgent_fan_out_is_timed(urgent_app: App) -> None:
    """An urgent post landing on each channel adds one observation per channel to
    publisher_urgent_publish_seconds (time from the post being recorded to its landing)."""
    app = urgent_app
    running = serve(create_app(app), "127.0.0.1", 0)
    try:
        key = ("publisher_urgent_publish_seconds_count", (("channel", "mem-a"), ("drill", "false")))
        before = scrape(running).get(key, 0.0)
        post = UrgentPost(title="某高架桥发生垮塌", facts="今日9时40分，桥面垮塌。", area="某区",
                          severity="较大")
        outcome = open_incident(app, post, actor="staff:zhao")
        _drain(app, outcome.release_id)
        assert scrape(running)[key] == before + 1
    finally:
        running.stop()


def test_health_and_metrics_when_the_database_is_down(project: Path) -> None:
    """With the database unreachable, /healthz answers 503 naming it, and /metrics still
    answers, with publisher_database_up 0 and no delivery gauge."""
    down = Store("postgresql+psycopg://publisher@127.0.0.1:1/nowhere", migrate=False)
    app = App(loaded=config_module.load(project / "schedules.yaml"), store=down)
    running = serve(create_app(app), "127.0.0.1", 0)
    try:
        health = requests.get(running.url + "healthz", timeout=TIMEOUT_SECONDS)
        assert health.status_code == 503
        assert health.json() == {"status": "unavailable", "database": "unreachable"}
        samples = scrape(running)
        assert samples[("publisher_database_up", ())] == 0.0
        assert not _gauge(samples)
    finally:
        running.stop()
        down.dispose()


def test_healthz_pings_the_database(app: App, server: WebServer) -> None:
    """/healthz answers 200 with the database ok, without a token."""
    response = requests.get(server.url + "healthz", timeout=TIMEOUT_SECONDS)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
