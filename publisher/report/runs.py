"""Regular releases on time: for each scheduled definition, runs due, on time, late, missed.

``due_runs`` is the one place that says which runs fell due: where the scheduler's mark says
every fire time was accounted for (``schedule_marks``: after ``kept_since``, up to
``handled_until``), the scheduled releases and missed-run records themselves, whatever schedule
was in force then; before and after that stretch, the fire times of the definition's current
schedule since the scheduler first started on this database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from publisher.cron import cron_trigger
from publisher.report.context import PUBLISHING_ACTIONS, Context, private_kinds
from publisher.report.figure import Column, Figure, Sheet, Table, count, ids
from publisher.scheduler import fire_times
from publisher.store.models import BotState, Delivery, Release, ScheduleMark

SECTION = "runs"
NOT_PUBLISHED_STATES = ("held", "rejected", "awaiting_approval")


@dataclass
class Run:
    """One fire time of a definition and what became of it."""

    due_at: datetime
    release_id: int | None = None
    state: str | None = None
    first_published_at: datetime | None = None

    @property
    def late_minutes(self) -> float | None:
        if self.first_published_at is None:
            return None
        return max(0.0, (self.first_published_at - self.due_at).total_seconds() / 60)


@dataclass
class Outcomes:
    """A definition's runs sorted by what became of them (release ids; missing ones: none)."""

    due: list[Run] = field(default_factory=list)
    on_time: list[Run] = field(default_factory=list)
    late: list[Run] = field(default_factory=list)
    missed: list[Run] = field(default_factory=list)  # recorded as missed
    not_published: list[Run] = field(default_factory=list)  # held, rejected, or nothing landed
    no_record: list[Run] = field(default_factory=list)  # neither a release nor a missed record
    extra: list[int] = field(default_factory=list)  # releases at other times (by hand)


def tracked_since(ctx: Context) -> datetime | None:
    """Since when fire times are accounted for: the scheduler's first start on this database."""
    row = ctx.session.get(BotState, "scheduler_first_started")
    return datetime.fromisoformat(row.value) if row else None


def due_runs(ctx: Context, definition_id: str, schedule: str) -> tuple[list[Run], list[int]]:
    """The runs of ``definition_id`` due in the period (and until now), each with its release,
    and the definition's other releases in the period (triggered by hand at other times)."""
    since = tracked_since(ctx)
    start, end = ctx.start, ctx.end
    releases = ctx.session.execute(
        select(Release.id, Release.due_at, Release.state, Release.origin)
        .where(Release.definition_id == definition_id, Release.due_at >= start,
               Release.due_at < end, ~Release.key.endswith("~interpretation"),
               ctx.organ_filter())).all()
    by_due = {due_at: (release_id, state) for release_id, due_at, state, origin in releases
              if origin != "manual"}
    times: list[datetime] = []
    if since is not None and since < end:
        trigger = cron_trigger(schedule, ctx.zone)
        after = max(start, since) - _TICK
        times = [t for t in fire_times(trigger, after, end - _TICK) if t >= start]
    mark = ctx.session.get(ScheduleMark, definition_id)
    if mark is not None:  # the rows are the record there, not today's schedule
        times = [t for t in times if not mark.kept_since < t <= mark.handled_until]
        times = sorted(set(times) | {t for t in by_due
                                     if mark.kept_since < t <= mark.handled_until})
    runs = [Run(t, *by_due.get(t, (None, None))) for t in times]
    matched = {run.release_id for run in runs}
    extra = sorted(rid for rid, _due, _state, _origin in releases if rid not in matched)
    return runs, extra


_TICK = datetime.resolution * 1000  # fire_times takes (after, until]: start inclusive


def _first_published(ctx: Context, release_ids: list[int]) -> dict[int, datetime]:
    if not release_ids:
        return {}
    rows = ctx.session.execute(
        select(Delivery.release_id, func.min(Delivery.published_at))
        .where(Delivery.release_id.in_(release_ids), Delivery.action.in_(PUBLISHING_ACTIONS),
               Delivery.drill.is_(False), Delivery.kind.not_in(private_kinds()),
               Delivery.published_at.is_not(None))
        .group_by(Delivery.release_id))
    return {release_id: first for release_id, first in rows if first is not None}


def outcomes(ctx: Context, definition_id: str, schedule: str) -> Outcomes:
    """What became of each run of ``definition_id`` due in the period."""
    runs, extra = due_runs(ctx, definition_id, schedule)
    first = _first_published(ctx, [r.release_id for r in runs if r.release_id is not None])
    result = Outcomes(due=runs, extra=extra)
    tolerance = ctx.settings.on_time_minutes
    for run in runs:
        run.first_published_at = first.get(run.release_id) if run.release_id else None
        if run.release_id is None:
            result.no_record.append(run)
        elif run.state == "missed":
            result.missed.append(run)
        elif run.first_published_at is None:
            result.not_published.append(run)
        elif (run.late_minutes or 0) <= tolerance:
            result.on_time.append(run)
        else:
            result.late.append(run)
    return result


COLUMNS = [
    Column("due", "应发布次数", "runs due"), Column("on_time", "按时发布", "on time"),
    Column("late", "迟发", "late"), Column("max_late", "最长迟发（分钟）", "latest (minutes)"),
    Column("missed", "错过（已记录）", "missed (recorded)"),
    Column("not_published", "未发布（暂停、驳回或投递失败）", "not published (held, rejected, failed)"),
    Column("no_record", "无记录", "no record"), Column("extra", "另行手动发布", "extra, by hand"),
]


def _releases(runs: list[Run]) -> list[int]:
    return sorted(r.release_id for r in runs if r.release_id is not None)


def _late(ctx: Context, late: list[Run]) -> Figure:
    """The late runs, each with how late it went out (in the figure's note)."""
    figure = count("", "releases", _releases(late), "次")
    shown = sorted(late, key=lambda r: r.due_at)[:20]
    figure.note_zh = "、".join(f"{ctx.local(r.due_at):%m-%d} 迟 {r.late_minutes or 0:.0f} 分钟"
                              for r in shown)
    figure.note_en = ", ".join(f"{ctx.local(r.due_at):%m-%d} {r.late_minutes or 0:.0f} min late"
                               for r in shown)
    return figure


def build(ctx: Context) -> None:
    """Add the table of scheduled definitions and how their runs went."""
    table = Table("scheduled", "定期发布按时情况", "Regular releases on time", COLUMNS,
                  note_zh=f"按时：到期后 {ctx.settings.on_time_minutes} 分钟内首次公开发布。",
                  note_en=f"On time: first public within {ctx.settings.on_time_minutes} minutes "
                          "of the due time.")
    ctx.tables.append(table)
    sheet = Sheet(SECTION, table, ctx.figures)
    since = tracked_since(ctx)
    if since is None or since > ctx.start:
        when = ctx.local(since).strftime("%Y-%m-%d %H:%M") if since else "—"
        ctx.note(f"调度器自 {when} 起在本数据库运行，此前的应发布次数未记录。",
                 f"The scheduler first ran on this database at {when}; runs due before then "
                 "are not recorded.")
    for definition_id, definition in ctx.app.loaded.config.releases.items():
        if definition.schedule == "manual":
            continue
        if ctx.organ and definition.issuing_organ != ctx.organ:
            continue
        result = outcomes(ctx, definition_id, definition.schedule)
        worst = max((r.late_minutes or 0 for r in result.late), default=None)
        due = Figure("", len(result.due), "releases", ids(_releases(result.due)), "次",
                     status="counted" if since else "not_recorded")
        sheet.row(definition_id, definition_id, definition_id, due=due,
                  on_time=count("", "releases", _releases(result.on_time), "次"),
                  late=_late(ctx, result.late),
                  max_late=Figure("", round(worst, 1) if worst is not None else None, "releases",
                                  ids(_releases(result.late)), "分钟", "measured"),
                  missed=count("", "releases", _releases(result.missed), "次"),
                  not_published=count("", "releases", _releases(result.not_published), "次"),
                  no_record=Figure("", len(result.no_record), "", ids(), "次",
                                   note_zh="、".join(f"{ctx.local(r.due_at):%m-%d %H:%M}"
                                                    for r in result.no_record[:20]),
                                   note_en=", ".join(f"{ctx.local(r.due_at):%m-%d %H:%M}"
                                                     for r in result.no_record[:20])),
                  extra=count("", "releases", result.extra, "次"))
