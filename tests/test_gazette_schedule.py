"""The gazette compiles on its publication days inside `publisher run`'s scheduler."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from publisher import config as config_module
from publisher import release
from publisher.app import App
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.scheduler import Scheduler
from publisher.store.models import AuditEvent, Delivery

from .conftest import SHANGHAI

GAZETTE = """  gazette-x:
    kind: gazette
    settings:
      gazette_name: 测试市人民政府公报
      site_name: 测试门户
      site_dir: site
      base_url: http://127.0.0.1:1/
      publication_days: [5, 20]
      compile_at: "09:30"
"""


def _gazette_app(app: App, project: Path) -> App:
    (project / "templates" / "weekly" / "gazette.html.j2").write_text(
        "<p>{% for r in tables['items'] %}{{ r.item }}{% endfor %}</p>", encoding="utf-8")
    config = project / "schedules.yaml"
    text = config.read_text(encoding="utf-8").replace("channels:\n  mem-a:", "channels:\n"
                                                      + GAZETTE + "  mem-a:")
    config.write_text(text.replace("[mem-a, mem-b]", "[gazette-x]"), encoding="utf-8")
    app.loaded = config_module.load(config)
    return app


def test_scheduled_compile_publishes_the_queued_items(app: App, project: Path,
                                                      clock: ManualClock) -> None:
    """The scheduler has a job on each publication day at compile_at; running it publishes the
    queued item and settles its delivery, and with nothing queued it does nothing."""
    app = _gazette_app(app, project)
    outcome = release.create(app, "weekly", datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI),
                             actor="staff:li", origin="manual")
    assert outcome.state == "active", outcome.problems
    dispatcher = Dispatcher(app)
    try:
        dispatcher.drain()
    finally:
        dispatcher.shutdown()
    with app.store.read() as session:
        assert session.execute(select(Delivery.state)).scalar_one() == "queued"

    scheduler = Scheduler(app)
    scheduler.start()
    try:
        job = scheduler._aps.get_job("gazette:gazette-x")  # type: ignore[union-attr]
        assert job is not None
        assert job.trigger.get_next_fire_time(None, datetime(2026, 12, 2, tzinfo=SHANGHAI)) == \
            datetime(2026, 12, 5, 9, 30, tzinfo=SHANGHAI)
    finally:
        scheduler.stop()
    scheduler.compile_gazette("gazette-x")
    with app.store.read() as session:
        delivery = session.execute(select(Delivery)).scalar_one()
        compiled = session.execute(select(AuditEvent).where(
            AuditEvent.action == "gazette.compiled")).scalars().all()
    assert delivery.state == "published" and delivery.receipt
    assert "#item-1" in delivery.receipt["url"]
    assert [e.actor for e in compiled] == ["scheduler"]
    scheduler.compile_gazette("gazette-x")  # nothing queued: quietly nothing
    with app.store.read() as session:
        assert len(session.execute(select(AuditEvent).where(
            AuditEvent.action == "gazette.compiled")).all()) == 1
