"""Releases with their first public publication: the rows behind timeliness, 三同步 and documents."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, func, select

from publisher.report.context import PUBLISHING_ACTIONS, Context, private_kinds
from publisher.store.models import Delivery, Release

INTERPRETATION_SUFFIX = "~interpretation"  # release.interpretation_key: the paired 解读


@dataclass(frozen=True)
class Item:
    """A release and when it first became public (None: never)."""

    id: int
    key: str
    title: str
    urgent: bool
    document_type: str | None
    signed_date: date | None
    first_at: datetime | None


def first_published(ctx: Context, *where: ColumnElement[bool]) -> list[Item]:
    """Releases matching ``where`` (and the organ filter), each with its first publication on
    a public channel (drills and retractions aside), in one grouped query."""
    chosen = select(Release.id).where(ctx.organ_filter(), *where)
    first = (select(Delivery.release_id.label("release_id"),
                    func.min(Delivery.published_at).label("first_at"))
             .where(Delivery.release_id.in_(chosen), Delivery.action.in_(PUBLISHING_ACTIONS),
                    Delivery.drill.is_(False), Delivery.kind.not_in(private_kinds()),
                    Delivery.published_at.is_not(None))
             .group_by(Delivery.release_id).subquery())
    rows = ctx.stream(
        select(Release.id, Release.key, Release.title, Release.urgent, Release.document_type,
               Release.signed_date, first.c.first_at)
        .outerjoin(first, first.c.release_id == Release.id)
        .where(ctx.organ_filter(), *where).order_by(Release.id))
    return [Item(*row) for row in rows]


def in_period(ctx: Context, items: Iterable[Item]) -> list[Item]:
    """The items first published in the period."""
    start, end = ctx.start, ctx.end
    return [i for i in items if i.first_at is not None and start <= i.first_at < end]


def published_in_period(ctx: Context) -> ColumnElement[bool]:
    """Releases with a public publication in the period (narrows the grouped query)."""
    return Release.id.in_(select(Delivery.release_id).where(
        Delivery.published_at >= ctx.start, Delivery.published_at < ctx.end))
