"""The gazette (政府公报): issues and 期数, items by section, errata, from the audit chain.

Each compiled issue is an audit event (``gazette.compiled``, publisher/gazette.py) that names
its numbers and, since the report exists, each item's section and kind. Older events name only
the issue: their 期数 are read from the label, their sections are not recorded.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from sqlalchemy import select

from publisher.report.context import Context
from publisher.report.figure import Column, Figure, RowTable, Sheet, Table, count, ids
from publisher.store.models import AuditEvent, Delivery, Release

SECTION = "gazette"
ACTION = "gazette.compiled"
ERRATUM = "erratum"
_NUMBERS = re.compile(r"第([0-9、]+)期")


def numbers(details: dict[str, Any]) -> list[int]:
    """The issue numbers an issue covers (two for 第5、6期)."""
    number = details.get("number")
    if isinstance(number, dict) and isinstance(number.get("numbers"), list):
        return [int(n) for n in number["numbers"]]
    match = _NUMBERS.search(str(details.get("issue", "")))
    return [int(n) for n in match[1].split("、") if n] if match else []


def _issues(ctx: Context) -> list[AuditEvent]:
    return list(ctx.session.execute(
        select(AuditEvent).where(AuditEvent.action == ACTION, AuditEvent.at >= ctx.start,
                                 AuditEvent.at < ctx.end).order_by(AuditEvent.seq)).scalars())


def _organ_keys(ctx: Context, keys: set[str]) -> set[str]:
    """Of the release keys, those of the organ asked for."""
    found: set[str] = set()
    ordered = sorted(keys)
    for start in range(0, len(ordered), 500):
        found.update(k for (k,) in ctx.session.execute(select(Release.key).where(
            Release.key.in_(ordered[start:start + 500]), ctx.organ_filter())))
    return found


def build(ctx: Context) -> None:
    """Add the gazette tables: per gazette, issues, 期数, merged, items, errata; items by
    section."""
    events = _issues(ctx)
    wanted: set[str] | None = None
    if ctx.organ:
        wanted = _organ_keys(ctx, {str(e.get("release_key", "")) for ev in events
                                   for e in ev.details.get("entries") or []})
    per_channel: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    sections: dict[str, list[int]] = defaultdict(list)
    section_names: dict[str, str] = {}
    once = ctx.settings.gazette_merged_issue == "once"
    deliveries = _deliveries(ctx, events)
    for event in events:
        details = event.details
        mine = per_channel[str(details.get("channel", ""))]
        mine["issues"].append(event.seq)
        covered = numbers(details)
        mine["numbers"].extend([event.seq] * (1 if once or not covered else len(covered)))
        if len(covered) > 1:
            mine["merged"].append(event.seq)
        entries = details.get("entries")
        if not isinstance(entries, list):
            mine["not_recorded"].append(event.seq)
            continue
        for entry in entries:
            if wanted is not None and entry.get("release_key") not in wanted:
                continue
            if entry.get("kind") == ERRATUM:
                mine["errata"].append(event.seq)
                continue
            delivery = deliveries.get(str(entry.get("item_id", "")))
            if delivery is None:  # not one of this database's deliveries: counted, no row
                mine["unmatched"].append(event.seq)
                continue
            mine["items"].append(delivery)
            section = str(entry.get("section", ""))
            sections[section].append(delivery)
            section_names[section] = str(entry.get("section_name") or section)
    _per_gazette(ctx, per_channel, once)
    _by_section(ctx, sections, section_names)


def _deliveries(ctx: Context, events: list[AuditEvent]) -> dict[str, int]:
    """The delivery behind each item of the issues (its idempotency key is the item id)."""
    keys = sorted({str(entry.get("item_id", "")) for event in events
                   for entry in event.details.get("entries") or []})
    found: dict[str, int] = {}
    for start in range(0, len(keys), 500):
        found.update((key, delivery_id) for key, delivery_id in ctx.session.execute(
            select(Delivery.idempotency_key, Delivery.id).where(
                Delivery.idempotency_key.in_(keys[start:start + 500]))))
    return found


def _per_gazette(ctx: Context, per_channel: dict[str, dict[str, list[int]]], once: bool) -> None:
    table = Table("gazette", "政府公报", "Government gazette", [
        Column("issues", "出版次数", "issues published"),
        Column("numbers", "期数", "issue numbers (期数)"),
        Column("merged", "其中合刊", "of which merged"),
        Column("items", "刊登文件（件）", "items (their deliveries)"),
        Column("errata", "勘误", "errata"),
        Column("not_recorded", "未记录栏目的期次", "issues without item records")],
        note_zh=("合刊按一期计。" if once else "合刊按其所含期号计（如第5、6期计2期）。")
        + "行中的记录为审计链中的出版事件（序号）。",
        note_en=("A merged issue counts once. " if once else "A merged issue counts as each "
                 "of its numbers (No. 5-6 counts 2). ") + "Rows are the audit chain's issue "
                 "events (seq).")
    ctx.tables.append(table)
    sheet = Sheet(SECTION, table, ctx.figures)
    for channel, groups in sorted(per_channel.items()):
        def rows(name: str, unit: str = "期", groups: dict[str, list[int]] = groups,
                 of: RowTable = "audit_events") -> Figure:
            found = groups.get(name, [])
            return Figure("", len(found), of, ids(sorted(set(found))), unit)
        items = rows("items", "件", of="deliveries")
        if groups.get("unmatched"):
            items.value = len(groups["items"]) + len(groups["unmatched"])
            items.note_zh = f"其中 {len(groups['unmatched'])} 件在本数据库中没有对应的投递"
            items.note_en = f"{len(groups['unmatched'])} of them have no delivery here"
        sheet.row(channel or "_none", channel or "—", channel or "—", issues=rows("issues"),
                  numbers=rows("numbers"), merged=rows("merged"), items=items,
                  errata=rows("errata", "件"), not_recorded=rows("not_recorded"))
    if any(groups.get("not_recorded") for groups in per_channel.values()):
        ctx.note("部分公报期次出版于本功能上线前，其栏目与勘误未记录。",
                 "Some gazette issues were compiled before the report existed: their sections "
                 "and errata were not recorded.")


def _by_section(ctx: Context, sections: dict[str, list[int]], names: dict[str, str]) -> None:
    table = Table("gazette_sections", "政府公报按栏目", "Gazette items by section",
                  [Column("items", "刊登文件（件）", "items")])
    ctx.tables.append(table)
    sheet = Sheet(SECTION, table, ctx.figures)
    for section in sorted(sections, key=lambda s: -len(sections[s])):
        sheet.row(section or "_none", names[section], section,
                  items=count("", "deliveries", ids(sorted(sections[section])), "件"))
    if not sections:
        sheet.row("_none", "（无刊登文件记录）", "(no items recorded)",
                  items=count("", "deliveries", ids(), "件"))
