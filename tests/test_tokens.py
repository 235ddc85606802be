"""Access tokens shared through the database: sealed at rest, refreshed once under contention."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import text

from publisher.clock import ManualClock
from publisher.store import Store
from publisher.tokens import DatabaseTokenCache

SECRET = b"app-secret-from-env-9f8e"


def test_token_is_sealed_at_rest(store: Store, clock: ManualClock) -> None:
    """The database row holds no readable token; the cache returns it to the right key only."""
    cache = DatabaseTokenCache(store, clock, "wechat-main", SECRET)
    token = cache.refresh("access", None, lambda: ("ACCESS-TOKEN-abc123", clock.now() + timedelta(hours=2)))
    assert token == "ACCESS-TOKEN-abc123"
    assert cache.get("access") == ("ACCESS-TOKEN-abc123", clock.now() + timedelta(hours=2))
    with store.engine.connect() as connection:
        rows = connection.execute(text("SELECT key, sealed FROM token_cache")).all()
    assert rows and all("ACCESS-TOKEN" not in r.sealed for r in rows)
    other = DatabaseTokenCache(store, clock, "wechat-main", b"a-rotated-secret")
    assert other.get("access") is None


def test_expiring_token_counts_as_missing(store: Store, clock: ManualClock) -> None:
    """A token within five minutes of expiry is not handed out."""
    cache = DatabaseTokenCache(store, clock, "w", SECRET)
    cache.refresh("access", None, lambda: ("T1", clock.now() + timedelta(minutes=10)))
    assert cache.get("access") is not None
    clock.advance(minutes=6)
    assert cache.get("access") is None


def test_concurrent_refresh_fetches_once(database_url: str, clock: ManualClock) -> None:
    """Eight callers on two separate engines replacing the same stale token cause one fetch."""
    stores = [Store(database_url), Store(database_url, migrate=False)]
    caches = [DatabaseTokenCache(s, clock, "w", SECRET) for s in stores]
    caches[0].refresh("access", None, lambda: ("OLD", clock.now() + timedelta(hours=2)))
    fetches: list[int] = []
    lock = threading.Lock()

    def fetch() -> tuple[str, object]:
        with lock:
            fetches.append(1)
            return f"NEW-{len(fetches)}", clock.now() + timedelta(hours=2)

    results: list[str] = []
    barrier = threading.Barrier(8)

    def worker(index: int) -> None:
        barrier.wait()
        results.append(caches[index % 2].refresh("access", "OLD", fetch))  # type: ignore[arg-type]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for s in stores:
        s.dispose()
    assert len(fetches) == 1
    assert results == ["NEW-1"] * 8


def test_read_token_is_reused_briefly_and_a_replacement_is_found(store: Store,
                                                                 clock: ManualClock) -> None:
    """A token read once is reused for 30 s without the database; when another process replaced
    it meanwhile, refreshing the stale one returns the newer token without fetching, and after
    30 s a read sees the newer one."""
    ours = DatabaseTokenCache(store, clock, "w", SECRET)
    theirs = DatabaseTokenCache(store, clock, "w", SECRET)
    ours.refresh("access", None, lambda: ("T1", clock.now() + timedelta(hours=2)))
    assert ours.get("access") is not None
    theirs.refresh("access", "T1", lambda: ("T2", clock.now() + timedelta(hours=2)))
    entry = ours.get("access")
    assert entry is not None and entry[0] == "T1"  # the memo: no database read

    def never() -> tuple[str, datetime]:
        raise AssertionError("fetched although the database held a newer token")

    assert ours.refresh("access", "T1", never) == "T2"
    clock.advance(seconds=31)
    fresh = theirs.get("access")
    assert fresh is not None and fresh[0] == "T2"
