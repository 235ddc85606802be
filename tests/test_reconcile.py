"""A lost answer is an unknown outcome: reconciled with the channel before any resend, never blind."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from channels.memory.adapter import MemoryStore
from publisher import config as config_module
from publisher import release
from publisher.app import App
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.store.models import AuditEvent, Delivery, Release
from tests.support import rows
from tests.support.project import SHANGHAI

DUE = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)


def _settle(app: App, project: Path, seconds: float) -> None:
    """Give mem-a a settle time (the setting every channel kind takes)."""
    config = project / "schedules.yaml"
    text = config.read_text(encoding="utf-8").replace(
        "  mem-a:\n    kind: memory\n    settings: {}",
        f"  mem-a:\n    kind: memory\n    settings: {{settle_seconds: {seconds}}}")
    config.write_text(text, encoding="utf-8")
    app.loaded = config_module.load(config)


def _delivery(app: App) -> Delivery:
    outcome = release.create(app, "weekly", DUE, actor="staff:li", origin="manual")
    with app.store.read() as session:
        return session.execute(select(Delivery).where(
            Delivery.release_id == outcome.release_id, Delivery.channel == "mem-a")).scalar_one()


def _events(app: App, delivery_id: int) -> list[AuditEvent]:
    with app.store.read() as session:
        return list(session.execute(select(AuditEvent).where(
            AuditEvent.subject == f"delivery:{delivery_id}").order_by(AuditEvent.seq)).scalars())


def test_lost_answer_waits_in_retry_wait_and_the_claim_after_settle_sends_once(
        app: App, project: Path, clock: ManualClock) -> None:
    """A request that left without an answer ends its claim in retry_wait (no in-claim resend,
    no worker asleep); the next claims ask the channel, wait out the settle time, and only then
    send again: one publication in all."""
    _settle(app, project, 60)
    MemoryStore.script("mem-a", ["timeout"])  # the request left; it did not land
    delivery = _delivery(app)
    dispatcher = Dispatcher(app)
    try:
        assert dispatcher.deliver(delivery.id) == "retry_wait"
        row = rows.delivery(app, delivery.id)
        assert row.unconfirmed_at == clock.now() and row.last_error is not None
        assert row.next_attempt_at == clock.now() + timedelta(seconds=5)  # the first look
        assert clock.sleeps == [] and rows.outcomes(app, delivery.id) == ["unknown"]
        clock.advance(seconds=5)
        assert dispatcher.deliver(delivery.id) == "retry_wait"  # not there, not yet settled
        assert rows.delivery(app, delivery.id).next_attempt_at == row.unconfirmed_at + timedelta(
            seconds=60)
        assert MemoryStore.published("mem-a") == [] and len(rows.outcomes(app, delivery.id)) == 1
        clock.advance(seconds=55)
        assert dispatcher.deliver(delivery.id) == "published"
    finally:
        dispatcher.shutdown()
    assert len(MemoryStore.published("mem-a")) == 1
    assert rows.outcomes(app, delivery.id) == ["unknown", "published"]
    reasons = [e.details.get("reason", "") for e in _events(app, delivery.id)]
    assert any("asked before any resend" in r for r in reasons)
    assert any("not found on the channel yet" in r for r in reasons)


def test_lost_answer_that_landed_is_published_without_a_resend(app: App) -> None:
    """The channel finds the delivery at the first look: published from what it found."""
    MemoryStore.script("mem-a", ["outcome_unknown"])
    delivery = _delivery(app)
    dispatcher = Dispatcher(app)
    try:
        assert dispatcher.deliver(delivery.id) == "retry_wait"
        assert dispatcher.deliver(delivery.id) == "published"
    finally:
        dispatcher.shutdown()
    row = rows.delivery(app, delivery.id)
    assert row.unconfirmed_at is None and row.receipt and row.receipt["remote_id"] == "mem-a-1"
    assert len(MemoryStore.published("mem-a")) == 1 and rows.outcomes(app, delivery.id) == ["unknown"]


def test_lost_answer_the_channel_cannot_look_up_goes_to_a_person(app: App) -> None:
    """Where find is NotSupported the delivery becomes unknown, as after a crash: never resent."""
    MemoryStore.script("mem-a", ["lost"])
    delivery = _delivery(app)
    dispatcher = Dispatcher(app)
    try:
        dispatcher.drain(until=app.clock.now() + timedelta(seconds=1))
    finally:
        dispatcher.shutdown()
    row = rows.delivery(app, delivery.id)
    assert row.state == "unknown" and row.reason and "a person must check" in row.reason
    assert MemoryStore.published("mem-a") == [] and rows.outcomes(app, delivery.id) == ["unknown"]


def test_lost_answer_past_the_deadline_is_unknown_not_failed(
        app: App, project: Path, clock: ManualClock) -> None:
    """A delivery whose earlier request may have landed is never called failed at the deadline:
    a person must check it (unknown)."""
    _settle(app, project, 60)
    MemoryStore.script("mem-a", ["timeout"])
    delivery = _delivery(app)
    dispatcher = Dispatcher(app)
    try:
        assert dispatcher.deliver(delivery.id) == "retry_wait"
        with app.store.read() as session:
            deadline = session.get(Release, delivery.release_id).deadline_at  # type: ignore[union-attr]
        clock.set(deadline + timedelta(seconds=1))
        assert dispatcher.deliver(delivery.id) is None
    finally:
        dispatcher.shutdown()
    row = rows.delivery(app, delivery.id)
    assert row.state == "unknown" and row.reason and "deadline" in row.reason


def test_a_resend_after_a_lost_answer_is_looked_at_once_more(
        app: App, project: Path, clock: ManualClock) -> None:
    """Published by a resend, the delivery keeps its mark until recheck looks again after the
    settle time (a copy that landed late would be removed there); then the mark is cleared."""
    _settle(app, project, 30)
    MemoryStore.script("mem-a", ["timeout"])
    delivery = _delivery(app)
    dispatcher = Dispatcher(app)
    try:
        dispatcher.deliver(delivery.id)
        clock.advance(seconds=30)
        assert dispatcher.deliver(delivery.id) == "published"
        assert rows.delivery(app, delivery.id).unconfirmed_at == clock.now()
        assert dispatcher.recheck() == 0  # not settled since the resend
        clock.advance(seconds=30)
        assert dispatcher.recheck() == 1
    finally:
        dispatcher.shutdown()
    assert rows.delivery(app, delivery.id).unconfirmed_at is None
    assert len(MemoryStore.published("mem-a")) == 1


def test_crash_mid_send_waits_the_settle_time_before_resending(
        app: App, project: Path, clock: ManualClock) -> None:
    """An orphan sending row not found remotely is sent again only after the channel's settle
    time: a request the dead process had in flight may still land."""
    _settle(app, project, 60)
    delivery = _delivery(app)
    with app.store.write() as session:  # as a process killed mid-send
        session.execute(update(Delivery).where(Delivery.id == delivery.id).values(
            state="sending", claimed_by="gone-host:1:dead",
            claimed_at=clock.now() - timedelta(hours=1)))
    dispatcher = Dispatcher(app)
    try:
        assert dispatcher.recover() == 1
        row = rows.delivery(app, delivery.id)
        assert row.state == "retry_wait" and row.unconfirmed_at == clock.now()
        clock.advance(seconds=5)
        assert dispatcher.deliver(delivery.id) == "retry_wait"
        assert MemoryStore.published("mem-a") == []
        clock.advance(seconds=55)
        assert dispatcher.deliver(delivery.id) == "published"
    finally:
        dispatcher.shutdown()
    assert len(MemoryStore.published("mem-a")) == 1
