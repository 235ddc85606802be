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
from tests.support.project import SHANGHAI

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


def test_an_item_queued_before_a_crash_is_found_queued_not_published(
        app: App, project: Path, clock: ManualClock) -> None:
    """The process died after the item joined the gazette's queue, before recording it (or the
    answer was lost): reconciling finds it waiting for the next issue, so the delivery is
    queued, not published, until that issue is compiled."""
    from datetime import timedelta

    from sqlalchemy import update

    app = _gazette_app(app, project)
    outcome = release.create(app, "weekly", datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI),
                             actor="staff:li", origin="manual")
    dispatcher = Dispatcher(app)
    try:
        dispatcher.drain()
        with app.store.write() as session:  # as a process killed between enqueue and record
            session.execute(update(Delivery).values(
                state="sending", receipt=None, reason=None, claimed_by="gone-host:1:dead",
                claimed_at=clock.now() - timedelta(hours=1)))
        assert dispatcher.recover() == 1
        with app.store.read() as session:
            after_crash = session.execute(select(Delivery)).scalar_one()
        with app.store.write() as session:  # as a claim whose answer was lost
            session.execute(update(Delivery).values(
                state="retry_wait", receipt=None, unconfirmed_at=clock.now(),
                next_attempt_at=clock.now()))
        delivery_id = after_crash.id
        assert dispatcher.deliver(delivery_id) == "queued"
    finally:
        dispatcher.shutdown()
    assert outcome.state == "active"
    assert after_crash.state == "queued" and after_crash.published_at is None, after_crash.reason
    assert after_crash.receipt and after_crash.receipt["details"]["state"] == "queued"
    assert "confirmed after restart: queued for" in (after_crash.reason or "")
    Scheduler(app).compile_gazette("gazette-x")
    with app.store.read() as session:
        published = session.execute(select(Delivery)).scalar_one()
    assert published.state == "published" and "#item-1" in (published.receipt or {})["url"]
