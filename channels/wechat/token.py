"""Access tokens: an in-memory cache for tests and one process, and the provider that refreshes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

EARLY_SECONDS = 300  # a token this close to its expiry is not handed out


@runtime_checkable
class RefreshingCache(Protocol):
    """A token cache that replaces a stale token once, whoever asks (the core's database cache)."""

    def get(self, key: str) -> tuple[str, datetime] | None: ...

    def refresh(self, key: str, stale: str | None,
                fetch: Callable[[], tuple[str, datetime]]) -> str: ...


class MemoryTokenCache:
    """A thread-safe TokenCache for one process; the core replaces it with the database one."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[str, datetime]] = {}
        self._lock = threading.RLock()

    def _fresh(self, entry: tuple[str, datetime] | None) -> bool:
        return entry is not None and (entry[1] - self._clock()).total_seconds() > EARLY_SECONDS

    def get(self, key: str) -> tuple[str, datetime] | None:
        """The cached token unless it is about to expire."""
        with self._lock:
            entry = self._entries.get(key)
        return entry if self._fresh(entry) else None

    def put(self, key: str, token: str, expires_at: datetime) -> None:
        """Store a token and its expiry."""
        with self._lock:
            self._entries[key] = (token, expires_at)

    def expire(self, key: str, token: str) -> bool:
        """Forget the token only if it is still ``token`` (compare-and-expire)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != token:
                return False
            del self._entries[key]
            return True

    def refresh(self, key: str, stale: str | None,
                fetch: Callable[[], tuple[str, datetime]]) -> str:
        """Replace ``stale`` once: a caller that finds a newer fresh token uses it instead."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] != stale and self._fresh(entry):
                return entry[0]
            token, expires_at = fetch()
            self._entries[key] = (token, expires_at)
            return token


class TokenProvider:
    """Hands out the cached token and fetches a new one at most once per rejected token."""

    def __init__(self, key: str, cache: object, clock: Callable[[], datetime],
                 fetch: Callable[[bool], tuple[str, int]],
                 on_token: Callable[[str], None] | None = None) -> None:
        self.key = key
        self._cache = cache
        self._clock = clock
        self._fetch = fetch  # (force) -> (token, expires_in seconds)
        self._on_token = on_token
        self._lock = threading.Lock()  # serialises fetches inside this process

    def _fetch_entry(self, stale: str | None) -> tuple[str, datetime]:
        token, expires_in = self._fetch(False)
        if stale is not None and token == stale:
            # stable_token handed back the very token the platform refused: force once.
            token, expires_in = self._fetch(True)
        if self._on_token is not None:
            self._on_token(token)
        return token, self._clock() + timedelta(seconds=max(expires_in, 0))

    def token(self) -> str:
        """A usable token, fetched if none is cached."""
        entry = self._cache_get()
        if entry is not None:
            if self._on_token is not None:
                self._on_token(entry[0])
            return entry[0]
        return self.renew(None)

    def renew(self, stale: str | None) -> str:
        """Replace ``stale`` (the token a failed call used) unless another caller already did."""
        cache = self._cache
        with self._lock:
            if isinstance(cache, RefreshingCache):
                return cache.refresh(self.key, stale, lambda: self._fetch_entry(stale))
            entry = self._cache_get()
            if entry is not None and entry[0] != stale:
                return entry[0]
            if stale is not None and hasattr(cache, "expire"):
                cache.expire(self.key, stale)
            token, expires_at = self._fetch_entry(stale)
            if hasattr(cache, "put"):
                cache.put(self.key, token, expires_at)
            return token

    def _cache_get(self) -> tuple[str, datetime] | None:
        getter = getattr(self._cache, "get", None)
        if getter is None:
            return None
        entry: tuple[str, datetime] | None = getter(self.key)
        return entry
