"""Benchmark: delivery-log pages over 1,000,000 attempts, next to the same SQL run directly."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import event, text

if __package__ in (None, ""):  # run as a file (bench/log_page.py): the project root first
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dispatch_throughput import Check, logs_discarded
from publisher import logview
from publisher.metrics import delivery_counts
from publisher.store import Store

ZONE = ZoneInfo("Asia/Shanghai")
TARGET_MS = 200.0
FULL_ATTEMPTS = 1_000_000
QUICK_ATTEMPTS = 20_000
ATTEMPTS_PER_DELIVERY = 4  # on average: 1 to 7
CHANNELS_PER_RELEASE = 4
CHANNELS = ("portal-main", "wechat-main", "weibo-main", "gazette-main", "hook-main",
            "wordpress-main")
KINDS = {"portal-main": "portal", "wechat-main": "wechat", "weibo-main": "weibo",
         "gazette-main": "gazette", "hook-main": "webhook", "wordpress-main": "wordpress"}
DEFINITIONS = ("food-safety-sampling", "air-quality-forecast", "disease-report",
               "minimum-allowance", "policy-document", "policy-interpretation", "price-monitor",
               "water-quality", "traffic-notice", "weather-warning", "job-fair", "tender-notice")
# a weighted choice of the final state of a delivery (urgent and routine alike)
STATES = (("published", 880), ("failed", 30), ("retry_wait", 15), ("unknown", 5),
          ("queued", 10), ("retracted", 20), ("pending", 20), ("sending", 20))
INCIDENTS = ("bridge-collapse-20260314", "chemical-leak-20261102")
INCIDENT_RELEASES = 40  # each incident: a first report, updates, corrections, a withdrawal
FIRST_DAY = datetime(2025, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
BODY = "根据《中华人民共和国食品安全法》及其实施条例等规定，现将本期监督抽检结果公告如下。" * 12
ERRORS = {
    "transient": {"error": "TransientChannelError", "code": "503", "message": "busy",
                  "explanation_zh": "渠道暂时不可用，稍后重试", "explanation_en": "the channel is "
                  "busy; will retry"},
    "permanent": {"error": "ContentRejected", "code": "45009", "message": "rejected",
                  "explanation_zh": "=渠道拒收内容：标题过长", "explanation_en": "the channel "
                  "refused the content: title too long"},
    "unknown": {"error": "OutcomeUnknown", "code": "timeout", "message": "read timed out",
                "explanation_zh": "请求已发出但超时，结果不明", "explanation_en": "timed out after "
                "the request left; outcome unknown"},
}
LAST_OUTCOME = {"published": "published", "queued": "published", "retracted": "published",
                "failed": "permanent", "retry_wait": "transient", "unknown": "unknown",
                "sending": "transient", "pending": "transient"}


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Options:
    """What one benchmark run does."""

    attempts: int = FULL_ATTEMPTS
    repeat: int = 30
    db: Path | None = None  # keep (or reuse) the filled database here
    url: str | None = None  # a running delivery-log page over the same database
    cookie: str | None = None
    analyze: bool = False  # give SQLite's planner statistics (ANALYZE) before timing
    json: bool = False
    http: bool = True  # also time the console's /deliveries page, served here over the same DB


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="bench/log_page.py",
        description="Fills a SQLite database with N attempts (N/4 deliveries), then times the "
                    "delivery-log query (publisher.logview.page plus a JSON rendering) for "
                    "several filters, each next to the same SQL run directly with sqlite3.")
    parser.add_argument("--attempts", type=int, default=None,
                        help=f"attempts to fill (default {FULL_ATTEMPTS:,})")
    parser.add_argument("--repeat", type=int, default=None, help="runs per case (default 30)")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_ATTEMPTS:,} attempts, 5 runs per case")
    parser.add_argument("--db", type=Path, default=None,
                        help="keep the database in this file; an already filled one is reused")
    parser.add_argument("--url", default=None,
                        help="also time GET on this delivery-log page (served over --db)")
    parser.add_argument("--cookie", default=None, help="Cookie header for --url (a session)")
    parser.add_argument("--no-http", action="store_true",
                        help="skip timing the console's page (served in-process by default)")
    parser.add_argument("--analyze", action="store_true",
                        help="run ANALYZE after the fill (the product leaves statistics to "
                             "migration 0007, which sees the tables as they were then)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    attempts = args.attempts or (QUICK_ATTEMPTS if args.quick else FULL_ATTEMPTS)
    repeat = args.repeat or (5 if args.quick else 30)
    if attempts < 1000 or repeat < 1:
        parser.error("--attempts must be ≥ 1000 and --repeat ≥ 1")
    if args.url and args.db is None:
        parser.error("--url needs --db: the page must read the database the bench filled")
    return Options(attempts=attempts, repeat=repeat, db=args.db, url=args.url,
                   cookie=args.cookie, analyze=args.analyze, json=args.json,
                   http=not args.no_http)


# --------------------------------------------------------------------------- the fill


def stamp(moment: datetime) -> str:
    """A datetime as SQLAlchemy stores it in SQLite (naive UTC, microseconds always)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass
class Filled:
    """What the fill wrote, and how long it took."""

    releases: int = 0
    deliveries: int = 0
    attempts: int = 0
    seconds: float = 0.0
    reused: bool = False


def _attempt_counts(states: Sequence[str], total: int, rng: random.Random) -> list[int]:
    """1 to 7 attempts per delivery (none while pending), adding up to exactly ``total``."""
    counts = [0 if state == "pending" else rng.randint(1, 2 * ATTEMPTS_PER_DELIVERY - 1)
              for state in states]
    gap = total - sum(counts)
    step = 1 if gap > 0 else -1
    index = 0
    while gap:
        i = index % len(counts)
        if states[i] != "pending" and 1 <= counts[i] + step <= 12:
            counts[i] += step
            gap -= step
        index += 1
    return counts


def fill(path: Path, total_attempts: int, *, seed: int = 7) -> Filled:
    """Releases of a dozen definitions over two years, two incidents, four channels per release,
    ``total_attempts`` attempts; written with executemany in large transactions."""
    rng = random.Random(seed)
    started = time.perf_counter()
    store = Store(f"sqlite:///{path}")  # the schema and its indexes, by the migrations
    store.dispose()
    deliveries = total_attempts // ATTEMPTS_PER_DELIVERY
    releases = deliveries // CHANNELS_PER_RELEASE
    states = rng.choices([s for s, _ in STATES], [w for _, w in STATES],
                         k=releases * CHANNELS_PER_RELEASE)
    counts = _attempt_counts(states, total_attempts, rng)
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("BEGIN")
    now = stamp(FIRST_DAY + SPAN)
    connection.executemany(
        "INSERT INTO incidents (id, key, title, area, severity, status, drill, opened_at, "
        "opened_by) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)",
        [(n + 1, key, f"事件{n + 1}：某区突发情况", "某区", "重大", "open",
          stamp(FIRST_DAY + SPAN * (n + 1) / 3), "staff:li") for n, key in enumerate(INCIDENTS)])
    incident_of: dict[int, int] = {}
    for n in range(len(INCIDENTS)):
        first = releases * (n + 1) // 3
        incident_of.update({first + k: n + 1 for k in range(INCIDENT_RELEASES)})
    release_rows, delivery_rows, attempt_rows = [], [], []
    delivery_id = attempt_id = 0
    payload = json.dumps({"kind": "portal", "data": {"title": "关于食品安全监督抽检信息的通告",
                                                      "body": BODY}}, ensure_ascii=False)
    for r in range(releases):
        release_id = r + 1
        created = FIRST_DAY + SPAN * r / releases
        incident = incident_of.get(r)
        definition = "_urgent" if incident else DEFINITIONS[r % len(DEFINITIONS)]
        key = f"{definition}@{created.astimezone(ZONE).isoformat(timespec='seconds')}#{r}"
        title = f"{definition} 第{r}期 =SUM(A1)" if r % 997 == 0 else f"{definition} 第{r}期"
        release_rows.append((release_id, key, definition, "urgent" if incident else "scheduled",
                             "active", stamp(created), stamp(created),
                             stamp(created + timedelta(hours=24)), 1 if incident else 0, title,
                             "{}", "system:scheduler", incident,
                             None if not incident else
                             "Alert" if r - 1 not in incident_of else "Update"))
        first_channel = r % len(CHANNELS)
        for c in range(CHANNELS_PER_RELEASE):
            delivery_id += 1
            channel = CHANNELS[(first_channel + c) % len(CHANNELS)]
            state, attempts = states[delivery_id - 1], counts[delivery_id - 1]
            # equal updated_at inside a release: the keyset must break ties by id
            finished = created + timedelta(seconds=rng.choice((2, 2, 2, 5, 30, 300, 3600)))
            error = ERRORS.get(LAST_OUTCOME[state]) if state not in (
                "published", "queued", "retracted") else None
            url = f"https://www.example.gov.cn/{definition}/{delivery_id}.html"
            receipt = json.dumps({"remote_id": str(delivery_id), "url": url}) \
                if error is None and state != "pending" else None
            delivery_rows.append((
                delivery_id, release_id, channel, KINDS[channel], "send", None, 0, state,
                hashlib.sha256(f"{key}\x1f{channel}".encode()).hexdigest(), 1 if incident else 0,
                payload, min(attempts, 3), attempts,
                stamp(finished + timedelta(minutes=5)) if state == "retry_wait" else None,
                receipt, json.dumps(error, ensure_ascii=False) if error else None,
                "排入2026年第5期 / queued for issue 5" if state == "queued" else None,
                stamp(created), stamp(finished),
                stamp(finished) if error is None and state != "pending" else None))
            for number in range(1, attempts + 1):
                attempt_id += 1
                last = number == attempts
                outcome = LAST_OUTCOME[state] if last else "transient"
                attempt_error = ERRORS.get(outcome)
                attempt_rows.append((
                    attempt_id, delivery_id, number,
                    stamp(created + timedelta(seconds=number)), rng.randint(5, 900), outcome,
                    json.dumps(attempt_error, ensure_ascii=False) if attempt_error else None,
                    receipt if last and attempt_error is None else None))
        if len(attempt_rows) >= 200_000 or r == releases - 1:
            _write(connection, release_rows, delivery_rows, attempt_rows)
            release_rows, delivery_rows, attempt_rows = [], [], []
    connection.execute("INSERT OR REPLACE INTO bot_state (name, value) VALUES ('bench_filled', ?)",
                       (now,))
    connection.execute("COMMIT")
    connection.close()
    return Filled(releases=releases, deliveries=delivery_id, attempts=attempt_id,
                  seconds=time.perf_counter() - started)


def _write(connection: sqlite3.Connection, releases: list[tuple[Any, ...]],
           deliveries: list[tuple[Any, ...]], attempts: list[tuple[Any, ...]]) -> None:
    connection.executemany(
        "INSERT INTO releases (id, key, definition_id, origin, state, due_at, created_at, "
        "deadline_at, urgent, title, details, actor, incident_id, msg_type) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", releases)
    connection.executemany(
        "INSERT INTO deliveries (id, release_id, channel, kind, action, target_id, drill, state, "
        "idempotency_key, urgent, payload, claims, attempts, next_attempt_at, receipt, "
        "last_error, reason, created_at, updated_at, published_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", deliveries)
    connection.executemany(
        "INSERT INTO attempts (id, delivery_id, number, started_at, duration_ms, outcome, error, "
        "receipt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", attempts)


def existing(path: Path) -> Filled | None:
    """What an earlier fill left in ``path``, if it finished."""
    if not path.exists():
        return None
    with sqlite3.connect(path) as connection:
        try:
            done = connection.execute(
                "SELECT value FROM bot_state WHERE name = 'bench_filled'").fetchone()
        except sqlite3.OperationalError:
            return None
        if done is None:
            return None
        counts = [connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                  for table in ("releases", "deliveries", "attempts")]
    return Filled(counts[0], counts[1], counts[2], reused=True)


# --------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Case:
    """One page to time: a filter and, for a deep page, the rank of the row it starts after."""

    name: str
    where: logview.LogFilter
    deep_rank: int | None = None  # None: the first page


def cases(path: Path, filled: Filled) -> list[Case]:
    """The filters a member of staff uses, with values taken from the filled data."""
    with sqlite3.connect(path) as connection:
        key, updated = connection.execute(
            "SELECT r.key, d.updated_at FROM releases r JOIN deliveries d ON d.release_id = r.id "
            "WHERE r.id = ?", (max(filled.releases // 2, 1),)).fetchone()
    # the console's form takes whole days in the office's zone (``until`` inclusive), so the
    # ranges start and end at local midnight: the page over HTTP then asks for exactly the rows
    # the function is given (an instant range would let the page list later rows of the last day)
    middle = datetime.fromisoformat(updated).replace(tzinfo=UTC).astimezone(ZONE)
    end = datetime.combine(middle.date() + timedelta(days=1), datetime.min.time(), ZONE)
    week = logview.LogFilter(since=end - timedelta(days=7), until=end)
    month = logview.LogFilter(date_field="created_at", since=end - timedelta(days=30), until=end)
    return [
        Case("no filter", logview.LogFilter()),
        Case("channel + state", logview.LogFilter(channels=("wechat-main",), states=("failed",))),
        Case("state (rare: unknown)", logview.LogFilter(states=("unknown",))),
        Case("date range (updated, 7 days)", week),
        Case("channel + created, 30 days", replace(month, channels=("weibo-main",))),
        Case("published + created, 30 days", replace(month, states=("published",))),
        Case("release definition", logview.LogFilter(release="food-safety-sampling")),
        Case("release key + published", logview.LogFilter(release=key, states=("published",))),
        Case("incident", logview.LogFilter(incident=INCIDENTS[0])),
        Case("incident + published", logview.LogFilter(incident=INCIDENTS[0],
                                                       states=("published",))),
        Case("deep page (no filter)", logview.LogFilter(), deep_rank=filled.deliveries // 2),
        Case("deep page (channel)", logview.LogFilter(channels=("hook-main",)),
             deep_rank=filled.deliveries // 12),
    ]


def deep_cursor(store: Store, case: Case) -> str | None:
    """The cursor of the page after row ``deep_rank`` (found by paging, then the cursor kept)."""
    if case.deep_rank is None:
        return None
    query = logview.keys(case.where).limit(1).offset(case.deep_rank - 1)
    with store.read() as session:
        found = session.execute(query).first()
    return None if found is None else logview.encode_cursor(case.where.date_field, found.at,
                                                             found.id)


# --------------------------------------------------------------------------- timing


@contextmanager
def captured(store: Store) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements (and parameters) that run on ``store`` inside the block."""
    seen: list[tuple[str, Any]] = []

    def remember(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                 _many: bool) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA", "SELECT 1")):
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", remember)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", remember)


def timed(run: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    """Milliseconds of each of ``repeat`` runs (after one unmeasured warm-up), and the last result."""
    result = run()
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        runs.append((time.perf_counter() - started) * 1000)
    return runs, result


def summary(runs: Sequence[float]) -> dict[str, float]:
    ordered = sorted(runs)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median_ms": round(statistics.median(ordered), 3), "p95_ms": round(p95, 3)}


def http_params(where: logview.LogFilter, cursor: str | None) -> list[tuple[str, str]]:
    """The console's /deliveries query string for ``where`` (its form's names: days for the
    date range, repeated channel and state, ``by`` for the date field, ``after`` the cursor)."""
    params: list[tuple[str, str]] = []
    if where.release:
        params.append(("release", where.release))
    params += [("channel", c) for c in where.channels]
    params += [("state", s) for s in where.states]
    if where.since:
        params.append(("since", where.since.astimezone(ZONE).date().isoformat()))
    if where.until:
        last = where.until.astimezone(ZONE) - timedelta(microseconds=1)
        params.append(("until", last.date().isoformat()))
    if where.date_field != "updated_at":
        params.append(("by", where.date_field))
    if where.incident:
        params.append(("incident", where.incident))
    if cursor:
        params.append(("after", cursor))
    return params


@contextmanager
def console_page(folder: Path, path: Path) -> Iterator[tuple[str, str]]:
    """The console's delivery-log page over the bench's database, on a free loopback port,
    with a signed-in viewer: yields (page URL, Cookie header)."""
    import secrets as random_secrets

    from publisher import config as config_module
    from publisher.app import App
    from publisher.web import account
    from publisher.web import session as sessions
    from publisher.web.api import create_app
    from publisher.web.server import serve

    config = folder / "schedules.yaml"
    config.write_text("columns: {news: 新闻}\nchannels:\n"
                      + "".join(f"  {name}: {{kind: memory}}\n" for name in CHANNELS)
                      + "releases: {}\n", encoding="utf-8")
    app = App(loaded=config_module.load(config), store=Store(f"sqlite:///{path}"))
    try:
        # a name of its own each run: a reused --db keeps the accounts of earlier runs
        viewer = account.create(app, f"bench-viewer-{random_secrets.token_hex(4)}",
                                random_secrets.token_urlsafe(18), ["viewer"], actor="bench")
        token = sessions.start(app, viewer, user_agent="bench")
        server = serve(create_app(app), "127.0.0.1", 0)
        try:
            yield server.url.rstrip("/") + "/deliveries", f"{sessions.COOKIE}={token}"
        finally:
            server.stop()
    finally:
        app.close()


def time_case(store: Store, path: Path, case: Case, options: Options, check: Check
              ) -> dict[str, Any]:
    """The function (page + JSON), its SQL run directly, and the HTTP page if given."""
    cursor = deep_cursor(store, case)

    def through_function() -> tuple[list[int], str]:
        with store.read() as session:
            found = logview.page(session, case.where, cursor=cursor)
        return [r.delivery_id for r in found.rows], json.dumps(found.as_json(ZONE),
                                                               ensure_ascii=False)

    with captured(store) as statements:
        through_function()
    check.expect(len(statements) == 1, f"{case.name}: the page ran {len(statements)} statements, "
                 "expected one")
    sql, parameters = statements[0]
    direct = sqlite3.connect(path, check_same_thread=False)

    def through_sqlite() -> list[Any]:
        return direct.execute(sql, parameters).fetchall()

    function_runs, (ids, rendered) = timed(through_function, options.repeat)
    sql_runs, sql_rows = timed(through_sqlite, options.repeat)
    plan = [row[-1] for row in direct.execute(f"EXPLAIN QUERY PLAN {sql}", parameters)]
    direct.close()
    check.expect(ids == [row[0] for row in sql_rows[:logview.PAGE_SIZE]],
                 f"{case.name}: the page's rows differ from the direct SQL's")
    check.expect(len(ids) > 0, f"{case.name}: no rows (the fill should match every case)")
    result: dict[str, Any] = {
        "case": case.name, "rows": len(ids), "json_bytes": len(rendered.encode()),
        "function": summary(function_runs), "sql": summary(sql_runs), "plan": plan,
        "deep_rank": case.deep_rank,
    }
    result["ratio"] = round(result["function"]["median_ms"] / max(result["sql"]["median_ms"],
                                                                  0.001), 2)
    if options.url:
        import requests

        session = requests.Session()
        if options.cookie:
            session.headers["Cookie"] = options.cookie
        params = http_params(case.where, cursor)

        def through_http() -> tuple[int, str]:
            response = session.get(options.url or "", params=params, timeout=30,
                                   allow_redirects=False)
            return response.status_code, response.text

        http_runs, (status, html) = timed(through_http, options.repeat)
        check.expect(status == 200, f"{case.name}: GET {options.url}?{urlencode(params)} "
                     f"answered {status}")
        check.expect(f"/deliveries/{ids[0]}" in html,
                     f"{case.name}: the page does not list the first row the query found")
        result["http"] = summary(http_runs)
    return result


def time_export(store: Store, where: logview.LogFilter, check: Check) -> dict[str, Any]:
    """One streamed CSV export of ``where``: rows, bytes, seconds."""
    started = time.perf_counter()
    size = lines = 0
    for chunk in logview.export_csv(store, where, zone=ZONE):
        size += len(chunk.encode())
        lines += chunk.count("\r\n")
    seconds = time.perf_counter() - started
    check.expect(lines > 1, "export: no rows")
    return {"rows": lines - 1, "bytes": size, "seconds": round(seconds, 3),
            "rows_per_s": round((lines - 1) / seconds)}


def time_metrics(store: Store, repeat: int) -> dict[str, Any]:
    """The /metrics delivery gauge's GROUP BY on the filled table."""
    runs, counts = timed(lambda: delivery_counts(store), max(3, repeat // 5))
    return {**summary(runs), "series": len(counts)}


# --------------------------------------------------------------------------- the run


def run(options: Options) -> dict[str, Any]:
    check = Check()
    with tempfile.TemporaryDirectory(prefix="bench-log-") as folder:
        path = options.db or Path(folder) / "log.db"
        filled = existing(path)
        if filled is None:
            if path.exists():
                path.unlink()
            filled = fill(path, options.attempts)
        if options.analyze:
            with sqlite3.connect(path) as connection:
                connection.execute("ANALYZE")
        store = Store(f"sqlite:///{path}")
        try:
            with store.engine.connect() as connection:
                check.expect(connection.execute(text("SELECT count(*) FROM attempts")).scalar()
                             == filled.attempts, "attempt count changed after the fill")
                statistics_kept = connection.execute(text(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")).scalar() \
                    and bool(connection.execute(text(
                        "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'deliveries'")).scalar())
            size_mib = path.stat().st_size / 2**20
            with contextlib.ExitStack() as stack:
                if options.http and not options.url:
                    stack.enter_context(logs_discarded())  # uvicorn's access log per request
                    url, cookie = stack.enter_context(console_page(Path(folder), path))
                    options = replace(options, url=url, cookie=cookie)
                results = [time_case(store, path, case, options, check)
                           for case in cases(path, filled)]
            export = time_export(store, logview.LogFilter(channels=("wechat-main",),
                                                          states=("failed",)), check)
            scrape = time_metrics(store, options.repeat)
        finally:
            store.dispose()
    worst = max(max(r["function"]["p95_ms"], r.get("http", {}).get("p95_ms", 0.0))
                for r in results)
    return {
        "ok": not check.problems, "problems": check.problems,
        "releases": filled.releases, "deliveries": filled.deliveries,
        "attempts": filled.attempts, "fill_seconds": round(filled.seconds, 1),
        "fill_reused": filled.reused, "database_mib": round(size_mib, 1),
        "planner_statistics": bool(statistics_kept),
        "sqlite": sqlite3.sqlite_version, "repeat": options.repeat, "cpus": os.cpu_count(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "target_ms": TARGET_MS, "worst_p95_ms": worst, "target_met": worst < TARGET_MS,
        "cases": results, "export": export, "metrics_scrape": scrape,
    }


def table(result: Mapping[str, Any]) -> str:
    """The figures as a small text table."""
    fill_text = "reused" if result["fill_reused"] else f"filled in {result['fill_seconds']} s"
    lines = [
        f"{result['attempts']:,} attempts, {result['deliveries']:,} deliveries, "
        f"{result['releases']:,} releases ({fill_text}, {result['database_mib']} MiB); SQLite "
        f"{result['sqlite']} {'with' if result['planner_statistics'] else 'without'} planner "
        f"statistics, {result['repeat']} runs per case, {result['cpus']} CPUs, load "
        f"{result['load_average'][0]}",
        "",
        f"{'case':<32}{'rows':>5}{'page+JSON ms':>14}{'p95':>8}{'SQL ms':>9}{'p95':>8}"
        f"{'ratio':>7}" + (f"{'page ms':>9}{'p95':>8}" if any("http" in r for r in result["cases"])
                    else ""),
    ]
    for r in result["cases"]:
        line = (f"{r['case']:<32}{r['rows']:>5}{r['function']['median_ms']:>14.2f}"
                f"{r['function']['p95_ms']:>8.2f}{r['sql']['median_ms']:>9.2f}"
                f"{r['sql']['p95_ms']:>8.2f}{r['ratio']:>7.1f}")
        if "http" in r:
            line += f"{r['http']['median_ms']:>9.2f}{r['http']['p95_ms']:>8.2f}"
        lines.append(line)
    export, scrape = result["export"], result["metrics_scrape"]
    lines += [
        "",
        f"target: every page under {result['target_ms']:.0f} ms (p95) — "
        f"{'met' if result['target_met'] else 'MISSED'}; worst p95 {result['worst_p95_ms']:.2f} ms",
        f"CSV export (wechat-main, failed): {export['rows']:,} rows, {export['bytes'] / 1024:.0f} "
        f"KiB in {export['seconds']} s ({export['rows_per_s']:,} rows/s)",
        f"/metrics deliveries GROUP BY: {scrape['median_ms']:.1f} ms median, {scrape['p95_ms']:.1f}"
        f" ms p95, {scrape['series']} series",
        "",
        "query plans:",
    ]
    for r in result["cases"]:
        lines.append(f"  {r['case']}: " + " / ".join(r["plan"]))
    lines.append("")
    lines.append("checks: " + ("every page equals its direct SQL" if result["ok"] else "FAILED"))
    lines += [f"  - {problem}" for problem in result["problems"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every page equals its direct SQL, 1 otherwise (never for a
    missed target)."""
    options = parse_args(argv)
    result = run(options)
    print(json.dumps(result, indent=2, ensure_ascii=False) if options.json else table(result))
    if not result["ok"]:
        print("benchmark checks failed:\n" + "\n".join(result["problems"]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
