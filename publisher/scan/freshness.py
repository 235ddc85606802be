"""Freshness: how long each new-media account and each portal column has gone without a
publication, against its limit (an account silent for two weeks counts as a 僵尸号), and an alert
to staff a few days before one would count as stale."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import func, select

from publisher.alert import alert
from publisher.app import App
from publisher.store.models import Delivery, Release

NEW_MEDIA = ("wechat", "weibo")  # the accounts the inspection counts; others when configured
State = Literal["ok", "soon", "stale", "never"]
STATE_WORDS: dict[str, tuple[str, str]] = {
    "ok": ("正常", "fresh"), "soon": ("即将超期", "stale soon"), "stale": ("已超期", "stale"),
    "never": ("从未发布", "never published")}


@dataclass(frozen=True)
class Age:
    """One channel's or column's time since its last publication, against its limit."""

    what: Literal["channel", "column"]
    name: str
    label: str
    last_at: datetime | None
    limit_days: int
    state: State
    age_days: float | None

    def describe(self) -> str:
        zh, en = STATE_WORDS[self.state]
        what = "渠道" if self.what == "channel" else "栏目"
        age = "—" if self.age_days is None else f"{self.age_days:.1f}"
        return (f"{what} {self.label}：距上次发布 {age} 天（上限 {self.limit_days} 天），{zh} / "
                f"{self.what} {self.name}: {age} days since its last publication (limit "
                f"{self.limit_days}), {en}")


def _state(last: datetime | None, now: datetime, limit_days: int, warn_days: int
           ) -> tuple[State, float | None]:
    if last is None:
        return "never", None
    age = (now - last) / timedelta(days=1)
    if age > limit_days:
        return "stale", age
    return ("soon" if age > limit_days - warn_days else "ok"), age


def ages(app: App, now: datetime | None = None) -> list[Age]:
    """Every new-media account (and channel given a limit) and every portal column, with its
    age; drills never count as publications."""
    now = now or app.clock.now()
    config = app.loaded.config
    fresh = config.checks.freshness
    with app.store.read() as session:
        by_channel: dict[str, datetime | None] = {name: at for name, at in session.execute(
            select(Delivery.channel, func.max(Delivery.published_at))
            .where(Delivery.published_at.is_not(None), Delivery.drill.is_(False))
            .group_by(Delivery.channel))}
        by_column: dict[str | None, datetime | None] = {column: at for column, at in session.execute(
            select(Release.column_id, func.max(Delivery.published_at))
            .join(Delivery, Delivery.release_id == Release.id)
            .where(Delivery.published_at.is_not(None), Delivery.drill.is_(False))
            .group_by(Release.column_id))}
    out: list[Age] = []
    for name, channel in config.channels.items():
        if not channel.enabled or (channel.kind not in NEW_MEDIA and name not in fresh.channels):
            continue
        limit = fresh.channels.get(name, fresh.channel_days)
        last = _aware(by_channel.get(name), now)
        state, age = _state(last, now, limit, fresh.alert_days_before)
        out.append(Age("channel", name, name, last, limit, state, age))
    for column, label in config.columns.items():
        limit = fresh.columns.get(column) or (
            fresh.policy_column_days if column in fresh.policy_columns else fresh.column_days)
        last = _aware(by_column.get(column), now)
        state, age = _state(last, now, limit, fresh.alert_days_before)
        out.append(Age("column", column, label, last, limit, state, age))
    return out


def _aware(value: datetime | None, now: datetime) -> datetime | None:
    """An aggregate's time, aware (stored times are UTC)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC).astimezone(now.tzinfo or UTC)


def alert_stale(app: App) -> list[Age]:
    """Alert staff to each account or column about to count as stale, or already stale;
    returns them (run at start and daily)."""
    found = [age for age in ages(app) if age.state in ("soon", "stale")]
    for age in found:
        alert(app, f"{age.what}.{age.state}", f"长期未更新提醒：{age.describe().split(' / ')[0]}",
              f"not updated: {age.describe().split(' / ')[1]}", subject=f"{age.what}:{age.name}",
              age_days=round(age.age_days or 0, 1), limit_days=age.limit_days)
    return found
