"""Per-channel circuit breaker: a channel that keeps failing is left alone for a while."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta


class Circuits:
    """Counts consecutive transient failures per channel; past ``threshold`` the circuit opens.

    While open, the dispatcher claims nothing for that channel. After ``cooldown`` the circuit
    is half-open: what is due for the channel is let through again (the breaker does not pick
    a single probe), the failure count is kept, so one more transient failure opens the circuit
    again for a whole ``cooldown``, and the first success closes it and clears the count.
    """

    def __init__(self, threshold: int = 5, cooldown: timedelta = timedelta(minutes=2)) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._failures: dict[str, int] = {}
        self._open_until: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def allows(self, channel: str, now: datetime) -> bool:
        with self._lock:
            until = self._open_until.get(channel)
            return until is None or now >= until

    def succeeded(self, channel: str) -> bool:
        """Record a success; True if this closed an open circuit."""
        with self._lock:
            was_open = channel in self._open_until
            self._failures.pop(channel, None)
            self._open_until.pop(channel, None)
            return was_open

    def failed(self, channel: str, now: datetime) -> bool:
        """Record a transient failure; True if this opened (or re-opened) the circuit."""
        with self._lock:
            count = self._failures.get(channel, 0) + 1
            self._failures[channel] = count
            if count >= self.threshold:
                self._open_until[channel] = now + self.cooldown
                return True
            return False

    def half_open(self, channel: str, now: datetime) -> bool:
        """Let the next delivery through an open circuit now (staff fixed the remote and
        retry by hand): success closes it, failure opens it again. True if it was open."""
        with self._lock:
            until = self._open_until.get(channel)
            if until is None or until <= now:
                return False
            self._open_until[channel] = now
            return True

    def open_channels(self, now: datetime) -> dict[str, datetime]:
        with self._lock:
            return {c: t for c, t in self._open_until.items() if t > now}
