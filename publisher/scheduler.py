"""When releases fall due: APScheduler cron jobs, catch-up after downtime, one active scheduler
(a fenced lease; other nodes of a cluster stand by and take over)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from publisher import audit, credential, release, review
from publisher.alert import alert
from publisher.app import App
from publisher.cron import cron_trigger
from publisher.errors import SchedulerBusy
from publisher.gazette import compile_next, gazette_channels
from publisher.intake import preflight, watch
from publisher.logs import get_logger
from publisher.process import holder_dead, holder_id
from publisher.store import FENCE
from publisher.store.models import BotState, Lease, Release, ScheduleMark

log = get_logger(__name__)

LEASE_NAME = "scheduler"
LEASE_SECONDS = 60.0
ACTOR = "scheduler"
CREDENTIAL_CHECK_HOUR = 9  # local time of the daily look at credentials that need a person
REVIEW_SWEEP_SECONDS = 60  # how often releases still awaiting approval at their due time are held
OPTIMIZE_SECONDS = 6 * 3600  # how often the scheduler refreshes SQLite's planner statistics
SWEEP_SECONDS = 60  # how often every definition's fire times are accounted for, whatever ran
FIRE_TIMES_LIMIT = 10000  # fire_times lists one more than this at most (a longer backlog: pages)
MISSED_UNREVIEWED = ("错过审核时间：到发布时间仍未生成待审核稿 / missed: not rendered for review "
                     "before its due time")
MISSED_LATE = "错过发布时间且超出宽限 / missed, past its grace period"
MISSED_SUPERSEDED = ("已合并：同一定义较晚一次到期的发布已代替本次 / coalesced: a later run of the "
                     "same definition went out instead")


def _lease_expired(lease: Lease, now: datetime) -> bool:
    return lease.expires_at <= now or holder_dead(lease.holder)


class LeaseLost(Exception):  # not an error: the role moved to another node
    """The scheduler lease is no longer ours: what was about to be recorded is rolled back."""


def acquire_lease(app: App, holder: str, seconds: float = LEASE_SECONDS) -> datetime:
    """Become the active scheduler or raise SchedulerBusy naming the current holder; returns
    the fencing token (the lease's ``acquired_at``, new at each acquisition)."""
    now = app.clock.now()
    until = now + timedelta(seconds=seconds)
    try:
        with app.store.write() as session:
            lease = session.execute(
                select(Lease).where(Lease.name == LEASE_NAME).with_for_update()
            ).scalar_one_or_none()
            if lease is None:
                session.add(Lease(name=LEASE_NAME, holder=holder, acquired_at=now,
                                  expires_at=until))
                previous = None
            elif lease.holder == holder or _lease_expired(lease, now):
                previous = lease.holder if lease.holder != holder else None
                lease.holder, lease.acquired_at, lease.expires_at = holder, now, until
            else:
                raise SchedulerBusy(
                    f"另一个调度器正在运行 / another scheduler is active on this database: "
                    f"{lease.holder} (lease until {lease.expires_at.isoformat()})")
            if previous is not None or lease is None:
                audit.append(session, at=now, actor=holder, action="scheduler.active",
                             subject="scheduler", details={"previous": previous})
    except IntegrityError:  # another process inserted the row first
        raise SchedulerBusy("另一个调度器正在运行 / another scheduler is active") from None
    if previous is not None:
        alert(app, "scheduler.moved", f"调度器已转移：{previous} → {holder}",
              f"the scheduler role moved from {previous} to {holder}", previous=previous,
              holder=holder)
    with app.store.read() as session:  # the token as the database keeps it
        stored = session.get(Lease, LEASE_NAME)
        return stored.acquired_at if stored is not None else now


def check_lease(session: Session, holder: str, token: datetime) -> None:
    """Raise LeaseLost unless ``holder`` still holds the lease it took at ``token``; on
    PostgreSQL the lease row stays share-locked until the transaction ends, so a takeover
    waits for what this transaction records (fencing)."""
    lease = session.execute(select(Lease).where(Lease.name == LEASE_NAME)
                            .with_for_update(read=True)).scalar_one_or_none()
    if lease is None or lease.holder != holder or lease.acquired_at != token:
        raise LeaseLost(f"scheduler lease now held by {lease.holder if lease else 'nobody'}")


def active_holder(app: App) -> str | None:
    """The scheduler holding the lease now (a running ``publisher run``), or None."""
    with app.store.read() as session:
        lease = session.get(Lease, LEASE_NAME)
        if lease is None or _lease_expired(lease, app.clock.now()):
            return None
        return lease.holder


def renew_lease(app: App, holder: str, token: datetime | None = None,
                seconds: float = LEASE_SECONDS) -> bool:
    """Extend our lease (the one taken at ``token``, when given); False if it was taken."""
    now = app.clock.now()
    with app.store.write() as session:
        lease = session.execute(select(Lease).where(Lease.name == LEASE_NAME)
                                .with_for_update()).scalar_one_or_none()
        if lease is None or lease.holder != holder or (
                token is not None and lease.acquired_at != token):
            return False
        lease.expires_at = now + timedelta(seconds=seconds)
        return True


def release_lease(app: App, holder: str, token: datetime | None = None) -> None:
    with app.store.write() as session:
        lease = session.get(Lease, LEASE_NAME)
        if lease is not None and lease.holder == holder and (
                token is None or lease.acquired_at == token):
            session.delete(lease)


def fire_times(trigger: CronTrigger, after: datetime, until: datetime,
               limit: int = FIRE_TIMES_LIMIT) -> list[datetime]:
    """Every fire time of ``trigger`` in (after, until]; past ``limit``, the first limit + 1."""
    times: list[datetime] = []
    previous: datetime | None = None
    current: datetime | None = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    while current is not None and current <= until:
        times.append(current)
        previous = current
        current = trigger.get_next_fire_time(previous, previous + timedelta(microseconds=1))
        if len(times) > limit:
            break
    return times


def _shift(when: datetime, delta: timedelta) -> datetime:
    """``when + delta`` in absolute time, kept in ``when``'s zone (right across DST changes)."""
    return (when.astimezone(UTC) + delta).astimezone(when.tzinfo)


class LeadTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler 3 is untyped
    """Fires ``lead`` before each fire time of ``due``: when a release that needs review is
    rendered, so an approver has the lead to approve it before it falls due."""

    __slots__ = ("due", "lead")

    def __init__(self, due: CronTrigger, lead: timedelta) -> None:
        self.due = due
        self.lead = lead

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime
                           ) -> datetime | None:
        previous = _shift(previous_fire_time, self.lead) if previous_fire_time else None
        due = self.due.get_next_fire_time(previous, _shift(now, self.lead))
        return _shift(due, -self.lead) if due is not None else None

    def __str__(self) -> str:
        return f"{self.due} - {self.lead}"

    def __repr__(self) -> str:
        return f"<LeadTrigger ({self.due!r}, lead={self.lead})>"


class Scheduler:
    """Turns cron definitions into releases; only the lease holder runs. With ``standby``
    (a cluster node), a node whose lease is held waits and takes the role over when the
    holder stops renewing; every scheduler action is fenced by the lease it holds."""

    def __init__(self, app: App, *, on_release: Callable[[int], None] | None = None,
                 page: int = FIRE_TIMES_LIMIT, standby: bool = False,
                 lease_seconds: float = LEASE_SECONDS,
                 periodic: list[tuple[str, Callable[[], Any], float]] | None = None) -> None:
        self.app = app
        self.page = page  # fire times handled in one go; a longer backlog takes several
        self.holder = holder_id()
        self.on_release = on_release
        self.standby = standby
        self.lease_seconds = lease_seconds
        self.periodic = periodic or []  # (id, work, seconds): more jobs of the role
        self.token: datetime | None = None  # the fencing token of the lease we hold
        self.active = threading.Event()  # set while this node holds the scheduler role
        self._aps: BackgroundScheduler | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._lock = threading.RLock()  # one pass over the fire times at a time
        self.watch = watch.InboxWatch(app)
        self._role_lock = threading.Lock()  # taking and giving up the role

    def triggers(self) -> dict[str, CronTrigger]:
        zone = self.app.loaded.zone
        return {
            definition_id: cron_trigger(definition.schedule, zone)
            for definition_id, definition in self.app.loaded.config.releases.items()
            if definition.schedule != "manual"
        }

    def start(self) -> None:
        """Take the scheduler role, or raise SchedulerBusy; a standby node instead waits for
        the role in the lease thread."""
        try:
            self._take()
        except SchedulerBusy as exc:
            if not self.standby:
                raise
            log.info("scheduler.standby", reason=str(exc))
        self._renewer = threading.Thread(target=self._lease_loop, name="lease", daemon=True)
        self._renewer.start()

    @property
    def role(self) -> str:
        return "scheduler" if self.active.is_set() else "standby"

    @contextmanager
    def fenced(self) -> Iterator[None]:
        """Every write in this context first checks, in its own transaction, that the lease
        taken at ``self.token`` is still ours (else LeaseLost rolls it back)."""
        token = self.token
        if token is None:
            raise LeaseLost("this node does not hold the scheduler lease")
        holder = self.holder
        reset = FENCE.set(lambda session: check_lease(session, holder, token))
        try:
            yield
        finally:
            FENCE.reset(reset)

    def as_job(self, work: Callable[..., Any]) -> Callable[..., None]:
        """``work`` as a scheduler job: fenced; a lost lease gives the role up."""
        def run(*args: Any) -> None:
            try:
                with self.fenced():
                    work(*args)
            except LeaseLost as exc:
                log.warning("scheduler.fenced", job=getattr(work, "__name__", "?"),
                            reason=str(exc))
                self._resign()
        run.__name__ = getattr(work, "__name__", "job")
        return run

    def _take(self) -> None:
        """Take the lease (or raise SchedulerBusy), then begin the role (fenced)."""
        with self._role_lock:
            self.token = acquire_lease(self.app, self.holder, self.lease_seconds)
            try:
                with self.fenced():
                    self._begin()
            except LeaseLost as exc:
                log.warning("scheduler.fenced", job="start", reason=str(exc))
                self._shutdown_aps()
                self.token = None
                raise SchedulerBusy(str(exc)) from None
            except BaseException:
                self._shutdown_aps()
                self.token = None
                raise
            self.active.set()
        log.info("scheduler.role", role="scheduler", holder=self.holder)

    def _shutdown_aps(self) -> None:
        aps, self._aps = self._aps, None
        if aps is not None:
            try:
                aps.shutdown(wait=False)
            except Exception:  # already stopped
                log.debug("scheduler.aps_stopped")

    def _resign(self) -> None:
        """Give the role up (the lease was taken, or could not be renewed in time)."""
        with self._role_lock:
            if not self.active.is_set() and self._aps is None:
                return
            self.active.clear()
            self.token = None
            self._shutdown_aps()
        log.error("scheduler.lease_lost")
        alert(self.app, "scheduler.lease_lost", "调度器失去运行权，本节点转为待命",
              "the scheduler lost its lease; this node stands by", holder=self.holder)

    def _lease_loop(self) -> None:
        """Renew the lease while active (giving the role up when that fails for a lease's
        time); while standing by, try to take it over."""
        renewed = self.app.clock.now()
        while not self._stop.wait(self.lease_seconds / 3 if self.active.is_set()
                                  else min(self.lease_seconds / 6, 2.0)):
            if self.active.is_set():
                token = self.token
                try:
                    held = token is not None and renew_lease(
                        self.app, self.holder, token, self.lease_seconds)
                except SQLAlchemyError as exc:
                    log.warning("scheduler.renew_failed", error_type=type(exc).__name__)
                    held = (self.app.clock.now() - renewed).total_seconds() < self.lease_seconds
                else:
                    renewed = self.app.clock.now()
                if not held:
                    self._resign()
                continue
            if not self.standby:
                return
            try:
                self._take()
                renewed = self.app.clock.now()
            except SchedulerBusy:
                continue
            except Exception as exc:  # the database away: try again next time
                log.warning("scheduler.take_failed", error_type=type(exc).__name__)

    def _begin(self) -> None:
        """Catch up, schedule every definition, then account for the fire times that fell
        between catch-up's look at the clock and APScheduler's start (APScheduler schedules
        only from its own start)."""
        first = self._first_started()
        self.catch_up(first)
        self.check_credentials()
        self.check_freshness()
        self.preflight()
        aps = BackgroundScheduler(timezone=self.app.loaded.zone, job_defaults={
            "coalesce": True, "max_instances": 1})
        for definition_id, trigger in self.triggers().items():
            # each job only wakes ``advance``, which handles every fire time since the
            # definition's mark: a run APScheduler coalesced or skipped is never lost
            if review.required(self.app, definition_id):  # rendered ahead, held if unapproved
                lead = review.lead(self.app, definition_id)
                aps.add_job(self.as_job(self.advance), trigger=LeadTrigger(trigger, lead),
                            args=[definition_id], id=definition_id, name=definition_id,
                            misfire_grace_time=int(lead.total_seconds()), coalesce=True,
                            max_instances=1, replace_existing=True)
                aps.add_job(self.as_job(self.hold_unapproved), trigger=trigger,
                            id=f"review:{definition_id}",
                            name=f"review:{definition_id}", misfire_grace_time=6 * 3600,
                            coalesce=True, max_instances=1, replace_existing=True)
                continue
            grace = self.app.loaded.misfire_grace_minutes(definition_id) * 60
            aps.add_job(self.as_job(self.advance), trigger=trigger, args=[definition_id],
                        id=definition_id,
                        name=definition_id, misfire_grace_time=grace, coalesce=True,
                        max_instances=1, replace_existing=True)
        aps.add_job(self.as_job(self.sweep), trigger=IntervalTrigger(  # whatever APScheduler did or skipped
            seconds=SWEEP_SECONDS, timezone=self.app.loaded.zone), id="sweep", name="sweep",
            coalesce=True, max_instances=1)
        aps.add_job(self.as_job(self.hold_unapproved), trigger=IntervalTrigger(  # manual ones too
            seconds=REVIEW_SWEEP_SECONDS, timezone=self.app.loaded.zone), id="review",
            name="review", coalesce=True, max_instances=1)
        for name in gazette_channels(self.app):  # each gazette compiles on its publication days
            settings: Any = self.app.channel(name).settings
            hour, minute = settings.compile_at.split(":")
            aps.add_job(self.as_job(self.compile_gazette), trigger=CronTrigger(
                day=",".join(str(d) for d in settings.publication_days), hour=hour,
                minute=minute, timezone=self.app.loaded.zone),
                args=[name], id=f"gazette:{name}", name=f"gazette:{name}",
                misfire_grace_time=6 * 3600, coalesce=True, max_instances=1)
        aps.add_job(self.as_job(self.check_freshness), trigger=CronTrigger(  # accounts, columns
            hour=CREDENTIAL_CHECK_HOUR, timezone=self.app.loaded.zone), id="freshness",
            name="freshness", misfire_grace_time=6 * 3600, coalesce=True, max_instances=1)
        self.watch.prime()
        aps.add_job(self.as_job(self.scan_inbox), trigger=IntervalTrigger(  # files dropped else
            seconds=self.app.loaded.config.intake.inbox_scan_seconds,
            timezone=self.app.loaded.zone), id="inbox",
            name="inbox", coalesce=True, max_instances=1)
        aps.add_job(self.as_job(self.preflight), trigger=IntervalTrigger(  # data due before runs
            seconds=preflight.SWEEP_SECONDS, timezone=self.app.loaded.zone), id="preflight",
            name="preflight", coalesce=True, max_instances=1)
        aps.add_job(self.as_job(self.check_credentials), trigger=CronTrigger(  # Weibo, daily
            hour=CREDENTIAL_CHECK_HOUR, timezone=self.app.loaded.zone), id="credentials",
            name="credentials", misfire_grace_time=6 * 3600, coalesce=True, max_instances=1)
        aps.add_job(self.as_job(self.app.store.optimize), trigger=IntervalTrigger(
            seconds=OPTIMIZE_SECONDS, timezone=self.app.loaded.zone), id="optimize",
            name="optimize", coalesce=True, max_instances=1)  # the delivery log's plans
        for job_id, work, seconds in self.periodic:  # the daemon's other periodic jobs
            aps.add_job(self.as_job(work), trigger=IntervalTrigger(
                seconds=seconds, timezone=self.app.loaded.zone), id=job_id, name=job_id,
                coalesce=True, max_instances=1)
        aps.add_listener(self.as_job(self._job_missed), EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        aps.start()
        self._aps = aps
        self.sweep()  # a fire time between catch-up's clock reading and APScheduler's start
        for job in aps.get_jobs():
            log.info("scheduler.job", release=job.id, next_run=str(job.next_run_time))

    def stop(self) -> None:
        self._stop.set()
        with self._role_lock:
            self._shutdown_aps()
            token, self.token = self.token, None
            self.active.clear()
        if token is not None:
            release_lease(self.app, self.holder, token)

    def _first_started(self) -> datetime:
        """When a scheduler first ran on this database (catch-up never looks earlier)."""
        now = self.app.clock.now()
        with self.app.store.write() as session:
            row = session.get(BotState, "scheduler_first_started")
            if row is None:
                session.add(BotState(name="scheduler_first_started", value=now.isoformat()))
                return now
            return datetime.fromisoformat(row.value)

    def fire(self, definition_id: str, due_at: datetime | None = None, origin: str = "scheduled"
             ) -> bool:
        """Create the release of ``definition_id`` due at ``due_at`` (idempotent on its key);
        without ``due_at``, account for every fire time due since the definition's mark
        (``advance``). False when the release could not be created (alerted)."""
        if due_at is None:
            self.advance(definition_id, origin)
            return True
        try:
            outcome = release.create(self.app, definition_id, due_at, actor=ACTOR, origin=origin)
        except LeaseLost:
            raise
        except Exception:
            log.exception("scheduler.create_failed", release=definition_id)
            alert(self.app, "release.error", f"创建发布失败：{definition_id}",
                  f"could not create release {definition_id}", release=definition_id)
            return False
        log.info("scheduler.fired", release=definition_id, key=outcome.key, state=outcome.state)
        if self.on_release and outcome.state == "active":
            self.on_release(outcome.release_id)
        return True

    def fire_review(self, definition_id: str, origin: str = "scheduled",
                    after: datetime | None = None) -> list[datetime]:
        """Render for review every release of ``definition_id`` due within its review lead
        from now (and after ``after``), awaiting approval; returns their due times."""
        now = self.app.clock.now()
        lead = review.lead(self.app, definition_id)
        upcoming = fire_times(self.triggers()[definition_id], max(now, after or now),
                              now + lead + timedelta(seconds=1))  # a fire a moment early
        for due_at in upcoming:
            self.fire(definition_id, due_at, origin=origin)
        return upcoming

    def sweep(self) -> list[str]:
        """Account for every definition's fire times up to now (see ``advance``)."""
        actions: list[str] = []
        for definition_id in self.triggers():
            try:
                actions += self.advance(definition_id)
            except LeaseLost:
                raise
            except Exception:  # the next sweep tries again from the same mark
                log.exception("scheduler.sweep_failed", release=definition_id)
        return actions

    def advance(self, definition_id: str, origin: str = "scheduled",
                since: datetime | None = None) -> list[str]:
        """Account for every fire time of ``definition_id`` from its mark up to now, and move
        the mark: each ends as a release or as a recorded, alerted missed run.

        The latest fire time still inside its grace runs; older ones are missed (past their
        grace, or coalesced behind the later run). A definition that needs review has every
        run due within its lead rendered for approval; a run that fell due unrendered is
        missed. ``since`` is where to start when the definition has no mark yet (default: the
        scheduler's first start, or the newest scheduled release if later). Returns what was
        done, one line each.
        """
        with self._lock:
            now = self.app.clock.now()
            trigger = self.triggers()[definition_id]
            handled, rendered, kept = self._mark(definition_id, since, now)
            due = fire_times(trigger, handled, now, self.page)
            more = len(due) > self.page  # a long backlog: this page, then the rest
            if more:
                due = due[:self.page]
            actions: list[str] = []
            reached = due[-1] if more else now
            if review.required(self.app, definition_id):
                for missed in due:
                    if self._record_missed(definition_id, missed, now, MISSED_UNREVIEWED):
                        actions.append(f"missed {definition_id} {missed.isoformat()}")
                upcoming = self.fire_review(definition_id, origin, after=rendered)
                actions += [f"rendered for review {definition_id} {u.isoformat()}"
                            for u in upcoming]
                horizon = now + review.lead(self.app, definition_id) + timedelta(seconds=1)
                if due or upcoming or not kept:  # else nothing moved: spare the write
                    self._save_mark(definition_id, handled, reached,
                                    max(horizon, rendered or horizon))
                return actions + (self.advance(definition_id, origin) if more else [])
            grace = timedelta(minutes=self.app.loaded.misfire_grace_minutes(definition_id))
            run = due[-1] if due and not more and now - due[-1] <= grace else None
            for missed in due:
                if missed is run:
                    continue
                problem = MISSED_LATE if now - missed > grace else MISSED_SUPERSEDED
                if self._record_missed(definition_id, missed, now, problem):
                    actions.append(f"missed {definition_id} {missed.isoformat()}")
            if run is not None:
                if self.fire(definition_id, run, origin=origin):
                    actions.append(f"ran {definition_id} {run.isoformat()}")
                else:  # the next sweep tries it again while it is inside its grace
                    reached = run - timedelta(microseconds=1)
            if due or not kept:  # else nothing moved: spare the write
                self._save_mark(definition_id, handled, max(handled, reached), None)
            return actions + (self.advance(definition_id, origin) if more else [])

    def _mark(self, definition_id: str, since: datetime | None, now: datetime
              ) -> tuple[datetime, datetime | None, bool]:
        """Up to when ``definition_id``'s fire times are handled, and rendered for review, and
        whether that is a kept mark.

        Without a mark (a new database, or one from before marks were kept): from ``since``
        or the scheduler's first start, or the newest scheduled release if later (a manual
        release covers no fire time); with neither, only the latest fire time in its grace.
        """
        with self.app.store.read() as session:
            mark = session.get(ScheduleMark, definition_id)
            if mark is not None:
                return mark.handled_until, mark.rendered_until, True
            first = session.get(BotState, "scheduler_first_started")
            latest = session.execute(
                select(Release.due_at).where(Release.definition_id == definition_id,
                                             Release.origin != "manual")
                .order_by(Release.due_at.desc()).limit(1)).scalar_one_or_none()
        start = since or (datetime.fromisoformat(first.value) if first else None)
        if start is None:  # never started here: only the run just due, if any
            grace = timedelta(minutes=self.app.loaded.misfire_grace_minutes(definition_id))
            recent = fire_times(self.triggers()[definition_id], now - grace, now)
            start = recent[-1] - timedelta(microseconds=1) if recent else now
        return (max(start, latest) if latest else start), None, False

    def _save_mark(self, definition_id: str, since: datetime, handled: datetime,
                   rendered: datetime | None) -> None:
        """Move the mark to ``handled`` (and ``rendered``); a new one keeps ``since``, where
        its accounting began (the report counts recorded rows from there)."""
        now = self.app.clock.now()
        with self.app.store.write() as session:
            mark = session.get(ScheduleMark, definition_id)
            if mark is None:
                session.add(ScheduleMark(definition_id=definition_id, kept_since=since,
                                         handled_until=handled, rendered_until=rendered,
                                         updated_at=now))
                return
            mark.handled_until = max(mark.handled_until, handled)
            if rendered is not None:
                mark.rendered_until = max(mark.rendered_until or rendered, rendered)
            mark.updated_at = now

    def hold_unapproved(self) -> list[str]:
        """Hold the releases still awaiting approval at their due time (alerted)."""
        try:
            return review.hold_unapproved(self.app, actor=ACTOR)
        except Exception:
            log.exception("scheduler.review_check_failed")
            return []

    def check_freshness(self) -> None:
        """Alert staff to accounts and columns about to go stale (at start, then daily)."""
        from publisher.scan import freshness

        try:
            freshness.alert_stale(self.app)
        except Exception:
            log.exception("scheduler.freshness_check_failed")
    def scan_inbox(self) -> list[watch.Arrival]:
        """Check the inbox files that appeared or changed (put there by other means)."""
        try:
            return self.watch.scan()
        except Exception:
            log.exception("scheduler.inbox_scan_failed")
            return []

    def preflight(self) -> list[preflight.Checked]:
        """Check the data of runs due within their ``data_due_hours`` (alerting once each)."""
        try:
            return preflight.sweep(self.app)
        except Exception:
            log.exception("scheduler.preflight_failed")
            return []

    def check_credentials(self) -> None:
        """Alert staff to Weibo authorisations that expire soon (at start, then daily)."""
        try:
            credential.alert_expiring(self.app)
        except Exception:
            log.exception("scheduler.credential_check_failed")

    def _job_missed(self, event: JobEvent) -> None:
        """A run APScheduler skipped while up (the process stalled past its grace, or the
        previous run was still going) is accounted for at once, as the sweep would."""
        definition_id = event.job_id.removeprefix("review:")
        if definition_id not in self.triggers():
            return
        scheduled: datetime | None = getattr(event, "scheduled_run_time", None)
        if scheduled is None:  # EVENT_JOB_MAX_INSTANCES carries its run times as a list
            scheduled = min(getattr(event, "scheduled_run_times", None) or [None],
                            key=lambda t: t or datetime.max.replace(tzinfo=UTC))
        since = scheduled - timedelta(microseconds=1) if scheduled is not None else None
        try:
            self.advance(definition_id, since=since)
        except Exception:  # the next sweep tries again
            log.exception("scheduler.sweep_failed", release=definition_id)

    def compile_gazette(self, channel_name: str) -> None:
        """The scheduled compile of a gazette's next issue (nothing queued: nothing to do)."""
        from channels.base import ChannelError

        try:
            compiled, settled = compile_next(self.app, channel_name, actor=ACTOR)
        except ChannelError as exc:
            if exc.code == "nothing_queued":
                log.info("gazette.nothing_queued", channel=channel_name)
                return
            log.exception("gazette.compile_failed", channel=channel_name)
            alert(self.app, "gazette.compile_failed", f"公报编印失败：{exc.explanation_zh}",
                  f"the gazette issue could not be compiled: {exc.explanation_en}",
                  channel=channel_name)
            return
        log.info("gazette.compiled", channel=channel_name, issue=compiled.number.full_label,
                 settled=settled)

    def catch_up(self, first_started: datetime) -> list[str]:
        """Runs missed while down: the latest inside its grace runs once, older ones are missed.

        Every definition is advanced from its mark (``advance``; without one, from
        ``first_started`` or its newest scheduled release); releases left awaiting approval
        past their due time are held.
        """
        actions: list[str] = []
        for definition_id in self.triggers():
            actions += self.advance(definition_id, "catch-up", since=first_started)
        actions += [f"held unapproved {key}" for key in self.hold_unapproved()]
        return actions

    def _record_missed(self, definition_id: str, due_at: datetime, now: datetime,
                       problem: str = MISSED_LATE) -> bool:
        """Record the run due at ``due_at`` as missed and alert staff; False when that run
        already has a release (published, held, or recorded missed before)."""
        key = release.occurrence_key(definition_id, due_at, self.app)
        details: dict[str, Any] = {"due_at": due_at.isoformat(),
                                   "grace_minutes": self.app.loaded.misfire_grace_minutes(
                                       definition_id), "reason": problem}
        with self.app.store.write() as session:
            if session.execute(select(Release.id).where(Release.key == key)).first():
                return False
            session.add(Release(key=key, definition_id=definition_id, origin="scheduled",
                                state="missed", due_at=due_at, created_at=now, deadline_at=now,
                                urgent=False, actor=ACTOR, details=details,
                                hold_reason={"problems": [problem]},
                                **release.catalogue(self.app.loaded.definition(definition_id))))
            audit.append(session, at=now, actor=ACTOR, action="release.missed",
                         subject=f"release:{key}", details=details)
        alert(self.app, "release.missed", f"错过发布：{key}", f"missed release: {key}",
              release=definition_id, due_at=due_at.isoformat(), reason=problem)
        return True
