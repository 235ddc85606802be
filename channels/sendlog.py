"""A SendLog in this process's memory, for channels built without a database (tests, tools)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta


class MemorySendLog:
    """The SendLog contract kept in a dict: it starts empty with every process."""

    def __init__(self) -> None:
        self._sends: dict[str, list[tuple[datetime, str]]] = {}  # account -> (at, key), in order
        self._lock = threading.Lock()

    def take(self, account: str, key: str, now: datetime, *, limit: int,
             window: timedelta) -> datetime | None:
        """Record a send when the window has room, else say when it opens (see SendLog)."""
        with self._lock:
            sends = self._sends.setdefault(account, [])
            inside = [at for at, _key in sends if at > now - window]
            if len(inside) >= limit:
                return min(inside) + window
            sends.append((now, key))
            return None

    def first(self, account: str, key: str) -> datetime | None:
        """The first recorded send of ``key`` (see SendLog)."""
        with self._lock:
            return min((at for at, sent in self._sends.get(account, []) if sent == key),
                       default=None)

    def clear(self) -> None:
        """Forget every send."""
        with self._lock:
            self._sends.clear()


MEMORY = MemorySendLog()  # the process-wide one, shared by every channel without a database
