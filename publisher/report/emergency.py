"""Emergencies: incidents by status, time from the event to the first report on each channel,
updates, corrections and withdrawals.

The event time is what staff gave (``event_at``); incidents opened before it existed have none,
and their times to first report are "not recorded". Drills (演练) are counted apart and never
measured.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from publisher.report.context import Context, private_kinds
from publisher.report.figure import Column, Figure, Sheet, Table, count, ids
from publisher.severity import label_en
from publisher.store.models import Delivery, Incident, Release

SECTION = "emergency"
STEP_OF = {"Alert": "report", "Cancel": "withdrawal"}


@dataclass
class Thread:
    """One incident with its steps (release ids by step) and each channel's first report."""

    incident: Incident
    steps: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    first_report: dict[str, tuple[int, datetime]] = field(default_factory=dict)  # channel ->

    @property
    def measured_from(self) -> datetime | None:
        return self.incident.event_at

    def minutes(self, channel: str) -> float | None:
        found = self.first_report.get(channel)
        if found is None or self.incident.event_at is None:
            return None
        return max(0.0, (found[1] - self.incident.event_at).total_seconds() / 60)

    def earliest(self) -> tuple[int, datetime] | None:
        return min(self.first_report.values(), key=lambda pair: pair[1], default=None)


def threads(ctx: Context) -> list[Thread]:
    """The incidents opened in the period, with their steps and first reports."""
    incidents = list(ctx.session.execute(
        select(Incident).where(Incident.opened_at >= ctx.start, Incident.opened_at < ctx.end)
        .order_by(Incident.opened_at, Incident.id)).scalars())
    by_id = {incident.id: Thread(incident) for incident in incidents}
    if not by_id:
        return []
    releases = ctx.session.execute(
        select(Release.id, Release.incident_id, Release.msg_type, Release.details,
               Release.issuing_organ)
        .where(Release.incident_id.in_(list(by_id))).order_by(Release.created_at, Release.id))
    alerts: dict[int, int] = {}
    organs: dict[int, str | None] = {}
    for release_id, incident_id, msg_type, details, organ in releases:
        step = str((details or {}).get("step") or STEP_OF.get(msg_type or "", "update"))
        by_id[incident_id].steps[step].append(release_id)
        if step == "report":
            alerts.setdefault(incident_id, release_id)
            organs.setdefault(incident_id, organ)
    _first_reports(ctx, by_id, alerts)
    kept = [t for t in by_id.values()
            if not ctx.organ or organs.get(t.incident.id) == ctx.organ]
    return kept


def _first_reports(ctx: Context, by_id: dict[int, Thread], alerts: dict[int, int]) -> None:
    incident_of = {release_id: incident_id for incident_id, release_id in alerts.items()}
    if not incident_of:
        return
    rows = ctx.session.execute(
        select(Delivery.id, Delivery.release_id, Delivery.channel, Delivery.published_at)
        .where(Delivery.release_id.in_(list(incident_of)), Delivery.action == "send",
               Delivery.kind.not_in(private_kinds()), Delivery.published_at.is_not(None))
        .order_by(Delivery.published_at, Delivery.id))
    for delivery_id, release_id, channel, published_at in rows:
        thread = by_id[incident_of[release_id]]
        assert published_at is not None  # the query asks for published ones
        thread.first_report.setdefault(channel, (delivery_id, published_at))


def build(ctx: Context) -> None:
    """Add the incident summary, the per-incident first-report table, the per-channel table
    and incidents by severity."""
    found = threads(ctx)
    actual = [t for t in found if not t.incident.drill]
    _summary(ctx, found, actual)
    _per_incident(ctx, actual)
    _per_channel(ctx, actual)
    _by_severity(ctx, actual)


def _steps(threads: list[Thread], step: str) -> list[int]:
    return sorted(r for t in threads for r in t.steps.get(step, []))


def _within(ctx: Context, thread: Thread) -> bool | None:
    earliest = thread.earliest()
    if earliest is None or thread.incident.event_at is None:
        return None
    minutes = (earliest[1] - thread.incident.event_at).total_seconds() / 60
    return minutes <= ctx.settings.first_report_target_minutes


def _summary(ctx: Context, found: list[Thread], actual: list[Thread]) -> None:
    target = ctx.settings.first_report_target_minutes
    table = Table("incidents", "突发事件信息发布", "Emergency posts", [
        Column("value", "数量", "value")],
        note_zh=f"首报时效目标：事件发生后 {target} 分钟内在任一渠道首次发布。",
        note_en=f"First-report target: first public on any channel within {target} minutes "
                "of the event.")
    ctx.tables.append(table)
    sheet = Sheet(SECTION, table, ctx.figures)

    def incidents(threads: list[Thread], unit: str = "起") -> Figure:
        return count("", "incidents", sorted(t.incident.id for t in threads), unit)

    sheet.row("actual", "突发事件（真实）", "incidents (actual)", value=incidents(actual))
    sheet.row("drills", "演练", "drills", value=incidents([t for t in found if t.incident.drill]))
    sheet.row("withdrawn", "其中已撤回", "of which withdrawn",
              value=incidents([t for t in actual if t.incident.status == "withdrawn"]))
    measured = [t for t in actual if _within(ctx, t) is not None]
    sheet.row("within_target", f"{target} 分钟内首报", f"first report within {target} minutes",
              value=incidents([t for t in measured if _within(ctx, t)]))
    sheet.row("past_target", f"超过 {target} 分钟首报", f"first report after {target} minutes",
              value=incidents([t for t in measured if not _within(ctx, t)]))
    sheet.row("event_not_recorded", "事件发生时间未记录（无法计算时效）",
              "event time not recorded (no timing)",
              value=incidents([t for t in actual if t.incident.event_at is None]))
    sheet.row("reports", "首报（篇）", "first reports", value=count(
        "", "releases", _steps(actual, "report"), "篇"))
    sheet.row("updates", "续报（篇）", "updates", value=count(
        "", "releases", _steps(actual, "update"), "篇"))
    sheet.row("corrections", "更正（篇）", "corrections", value=count(
        "", "releases", _steps(actual, "correction"), "篇"))
    sheet.row("withdrawals", "撤回（篇）", "withdrawals", value=count(
        "", "releases", _steps(actual, "withdrawal"), "篇"))


def channels_of(ctx: Context, actual: list[Thread]) -> list[str]:
    """The channels of the first reports, in the config's order (as the other tables)."""
    found = {channel for t in actual for channel in t.first_report}
    configured = [name for name in ctx.app.loaded.config.channels if name in found]
    return configured + sorted(found - set(configured))


def _per_incident(ctx: Context, actual: list[Thread]) -> None:
    channels = channels_of(ctx, actual)
    table = Table("first_reports", "各事件首报用时（分钟，自事件发生起）",
                  "Time to first report per incident (minutes from the event)", [
                      Column("event_at", "事件发生时间", "event time"),
                      *[Column(f"channel:{c}", c, c) for c in channels],
                      Column("within", "是否达标", "within target"),
                      Column("updates", "续报", "updates"),
                      Column("corrections", "更正", "corrections"),
                      Column("withdrawn", "撤回", "withdrawn")])
    ctx.tables.append(table)
    sheet = Sheet(SECTION, table, ctx.figures)
    for thread in actual:
        incident = thread.incident
        cells: dict[str, Figure] = {}
        for channel in channels:
            first = thread.first_report.get(channel)
            minutes = thread.minutes(channel)
            cells[f"channel:{channel}"] = Figure(
                "", round(minutes, 1) if minutes is not None else None, "deliveries",
                ids([first[0]] if first else []), "分钟",
                "measured" if incident.event_at is not None or first is None else "not_recorded")
        within = _within(ctx, thread)
        sheet.row(incident.key, incident.title, incident.title,
                  event_at=Figure("", ctx.local(incident.event_at).strftime("%Y-%m-%d %H:%M")
                                  if incident.event_at else None, "incidents", ids([incident.id]),
                                  status="measured" if incident.event_at else "not_recorded"),
                  **cells,
                  within=Figure("", within,
                                "incidents", ids([incident.id]),
                                status="derived" if within is not None else "not_recorded"),
                  updates=count("", "releases", sorted(thread.steps.get("update", [])), "篇"),
                  corrections=count("", "releases", sorted(thread.steps.get("correction", [])),
                                    "篇"),
                  withdrawn=count("", "releases", sorted(thread.steps.get("withdrawal", [])),
                                  "篇"))


def _per_channel(ctx: Context, actual: list[Thread]) -> None:
    target = ctx.settings.first_report_target_minutes
    table = Table("first_report_channels", "各渠道首报时效", "First reports by channel", [
        Column("measured", "可计算的首报", "first reports timed"),
        Column("within", f"{target} 分钟内", f"within {target} minutes"),
        Column("median", "中位用时（分钟）", "median (minutes)"),
        Column("longest", "最长用时（分钟）", "longest (minutes)"),
        Column("not_recorded", "事件时间未记录", "event time not recorded")])
    ctx.tables.append(table)
    sheet = Sheet(SECTION, table, ctx.figures)
    for channel in channels_of(ctx, actual):
        timed = [(t.first_report[channel][0], t.minutes(channel)) for t in actual
                 if channel in t.first_report and t.minutes(channel) is not None]
        untimed = sorted(t.first_report[channel][0] for t in actual
                         if channel in t.first_report and t.incident.event_at is None)
        values = sorted(m for _d, m in timed if m is not None)
        sheet.row(channel, channel, channel,
                  measured=count("", "deliveries", sorted(d for d, _m in timed), "篇"),
                  within=count("", "deliveries", sorted(d for d, m in timed
                                                        if m is not None and m <= target), "篇"),
                  median=Figure("", round(statistics.median(values), 1) if values else None,
                                "deliveries", ids(sorted(d for d, _m in timed)), "分钟",
                                "measured"),
                  longest=Figure("", round(values[-1], 1) if values else None, "deliveries",
                                 ids(sorted(d for d, m in timed if values and m == values[-1])),
                                 "分钟", "measured"),
                  not_recorded=count("", "deliveries", untimed, "篇"))


def _by_severity(ctx: Context, actual: list[Thread]) -> None:
    table = Table("incident_severity", "突发事件按等级", "Incidents by grade",
                  [Column("incidents", "事件数", "incidents")])
    ctx.tables.append(table)
    sheet = Sheet(SECTION, table, ctx.figures)
    grouped: dict[str, list[int]] = defaultdict(list)
    for thread in actual:
        grouped[thread.incident.severity].append(thread.incident.id)
    for severity in sorted(grouped):
        sheet.row(severity, severity, label_en(severity),
                  incidents=count("", "incidents", sorted(grouped[severity]), "起"))
