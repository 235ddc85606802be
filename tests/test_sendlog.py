"""The send log in the database: one window per account, taken atomically by any number of takers."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from publisher.sendlog import DatabaseSendLog
from publisher.store import Store
from tests.support.project import SHANGHAI

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)
HOUR = timedelta(hours=1)


def test_concurrent_takers_never_exceed_the_limit(database_url: str) -> None:
    """Twelve threads, each with its own store (as separate processes would have), take slots
    of one account's window of three at the same moment: exactly three are recorded, and every
    other taker is told when the window reopens."""
    stores = [Store(database_url) for _ in range(12)]
    results: list[datetime | None] = []
    lock = threading.Lock()
    start = threading.Barrier(len(stores))

    def take(n: int) -> None:
        start.wait(timeout=30)
        opens = DatabaseSendLog(stores[n]).take("weibo-main@x", f"k{n}", NOW, limit=3,
                                                window=HOUR)
        with lock:
            results.append(opens)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(len(stores))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for store in stores:
            store.dispose()
    assert results.count(None) == 3
    assert [r for r in results if r is not None] == [NOW + HOUR] * 9


def test_window_slides_and_first_send_is_kept(store: Store) -> None:
    """The window counts only the last hour, per account; ``first`` is a delivery's earliest
    recorded send (the start of a search for it)."""
    log = DatabaseSendLog(store)
    assert log.take("a", "k1", NOW, limit=2, window=HOUR) is None
    assert log.take("a", "k1", NOW + timedelta(minutes=20), limit=2, window=HOUR) is None
    assert log.take("a", "k2", NOW + timedelta(minutes=30), limit=2, window=HOUR) == NOW + HOUR
    assert log.take("b", "k2", NOW + timedelta(minutes=30), limit=2, window=HOUR) is None
    assert log.take("a", "k2", NOW + HOUR, limit=2, window=HOUR) is None
    assert log.first("a", "k1") == NOW
    assert log.first("a", "k2") == NOW + HOUR
    assert log.first("a", "k3") is None
