"""What `publisher trigger` and `retry` show while a release goes out: a line per channel that
follows its delivery (redrawn in place on a terminal, one plain line per change otherwise),
then a one-screen summary."""

from __future__ import annotations

import shutil
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TextIO

from sqlalchemy import select

from publisher.app import App
from publisher.outcome import STATE_WORDS
from publisher.store.models import Delivery

WORDS = {**STATE_WORDS, "published": ("已发布", "published"), "retracted": ("已撤回", "retracted")}
SETTLED = ("published", "queued", "failed", "unknown", "retracted")  # nothing more to wait for
FINE = ("published", "queued")  # queued: in the gazette's next issue
POLL_SECONDS = 0.25  # how often the rows are read again while waiting
CHANNEL_WIDTH = 16
STATE_WIDTH = 10


@dataclass(frozen=True)
class ChannelState:
    """One delivery of the release as its row says now."""

    delivery_id: int
    channel: str
    state: str
    attempts: int
    url: str
    reason: str
    next_attempt_at: datetime | None

    @property
    def settled(self) -> bool:
        return self.state in SETTLED

    def words(self) -> str:
        """The state in Chinese (the English word stands beside it)."""
        return WORDS.get(self.state, (self.state, self.state))[0]

    def detail(self, zone: tzinfo) -> str:
        """The URL once published, else why it stands where it is (and when it tries again)."""
        if self.url:
            return self.url
        if self.state == "retry_wait" and self.next_attempt_at is not None:
            when = f"{self.next_attempt_at.astimezone(zone):%H:%M:%S}"
            again = f"{when} 再试 / tries again at {when}"
            return f"{again}: {self.reason}" if self.reason else again
        return self.reason


def snapshot(app: App, release_id: int) -> list[ChannelState]:
    """Every delivery of ``release_id``, by channel."""
    with app.store.read() as session:
        rows = session.execute(select(Delivery).where(Delivery.release_id == release_id)
                               .order_by(Delivery.channel, Delivery.id)).scalars().all()
        return [ChannelState(
            delivery_id=row.id,
            channel=row.channel if row.action == "send" else f"{row.channel} [{row.action}]",
            state=row.state, attempts=row.attempts, url=(row.receipt or {}).get("url") or "",
            reason=(row.last_error or {}).get("explanation_zh") or row.reason or "",
            next_attempt_at=row.next_attempt_at) for row in rows]


def _row(view: ChannelState, zone: tzinfo) -> str:
    tries = f" 第{view.attempts}次 / try {view.attempts}" if view.attempts > 1 else ""
    return (f"  {view.channel:<{CHANNEL_WIDTH}} {view.state:<{STATE_WIDTH}} {view.words()}"
            f"{tries}  {view.detail(zone)}").rstrip()


class Progress:
    """Shows each channel's delivery as it changes: on a terminal the block of lines is redrawn
    in place; otherwise one plain, time-stamped line per change (for logs and pipes)."""

    def __init__(self, out: TextIO, zone: tzinfo, *, live: bool,
                 now: Callable[[], datetime]) -> None:
        self.out = out
        self.zone = zone
        self.live = live
        self.now = now
        self._shown: dict[str, tuple[str, int, str]] = {}
        self._drawn = 0
        self._last: list[str] = []

    def update(self, views: Sequence[ChannelState]) -> None:
        if self.live:
            self._redraw(views)
            return
        for view in views:
            seen = (view.state, view.attempts, view.detail(self.zone))
            if self._shown.get(view.channel) != seen:
                self._shown[view.channel] = seen
                stamp = f"{self.now().astimezone(self.zone):%H:%M:%S}"
                self.out.write(f"{stamp}{_row(view, self.zone)}\n")
        self.out.flush()

    def _redraw(self, views: Sequence[ChannelState]) -> None:
        columns = shutil.get_terminal_size().columns
        lines = [_fit(_row(view, self.zone), columns - 1) for view in views]
        if lines == self._last:
            return
        self._last = lines
        if self._drawn:
            self.out.write(f"\x1b[{self._drawn}F")  # back to the first line of the block
        self.out.write("".join(f"\x1b[2K{line}\n" for line in lines))
        self._drawn = len(lines)
        self.out.flush()


def _fit(line: str, columns: int) -> str:
    """``line`` cut to ``columns`` terminal cells (a wide character takes two), so a redrawn
    line never wraps and the block can be drawn over."""
    width = 0
    for index, char in enumerate(line):
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
        if width > columns:
            return line[:max(index - 1, 0)] + "…"
    return line


def summary(views: Sequence[ChannelState], key: str, zone: tzinfo) -> list[str]:
    """The one-screen summary: per channel its state and URL or reason, then the count."""
    done = sum(view.state in FINE for view in views)
    lines = [f"结果 / result: {key}",
             f"  {'channel':<{CHANNEL_WIDTH}} {'state':<{STATE_WIDTH}} 状态  链接或原因 / URL "
             "or reason"]
    lines += [_row(view, zone) for view in views]
    lines.append(f"{done}/{len(views)} 个渠道已发布或排入公报 / of {len(views)} channels "
                 "published or queued for the gazette")
    return lines


def follow(app: App, release_id: int, progress: Progress, *, until: datetime | None = None,
           done: threading.Event | None = None) -> list[ChannelState]:
    """Show the release's deliveries as they change until every one is settled, ``done`` (the
    foreground dispatcher finished) is set, or ``until`` passes; returns the last look."""
    pause = done or threading.Event()
    while True:
        finished = done is not None and done.is_set()  # before the look: it sees the end
        views = snapshot(app, release_id)
        progress.update(views)
        if (finished or all(view.settled for view in views)
                or (until is not None and app.clock.now() >= until)):
            return views
        pause.wait(POLL_SECONDS)
