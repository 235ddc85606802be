"""Pre-flight: ``data_due_hours`` before each scheduled run, check that its period's data is there
and valid; if not, alert the office and the bureau's data contacts, once per run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from publisher import audit, release
from publisher.alert import alert
from publisher.app import App
from publisher.cron import cron_trigger
from publisher.intake import preview
from publisher.logs import get_logger
from publisher.period import period_of
from publisher.store.models import PreflightCheck

log = get_logger("publisher.intake")
ACTOR = "scheduler"
SWEEP_SECONDS = 300  # how often the daemon looks for runs whose check time has come


def check_time(due_at: datetime, hours: float) -> datetime:
    """When the data of a run due at ``due_at`` is checked."""
    return due_at - timedelta(hours=hours)


@dataclass(frozen=True)
class Checked:
    """One run's pre-flight: its key and due time, whether its data is ready, the problems,
    and whether this check alerted."""

    key: str
    definition_id: str
    due_at: datetime
    ready: bool
    problems: tuple[str, ...]
    alerted: bool


def runs_to_check(app: App, now: datetime) -> list[tuple[str, datetime]]:
    """(definition, due time) of every scheduled run whose check time has come and whose due
    time has not (definitions with ``data_due_hours`` that read data)."""
    found = []
    for definition_id, definition in app.loaded.config.releases.items():
        hours = definition.data_due_hours
        if hours is None or definition.source is None or definition.schedule == "manual":
            continue
        trigger = cron_trigger(definition.schedule, app.loaded.zone)
        due = trigger.get_next_fire_time(None, now)
        while due is not None and check_time(due, hours) <= now:
            found.append((definition_id, due))
            due = trigger.get_next_fire_time(due, due + timedelta(seconds=1))
    return found


def check(app: App, definition_id: str, due_at: datetime) -> tuple[str, ...]:
    """The problems that would hold the run due at ``due_at`` (data, rendering, limits)."""
    definition = app.loaded.definition(definition_id)
    assert definition.source is not None
    period = period_of(due_at.astimezone(app.loaded.zone).date(), definition.source.period,
                       definition.source.period_offset)
    return preview.prepare(app, definition_id, period).problems


def sweep(app: App, now: datetime | None = None) -> list[Checked]:
    """Check every run whose check time has come; the first check of a run that is not ready
    alerts (office and data contacts) and is audited, later ones only update what is shown."""
    now = now or app.clock.now()
    done: list[Checked] = []
    for definition_id, due in runs_to_check(app, now):
        key = release.occurrence_key(definition_id, due, app)
        problems = check(app, definition_id, due)
        ready = not problems
        first = False
        try:
            with app.store.write() as session:
                row = session.get(PreflightCheck, key)
                if row is None:
                    first = True
                    session.add(PreflightCheck(key=key, definition_id=definition_id, due_at=due,
                                               checked_at=now, ready=ready,
                                               problems=list(problems)))
                    audit.append(session, at=now, actor=ACTOR, action="data.preflight",
                                 subject=f"release:{key}",
                                 details={"ready": ready, "problems": list(problems)})
                else:
                    row.checked_at, row.ready, row.problems = now, ready, list(problems)
        except IntegrityError:  # another process checked it first
            first = False
        alerted = first and not ready
        if alerted:
            alert(app, "data.not_ready", f"数据未就绪：{key}",
                  f"data not ready: {key}", contacts_of=definition_id,
                  release=definition_id, due_at=due.isoformat(), problems=list(problems))
        log.info("preflight.checked", key=key, ready=ready, alerted=alerted)
        done.append(Checked(key, definition_id, due, ready, problems, alerted))
    return done


def not_ready(app: App, now: datetime) -> list[PreflightCheck]:
    """Runs still to come whose last pre-flight found their data not ready, soonest first."""
    with app.store.read() as session:
        return list(session.execute(select(PreflightCheck).where(
            PreflightCheck.ready.is_(False), PreflightCheck.due_at > now)
            .order_by(PreflightCheck.due_at)).scalars())


def last(app: App, key: str) -> PreflightCheck | None:
    """The last pre-flight check of the run ``key`` (None: not checked yet)."""
    with app.store.read() as session:
        return session.get(PreflightCheck, key)
