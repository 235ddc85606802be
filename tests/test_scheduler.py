"""The scheduler: one active per database, and catch-up of runs missed while down."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from publisher.app import App
from publisher.clock import ManualClock
from publisher.errors import SchedulerBusy
from publisher.scheduler import Scheduler, acquire_lease, fire_times
from publisher.store.models import BotState, Lease, Release

from .conftest import SHANGHAI


def _releases(app: App) -> dict[str, str]:
    with app.store.read() as session:
        return {r.key: r.state for r in session.execute(select(Release)).scalars()}


def _first_started(app: App, when: datetime) -> None:
    with app.store.write() as session:
        session.add(BotState(name="scheduler_first_started", value=when.isoformat()))


def test_second_scheduler_refuses(app: App) -> None:
    """While one scheduler holds the lease, another on the same database refuses to start."""
    acquire_lease(app, "host-a:100:aaaa")
    with pytest.raises(SchedulerBusy, match="host-a:100"):
        acquire_lease(app, "host-b:200:bbbb")


def test_expired_lease_is_taken_over(app: App, clock: ManualClock) -> None:
    """A lease nobody renewed is taken over once it expires."""
    acquire_lease(app, "host-a:100:aaaa")
    clock.advance(seconds=61)
    acquire_lease(app, "host-b:200:bbbb")
    with app.store.read() as session:
        assert session.get(Lease, "scheduler").holder == "host-b:200:bbbb"  # type: ignore[union-attr]


def test_dead_local_holder_is_taken_over_at_once(app: App) -> None:
    """A lease held by a process on this host that no longer runs is taken over immediately."""
    import socket

    acquire_lease(app, f"{socket.gethostname()}:999999:dead")
    acquire_lease(app, "host-b:200:bbbb")


def test_missed_run_inside_grace_runs_once(app: App, clock: ManualClock) -> None:
    """A run that fell due while down runs once at start when still inside its grace."""
    _first_started(app, datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI))
    clock.set(datetime(2026, 12, 2, 10, 30, tzinfo=SHANGHAI))  # due 10:00, grace 60 min
    scheduler = Scheduler(app)
    actions = scheduler.catch_up(datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI))
    assert actions == ["ran weekly 2026-12-02T10:00:00+08:00"]
    assert _releases(app) == {"weekly@2026-12-02T10:00+08:00": "active"}
    assert scheduler.catch_up(datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)) == []


def test_runs_past_grace_are_recorded_missed(app: App, clock: ManualClock) -> None:
    """Runs missed beyond their grace are recorded as missed, never run, and alerted once."""
    start = datetime(2026, 11, 20, 9, 0, tzinfo=SHANGHAI)
    _first_started(app, start)
    clock.set(datetime(2026, 12, 2, 13, 0, tzinfo=SHANGHAI))
    scheduler = Scheduler(app)
    actions = scheduler.catch_up(start)
    assert actions == ["missed weekly 2026-11-25T10:00:00+08:00",
                       "missed weekly 2026-12-02T10:00:00+08:00"]
    assert _releases(app) == {"weekly@2026-11-25T10:00+08:00": "missed",
                              "weekly@2026-12-02T10:00+08:00": "missed"}
    assert scheduler.catch_up(start) == []


def test_catch_up_never_looks_before_the_first_start(app: App, clock: ManualClock) -> None:
    """On a new database nothing before the first start is reported missed."""
    clock.set(datetime(2026, 12, 2, 13, 0, tzinfo=SHANGHAI))
    scheduler = Scheduler(app)
    first = scheduler._first_started()
    assert scheduler.catch_up(first) == []
    assert _releases(app) == {}


def test_fire_creates_the_due_release(app: App, clock: ManualClock) -> None:
    """A fire a few seconds late creates the release of the scheduled time, not of now."""
    clock.set(datetime(2026, 12, 2, 10, 0, 7, tzinfo=SHANGHAI))
    created: list[int] = []
    Scheduler(app, on_release=created.append).fire("weekly")
    assert _releases(app) == {"weekly@2026-12-02T10:00+08:00": "active"}
    assert len(created) == 1


def test_fire_times_between() -> None:
    """fire_times lists every Wednesday 10:00 in the window, excluding its start."""
    from publisher.cron import cron_trigger

    trigger = cron_trigger("0 10 * * 3", SHANGHAI)
    start = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)
    times = fire_times(trigger, start, start + timedelta(days=14))
    assert times == [start + timedelta(days=7), start + timedelta(days=14)]


def test_lease_renewal_fails_after_takeover(app: App, clock: ManualClock) -> None:
    """A scheduler whose lease was taken cannot renew it."""
    from publisher.scheduler import renew_lease

    acquire_lease(app, "host-a:100:aaaa")
    with app.store.write() as session:
        session.execute(update(Lease).values(holder="host-b:200:bbbb"))
    assert not renew_lease(app, "host-a:100:aaaa")
