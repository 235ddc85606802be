"""Benchmark: the annual report over a year of a large office (500,000 deliveries), next to the
same counts done in plain SQL, on SQLite and PostgreSQL: time and peak memory, as ratios."""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, insert, text

if __package__ in (None, ""):  # run as a file (bench/annual_report.py): the project root first
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dispatch_throughput import logs_discarded
from publisher import audit
from publisher import config as config_module
from publisher.app import App
from publisher.clock import ManualClock
from publisher.report.build import build_report
from publisher.report.period import ReportPeriod
from publisher.store import Store
from publisher.store.models import AuditEvent, AuditHead, BotState, Delivery, Incident, Release

ZONE = ZoneInfo("Asia/Shanghai")
YEAR = 2026
FULL_DELIVERIES = 500_000
QUICK_DELIVERIES = 5_000
MIB = 1024 * 1024
KINDS = {"web": "portal", "wx": "wechat", "wb": "weibo", "gz": "gazette", "hook": "webhook"}
SCHEDULED = {"air-daily": ("0 8 * * *", ["web", "wx", "wb", "hook"]),
             "food-weekly": ("0 10 * * wed", ["web", "wx", "wb", "gz"]),
             "price-monthly": ("0 9 1 * *", ["web", "wx"])}
MANUAL = {"news": ["web", "wx", "wb"], "policy": ["web", "wx", "gz"]}
CATEGORIES = ("综合政务", "市场监管", "卫生健康", "生态环境", "交通运输", "教育", "民政", "财政",
              "城乡建设", "应急管理")
ORGANS = tuple(f"某市第{n}局" for n in range(1, 9))
COLUMNS = tuple(f"col{n}" for n in range(1, 13))
STATES = (("published", 930), ("failed", 20), ("unknown", 5), ("retracted", 10),
          ("queued", 5), ("retry_wait", 10), ("pending", 20))
CONFIG = """\
timezone: Asia/Shanghai
channels:
{channels}
columns: {{{columns}}}
releases:
{releases}
report:
  calendar:
    holidays: ["2026-01-01..2026-01-03", "2026-02-15..2026-02-23", "2026-10-01..2026-10-07"]
"""


@dataclass(frozen=True)
class Options:
    """What one run does."""

    deliveries: int = FULL_DELIVERIES
    database_url: str | None = None  # a PostgreSQL server (admin URL): a bench_* database there
    repeat: int = 3
    json: bool = False


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="bench/annual_report.py",
        description="Fills one year of a large office with plain SQL inserts, then times the "
                    "annual report (publisher.report.build_report, every figure with its row "
                    "ids) and the same counts as plain SQL GROUP BY queries, and their peak "
                    "memory (tracemalloc), on SQLite or PostgreSQL.")
    parser.add_argument("--deliveries", type=int, default=None,
                        help=f"deliveries to fill (default {FULL_DELIVERIES:,})")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_DELIVERIES:,} deliveries, one run each")
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL admin URL; the bench makes and drops its own database")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs each (default 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    deliveries = args.deliveries or (QUICK_DELIVERIES if args.quick else FULL_DELIVERIES)
    if deliveries < 1000:
        parser.error("--deliveries must be at least 1000")
    return Options(deliveries=deliveries, database_url=args.database_url,
                   repeat=args.repeat or (1 if args.quick else 3), json=args.json)


# --------------------------------------------------------------------------- the project


def write_config(folder: Path) -> Path:
    channels = "\n".join(f"  {name}: {{kind: memory, settings: {{}}}}" for name in KINDS)
    columns = ", ".join(f"{c}: 栏目{c[3:]}" for c in COLUMNS)
    definitions = []
    for name, (schedule, chans) in {**SCHEDULED, **{k: ("manual", v) for k, v in
                                                     MANUAL.items()}}.items():
        definitions.append(
            f"  {name}:\n    title: t\n    issuing_organ: {ORGANS[0]}\n"
            f"    organ_code: MB0000001\n    subject_category: 综合政务\n    column: col1\n"
            f"    schedule: \"{schedule}\"\n    channels: [{', '.join(chans)}]\n"
            + ("    document_type: normative\n" if name == "policy" else ""))
    path = folder / "schedules.yaml"
    path.write_text(CONFIG.format(channels=channels, columns=columns,
                                  releases="\n".join(definitions)), encoding="utf-8")
    for name in (*SCHEDULED, *MANUAL):
        (folder / "templates" / name).mkdir(parents=True, exist_ok=True)
        (folder / "templates" / name / "memory.txt.j2").write_text("x", encoding="utf-8")
    return path


@contextmanager
def database(options: Options, folder: Path) -> Iterator[str]:
    """A fresh database: a SQLite file, or a bench_* database on the PostgreSQL server."""
    if options.database_url is None:
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    name = f"bench_report_{uuid.uuid4().hex[:10]}"
    admin = create_engine(options.database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield options.database_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


# --------------------------------------------------------------------------- the fill


def _fire_times(schedule: str) -> list[datetime]:
    from publisher.cron import cron_trigger
    from publisher.scheduler import fire_times

    start = datetime(YEAR, 1, 1, tzinfo=ZONE)
    return fire_times(cron_trigger(schedule, ZONE), start - timedelta(seconds=1),
                      datetime(YEAR + 1, 1, 1, tzinfo=ZONE) - timedelta(seconds=1))


@dataclass
class Rows:
    """Rows waiting to be inserted, flushed in chunks."""

    releases: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)


def fill(store: Store, total: int, seed: int = 11) -> dict[str, Any]:
    """One year: the scheduled runs (a few late or missed), policy documents with their
    interpretations, and news releases for the rest, each on 2 to 4 channels, until ``total``
    deliveries; written with executemany in chunks of 20,000."""
    rng = random.Random(seed)
    started = time.perf_counter()
    year_start = datetime(YEAR, 1, 1, tzinfo=ZONE)
    span = timedelta(days=365)
    plan: list[tuple[str, datetime, str, list[str]]] = []  # definition, due, origin, channels
    for name, (schedule, chans) in SCHEDULED.items():
        plan += [(name, due, "scheduled", chans) for due in _fire_times(schedule)]
    per_release = 2.5  # news go on 2 or 3 channels: enough of them, cut at ``total``
    policies = max(2, total // 2500)
    for n in range(policies):
        due = year_start + span * (n + 0.5) / policies
        plan.append(("policy", due, "manual", MANUAL["policy"]))
        plan.append(("policy~", due, "manual", MANUAL["policy"]))
    news = max(0, int((total - sum(len(p[3]) for p in plan)) / per_release))
    plan += [("news", year_start + span * rng.random(), "manual",
              rng.sample(MANUAL["news"], rng.choice((2, 3, 3)))) for _ in range(news)]
    plan.sort(key=lambda p: p[1])
    states = [s for s, _ in STATES]
    weights = [w for _, w in STATES]
    rows = Rows()
    delivery_id = release_id = 0
    with store.engine.begin() as connection:
        connection.execute(insert(BotState), [{"name": "scheduler_first_started",
                                               "value": year_start.isoformat()}])
        for definition, due, origin, chans in plan:
            if delivery_id >= total:
                break
            release_id += 1
            interpretation = definition == "policy~"
            definition = definition.rstrip("~")
            key = f"{definition}@{due.isoformat(timespec='seconds')}" + (
                "~interpretation" if interpretation else "" if origin != "manual"
                else f"#{release_id}")
            missed = origin == "scheduled" and rng.random() < 0.01
            late = timedelta(hours=3) if origin == "scheduled" and rng.random() < 0.02 \
                else timedelta(seconds=rng.randint(5, 120))
            rows.releases.append({
                "id": release_id, "key": key, "definition_id": definition, "origin": origin,
                "state": "missed" if missed else "active", "due_at": due, "created_at": due,
                "deadline_at": due + timedelta(hours=24), "urgent": False, "title": key,
                "details": {}, "actor": "scheduler", "issuing_organ": rng.choice(ORGANS),
                "subject_category": rng.choice(CATEGORIES), "column_id": rng.choice(COLUMNS),
                "document_type": "interpretation" if interpretation else
                "normative" if definition == "policy" else None,
                "signed_date": (due - timedelta(days=rng.randint(1, 40))).astimezone(ZONE).date()
                if definition == "policy" or rng.random() < 0.3 else None})
            for channel in ([] if missed else chans[:total - delivery_id]):
                delivery_id += 1
                state = rng.choices(states, weights)[0]
                published = due + late if state in ("published", "retracted") else None
                rows.deliveries.append({
                    "id": delivery_id, "release_id": release_id, "channel": channel,
                    "kind": KINDS[channel], "action": "send", "target_id": None,
                    "drill": rng.random() < 0.002, "state": state,
                    "idempotency_key": uuid.UUID(int=rng.getrandbits(128)).hex,
                    "urgent": False, "payload": {}, "claims": 1,
                    "attempts": rng.choice((1, 1, 1, 1, 1, 1, 2, 3)) if state != "pending" else 0,
                    "created_at": due, "updated_at": due + late, "published_at": published})
            if len(rows.deliveries) >= 20_000:
                _flush(connection, rows)
        _flush(connection, rows)
        _gazette(connection)
    return {"releases": release_id, "deliveries": delivery_id,
            "seconds": round(time.perf_counter() - started, 1)}


def _flush(connection: Any, rows: Rows) -> None:
    if rows.releases:
        connection.execute(insert(Release), rows.releases)
    if rows.deliveries:
        connection.execute(insert(Delivery), rows.deliveries)
    rows.releases.clear()
    rows.deliveries.clear()


def _gazette(connection: Any) -> None:
    """24 issues in the audit chain (a valid chain, so the report's verification passes)."""
    prev, events = audit.GENESIS, []
    for n in range(1, 25):
        at = datetime(YEAR, (n + 1) // 2, 5 if n % 2 else 20, 9, tzinfo=ZONE).astimezone(UTC)
        details = {"channel": "gz", "issue": f"{YEAR}年第{n}期（总第{n}期）",
                   "number": {"year": YEAR, "numbers": [n], "total_no": n}, "entries": []}
        digest = audit.chain_hash(prev, audit.canonical(n, at, "scheduler", "gazette.compiled",
                                                        f"gazette:{YEAR}-{n:02d}", details))
        events.append({"seq": n, "at": at, "actor": "scheduler", "action": "gazette.compiled",
                       "subject": f"gazette:{YEAR}-{n:02d}", "details": details,
                       "prev_hash": prev, "hash": digest})
        prev = digest
    connection.execute(insert(AuditEvent), events)
    connection.execute(insert(AuditHead), [{"id": 1, "seq": 24, "hash": prev}])
    connection.execute(insert(Incident), [{
        "id": 1, "key": "incident-1", "title": "事件", "area": "某区", "severity": "较大",
        "status": "open", "drill": False, "opened_at": datetime(YEAR, 3, 1, tzinfo=ZONE),
        "opened_by": "staff:li", "event_at": datetime(YEAR, 3, 1, tzinfo=ZONE)}])


# --------------------------------------------------------------------------- plain SQL


def month_expr(dialect: str, column: str) -> str:
    if dialect == "sqlite":
        return f"strftime('%Y-%m', {column}, '+8 hours')"
    return f"to_char({column} + interval '8 hours', 'YYYY-MM')"


def _grouped(prefix: str, group: str, what: str) -> Callable[[tuple[Any, ...]], str]:
    """The figure key of a row of a per-``group`` count: ``prefix/by_group/VALUE/what``."""
    return lambda r: f"{prefix}/by_{group}/{r[0]}/{what}"


def plain_counts(store: Store, start: datetime, end: datetime) -> dict[str, int]:
    """The report's publication, run and reliability counts as plain GROUP BY queries (no ids);
    keyed like the report's figures."""
    dialect = "sqlite" if store.is_sqlite else "postgresql"
    public = ("d.action IN ('send', 'follow_up') AND d.drill = false AND d.kind <> 'webhook' "
              "AND d.published_at IS NOT NULL")
    window = "d.published_at >= :start AND d.published_at < :end"
    params = {"start": start.astimezone(UTC).replace(tzinfo=None),
              "end": end.astimezone(UTC).replace(tzinfo=None)}
    out: dict[str, int] = {}
    p = "publications"
    first = (f"SELECT d.release_id AS release_id, min(d.published_at) AS first_at FROM deliveries "
             f"d WHERE {public} GROUP BY d.release_id HAVING min(d.published_at) >= :start AND "
             f"min(d.published_at) < :end")
    queries: list[tuple[str, Callable[[tuple[Any, ...]], str]]] = [
        (f"SELECT count(*) FROM deliveries d WHERE {public} AND {window}",
         lambda r: f"{p}/totals/deliveries/value"),
        (f"SELECT d.channel, count(*) FROM deliveries d WHERE {public} AND {window} "
         "GROUP BY d.channel", lambda r: f"{p}/by_channel/{r[0]}/deliveries"),
        (f"SELECT d.channel, count(DISTINCT d.release_id) FROM deliveries d WHERE {public} AND "
         f"{window} GROUP BY d.channel", lambda r: f"{p}/by_channel/{r[0]}/items"),
        (f"SELECT {month_expr(dialect, 'd.published_at')}, count(*) FROM deliveries d WHERE "
         f"{public} AND {window} GROUP BY 1", lambda r: f"{p}/by_month/{r[0]}/deliveries"),
        (f"SELECT {month_expr(dialect, 'd.published_at')}, d.channel, count(*) FROM deliveries "
         f"d WHERE {public} AND {window} GROUP BY 1, 2",
         lambda r: f"{p}/by_month/{r[0]}/channel:{r[1]}"),
        (f"SELECT count(*) FROM ({first}) f", lambda r: f"{p}/totals/items/value"),
        (f"SELECT {month_expr(dialect, 'f.first_at')}, count(*) FROM ({first}) f GROUP BY 1",
         lambda r: f"{p}/by_month/{r[0]}/items"),
    ]
    for group, column in (("category", "subject_category"), ("organ", "issuing_organ"),
                          ("column", "column_id")):
        queries += [
            (f"SELECT r.{column}, count(*) FROM deliveries d JOIN releases r ON r.id = "
             f"d.release_id WHERE {public} AND {window} GROUP BY r.{column}",
             _grouped(p, group, "deliveries")),
            (f"SELECT r.{column}, count(*) FROM ({first}) f JOIN releases r ON r.id = "
             f"f.release_id GROUP BY r.{column}", _grouped(p, group, "items"))]
    queries += [
        ("SELECT d.channel, count(*), sum(CASE WHEN d.state = 'failed' THEN 1 ELSE 0 END), "
         "sum(CASE WHEN d.state = 'unknown' THEN 1 ELSE 0 END), sum(CASE WHEN d.attempts > 1 "
         "THEN 1 ELSE 0 END), sum(CASE WHEN d.attempts > 1 THEN d.attempts - 1 ELSE 0 END) "
         "FROM deliveries d WHERE d.drill = false AND d.created_at >= :start AND d.created_at "
         "< :end GROUP BY d.channel", lambda r: f"reliability/reliability/{r[0]}"),
    ]
    with store.engine.connect() as connection:
        for sql, name in queries:
            for row in connection.execute(text(sql), params):
                key = name(tuple(row))
                if key.startswith("reliability/"):
                    for column, value in zip(("deliveries", "failed", "unknown", "retried",
                                              "retries"), row[1:], strict=True):
                        out[f"{key}/{column}"] = int(value)
                else:
                    out[key] = int(row[-1])
        out.update(_runs(connection, dialect, params))
    return out


def _runs(connection: Any, dialect: str, params: dict[str, Any]) -> dict[str, int]:
    """Scheduled runs: per definition, on time / late / missed, from one grouped query."""
    out: dict[str, int] = defaultdict(int)
    rows = connection.execute(text(
        "SELECT r.definition_id, r.state, r.due_at, min(d.published_at) FROM releases r "
        "LEFT JOIN deliveries d ON d.release_id = r.id AND d.action IN ('send', 'follow_up') "
        "AND d.drill = false AND d.kind <> 'webhook' AND d.published_at IS NOT NULL "
        "WHERE r.origin <> 'manual' AND r.due_at >= :start AND r.due_at < :end "
        "GROUP BY r.id, r.definition_id, r.state, r.due_at"), params)
    for definition, state, due, first in rows:
        due = due if isinstance(due, datetime) else datetime.fromisoformat(due)
        if isinstance(first, str):
            first = datetime.fromisoformat(first)
        p = f"runs/scheduled/{definition}"
        if state == "missed":
            out[f"{p}/missed"] += 1
        elif first is None:
            out[f"{p}/not_published"] += 1
        elif first - due <= timedelta(minutes=60):
            out[f"{p}/on_time"] += 1
        else:
            out[f"{p}/late"] += 1
    return dict(out)


# --------------------------------------------------------------------------- measuring


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(action: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return times, result


def traced(action: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        action()
        return tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()


def run(options: Options) -> dict[str, Any]:
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp, logs_discarded():
        folder = Path(tmp)
        config = write_config(folder)
        with database(options, folder) as url:
            store = Store(url)
            try:
                filled = fill(store, options.deliveries)
                store.optimize()
                clock = ManualClock(datetime(YEAR + 1, 1, 10, 9, tzinfo=ZONE))
                app = App(loaded=config_module.load(config), store=store, clock=clock)
                period = ReportPeriod.year(YEAR, ZONE)
                rss_before = maxrss_mib()
                report_times, report = timed(lambda: build_report(app, period, verify=False),
                                             options.repeat)
                rss_after_report = maxrss_mib()
                sql_times, counts = timed(lambda: plain_counts(store, period.start, period.end),
                                          options.repeat)
                verify_times, _ = timed(lambda: build_report(app, period, sections=["gazette"]),
                                        1)
                report_peak = traced(lambda: build_report(app, period, verify=False))
                sql_peak = traced(lambda: plain_counts(store, period.start, period.end))
            finally:
                store.dispose()
        compared = 0
        for key, value in counts.items():
            figure = report.figures.get(key)
            if figure is None:
                problems.append(f"{key}: no such figure in the report")
            elif figure.value != value:
                problems.append(f"{key}: report {figure.value}, plain SQL {value}")
            compared += 1
        ids = sum(len(f.rows) for f in report.figures.values())
    report_s, sql_s = statistics.median(report_times), statistics.median(sql_times)
    return {
        "ok": not problems, "problems": problems[:20],
        "database": "postgresql" if options.database_url else "sqlite",
        "filled": filled, "figures": len(report.figures), "row_ids_carried": ids,
        "compared_counts": compared,
        "report": {"median_s": round(report_s, 3), "runs_s": [round(t, 3) for t in report_times],
                   "tracemalloc_peak_mib": round(report_peak, 1)},
        "plain_sql": {"median_s": round(sql_s, 3), "runs_s": [round(t, 3) for t in sql_times],
                      "tracemalloc_peak_mib": round(sql_peak, 2)},
        "ratio_time": round(report_s / sql_s, 2) if sql_s else None,
        "ratio_peak_memory": round(report_peak / sql_peak, 1) if sql_peak else None,
        "audit_verify_s": round(verify_times[0], 3),
        "ru_maxrss_mib": {"before_report": round(rss_before, 1),
                          "after_report": round(rss_after_report, 1),
                          "end": round(maxrss_mib(), 1)},
    }


def describe(result: dict[str, Any]) -> str:
    filled = result["filled"]
    lines = [
        f"annual report bench on {result['database']}: {filled['deliveries']:,} deliveries, "
        f"{filled['releases']:,} releases (filled in {filled['seconds']} s)",
        f"  report (every figure with its row ids, {result['row_ids_carried']:,} ids in "
        f"{result['figures']} figures): median {result['report']['median_s']} s, "
        f"tracemalloc peak {result['report']['tracemalloc_peak_mib']} MiB",
        f"  plain SQL GROUP BY, same counts: median {result['plain_sql']['median_s']} s, "
        f"tracemalloc peak {result['plain_sql']['tracemalloc_peak_mib']} MiB",
        f"  ratio report / plain SQL: time {result['ratio_time']}x, peak memory "
        f"{result['ratio_peak_memory']}x",
        f"  ru_maxrss: {result['ru_maxrss_mib']['before_report']} MiB before the report, "
        f"{result['ru_maxrss_mib']['after_report']} MiB after it",
        f"  {result['compared_counts']} counts compared with the report: "
        f"{'all equal' if result['ok'] else 'DIFFERENCES'}",
    ]
    lines += [f"    ! {p}" for p in result["problems"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    result = run(options)
    if options.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(describe(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())



