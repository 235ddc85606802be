"""A per-account hourly post limiter: waits for the window instead of being refused, urgent first.

The window itself is the channel context's SendLog: in the database, so it survives restarts
and is shared by every process posting for the account; without one, this process's memory.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from channels.base import SendLog
from channels.sendlog import MEMORY

WINDOW = timedelta(hours=1)


class WindowFull(Exception):
    """The hourly window has no slot for ``seconds``: longer than the caller will wait."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"the hourly window reopens in {seconds:.0f} s")
        self.seconds = seconds


class HourlyLimiter:
    """At most ``per_hour`` posts of ``account`` in any sliding hour, as ``log`` records them;
    this process's waiters queue urgent-first, then in order.

    Time and sleep are the caller's (the channel context's), so tests drive them by hand.
    """

    def __init__(self, per_hour: int, log: SendLog | None = None,
                 account: str = "account") -> None:
        self.per_hour = per_hour
        self.log: SendLog = log if log is not None else MEMORY
        self.account = account
        self._queue: list[tuple[int, int]] = []  # (0 urgent / 1 routine, arrival)
        self._arrivals = itertools.count()
        self._cond = threading.Condition()

    def acquire(self, *, urgent: bool, clock: Callable[[], datetime],
                sleep: Callable[[float], None], max_wait_seconds: float | None = None,
                key: str = "") -> float:
        """Wait for a slot and take it for delivery ``key`` (recorded before the post leaves);
        returns the seconds waited for the window.

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
                    opens = self.log.take(self.account, key, now, limit=self.per_hour,
                                          window=WINDOW)
                    if opens is None:
                        heapq.heappop(self._queue)
                        return waited
                    seconds = max((opens - now).total_seconds(), 0.0)
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

    def waiting(self) -> int:
        """How many senders of this process are queued for a slot."""
        with self._cond:
            return len(self._queue)


_LIMITERS: dict[str, HourlyLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(account: str, base_url: str, per_hour: int,
                log: SendLog | None = None) -> HourlyLimiter:
    """The process-wide limiter of one account on one API (shared by every channel instance,
    so this process's waiters form one queue); its window is in ``log``."""
    name = f"{account}@{base_url}"
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(name)
        wanted = log if log is not None else MEMORY
        if limiter is None or limiter.per_hour != per_hour or limiter.log is not wanted:
            limiter = _LIMITERS[name] = HourlyLimiter(per_hour, wanted, name)
        return limiter


def forget_all() -> None:
    """Drop every account's queue and the in-memory window (a new emulator may reuse an old
    one's address)."""
    with _LIMITERS_LOCK:
        _LIMITERS.clear()
    MEMORY.clear()
