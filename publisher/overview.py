"""What staff should see first: upcoming releases, releases held or waiting, each channel's health."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from publisher import credential, review
from publisher.app import App
from publisher.cron import cron_trigger
from publisher.outcome import Outcome, of_releases
from publisher.store.models import Delivery, Release

ATTENTION_STATES = ("held", "missed", "rejected")  # nothing was sent: a person should know
ATTENTION_DAYS = 7  # how far back held, missed and rejected releases are listed
FAILURE_WINDOW = timedelta(hours=24)
POSTING_WINDOW = timedelta(hours=1)  # Weibo's hourly post limit
WEIBO_POSTS_PER_HOUR = 30  # channels.weibo.settings default


@dataclass(frozen=True)
class Upcoming:
    """The next run of a scheduled definition."""

    definition_id: str
    due_at: datetime
    render_at: datetime | None  # with review: when it is rendered for an approver
    review: bool
    channels: tuple[str, ...]
    schedule: str


@dataclass(frozen=True)
class Attention:
    """A release nothing was sent for (yet): awaiting approval, held, missed or rejected."""

    release_id: int
    key: str
    title: str | None
    state: str
    due_at: datetime
    created_at: datetime
    author: str
    reasons: tuple[str, ...]
    overdue: bool = False


@dataclass(frozen=True)
class Recent:
    """A recent release, its outcome, and how many of its deliveries are in each state."""

    release_id: int
    key: str
    title: str | None
    state: str
    urgent: bool
    created_at: datetime
    outcome: Outcome
    states: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ChannelHealth:
    """One configured channel: when it last published and what is wrong with it now."""

    name: str
    kind: str
    enabled: bool
    last_published_at: datetime | None
    failed: int  # deliveries that ended failed or unknown in the last FAILURE_WINDOW
    retrying: int  # deliveries waiting to be tried again
    circuit_known: bool  # whether the daemon's circuits were available to look at
    circuit_open_until: datetime | None
    posts_last_hour: int | None = None  # Weibo: posts counted against the hourly limit
    posts_per_hour: int | None = None
    credential_expires_at: datetime | None = None
    credential_expired: bool = False


def upcoming(app: App, now: datetime) -> list[Upcoming]:
    """The next due time of every scheduled definition, soonest first (manual ones left out)."""
    found: list[Upcoming] = []
    for definition_id, definition in app.loaded.config.releases.items():
        if definition.schedule == "manual":
            continue
        due = cron_trigger(definition.schedule, app.loaded.zone).get_next_fire_time(None, now)
        if due is None:
            continue
        needs_review = definition.review == "required"
        found.append(Upcoming(
            definition_id=definition_id, due_at=due,
            render_at=due - review.lead(app, definition_id) if needs_review else None,
            review=needs_review, channels=tuple(definition.channels),
            schedule=definition.schedule))
    return sorted(found, key=lambda item: (item.due_at, item.definition_id))


def attention(app: App, now: datetime, *, limit: int = 20) -> list[Attention]:
    """Releases awaiting approval (all of them, soonest due first), then held, missed and
    rejected ones of the last ATTENTION_DAYS (newest first, at most ``limit``)."""
    items = [Attention(release_id=item.release_id, key=item.key, title=item.title,
                       state=review.AWAITING, due_at=item.due_at, created_at=item.created_at,
                       author=item.author, reasons=(), overdue=item.overdue)
             for item in review.awaiting(app)]
    with app.store.read() as session:
        rows = session.execute(
            select(Release).where(Release.state.in_(ATTENTION_STATES),
                                  Release.created_at >= now - timedelta(days=ATTENTION_DAYS))
            .order_by(Release.created_at.desc(), Release.id.desc()).limit(limit)).scalars()
        for row in rows:
            problems = [str(p) for p in (row.hold_reason or {}).get("problems") or []]
            items.append(Attention(release_id=row.id, key=row.key, title=row.title,
                                   state=row.state, due_at=row.due_at,
                                   created_at=row.created_at, author=row.actor,
                                   reasons=tuple(problems)))
    return items


def recent(app: App, *, limit: int = 10) -> list[Recent]:
    """The newest releases with their outcomes and their deliveries counted by state."""
    with app.store.read() as session:
        rows = list(session.execute(
            select(Release).order_by(Release.created_at.desc(), Release.id.desc())
            .limit(limit)).scalars())
        outcomes = of_releases(session, rows)
        counts: dict[int, dict[str, int]] = {}
        for release_id, state, count in session.execute(
                select(Delivery.release_id, Delivery.state, func.count())
                .where(Delivery.release_id.in_([r.id for r in rows]))
                .group_by(Delivery.release_id, Delivery.state)):
            counts.setdefault(release_id, {})[state] = int(count)
    return [Recent(release_id=r.id, key=r.key, title=r.title, state=r.state,
                   urgent=bool(r.urgent), created_at=r.created_at, outcome=outcomes[r.id],
                   states=dict(sorted(counts.get(r.id, {}).items()))) for r in rows]


def channels(app: App, now: datetime, *, open_circuits: Mapping[str, datetime] | None
             ) -> list[ChannelHealth]:
    """Every configured channel's health; ``open_circuits`` is the daemon dispatcher's (None:
    not known in this process). Each figure is one indexed lookup on the deliveries table."""
    expiring = {e.channel: e for e in credential.expiring(app)}
    found: list[ChannelHealth] = []
    with app.store.read() as session:
        for name, conf in sorted(app.loaded.config.channels.items()):
            last = session.execute(select(func.max(Delivery.updated_at)).where(
                Delivery.channel == name, Delivery.state == "published")).scalar_one_or_none()
            failed = _count(session, name, ("failed", "unknown"), since=now - FAILURE_WINDOW)
            retrying = _count(session, name, ("retry_wait",))
            posts = per_hour = None
            if conf.kind == "weibo":
                since = now - POSTING_WINDOW
                posts = int(session.execute(select(func.count()).select_from(Delivery).where(
                    Delivery.channel == name, Delivery.state.in_(("published", "retracted")),
                    Delivery.updated_at >= since, Delivery.published_at >= since,
                    Delivery.action == "send")).scalar_one())
                given = conf.settings.get("posts_per_hour", WEIBO_POSTS_PER_HOUR)
                per_hour = given if isinstance(given, int) else WEIBO_POSTS_PER_HOUR
            expiry = expiring.get(name)
            found.append(ChannelHealth(
                name=name, kind=conf.kind, enabled=conf.enabled, last_published_at=last,
                failed=failed, retrying=retrying, circuit_known=open_circuits is not None,
                circuit_open_until=(open_circuits or {}).get(name),
                posts_last_hour=posts, posts_per_hour=per_hour,
                credential_expires_at=expiry.expires_at if expiry else None,
                credential_expired=bool(expiry and expiry.expired)))
    return found


def _count(session: Any, channel: str, states: Sequence[str], *,
           since: datetime | None = None) -> int:
    query = select(func.count()).select_from(Delivery).where(
        Delivery.channel == channel, Delivery.state.in_(states))
    if since is not None:
        query = query.where(Delivery.updated_at >= since)
    return int(session.execute(query).scalar_one())


@dataclass(frozen=True)
class NodeView:
    """One cluster node on the overview."""

    node: str
    role: str
    up: bool
    version: str
    beat_at: datetime


def nodes(app: App, now: datetime) -> list[NodeView]:
    """The cluster's nodes (none unless ``cluster.enabled``), the scheduler first."""
    from publisher import cluster

    rows = [NodeView(node=n.id, role=n.role, up=cluster.is_up(app, n, now), version=n.version,
                     beat_at=n.beat_at) for n in cluster.nodes(app)]
    return sorted(rows, key=lambda v: (v.role != "scheduler", not v.up, v.node))
