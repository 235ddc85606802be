"""Items actively published (信息, unique releases) and channel publications (篇次), grouped.

An item counts in the period of its first publication on a public channel; a publication (one
delivery that sent or followed up and has a ``published_at``) in the period of its own. Drills,
retractions and channels whose kind declares ``public = False`` are not publications.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias

from sqlalchemy import ColumnElement, func, select

from publisher.report.context import PUBLISHING_ACTIONS, Context, platform, private_kinds
from publisher.report.figure import Column, Figure, Sheet, Table, count, ids
from publisher.report.label import NOT_RECORDED
from publisher.report.period import ReportPeriod
from publisher.store.models import BotState, Delivery, Release

SECTION = "publications"
NONE_KEY = "_none"  # the row of releases recorded before the field existed (未记录)
GROUPS = ("category", "organ", "column")
GROUP_WORDS = {"category": ("按主题分类", "by subject category (主题分类)"),
               "organ": ("按发布机构", "by issuing organ (发布机构)"),
               "column": ("按栏目", "by column (栏目)")}

Groups: TypeAlias = "defaultdict[str, array[int]]"


def _groups() -> Groups:
    return defaultdict(lambda: array("q"))


@dataclass
class Counts:
    """The rows of one period, grouped: delivery ids for 篇次, release ids for items."""

    deliveries: array[int] = field(default_factory=ids)
    follow_ups: array[int] = field(default_factory=ids)
    retracted: array[int] = field(default_factory=ids)
    items: array[int] = field(default_factory=ids)
    by: dict[str, Groups] = field(default_factory=lambda: defaultdict(_groups))  # 篇次
    items_by: dict[str, Groups] = field(default_factory=lambda: defaultdict(_groups))
    kinds: dict[str, str] = field(default_factory=dict)  # channel -> kind


def _public() -> list[ColumnElement[bool]]:
    return [Delivery.action.in_(PUBLISHING_ACTIONS), Delivery.drill.is_(False),
            Delivery.kind.not_in(private_kinds()), Delivery.published_at.is_not(None)]


def collect(ctx: Context, period: ReportPeriod) -> Counts:
    """Every publication and item of ``period`` (up to now), grouped, in two plain queries."""
    start, end = period.start, min(period.end, ctx.now)
    counts = Counts()
    _publications(ctx, counts, start, end)
    _items(ctx, counts, start, end)
    return counts


def _key(value: str | None) -> str:
    return value if value else NONE_KEY


def _publications(ctx: Context, counts: Counts, start: datetime, end: datetime) -> None:
    query = (select(Delivery.id, Delivery.release_id, Delivery.channel, Delivery.kind,
                    Delivery.published_at, Delivery.action, Delivery.state,
                    Release.subject_category, Release.issuing_organ, Release.column_id)
             .join(Release, Release.id == Delivery.release_id)
             .where(*_public(), Delivery.published_at >= start, Delivery.published_at < end,
                    ctx.organ_filter())
             .order_by(Delivery.id))
    per_channel: Groups = _groups()  # release ids, repeated; made distinct at the end
    month_of = ctx.month_of()
    for (delivery_id, release_id, channel, kind, published_at, action, state, category, organ,
         column) in ctx.stream(query):
        counts.deliveries.append(delivery_id)
        counts.kinds.setdefault(channel, kind)
        month = month_of(published_at)
        by = counts.by
        by["channel"][channel].append(delivery_id)
        by["month"][month].append(delivery_id)
        by["month_channel"][f"{month}|{channel}"].append(delivery_id)
        by["category"][_key(category)].append(delivery_id)
        by["organ"][_key(organ)].append(delivery_id)
        by["column"][_key(column)].append(delivery_id)
        per_channel[channel].append(release_id)
        if action == "follow_up":
            counts.follow_ups.append(delivery_id)
        if state == "retracted":
            counts.retracted.append(delivery_id)
    for channel in list(per_channel):  # one channel's set at a time: a lower peak
        counts.items_by["channel"][channel] = array("q", sorted(set(per_channel.pop(channel))))


def _items(ctx: Context, counts: Counts, start: datetime, end: datetime) -> None:
    touched = select(Delivery.release_id).where(
        *_public(), Delivery.published_at >= start, Delivery.published_at < end)
    first = (select(Delivery.release_id.label("release_id"),
                    func.min(Delivery.published_at).label("first_at"))
             .where(*_public(), Delivery.release_id.in_(touched))
             .group_by(Delivery.release_id)
             .having(func.min(Delivery.published_at) >= start,
                     func.min(Delivery.published_at) < end).subquery())
    query = (select(Release.id, first.c.first_at, Release.subject_category,
                    Release.issuing_organ, Release.column_id)
             .join(first, first.c.release_id == Release.id).where(ctx.organ_filter())
             .order_by(Release.id))
    month_of = ctx.month_of()
    for release_id, first_at, category, organ, column in ctx.stream(query):
        counts.items.append(release_id)
        by = counts.items_by
        by["month"][month_of(first_at)].append(release_id)
        by["category"][_key(category)].append(release_id)
        by["organ"][_key(organ)].append(release_id)
        by["column"][_key(column)].append(release_id)


# --------------------------------------------------------------------------- the previous period


def records_since(ctx: Context) -> datetime | None:
    """When the bot's records begin: its first release, or its scheduler's first start."""
    first = ctx.session.execute(select(func.min(Release.created_at))).scalar_one_or_none()
    started = ctx.session.get(BotState, "scheduler_first_started")
    times = [t for t in (first, datetime.fromisoformat(started.value) if started else None) if t]
    return min(times) if times else None


def previous(ctx: Context) -> tuple[ReportPeriod | None, Counts | None]:
    """The previous period and its counts, when the records cover all of it."""
    period = ctx.period.previous()
    since = records_since(ctx)
    if since is None or since > period.start:
        when = ctx.local(since).strftime("%Y-%m-%d") if since else "—"
        ctx.note(f"上期（{period.label_zh}）无完整记录（记录始于 {when}），不作同比。",
                 f"No full records for the previous period ({period.label_en}; records begin "
                 f"{when}): no comparison.")
        return period, None
    return period, collect(ctx, period)


def change(now: Figure, before: Figure | None) -> Figure:
    """The change against the previous period, in per cent (derived; unknown without one)."""
    if before is None:
        return Figure("", None, status="unknown", unit="%",
                      note_zh="上期无完整记录", note_en="no full records for the previous period")
    base, value = before.value, now.value
    if not isinstance(base, int) or not isinstance(value, int) or base == 0:
        return Figure("", None, status="derived", unit="%",
                      note_zh="上期为 0，无法计算", note_en="the previous period had none")
    return Figure("", round((value - base) * 100 / base, 1), status="derived", unit="%",
                  note_zh=f"（{value} − {base}）÷ {base}", note_en=f"({value} − {base}) ÷ {base}")


# --------------------------------------------------------------------------- tables


def build(ctx: Context) -> None:
    """Add the publication tables: totals, by channel, by month (and channel), by category,
    by organ, by column, each with the change against the previous period where known."""
    counts = collect(ctx, ctx.period)
    _period, before = previous(ctx)
    _totals(ctx, counts, before)
    _by_channel(ctx, counts, before)
    _by_month(ctx, counts)
    for group in GROUPS:
        _by_group(ctx, counts, before, group)


def _sheet(ctx: Context, table_id: str, zh: str, en: str, columns: list[Column]) -> Sheet:
    table = Table(table_id, zh, en, columns)
    ctx.tables.append(table)
    return Sheet(SECTION, table, ctx.figures)


COMPARED = [Column("items", "信息条数", "items"), Column("deliveries", "发布篇次", "publications"),
            Column("previous_deliveries", "上期篇次", "previous period"),
            Column("change", "同比（%）", "change (%)")]


def _compared(before: Counts | None, pick: Callable[[Counts], array[int]]) -> Figure | None:
    if before is None:
        return None
    return count("", "deliveries", pick(before), "篇次")


def _picker(group: str, key: str) -> Callable[[Counts], array[int]]:
    def pick(counts: Counts) -> array[int]:
        return counts.by[group].get(key, ids())
    return pick


def _totals(ctx: Context, counts: Counts, before: Counts | None) -> None:
    sheet = _sheet(ctx, "totals", "主动公开信息总量", "Items actively published", [
        Column("value", "数量", "count"), Column("previous", "上期", "previous period"),
        Column("change", "同比（%）", "change (%)")])
    items_before = count("", "releases", before.items, "条") if before else None
    deliveries_before = _compared(before, lambda c: c.deliveries)
    now_items = count("", "releases", counts.items, "条")
    now_deliveries = count("", "deliveries", counts.deliveries, "篇次")
    sheet.row("items", "主动公开信息（条）", "items actively published", value=now_items,
              previous=items_before or _none(), change=change(now_items, items_before))
    sheet.row("deliveries", "各渠道发布篇次", "channel publications (篇次)",
              value=now_deliveries, previous=deliveries_before or _none(),
              change=change(now_deliveries, deliveries_before))
    sheet.row("follow_ups", "其中：跟帖、时间线等续报", "of which follow-ups",
              value=count("", "deliveries", counts.follow_ups, "篇次"))
    sheet.row("retracted", "其中：后被撤回", "of which later retracted",
              value=count("", "deliveries", counts.retracted, "篇次"))


def _none() -> Figure:
    return Figure("", None, status="unknown", note_zh="上期无完整记录",
                  note_en="no full records for the previous period")


def _by_channel(ctx: Context, counts: Counts, before: Counts | None) -> None:
    sheet = _sheet(ctx, "by_channel", "按发布渠道", "By channel",
                   [Column("platform", "平台", "platform"), *COMPARED])
    for channel in _channel_order(ctx, counts, before):
        kind = counts.kinds.get(channel) or (before.kinds.get(channel) if before else None) or ""
        zh, en = platform(kind)
        now = count("", "deliveries", counts.by["channel"].get(channel, ids()), "篇次")
        was = _compared(before, _picker("channel", channel))
        sheet.row(channel, channel, channel, platform=Figure("", f"{zh} / {en}", status="derived"),
                  items=count("", "releases", counts.items_by["channel"].get(channel, ids()), "条"),
                  deliveries=now, previous_deliveries=was or _none(), change=change(now, was))


def _channel_order(ctx: Context, counts: Counts, before: Counts | None) -> list[str]:
    seen = set(counts.by["channel"]) | (set(before.by["channel"]) if before else set())
    configured = [name for name in ctx.app.loaded.config.channels if name in seen]
    return configured + sorted(seen - set(configured))


def _by_month(ctx: Context, counts: Counts) -> None:
    channels = _channel_order(ctx, counts, None)
    sheet = _sheet(ctx, "by_month", "按月份", "By month", [
        Column("items", "信息条数", "items"), Column("deliveries", "发布篇次", "publications"),
        *[Column(f"channel:{name}", name, name) for name in channels]])
    for month in ctx.period.months():
        cells = {f"channel:{name}": count("", "deliveries",
                                          counts.by["month_channel"].get(f"{month}|{name}", ids()),
                                          "篇次") for name in channels}
        sheet.row(month, month, month,
                  items=count("", "releases", counts.items_by["month"].get(month, ids()), "条"),
                  deliveries=count("", "deliveries", counts.by["month"].get(month, ids()), "篇次"),
                  **cells)


def _by_group(ctx: Context, counts: Counts, before: Counts | None, group: str) -> None:
    zh, en = GROUP_WORDS[group]
    sheet = _sheet(ctx, f"by_{group}", zh, en, COMPARED)
    names = {"column": ctx.app.loaded.config.columns}.get(group, {})
    keys = set(counts.items_by[group]) | set(counts.by[group])
    order = sorted(keys - {NONE_KEY}, key=lambda k: (-len(counts.by[group].get(k, ())), k))
    for key in [*order, *([NONE_KEY] if NONE_KEY in keys else [])]:
        label = NOT_RECORDED if key == NONE_KEY else (names.get(key, key), names.get(key, key))
        now = count("", "deliveries", counts.by[group].get(key, ids()), "篇次")
        was = _compared(before, _picker(group, key))
        sheet.row(key, *label, items=count("", "releases", counts.items_by[group].get(key, ids()),
                                           "条"),
                  deliveries=now, previous_deliveries=was or _none(), change=change(now, was))
    if NONE_KEY in keys:
        ctx.note("“未记录”行是本功能上线前的发布：当时未记录其主题分类、发布机构和栏目。",
                 "Rows marked 'not recorded' are releases made before the report's fields "
                 "existed: their category, organ and column were not recorded.")
