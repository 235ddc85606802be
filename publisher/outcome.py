"""A release's outcome as staff read it (已完成, 部分失败, 已撤回, 进行中…), derived from its rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.store.models import Delivery, Incident, Release

OUTSTANDING = ("pending", "sending", "retry_wait", "queued")  # queued: waits for the gazette issue
FAILING = ("failed", "unknown")
# release states in which nothing was (or will be) sent on its own: the state is the outcome
NOT_ACTIVE = ("awaiting_approval", "held", "missed", "rejected")

# outcome -> (zh-CN, English)
WORDS: dict[str, tuple[str, str]] = {
    "completed": ("已完成", "completed"),
    "partial": ("部分失败", "partly failed"),
    "failed": ("全部失败", "failed"),
    "withdrawn": ("已撤回", "withdrawn"),
    "in_progress": ("进行中", "in progress"),
    "awaiting_approval": ("待审核", "awaiting approval"),
    "held": ("已暂停", "held"),
    "missed": ("已错过", "missed"),
    "rejected": ("已驳回", "rejected"),
    "no_deliveries": ("无投递", "no delivery"),
}
# delivery state -> (zh-CN, English), for naming what a channel is stuck in
STATE_WORDS: dict[str, tuple[str, str]] = {
    "pending": ("待发送", "pending"), "sending": ("发送中", "sending"),
    "retry_wait": ("等待重试", "waiting to retry"), "queued": ("排队待刊", "queued"),
    "failed": ("失败", "failed"), "unknown": ("结果不明", "unknown"),
}


@dataclass(frozen=True)
class Outcome:
    """What became of a release: ``key`` (a WORDS key), the channels that failed or whose
    outcome is unknown, and the channels still under way, each with its delivery state."""

    key: str
    failing: tuple[tuple[str, str], ...] = ()
    waiting: tuple[tuple[str, str], ...] = ()

    @property
    def settled(self) -> bool:
        """Whether nothing is still under way."""
        return not self.waiting and self.key != "in_progress"

    def words(self, lang: str = "zh") -> str:
        """The outcome in ``lang`` (zh or en), e.g. ``部分失败``."""
        zh, en = WORDS.get(self.key, (self.key, self.key))
        return en if lang == "en" else zh

    @property
    def named(self) -> tuple[tuple[str, str], ...]:
        """The channels worth naming beside the outcome: those still under way while it is in
        progress (with any failed so far), else those that failed or are unknown."""
        return (*self.waiting, *self.failing) if self.key == "in_progress" else self.failing

    def channels(self, lang: str = "zh") -> str:
        """The channels worth naming with their states, e.g. ``weibo-main（失败）``; "" for none."""
        def one(name: str, state: str) -> str:
            zh, en = STATE_WORDS.get(state, (state, state))
            return f"{name} ({en})" if lang == "en" else f"{name}（{zh}）"

        return ("、" if lang != "en" else ", ").join(one(n, s) for n, s in self.named)

    def describe(self) -> str:
        """One line in both languages: ``部分失败：weibo-main（失败） / partly failed: weibo-main
        (failed)``."""
        zh, en = self.words("zh"), self.words("en")
        if self.named:
            zh, en = f"{zh}：{self.channels('zh')}", f"{en}: {self.channels('en')}"
        return f"{zh} / {en}"


def derive(state: str, deliveries: Iterable[tuple[str, str, str]], *,
           withdrawn: bool = False) -> Outcome:
    """The outcome of a release in ``state`` whose deliveries are ``(channel, action, state)``;
    ``withdrawn``: it belongs to an incident that was withdrawn (and is not the withdrawal).

    A release that is not active is its state (待审核, 已暂停, 已错过, 已驳回). Otherwise: a post
    retracted, or a withdrawn incident, is 已撤回; any delivery still under way is 进行中;
    failures beside publications are 部分失败, failures alone 全部失败; else 已完成.
    """
    rows = list(deliveries)
    failing = tuple(sorted({(c, s) for c, _a, s in rows if s in FAILING}))
    waiting = tuple(sorted({(c, s) for c, _a, s in rows if s in OUTSTANDING}))
    if state != "active":  # NOT_ACTIVE: nothing goes out on its own
        return Outcome(state, failing, waiting)
    if withdrawn or any(a == "send" and s == "retracted" for _c, a, s in rows):
        return Outcome("withdrawn", failing, waiting)
    if not rows:
        return Outcome("no_deliveries")
    if waiting:
        return Outcome("in_progress", failing, waiting)
    if failing:
        published = any(s == "published" for _c, _a, s in rows)
        return Outcome("partial" if published else "failed", failing)
    return Outcome("completed")


def of_releases(session: Session, releases: Sequence[Release]) -> dict[int, Outcome]:
    """The outcome of each release (by id): one query for their deliveries, one for their
    incidents."""
    ids = [r.id for r in releases]
    rows: dict[int, list[tuple[str, str, str]]] = {i: [] for i in ids}
    if ids:
        for release_id, channel, action, state in session.execute(
                select(Delivery.release_id, Delivery.channel, Delivery.action, Delivery.state)
                .where(Delivery.release_id.in_(ids))):
            rows[release_id].append((channel, action, state))
    incident_ids = {r.incident_id for r in releases if r.incident_id is not None}
    withdrawn_incidents = set(session.execute(
        select(Incident.id).where(Incident.id.in_(incident_ids),
                                  Incident.status == "withdrawn")).scalars()) \
        if incident_ids else set()
    return {r.id: derive(r.state, rows[r.id],
                         withdrawn=r.incident_id in withdrawn_incidents
                         and r.msg_type != "Cancel")
            for r in releases}


def of_release(session: Session, release: Release) -> Outcome:
    """The outcome of one release."""
    return of_releases(session, [release])[release.id]
