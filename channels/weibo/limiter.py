"""A per-account hourly post limiter: waits for the window instead of being refused, urgent first."""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

WINDOW = timedelta(hours=1)


class WindowFull(Exception):
    """The hourly window has no slot for ``seconds``: longer than the caller will wait."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the hourly window reopens in {seconds:.0f} s")
        self.seconds = seconds


class HourlyLimiter:
    """At most ``per_hour`` posts in any sliding hour; waiters queue urgent-first, then in order.

    Time and sleep are the caller's (the channel context's), so tests drive them by hand.
    """

    def __init__(self, per_hour: int) -> None:
        self.per_hour = per_hour
        self._sent: deque[datetime] = deque()
        self._queue: list[tuple[int, int]] = []  # (0 urgent / 1 routine, arrival)
        self._arrivals = itertools.count()
        self._cond = threading.Condition()

    def acquire(self, *, urgent: bool, clock: Callable[[], datetime],
                sleep: Callable[[float], None], max_wait_seconds: float | None = None) -> float:
        """Wait for a slot and take it; returns the seconds waited for the window.

        WindowFull when the slot is further than ``max_wait_seconds`` away: the caller comes
        back later instead of holding its thread (and its place) for up to an hour.
        """
        ticket = (0 if urgent else 1, next(self._arrivals))
        waited = 0.0
        with self._cond:
            heapq.heappush(self._queue, ticket)
            self._cond.notify_all()
            try:
                while True:
                    if self._queue[0] != ticket:
                        self._cond.wait()
                        continue
                    now = clock()
                    self._forget(now)
                    if len(self._sent) < self.per_hour:
                        heapq.heappop(self._queue)
                        self._sent.append(now)
                        return waited
                    seconds = max((self._sent[0] + WINDOW - now).total_seconds(), 0.0)
                    if max_wait_seconds is not None and seconds > max_wait_seconds:
                        raise WindowFull(seconds)
                    self._cond.release()
                    try:
                        sleep(seconds)
                    finally:
                        self._cond.acquire()
                    waited += seconds
            finally:
                if ticket in self._queue:
                    self._queue.remove(ticket)
                    heapq.heapify(self._queue)
                self._cond.notify_all()

    def used(self, now: datetime) -> int:
        """Posts counted in the hour before ``now``."""
        with self._cond:
            self._forget(now)
            return len(self._sent)

    def waiting(self) -> int:
        """How many senders are queued for a slot."""
        with self._cond:
            return len(self._queue)

    def _forget(self, now: datetime) -> None:
        while self._sent and self._sent[0] + WINDOW <= now:
            self._sent.popleft()


_LIMITERS: dict[tuple[str, str], HourlyLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(account: str, base_url: str, per_hour: int) -> HourlyLimiter:
    """The process-wide limiter of one account on one API (shared by every channel instance)."""
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get((account, base_url))
        if limiter is None or limiter.per_hour != per_hour:
            limiter = _LIMITERS[(account, base_url)] = HourlyLimiter(per_hour)
        return limiter


def forget_all() -> None:
    """Drop every account's window (a new emulator may reuse an old one's address)."""
    with _LIMITERS_LOCK:
        _LIMITERS.clear()
