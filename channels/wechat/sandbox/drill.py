"""A hand-driven clock shared by the adapter (aware datetimes, sleep) and the emulator (seconds)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta


class ManualClock:
    """Time moves only when ``sleep`` or ``advance`` moves it; safe across threads."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def seconds(self) -> float:
        """The same instant as a POSIX timestamp (the emulator's clock)."""
        return self().timestamp()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        """Record the wait and move time forward by it."""
        with self._lock:
            self.slept.append(seconds)
            self._now += timedelta(seconds=seconds)
