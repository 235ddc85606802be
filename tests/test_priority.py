"""The priority lane: an urgent delivery does not wait behind queued routine work."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from channels.webhook.sandbox import Sink, serve
from publisher import config as config_module
from publisher import release
from publisher.app import App
from publisher.clock import SystemClock
from publisher.dispatch import Dispatcher
from publisher.store import Store
from publisher.store.models import Delivery
from tests.support.project import SHANGHAI, TEMPLATE

ROUTINE = 12

CONFIG = """\
data_dir: inbox
defaults: {{workers: 2, urgent_workers: 1}}
columns: {{news: 新闻}}
channels:
  hook: {{kind: webhook, settings: {{url: "{url}"}}}}
schemas:
  simple: {{columns: [{{id: item, header: 项目}}, {{id: amount, header: 数量, type: int}}]}}
releases:
  daily:
    title: "{{{{ period.label }}}}"
    issuing_organ: 测试局
    organ_code: "MB0000001"
    subject_category: 综合政务
    column: news
    schedule: manual
    source: {{period: day, tables: {{items: {{path: "items.csv", schema: simple}}}}}}
    channels: [hook]
"""


@pytest.fixture
def sink() -> Iterator[Sink]:
    running = serve()
    yield running
    running.stop()


def test_urgent_delivery_overtakes_queued_routine_work(tmp_path: Path, sink: Sink) -> None:
    """With the routine workers busy on a slow channel and more routine work queued, an urgent
    delivery reaches the channel before the queued routine deliveries."""
    (tmp_path / "templates" / "daily").mkdir(parents=True)
    (tmp_path / "templates" / "daily" / "webhook.txt.j2").write_text(TEMPLATE, encoding="utf-8")
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "items.csv").write_text("项目,数量\n苹果,3\n", encoding="utf-8")
    (tmp_path / "schedules.yaml").write_text(CONFIG.format(url=sink.url), encoding="utf-8")
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    app = App(loaded=config_module.load(tmp_path / "schedules.yaml"), store=store,
              clock=SystemClock())
    start = datetime(2026, 12, 2, 8, 0, tzinfo=SHANGHAI)
    ids = [release.create(app, "daily", start + timedelta(days=i), actor="t", origin="manual")
           .release_id for i in range(ROUTINE + 1)]
    urgent_release = ids.pop()
    with store.write() as session:  # parked until the urgent post "arrives" below
        session.execute(update(Delivery).where(Delivery.release_id == urgent_release)
                        .values(next_attempt_at=start + timedelta(days=365)))
    sink.state.delay_seconds = 0.15  # every remote call is slow
    dispatcher = Dispatcher(app)
    try:
        routine = dispatcher.run_once()
        assert len(routine) == ROUTINE
        with store.write() as session:  # the urgent post arrives while routine work is queued
            session.execute(update(Delivery).where(Delivery.release_id == urgent_release)
                            .values(urgent=True, next_attempt_at=app.clock.now()))
        done = threading.Event()
        urgent = dispatcher.run_once()
        assert len(urgent) == 1
        urgent[0].add_done_callback(lambda _f: done.set())
        assert done.wait(30)
        for future in routine:
            future.result(timeout=60)
        dispatcher.drain()  # routine claims refused while the urgent one was outstanding
    finally:
        dispatcher.shutdown()
        app.close()
    with store.read() as session:
        key = session.execute(select(Delivery.idempotency_key).where(
            Delivery.release_id == urgent_release)).scalar_one()
    order = [post["key"] for post in sink.state.posts]
    position = order.index(key)
    assert position <= 3, order  # only routine sends already in flight (two workers) came first
    assert len(order) == ROUTINE + 1
