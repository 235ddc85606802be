"""三同步: policy documents whose interpretation (解读) went out with them, later, or not at all.

A policy document is a release first published in the period that has a paired interpretation
(``<key>~interpretation``, from a definition's ``interpretation:``) or whose ``document_type`` is
规章 or 行政规范性文件. Its interpretation went out together when first published within
``report.together_within_minutes`` of the document's first publication.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from publisher.report.context import Context
from publisher.report.figure import Column, Figure, Sheet, Table, count, ids
from publisher.report.items import (
    INTERPRETATION_SUFFIX,
    Item,
    first_published,
    in_period,
    published_in_period,
)
from publisher.store.models import Release

SECTION = "interpretation"
POLICY_TYPES = ("rule", "normative")


def build(ctx: Context) -> None:
    """Add the 三同步 table."""
    paired = [key for (key,) in ctx.session.execute(
        select(Release.key).where(Release.key.endswith(INTERPRETATION_SUFFIX)))]
    candidates = {item.key: item for item in first_published(
        ctx, published_in_period(ctx),
        Release.document_type.in_((*POLICY_TYPES, "interpretation")))}
    keys = paired + [k.removesuffix(INTERPRETATION_SUFFIX) for k in paired]
    candidates |= _by_keys(ctx, [k for k in keys if k not in candidates])
    partners = {k: candidates[k] for k in paired if k in candidates}
    documents = [i for i in in_period(ctx, candidates.values()) if _is_document(i, partners)]
    window = timedelta(minutes=ctx.settings.together_within_minutes)
    together, later, never, late_minutes = [], [], [], []
    for document in documents:
        partner = partners.get(document.key + INTERPRETATION_SUFFIX)
        if partner is None or partner.first_at is None:
            never.append(document.id)
        elif document.first_at is not None and partner.first_at - document.first_at <= window:
            together.append(document.id)
        else:
            later.append(document.id)
            assert document.first_at is not None
            late_minutes.append((partner.first_at - document.first_at).total_seconds() / 60)
    interpretations = sorted(i.id for i in in_period(ctx, candidates.values())
                             if _is_interpretation(i))
    table = Table("three_together", "政策文件与解读同步发布（三同步）",
                  "Policy documents released with their interpretation (三同步)",
                  [Column("value", "数量", "value")],
                  note_zh=f"同步：解读在文件首次发布后 {ctx.settings.together_within_minutes} "
                          "分钟内发布。",
                  note_en=f"Together: the interpretation first published within "
                          f"{ctx.settings.together_within_minutes} minutes of its document.")
    ctx.tables.append(table)
    sheet = Sheet(SECTION, table, ctx.figures)
    sheet.row("documents", "政策文件（规章、行政规范性文件及配发解读的文件）",
              "policy documents", value=count("", "releases", sorted(d.id for d in documents), "件"))
    sheet.row("together", "解读同步发布", "interpretation released together",
              value=count("", "releases", sorted(together), "件"))
    sheet.row("later", "解读晚于文件发布", "interpretation released later",
              value=count("", "releases", sorted(later), "件"))
    sheet.row("latest", "解读最长滞后（小时）", "longest delay (hours)", value=Figure(
        "", round(max(late_minutes) / 60, 1) if late_minutes else None, "releases",
        ids(sorted(later)), "小时", "measured"))
    sheet.row("never", "未发布解读", "no interpretation published",
              value=count("", "releases", sorted(never), "件"))
    sheet.row("interpretations", "政策解读（篇）", "interpretations published",
              value=count("", "releases", interpretations, "篇"))


def _by_keys(ctx: Context, keys: list[str]) -> dict[str, Item]:
    found: dict[str, Item] = {}
    for start in range(0, len(keys), 500):
        for item in first_published(ctx, Release.key.in_(keys[start:start + 500])):
            found[item.key] = item
    return found


def _is_interpretation(item: Item) -> bool:
    return item.document_type == "interpretation" or item.key.endswith(INTERPRETATION_SUFFIX)


def _is_document(item: Item, partners: dict[str, Item]) -> bool:
    if _is_interpretation(item):
        return False
    return item.document_type in POLICY_TYPES or item.key + INTERPRETATION_SUFFIX in partners
