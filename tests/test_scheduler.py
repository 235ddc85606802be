"""The scheduler: one active per database, and catch-up of runs missed while down."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from sqlalchemy import select, update

from publisher import config as config_module
from publisher.app import App
from publisher.clock import ManualClock
from publisher.errors import SchedulerBusy
from publisher.scheduler import MISSED_SUPERSEDED, Scheduler, acquire_lease, fire_times
from publisher.store import Store
from publisher.store.models import BotState, Lease, Release, ScheduleMark
from tests.support.logs import Events, named
from tests.support.project import SHANGHAI


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
    with app.store.read() as session:
        lease = session.get(Lease, "scheduler")
        assert lease is not None and lease.holder == "host-b:200:bbbb"


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


# --------------------------------------------------------------------------- every fire time


DUE = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)  # a Wednesday: weekly's fire time


def _alerted(events: Events) -> list[str]:
    return [event["text_en"] for event in named(events, "alert")]


def _rows(app: App) -> dict[str, tuple[str, str]]:
    with app.store.read() as session:
        return {r.key: (r.state, r.origin) for r in session.execute(select(Release)).scalars()}


class StartGapClock(ManualClock):
    """Reads ``before`` until an APScheduler thread started after the clock was made runs,
    then ``after``: a fire time falls between catch-up's look at the clock and APScheduler's
    start."""

    def __init__(self, before: datetime, after: datetime) -> None:
        super().__init__(before)
        self.after = after
        self._old = {thread.ident for thread in threading.enumerate()}

    def now(self) -> datetime:
        if any(thread.name == "APScheduler" and thread.ident not in self._old
               for thread in threading.enumerate()):
            self.set(self.after)
        return super().now()


def test_fire_time_while_the_scheduler_starts_is_released(app: App) -> None:
    """A fire time after catch-up read the clock but before APScheduler started ends as a
    release, not lost between the two."""
    clock = StartGapClock(DUE - timedelta(seconds=1), DUE + timedelta(seconds=1))
    gap = App(loaded=app.loaded, store=app.store, clock=clock)
    _first_started(gap, DUE - timedelta(days=1))
    scheduler = Scheduler(gap)
    scheduler.start()
    try:
        assert clock.now() == DUE + timedelta(seconds=1)
        assert _rows(gap) == {"weekly@2026-12-02T10:00+08:00": ("active", "scheduled")}
    finally:
        scheduler.stop()


def test_coalesced_fire_times_are_each_accounted_for(app: App, clock: ManualClock,
                                                     log_events: Events) -> None:
    """When APScheduler runs a definition's job once for several fire times (coalesced), the
    latest is released and each earlier one is recorded missed and alerted."""
    _first_started(app, DUE - timedelta(days=15))
    scheduler = Scheduler(app)
    clock.set(DUE - timedelta(days=14, seconds=-5))  # the job for 11-18 ran: the mark is there
    scheduler.fire("weekly")
    clock.set(DUE + timedelta(seconds=5))  # stalled: 11-25 and 12-02 come as one run
    scheduler.fire("weekly")
    assert _rows(app) == {"weekly@2026-11-18T10:00+08:00": ("held", "scheduled"),
                          "weekly@2026-11-25T10:00+08:00": ("missed", "scheduled"),
                          "weekly@2026-12-02T10:00+08:00": ("active", "scheduled")}
    assert "missed release: weekly@2026-11-25T10:00+08:00" in _alerted(log_events)


def _fast(project: Path, store: Store, clock: ManualClock) -> App:
    """The small project with weekly firing every ten seconds."""
    path = project / "schedules.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        'schedule: "0 10 * * wed"', 'schedule: "*/10 * * * * *"'), encoding="utf-8")
    return App(loaded=config_module.load(path), store=store, clock=clock)


def test_runs_coalesced_inside_their_grace_are_recorded(project: Path, store: Store,
                                                        clock: ManualClock,
                                                        log_events: Events) -> None:
    """Three fire times inside their grace coalesced into one job run: the latest goes out, the
    two before it are recorded missed as coalesced, alerted, and none is handled twice."""
    app = _fast(project, store, clock)
    clock.set(DUE)
    scheduler = Scheduler(app)
    scheduler.fire("weekly")
    clock.set(DUE + timedelta(seconds=35))
    assert scheduler.fire("weekly")
    rows = _rows(app)
    assert rows == {"weekly@2026-12-02T10:00+08:00": ("active", "scheduled"),
                    "weekly@2026-12-02T10:00:10+08:00": ("missed", "scheduled"),
                    "weekly@2026-12-02T10:00:20+08:00": ("missed", "scheduled"),
                    "weekly@2026-12-02T10:00:30+08:00": ("active", "scheduled")}
    with app.store.read() as session:
        reasons = {r.key: r.hold_reason for r in session.execute(
            select(Release).where(Release.state == "missed")).scalars()}
    assert all(reason == {"problems": [MISSED_SUPERSEDED]} for reason in reasons.values())
    assert len([a for a in _alerted(log_events) if a.startswith("missed release")]) == 2
    assert scheduler.sweep() == []  # nothing new: each fire time is handled once


def test_a_skipped_run_is_accounted_for_by_the_sweep(project: Path, store: Store,
                                                     clock: ManualClock) -> None:
    """A fire time APScheduler skipped (its previous run still going) is released at once when
    it says so, and one it skipped without a word by the next sweep."""
    app = _fast(project, store, clock)
    clock.set(DUE)
    scheduler = Scheduler(app)
    scheduler.sweep()
    clock.set(DUE + timedelta(seconds=12))
    scheduler._job_missed(JobSubmissionEvent(EVENT_JOB_MAX_INSTANCES, "weekly", None,
                                             [DUE + timedelta(seconds=10)]))
    clock.set(DUE + timedelta(seconds=21))
    assert scheduler.sweep() == ["ran weekly 2026-12-02T10:00:20+08:00"]
    assert _rows(app) == {"weekly@2026-12-02T10:00+08:00": ("active", "scheduled"),
                          "weekly@2026-12-02T10:00:10+08:00": ("active", "scheduled"),
                          "weekly@2026-12-02T10:00:20+08:00": ("active", "scheduled")}


def test_a_backlog_longer_than_a_page_is_accounted_for_in_full(
        project: Path, store: Store, clock: ManualClock) -> None:
    """A backlog of more fire times than the scheduler handles in one go is handled page after
    page: every one ends as the latest run or a missed record, none skipped."""
    app = _fast(project, store, clock)
    clock.set(DUE)
    scheduler = Scheduler(app, page=4)
    scheduler.sweep()
    clock.set(DUE + timedelta(seconds=125))  # twelve fire times since, more than three pages
    actions = scheduler.sweep()
    assert len(actions) == 12 and actions[-1] == "ran weekly 2026-12-02T10:02:00+08:00"
    rows = _rows(app)
    assert len(rows) == 13
    assert sum(state == "missed" for state, _origin in rows.values()) == 11
    with app.store.read() as session:
        mark = session.get(ScheduleMark, "weekly")
        assert mark is not None and mark.handled_until == clock.now()


def test_restart_across_a_fire_time(app: App, clock: ManualClock, log_events: Events
                                    ) -> None:
    """Stopped before a fire time and started after it, the scheduler releases it once (inside
    its grace); a release triggered by hand in between hides no fire time; past its grace the
    next one is recorded missed and alerted."""
    clock.set(DUE - timedelta(minutes=5))
    first = Scheduler(app)
    first.start()
    first.stop()
    clock.set(DUE - timedelta(minutes=1))
    from publisher import release

    manual = release.create(app, "weekly", DUE - timedelta(minutes=1), actor="staff:wang",
                            origin="manual")
    clock.set(DUE + timedelta(minutes=20))
    second = Scheduler(app)
    second.start()
    second.stop()
    assert _rows(app) == {manual.key: ("active", "manual"),
                          "weekly@2026-12-02T10:00+08:00": ("active", "catch-up")}
    clock.set(DUE + timedelta(days=7, hours=2))  # down across the next one, past its grace
    third = Scheduler(app)
    third.start()
    third.stop()
    assert _rows(app)["weekly@2026-12-09T10:00+08:00"] == ("missed", "scheduled")
    assert "missed release: weekly@2026-12-09T10:00+08:00" in _alerted(log_events)
    with app.store.read() as session:
        mark = session.get(ScheduleMark, "weekly")
        assert mark is not None and mark.handled_until == clock.now()


def test_the_report_counts_the_fire_times_the_scheduler_recorded(
        app: App, project: Path, store: Store, clock: ManualClock) -> None:
    """After the schedule moved from Wednesdays to Tuesdays, the annual report counts the runs
    the scheduler recorded (a Wednesday, then Tuesdays) as due, with no Tuesday before the
    change counted as without a record and no Wednesday as extra."""
    from publisher.report.build import build_report
    from publisher.report.period import ReportPeriod

    _first_started(app, datetime(2026, 11, 1, 9, 0, tzinfo=SHANGHAI))
    clock.set(datetime(2026, 11, 4, 10, 0, 5, tzinfo=SHANGHAI))  # a Wednesday
    Scheduler(app).sweep()
    path = project / "schedules.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        'schedule: "0 10 * * wed"', 'schedule: "0 10 * * tue"'), encoding="utf-8")
    tuesdays = App(loaded=config_module.load(path), store=store, clock=clock)
    for day in (10, 17):
        clock.set(datetime(2026, 11, day, 10, 0, 5, tzinfo=SHANGHAI))
        Scheduler(tuesdays).sweep()
    report = build_report(tuesdays, ReportPeriod.year(2026, SHANGHAI), sections=["runs"],
                          verify=False)
    figures = {name.rpartition("/")[2]: figure.value for name, figure in report.figures.items()
               if name.startswith("runs/scheduled/weekly/")}
    assert (figures["due"], figures["no_record"], figures["extra"]) == (3, 0, 0)


def test_a_scheduler_whose_lease_was_taken_records_nothing(app: App, clock: ManualClock) -> None:
    """A scheduler paused past its lease while another node took the role over records no
    release, no missed run and no audit event when its job runs on resuming: the fence in the
    job's own transaction rolls it back, and the node gives the role up."""
    from publisher.store.models import AuditEvent

    clock.set(DUE - timedelta(minutes=5))
    first = Scheduler(app, standby=True)
    first.start()
    assert first.role == "scheduler"
    clock.set(DUE + timedelta(minutes=1))  # paused: its lease ran out, the run fell due
    acquire_lease(app, "host-b:200:bbbb")  # another node took the role over
    with app.store.read() as session:
        events = len(session.execute(select(AuditEvent)).all())
    first.as_job(first.advance)("weekly")  # the resumed node's job, as APScheduler runs it
    first.as_job(first.sweep)()
    assert _releases(app) == {}
    with app.store.read() as session:
        assert len(session.execute(select(AuditEvent)).all()) == events
        mark = session.get(ScheduleMark, "weekly")
        assert mark is None or mark.handled_until < DUE
    assert first.role == "standby"
    first.stop()
    with app.store.read() as session:
        lease = session.get(Lease, "scheduler")
        assert lease is not None and lease.holder == "host-b:200:bbbb"  # stop released nothing
