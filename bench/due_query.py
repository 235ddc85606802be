"""Benchmark: the dispatcher's due query over a 100,000-delivery backlog, with its plans."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, update

if __package__ in (None, ""):  # run as a file (bench/due_query.py): the project root first
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dispatch_throughput import database
from publisher.dispatch import DUE_STATES, due_query
from publisher.store import Store
from publisher.store.models import Delivery, Release

TARGET_MS = 50.0
NOW = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
CHANNELS = ("portal-main", "wechat-main", "weibo-main", "gazette-main", "hook-main",
            "wordpress-main")
PER_RELEASE = 4
CHUNK = 10_000


@dataclass(frozen=True)
class Options:
    """What one run does."""

    rows: int = 100_000
    due: tuple[int, ...] = (200, 1_000, 10_000)
    repeat: int = 10
    database_url: str | None = None
    json: bool = False


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000, help="deliveries (default 100,000)")
    parser.add_argument("--due", type=int, action="append", default=None,
                        help="how many are due (repeatable; default 200, 1,000, 10,000)")
    parser.add_argument("--repeat", type=int, default=10, help="runs per case (default 10)")
    parser.add_argument("--quick", action="store_true", help="5,000 rows, 50/500 due, 3 runs")
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL server URL (postgresql+psycopg://postgres@127.0.0.1:"
                             "5432/postgres); the bench makes its own database there and drops it")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    if args.quick:
        return Options(rows=5_000, due=(50, 500), repeat=3, database_url=args.database_url,
                       json=args.json)
    return Options(rows=args.rows, due=tuple(args.due or (200, 1_000, 10_000)),
                   repeat=args.repeat, database_url=args.database_url, json=args.json)


def fill(engine: Engine, rows: int, rng: random.Random) -> None:
    """``rows`` settled deliveries (published), 4 to a release, over the last year; one
    channel also has an urgent post in flight (so the urgent gate holds that channel back)."""
    releases = rows // PER_RELEASE + 1
    start = NOW - timedelta(days=365)
    with engine.begin() as connection:
        for first in range(1, releases + 1, CHUNK):
            batch = []
            for rid in range(first, min(first + CHUNK, releases + 1)):
                at = start + timedelta(seconds=rid * 300)
                batch.append({"id": rid, "key": f"r{rid}", "definition_id": "news",
                              "origin": "scheduled", "state": "active", "due_at": at,
                              "created_at": at, "deadline_at": at + timedelta(days=400),
                              "urgent": rid == releases, "details": {}, "actor": "bench"})
            connection.execute(insert(Release), batch)
        for first in range(1, rows + 1, CHUNK):
            batch = []
            for did in range(first, min(first + CHUNK, rows + 1)):
                rid = (did - 1) // PER_RELEASE + 1
                at = start + timedelta(seconds=rid * 300)
                batch.append({"id": did, "release_id": rid,
                              "channel": CHANNELS[did % len(CHANNELS)], "kind": "webhook",
                              "action": "send", "drill": False, "state": "published",
                              "idempotency_key": f"k{did}", "urgent": False,
                              "payload": {"title": "t"}, "claims": 1, "attempts": 1,
                              "created_at": at, "updated_at": at, "published_at": at})
            connection.execute(insert(Delivery), batch)
        # the newest release is urgent and one of its deliveries is being sent: its channel
        # is held, the others are not
        connection.execute(update(Delivery).where(Delivery.id == rows).values(
            urgent=True, state="sending", claimed_by="bench"))
    del rng


def make_due(engine: Engine, rows: int, count: int, rng: random.Random) -> list[int]:
    """Turn ``count`` random settled deliveries into due ones (pending or waiting)."""
    chosen = rng.sample(range(1, rows), count)
    with engine.begin() as connection:
        for i in range(0, len(chosen), CHUNK):
            part = chosen[i:i + CHUNK]
            connection.execute(update(Delivery).where(Delivery.id.in_(part[::2])).values(
                state="pending", next_attempt_at=None))
            connection.execute(update(Delivery).where(Delivery.id.in_(part[1::2])).values(
                state="retry_wait", next_attempt_at=NOW - timedelta(minutes=5)))
    return chosen


def settle(engine: Engine, chosen: Sequence[int]) -> None:
    with engine.begin() as connection:
        for i in range(0, len(chosen), CHUNK):
            connection.execute(update(Delivery).where(
                Delivery.id.in_(chosen[i:i + CHUNK]), Delivery.state.in_(DUE_STATES)).values(
                state="published", next_attempt_at=None))


def plan(store: Store) -> list[str]:
    """The due query's plan: EXPLAIN QUERY PLAN on SQLite, EXPLAIN ANALYZE on PostgreSQL."""
    compiled = due_query(NOW, 100).compile(dialect=store.engine.dialect,
                                           compile_kwargs={"render_postcompile": True})
    with store.engine.connect() as connection:
        if store.is_sqlite:
            params: Any = tuple(compiled.params[name] for name in compiled.positiontup or ())
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", params).all()
            return [f"{row[0]}/{row[1]} {row[3]}" for row in rows]
        rows = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, COSTS OFF) {compiled}",
                                          dict(compiled.params)).all()
        return [row[0] for row in rows]


def time_due(store: Store, repeat: int) -> tuple[list[float], int]:
    query = due_query(NOW, 100)
    runs, found = [], 0
    with store.engine.connect() as connection:
        connection.execute(query).all()  # warm: statement cache and pages
        for _ in range(repeat):
            started = time.perf_counter()
            found = len(connection.execute(query).all())
            runs.append((time.perf_counter() - started) * 1000)
            connection.rollback()
    return runs, found


def analyze(store: Store) -> None:
    if store.is_sqlite:
        store.optimize()
        return
    with store.engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE deliveries")
        connection.exec_driver_sql("ANALYZE releases")
        connection.commit()


def run(options: Options) -> dict[str, Any]:
    rng = random.Random(13)
    cases: list[dict[str, Any]] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-due-") as tmp, \
            database(options.database_url, Path(tmp), "due") as url:
        store = Store(url)
        started = time.perf_counter()
        fill(store.engine, options.rows, rng)
        fill_s = time.perf_counter() - started
        for stats in (False, True):
            if stats:
                analyze(store)
            for count in options.due:
                chosen = make_due(store.engine, options.rows, count, rng)
                try:
                    runs, found = time_due(store, options.repeat)
                    expected = min(100, count - sum(1 for d in chosen if d % len(CHANNELS)
                                                    == options.rows % len(CHANNELS)))
                    if found != expected:
                        problems.append(f"{count} due: the query found {found}, expected "
                                        f"{expected}")
                    cases.append({"due": count, "statistics": stats, "found": found,
                                  "median_ms": statistics.median(runs), "max_ms": max(runs),
                                  "plan": plan(store)})
                finally:
                    settle(store.engine, chosen)
        store.dispose()
    return {"database": "postgresql" if options.database_url else "sqlite",
            "rows": options.rows, "fill_s": fill_s, "target_ms": TARGET_MS, "cases": cases,
            "problems": problems}


def table(result: Mapping[str, Any]) -> str:
    lines = [f"due query over {result['rows']:,} deliveries on {result['database']} "
             f"(filled in {result['fill_s']:.1f} s); target under {TARGET_MS:.0f} ms", "",
             f"{'due':>8} {'statistics':>10} {'found':>6} {'median ms':>10} {'max ms':>8}  "
             "target"]
    for case in result["cases"]:
        met = "met" if case["median_ms"] < TARGET_MS else "MISSED"
        lines.append(f"{case['due']:>8,} {'yes' if case['statistics'] else 'no':>10} "
                     f"{case['found']:>6} {case['median_ms']:>10.2f} {case['max_ms']:>8.2f}  {met}")
    for case in result["cases"]:
        lines += ["", f"plan, {case['due']:,} due, statistics "
                      f"{'yes' if case['statistics'] else 'no'}:"]
        lines += [f"  {line}" for line in case["plan"]]
    for problem in result["problems"]:
        lines.append(f"PROBLEM: {problem}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    result = run(options)
    print(json.dumps(result, default=str) if options.json else table(result))
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
