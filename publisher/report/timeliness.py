"""Routine timeliness: working days from 成文日期 to first publication, against 20 working days."""

from __future__ import annotations

import statistics

from publisher.report.context import Context
from publisher.report.figure import Column, Figure, Sheet, Table, count, ids
from publisher.report.items import first_published, in_period, published_in_period
from publisher.store.models import Release

SECTION = "timeliness"


def build(ctx: Context) -> None:
    """Add the timeliness table: items with and without a recorded 成文日期, within and past
    the limit, and the median and longest lag in working days."""
    limit = ctx.settings.timeliness_working_days
    items = in_period(ctx, first_published(ctx, Release.urgent.is_(False),
                                           published_in_period(ctx)))
    calendar = ctx.calendar
    lags: dict[int, int] = {}
    for item in items:
        if item.signed_date is not None and item.first_at is not None:
            lags[item.id] = calendar.working_days_after(item.signed_date,
                                                        ctx.local(item.first_at).date())
    recorded = sorted(lags)
    within = sorted(i for i, lag in lags.items() if lag <= limit)
    past = sorted(i for i, lag in lags.items() if lag > limit)
    missing = sorted(i.id for i in items if i.signed_date is None)
    table = Table("timeliness", "例行公开时效（成文日期至发布日期）",
                  "Routine timeliness (成文日期 to publication)",
                  [Column("value", "数量", "value")],
                  note_zh=f"条例第二十六条：形成或者变更之日起 {limit} 个工作日内公开。工作日按配置的"
                          "节假日与调休计算。",
                  note_en=f"Regulations art. 26: within {limit} working days of being formed; "
                          "working days follow the configured holidays and make-up days.")
    ctx.tables.append(table)
    sheet = Sheet(SECTION, table, ctx.figures)
    sheet.row("items", "例行发布信息（条）", "routine items", value=count(
        "", "releases", sorted(i.id for i in items), "条"))
    sheet.row("recorded", "已记录成文日期", "with 成文日期 recorded",
              value=count("", "releases", recorded, "条"))
    sheet.row("within", f"{limit} 个工作日内发布", f"within {limit} working days",
              value=count("", "releases", within, "条"))
    sheet.row("past", f"超过 {limit} 个工作日", f"past {limit} working days",
              value=count("", "releases", past, "条"))
    values = sorted(lags.values())
    sheet.row("median", "中位用时（工作日）", "median (working days)", value=Figure(
        "", statistics.median(values) if values else None, "releases", ids(recorded), "工作日",
        "measured"))
    sheet.row("longest", "最长用时（工作日）", "longest (working days)", value=Figure(
        "", max(values) if values else None, "releases",
        ids(sorted(i for i, lag in lags.items() if values and lag == values[-1])), "工作日",
        "measured"))
    sheet.row("not_recorded", "成文日期未记录（不计入上列）", "成文日期 not recorded (not counted "
              "above)", value=count("", "releases", missing, "条"))
    missing_years = calendar.missing_years(ctx.period.first, ctx.period.last)
    if missing_years:
        years = "、".join(map(str, missing_years))
        ctx.note(f"工作日历未配置 {years} 年的节假日，按周一至周五计算。",
                 f"The working-day calendar has no holidays for {years}: Monday to Friday "
                 "counted as working days.")
