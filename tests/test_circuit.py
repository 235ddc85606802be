"""The per-channel circuit: a channel that keeps failing is paused and reported, others go on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from structlog.testing import capture_logs

from channels.memory.adapter import MemoryStore
from publisher import release
from publisher.app import App
from publisher.circuit import Circuits
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.store.models import Delivery
from tests.support.project import SHANGHAI

T0 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


def test_opens_after_threshold_and_half_opens_after_cooldown() -> None:
    """The circuit opens at the threshold, lets one through after the cooldown, closes on success."""
    circuits = Circuits(threshold=3, cooldown=timedelta(seconds=60))
    assert not circuits.failed("w", T0) and not circuits.failed("w", T0)
    assert circuits.failed("w", T0)
    assert not circuits.allows("w", T0 + timedelta(seconds=59))
    assert circuits.allows("other", T0)
    assert circuits.allows("w", T0 + timedelta(seconds=60))
    assert circuits.failed("w", T0 + timedelta(seconds=60))  # half-open failure re-opens
    assert not circuits.allows("w", T0 + timedelta(seconds=61))
    assert circuits.succeeded("w") and circuits.allows("w", T0)


def test_half_open_lets_due_work_through_and_one_failure_reopens() -> None:
    """Half-open as documented: every due delivery may pass, a single failure re-opens for a
    full cooldown, and after a success it takes ``threshold`` failures to open again."""
    circuits = Circuits(threshold=3, cooldown=timedelta(seconds=60))
    for _ in range(3):
        circuits.failed("w", T0)
    half_open = T0 + timedelta(seconds=60)
    assert all(circuits.allows("w", half_open) for _ in range(5))  # not one probe: all due pass
    assert circuits.failed("w", half_open)  # one failure (not three) opens it again ...
    assert not circuits.allows("w", half_open + timedelta(seconds=59))  # ... for a full cooldown
    assert circuits.open_channels(half_open) == {"w": half_open + timedelta(seconds=60)}
    assert circuits.succeeded("w")  # the first success closes it and clears the count
    assert not circuits.failed("w", T0) and not circuits.failed("w", T0)
    assert circuits.failed("w", T0) and not circuits.allows("w", T0)


def test_dispatcher_stops_claiming_for_a_failing_channel(app: App, clock: ManualClock) -> None:
    """After repeated transient failures the dispatcher skips that channel and alerts once."""
    MemoryStore.script("mem-a", ["transient"] * 100)
    dispatcher = Dispatcher(app)
    dispatcher.circuits = Circuits(threshold=2, cooldown=timedelta(minutes=30))
    try:
        ids = []
        for day in range(3):
            due = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI) + timedelta(weeks=day)
            (app.loaded.root / "inbox" / "weekly" / f"2026-W{49 + day}.csv").write_text(
                "项目,数量\n苹果,3\n", encoding="utf-8")
            ids.append(release.create(app, "weekly", due, actor="t", origin="manual").release_id)
        with capture_logs() as logs:
            for future in dispatcher.run_once():
                future.result()
        with app.store.read() as session:
            rows = list(session.execute(select(Delivery)).scalars())
        failing = [r for r in rows if r.channel == "mem-a"]
        assert all(r.state == "retry_wait" for r in failing)
        assert all(r.state == "published" for r in rows if r.channel == "mem-b")
        assert [e for e in logs if e.get("alert") == "channel.circuit_open"]
        clock.advance(minutes=10)  # retry times have passed, the circuit has not cooled down
        assert dispatcher.due() == []
        clock.advance(minutes=21)
        assert len(dispatcher.due()) == len(failing)
    finally:
        dispatcher.shutdown()
