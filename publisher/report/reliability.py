"""Reliability: deliveries made in the period that failed, stayed unknown, needed retries, or
that staff decided by hand (``publisher retry``, the console's retry and resolve)."""

from __future__ import annotations

from array import array
from collections import defaultdict

from sqlalchemy import select

from publisher.report.context import Context
from publisher.report.figure import Column, Figure, Sheet, Table, count
from publisher.store.models import AuditEvent, Delivery, Release

SECTION = "reliability"
STAFF_ACTIONS = ("delivery.retry", "delivery.resolved")


def _staff_decided(ctx: Context) -> dict[int, int]:
    """Deliveries staff retried or resolved (at any time since the period began; a failure
    late in December may be decided in January): delivery id -> decisions."""
    decided: dict[int, int] = defaultdict(int)
    rows = ctx.session.execute(
        select(AuditEvent.subject).where(AuditEvent.action.in_(STAFF_ACTIONS),
                                         AuditEvent.at >= ctx.start))
    for (subject,) in rows:
        kind, _, number = subject.partition(":")
        if kind == "delivery" and number.isdigit():
            decided[int(number)] += 1
    return decided


def build(ctx: Context) -> None:
    """Add the per-channel table of deliveries made in the period and how they went."""
    decided = _staff_decided(ctx)
    groups: dict[str, dict[str, array[int]]] = defaultdict(lambda: defaultdict(lambda: array("q")))
    extra: dict[str, int] = defaultdict(int)
    query = (select(Delivery.id, Delivery.channel, Delivery.state, Delivery.attempts)
             .join(Release, Release.id == Delivery.release_id)
             .where(Delivery.created_at >= ctx.start, Delivery.created_at < ctx.end,
                    Delivery.drill.is_(False), ctx.organ_filter())
             .order_by(Delivery.id))
    for delivery_id, channel, state, attempts in ctx.stream(query):
        mine = groups[channel]
        mine["all"].append(delivery_id)
        if state in ("failed", "unknown"):
            mine[state].append(delivery_id)
        if attempts > 1:
            mine["retried"].append(delivery_id)
            extra[channel] += attempts - 1
        if delivery_id in decided:
            mine["by_staff"].append(delivery_id)
            if state in ("published", "retracted", "queued"):
                mine["by_staff_published"].append(delivery_id)
    table = Table("reliability", "投递可靠性（本期创建的投递）", "Reliability (deliveries made in "
                  "the period)", [
                      Column("deliveries", "投递", "deliveries"),
                      Column("failed", "失败", "failed"), Column("unknown", "结果不明", "unknown"),
                      Column("retried", "经重试", "needed retries"),
                      Column("retries", "重试次数", "retries"),
                      Column("by_staff", "人工处理", "decided by staff"),
                      Column("by_staff_published", "人工处理后已发布", "published after staff")],
                  note_zh="失败、结果不明为当前状态；重试次数为首次之外的尝试次数；人工处理为工作人员"
                          "重试或判定过的投递（含期末之后的处理）。",
                  note_en="Failed and unknown are current states; retries are attempts beyond "
                          "the first; decided by staff: retried or resolved by a person (also "
                          "after the period ended).")
    ctx.tables.append(table)
    sheet = Sheet(SECTION, table, ctx.figures)
    configured = [c for c in ctx.app.loaded.config.channels if c in groups]
    for channel in configured + sorted(set(groups) - set(configured)):
        mine = groups[channel]
        retried = count("", "deliveries", mine["retried"], "次")
        sheet.row(channel, channel, channel,
                  deliveries=count("", "deliveries", mine["all"], "项"),
                  failed=count("", "deliveries", mine["failed"], "项"),
                  unknown=count("", "deliveries", mine["unknown"], "项"),
                  retried=count("", "deliveries", mine["retried"], "项"),
                  retries=Figure("", extra[channel], "deliveries", retried.rows, "次"),
                  by_staff=count("", "deliveries", mine["by_staff"], "项"),
                  by_staff_published=count("", "deliveries", mine["by_staff_published"], "项"))
