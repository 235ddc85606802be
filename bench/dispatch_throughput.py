"""Benchmark: drive N releases × C webhook channels through the dispatcher and compare with plain requests."""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import logging
import os
import pstats
import resource
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests
import structlog
import yaml
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from channels.base import idempotency_key
from channels.memory.adapter import MemoryStore
from channels.webhook import sandbox
from publisher import config as config_module
from publisher import logs, release
from publisher.app import App
from publisher.clock import SystemClock
from publisher.dispatch import Dispatcher
from publisher.period import period_of
from publisher.source import load_source
from publisher.store import Store
from publisher.store.models import Delivery
from publisher.version import USER_AGENT  # what App's session sends: the baseline sends it too

DEFINITION = "bench"
DRAIN_BASE_SECONDS = 30.0  # a dispatcher phase gives up waiting out retries after this much
DRAIN_SECONDS_PER_DELIVERY = 0.2  # ... plus this much per delivery (normal: under 0.03)
MIB = 1024 * 1024


# --------------------------------------------------------------------------- options


@dataclass(frozen=True)
class Options:
    """What one benchmark run does."""

    releases: int = 200
    channels: int = 2
    workers: int = 4
    rows: int = 20
    database_url: str | None = None
    trace_releases: int = 50
    profile: str | None = None  # "-" for stderr, else a file for the text report
    json: bool = False


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="bench/dispatch_throughput.py",
        description="Releases through the dispatcher to a loopback webhook sink, next to a plain "
                    "requests loop against the same sink; prints rates, ratios and peak memory.")
    parser.add_argument("--releases", type=int, default=200, help="releases per phase (default 200)")
    parser.add_argument("--channels", type=int, default=2, help="webhook channels (default 2)")
    parser.add_argument("--workers", type=int, default=4,
                        help="dispatcher workers = baseline threads (default 4)")
    parser.add_argument("--rows", type=int, default=20, help="data rows per release (default 20)")
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL server URL such as postgresql+psycopg://postgres@127.0.0.1:"
                             "5432/postgres; the bench creates its own databases there and drops "
                             "them (default: SQLite files in a temporary folder)")
    parser.add_argument("--trace-releases", type=int, default=None,
                        help="releases in the tracemalloc pass (default a quarter of --releases; "
                             "0 skips it)")
    parser.add_argument("--profile", nargs="?", const="-", default=None, metavar="FILE",
                        help="cProfile the dispatcher phase (every worker thread) and release "
                             "creation; report to FILE or stderr")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny run: 10 releases, 2 channels, 2 workers, 5 rows")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.releases, args.channels, args.workers, args.rows = 10, 2, 2, 5
    for name in ("releases", "channels", "workers", "rows"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.trace_releases is None:
        args.trace_releases = max(args.releases // 4, 1)
    if args.trace_releases < 0:
        parser.error("--trace-releases must be 0 or more")
    if args.workers > 10:
        parser.error("--workers above 10 would outgrow requests' connection pool (10 per session)")
    if args.database_url and not args.database_url.startswith("postgresql"):
        parser.error("--database-url must be a postgresql URL (SQLite is the default)")
    return Options(args.releases, args.channels, args.workers, args.rows, args.database_url,
                   args.trace_releases, args.profile, args.json)


# --------------------------------------------------------------------------- the throw-away project


TEMPLATE = (
    "{{ release.title }}\n"
    "{% for r in tables['items'] %}\n"
    "{{ loop.index }}. {{ r.item }}：{{ r.amount | thousands }}\n"
    "{% endfor %}\n"
)


def channel_names(kind: str, count: int) -> list[str]:
    return [f"{kind}-{n}" for n in range(1, count + 1)]


def write_project(root: Path, kind: str, options: Options, sink_url: str) -> Path:
    """A project folder with C channels of ``kind``, one definition, its template; the config file."""
    (root / "templates" / DEFINITION).mkdir(parents=True)
    (root / "templates" / DEFINITION / f"{kind}.txt.j2").write_text(TEMPLATE, encoding="utf-8")
    (root / "inbox").mkdir()
    settings: dict[str, Any] = (
        {"url": sink_url, "timeout_seconds": 5} if kind == "webhook" else {"max_title_chars": 500})
    fast_retry = {"attempts_per_claim": 2, "initial_wait_seconds": 0.1, "max_wait_seconds": 0.5,
                  "sweep_wait_seconds": 1, "max_sweep_wait_seconds": 2}
    config = {
        "timezone": "Asia/Shanghai",
        "data_dir": "inbox",
        "templates_dir": "templates",
        "defaults": {"retry_deadline_hours": 2, "workers": options.workers,
                     "retry": fast_retry, "urgent_retry": fast_retry},
        "columns": {"news": "新闻"},
        "channels": {name: {"kind": kind, "settings": settings}
                     for name in channel_names(kind, options.channels)},
        "schemas": {"items": {"columns": [{"id": "item", "header": "项目"},
                                          {"id": "amount", "header": "数量", "type": "int"}]}},
        "releases": {DEFINITION: {
            "title": "{{ period.label }}抽检结果（{{ release.index_number }}）",
            "issuing_organ": "市基准测试局",
            "organ_code": "BENCH0001",
            "subject_category": "综合政务",
            "column": "news",
            "schedule": "manual",
            "source": {"period": "day", "tables": {"items": {"path": "items/{date}.csv",
                                                             "schema": "items"}}},
            "channels": channel_names(kind, options.channels),
        }},
    }
    path = root / "schedules.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_data(root: Path, tag: str, count: int, rows: int) -> list[Path]:
    """One small CSV per release (passed to ``create`` as its data)."""
    folder = root / "inbox" / tag
    folder.mkdir(parents=True)
    files = []
    for i in range(count):
        lines = ["项目,数量"] + [f"样品{i}-{j},{(i * 7919 + j * 104729) % 100000}" for j in range(rows)]
        file = folder / f"{i:05d}.csv"
        file.write_text("\n".join(lines) + "\n", encoding="utf-8")
        files.append(file)
    return files


# --------------------------------------------------------------------------- measuring the store


class TimedStore(Store):
    """A Store that adds up wall time spent inside its read and write sessions, over all threads."""

    def __init__(self, url: str) -> None:
        self._stats_lock = threading.Lock()
        self.seconds: dict[str, float] = {"read": 0.0, "write": 0.0}
        self.sessions: Counter[str] = Counter()
        self.statements = 0
        super().__init__(url)
        event.listen(self.engine, "before_cursor_execute", self._count_statement)

    def _count_statement(self, *_args: Any) -> None:
        with self._stats_lock:
            self.statements += 1

    def reset_stats(self) -> None:
        with self._stats_lock:
            self.seconds = {"read": 0.0, "write": 0.0}
            self.sessions.clear()
            self.statements = 0

    def _add(self, kind: str, seconds: float) -> None:
        with self._stats_lock:
            self.seconds[kind] += seconds
            self.sessions[kind] += 1

    @contextlib.contextmanager
    def write(self) -> Iterator[Any]:
        started = time.perf_counter()
        try:
            with super().write() as session:
                yield session
        finally:
            self._add("write", time.perf_counter() - started)

    @contextlib.contextmanager
    def read(self) -> Iterator[Any]:
        started = time.perf_counter()
        try:
            with super().read() as session:
                yield session
        finally:
            self._add("read", time.perf_counter() - started)


@contextlib.contextmanager
def database(base_url: str | None, folder: Path, name: str) -> Iterator[str]:
    """A fresh database: a SQLite file in ``folder``, or a PostgreSQL database made and dropped here."""
    if base_url is None:
        yield f"sqlite:///{folder / f'{name}.db'}"
        return
    import psycopg
    from psycopg import sql

    db_name = f"bench_{name}_{uuid.uuid4().hex[:10]}"
    server = make_url(base_url)
    admin_url = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db_name)))
        try:
            yield server.set(database=db_name).render_as_string(hide_password=False)
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(db_name)))


@contextlib.contextmanager
def logs_discarded() -> Iterator[None]:
    """Log as the bot does (JSON at INFO, redacted) into /dev/null; undo every global change after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in logs.QUIET_LOGGERS}
    was_configured, saved = structlog.is_configured(), structlog.get_config()
    for handler in handlers:
        root.removeHandler(handler)
    with Path(os.devnull).open("w", encoding="utf-8") as devnull:
        logs.configure(json=True, level="INFO", stream=devnull)
        try:
            yield
        finally:
            for handler in list(root.handlers):
                root.removeHandler(handler)
            for handler in handlers:
                root.addHandler(handler)
            root.setLevel(level)
            for name, quiet_level in quiet.items():
                logging.getLogger(name).setLevel(quiet_level)
            if was_configured:
                structlog.configure(**saved)
            else:
                structlog.reset_defaults()


# --------------------------------------------------------------------------- profiling


class Profiles:
    """One cProfile.Profile per thread, merged into one report."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_thread: dict[int, cProfile.Profile] = {}

    def here(self) -> cProfile.Profile:
        with self._lock:
            return self._by_thread.setdefault(threading.get_ident(), cProfile.Profile())

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        profile = self.here()
        profile.enable()
        try:
            yield
        finally:
            profile.disable()

    def report(self, title: str, top: int = 30) -> str:
        out = io.StringIO()
        profiles = list(self._by_thread.values())
        if not profiles:
            return ""
        stats = pstats.Stats(profiles[0], stream=out)
        for other in profiles[1:]:
            stats.add(other)
        out.write(f"==== {title}: by own time ====\n")
        stats.sort_stats("tottime").print_stats(top)
        out.write(f"==== {title}: by cumulative time ====\n")
        stats.sort_stats("cumulative").print_stats(top)
        out.write(f"==== {title}: the project's own functions, by cumulative time ====\n")
        stats.sort_stats("cumulative").print_stats(r"/(publisher|channels)/", top)
        return out.getvalue()


class ProfiledDispatcher(Dispatcher):
    """A Dispatcher whose every delivery runs under its worker thread's profiler."""

    def __init__(self, app: App, profiles: Profiles, *, workers: int) -> None:
        super().__init__(app, workers=workers)
        self.profiles = profiles

    def deliver(self, delivery_id: int) -> str | None:
        with self.profiles.running():
            return super().deliver(delivery_id)


# --------------------------------------------------------------------------- phases


@dataclass
class Project:
    """A built throw-away project: its App, TimedStore and the data files per batch."""

    app: App
    store: TimedStore
    root: Path
    rows: int
    batches: int = 0
    minutes_used: int = 0  # due times handed out so far, one minute apart (distinct keys)

    def close(self) -> None:
        self.store.dispose()


def open_project(folder: Path, kind: str, options: Options, sink_url: str, db_url: str) -> Project:
    config_file = write_project(folder, kind, options, sink_url)
    store = TimedStore(db_url)
    app = App(loaded=config_module.load(config_file), store=store, clock=SystemClock())
    return Project(app, store, folder, options.rows)


@dataclass
class Created:
    """Release ids made in one batch, and how long creating them took."""

    release_ids: list[int]
    seconds: float
    read_seconds: float = 0.0  # reading the data files alone (measured on the same inputs)
    prepare_seconds: float = 0.0  # render + prepare alone (measured on the same inputs)


def create_releases(project: Project, count: int, *, split: bool = False,
                    profiles: Profiles | None = None) -> Created:
    """``count`` releases with distinct due times (so distinct keys), each with its own data file.

    With ``split``, the pure parts of ``create`` are then timed alone on the same inputs:
    reading the data file, and rendering + preparing every channel's payload.
    """
    app = project.app
    batch = project.batches
    project.batches += 1
    files = write_data(project.root, f"batch-{batch}", count, project.rows)
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=1)
    dues = [start + timedelta(minutes=project.minutes_used + i) for i in range(count)]
    project.minutes_used += count
    ids: list[int] = []
    started = time.perf_counter()
    with profiles.running() if profiles else contextlib.nullcontext():
        for due, file in zip(dues, files, strict=True):
            outcome = release.create(app, DEFINITION, due, actor="bench", origin="manual",
                                     data={"items": file})
            if outcome.state != "active" or not outcome.created:
                raise RuntimeError(f"release {outcome.key} not created: {outcome.problems}")
            ids.append(outcome.release_id)
    created = Created(ids, time.perf_counter() - started)
    if split:
        source = app.loaded.definition(DEFINITION).source
        assert source is not None
        config, zone = app.loaded.config, app.loaded.zone
        for due, file in zip(dues, files, strict=True):
            started = time.perf_counter()
            period = period_of(due.astimezone(zone).date(), source.period, source.period_offset)
            tables = load_source(source, config.schemas, app.data_dir, period, {"items": file})
            middle = time.perf_counter()
            release.prepare_release(app, DEFINITION, release.occurrence_key(DEFINITION, due, app),
                                    due, index_number="BENCH0001/2026-00001", tables=tables,
                                    period=period)
            created.read_seconds += middle - started
            created.prepare_seconds += time.perf_counter() - middle
    return created


@dataclass
class Drained:
    """One dispatcher phase: wall time and what the store saw."""

    seconds: float
    write_seconds: float
    read_seconds: float
    write_sessions: int
    read_sessions: int
    statements: int
    cpu_seconds: float  # the whole process's CPU time (the in-process sink's threads included)
    traced_peak: int = 0


def drain(project: Project, workers: int, *, trace: bool = False,
          profiles: Profiles | None = None) -> Drained:
    """``Dispatcher(app, workers).drain()`` until nothing is due (bounded), timed."""
    app = project.app
    with project.store.read() as session:
        due = session.execute(select(func.count()).select_from(Delivery).where(
            Delivery.state.in_(("pending", "retry_wait")))).scalar_one()
    limit = DRAIN_BASE_SECONDS + DRAIN_SECONDS_PER_DELIVERY * due
    project.store.reset_stats()
    dispatcher = (Dispatcher(app, workers=workers) if profiles is None
                  else ProfiledDispatcher(app, profiles, workers=workers))
    if trace:
        tracemalloc.start()
        tracemalloc.reset_peak()
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        with profiles.running() if profiles else contextlib.nullcontext():
            dispatcher.drain(until=app.clock.now() + timedelta(seconds=limit))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
    finally:
        if trace:
            tracemalloc.stop()
        dispatcher.shutdown()
    store = project.store
    return Drained(seconds, store.seconds["write"], store.seconds["read"], store.sessions["write"],
                   store.sessions["read"], store.statements, cpu, peak)


def deliveries_of(project: Project, release_ids: list[int]) -> list[Delivery]:
    with project.store.read() as session:
        return list(session.execute(
            select(Delivery).where(Delivery.release_id.in_(release_ids))).scalars())


@dataclass
class Check:
    """Problems found by the correctness checks; empty means every figure is trustworthy."""

    problems: list[str] = field(default_factory=list)

    def expect(self, ok: bool, problem: str) -> None:
        if not ok:
            self.problems.append(problem)


def check_webhook_phase(check: Check, label: str, rows: list[Delivery], expected: int,
                        posts: list[dict[str, Any]], accepted: Mapping[str, Any]
                        ) -> tuple[int, int]:
    """Every delivery published, each key POSTed once and accepted; (keys accepted, duplicates)."""
    states = Counter(d.state for d in rows)
    check.expect(len(rows) == expected, f"{label}: {len(rows)} deliveries, expected {expected}")
    check.expect(states == Counter({"published": expected}), f"{label}: states {dict(states)}")
    keys = {d.idempotency_key for d in rows}
    sent = Counter(post.get("key") for post in posts)
    duplicates = sorted(str(k) for k, n in sent.items() if n > 1)
    strangers = sorted(str(k) for k in sent if k not in keys)
    landed = sum(1 for k in keys if k in accepted)
    check.expect(not duplicates, f"{label}: {len(duplicates)} keys POSTed more than once (the sink "
                 "injects no faults, so even a retry is unexpected)")
    check.expect(not strangers, f"{label}: {len(strangers)} unexpected keys POSTed")
    check.expect(landed == expected, f"{label}: the sink accepted {landed} of {expected} keys")
    return landed, len(duplicates)


def plain_loop(url: str, jobs: list[tuple[str, Mapping[str, Any]]], threads: int, check: Check,
               label: str) -> float:
    """POST every job like the webhook adapter does, from a plain requests.Session; seconds taken."""
    local = threading.local()
    sessions: list[requests.Session] = []
    lock = threading.Lock()
    failures: list[int] = []

    def post(job: tuple[str, Mapping[str, Any]]) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.headers["User-Agent"] = USER_AGENT
            with lock:
                sessions.append(session)
        key, data = job
        response = session.post(f"{url}/deliveries", json={"key": key, **data},
                                headers={"Accept": "application/json", "Idempotency-Key": key},
                                timeout=5)
        response.json()  # the adapter reads the receipt too
        if response.status_code != 201:
            with lock:
                failures.append(response.status_code)

    started = time.perf_counter()
    if threads == 1:
        for job in jobs:
            post(job)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(post, jobs))
    seconds = time.perf_counter() - started
    for session in sessions:
        session.close()
    check.expect(not failures, f"{label}: {len(failures)} POSTs not accepted: {Counter(failures)}")
    return seconds


def apprise_loop(url: str, jobs: list[tuple[str, Mapping[str, Any]]], check: Check,
                 label: str) -> float:
    """Notify every job through one Apprise ``json://`` target from one thread: a stateless
    notifier (no record, no retry state) against the same sink; seconds taken. Each job's key
    goes in the plugin's ``Idempotency-Key`` header, so the sink accepts every one."""
    import apprise

    notifier = apprise.Apprise()
    address = urlparse(url)
    notifier.add(f"json://{address.hostname}:{address.port}/deliveries")
    plugin: Any = notifier[0]  # the json:// plugin, whose headers it sends with every request
    failures = 0
    started = time.perf_counter()
    for key, data in jobs:
        plugin.headers["Idempotency-Key"] = key
        if not notifier.notify(body=json.dumps(data, ensure_ascii=False),
                               title=str(data.get("title") or key)):
            failures += 1
    seconds = time.perf_counter() - started
    check.expect(not failures, f"{label}: {failures} notifications not accepted")
    return seconds


# --------------------------------------------------------------------------- the run


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else 0.0


def maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


@dataclass
class Phases:
    """Wall seconds of every phase, for the record (the run's total must stay small)."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started


def run(options: Options) -> dict[str, Any]:
    """Every phase, in order; returns the figures (``problems`` empty when all checks passed)."""
    check, phases = Check(), Phases()
    n = options.releases * options.channels
    load_before, rss_at_start = os.getloadavg(), maxrss_bytes()
    dispatch_profiles = Profiles() if options.profile else None
    create_profiles = Profiles() if options.profile else None
    traced: Drained | None = None
    traced_n = 0
    sink = sandbox.serve()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-dispatch-") as temp, logs_discarded():
            folder = Path(temp)
            (folder / "webhook").mkdir()
            with database(options.database_url, folder, "webhook") as db_url:
                project = open_project(folder / "webhook", "webhook", options, sink.url, db_url)
                try:
                    # 1. Create the releases (timed per release; the pure parts timed alone).
                    with phases.timed("create"):
                        created = create_releases(project, options.releases, split=True,
                                                  profiles=create_profiles)
                    # 2. Drain them through the dispatcher to the sink; check what landed.
                    mark = len(sink.state.posts)
                    with phases.timed("dispatch"):
                        drained = drain(project, options.workers, profiles=dispatch_profiles)
                    rows = deliveries_of(project, created.release_ids)
                    with sink.state.lock:
                        posts, accepted = list(sink.state.posts[mark:]), dict(sink.state.accepted)
                    landed, duplicates = check_webhook_phase(check, "dispatcher", rows, n, posts,
                                                             accepted)
                    rss_after_dispatch = maxrss_bytes()
                    # 3. The plain loop: same sink, the same bodies under fresh keys.
                    bodies = [(d.channel, d.payload["data"]) for d in rows]
                    plain: dict[int, float] = {}
                    with phases.timed("plain"):
                        for threads in sorted({1, options.workers}):
                            jobs = [(idempotency_key(f"plain-{threads}@{i}", channel), data)
                                    for i, (channel, data) in enumerate(bodies)]
                            plain[threads] = plain_loop(sink.url, jobs, threads, check,
                                                        f"plain loop, {threads} thread(s)")
                    # 3b. A stateless notifier: Apprise json:// to the same sink, one thread.
                    with phases.timed("apprise"):
                        jobs = [(idempotency_key(f"apprise@{i}", channel), data)
                                for i, (channel, data) in enumerate(bodies)]
                        mark = len(sink.state.posts)
                        apprise_seconds = apprise_loop(sink.url, jobs, check, "Apprise loop")
                        with sink.state.lock:
                            apprise_keys = {p["key"] for p in sink.state.posts[mark:]}
                        check.expect(apprise_keys == {key for key, _ in jobs},
                                     "Apprise loop: the sink did not get every key")
                    # 4. Peak memory: a fresh batch drained under tracemalloc (slow, so smaller).
                    if options.trace_releases:
                        with phases.timed("traced"):
                            again = create_releases(project, options.trace_releases)
                            mark = len(sink.state.posts)
                            traced = drain(project, options.workers, trace=True)
                        traced_n = options.trace_releases * options.channels
                        with sink.state.lock:
                            posts, accepted = list(sink.state.posts[mark:]), dict(sink.state.accepted)
                        check_webhook_phase(check, "traced dispatcher",
                                            deliveries_of(project, again.release_ids), traced_n,
                                            posts, accepted)
                finally:
                    project.close()
            # 5. The same dispatcher on a zero-latency in-process channel: its cost without HTTP.
            (folder / "memory").mkdir()
            MemoryStore.reset()
            with database(options.database_url, folder, "memory") as db_url, \
                    phases.timed("memory"):
                memory_project = open_project(folder / "memory", "memory", options, sink.url,
                                              db_url)
                try:
                    memory_created = create_releases(memory_project, options.releases)
                    memory = drain(memory_project, options.workers)
                    states = Counter(d.state for d in deliveries_of(memory_project,
                                                                    memory_created.release_ids))
                    published = sum(len(MemoryStore.published(name))
                                    for name in channel_names("memory", options.channels))
                    check.expect(states == Counter({"published": n}),
                                 f"memory channel: states {dict(states)}")
                    check.expect(published == n, f"memory channel: {published} published of {n}")
                finally:
                    memory_project.close()
                    MemoryStore.reset()
    finally:
        sink.stop()

    dispatcher_rate = rate(n, drained.seconds)
    plain_1, plain_w = rate(n, plain[1]), rate(n, plain[options.workers])
    per_release = 1000 / options.releases
    result: dict[str, Any] = {
        "releases": options.releases,
        "channels": options.channels,
        "workers": options.workers,
        "rows": options.rows,
        "deliveries": n,
        "database": "postgresql" if options.database_url else "sqlite",
        "cpus": os.cpu_count(),
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "create": {
            "seconds": created.seconds,
            "releases_per_s": rate(options.releases, created.seconds),
            "ms_per_release": created.seconds * per_release,
            "read_data_ms_per_release": created.read_seconds * per_release,
            "render_prepare_ms_per_release": created.prepare_seconds * per_release,
            "transaction_ms_per_release":
                (created.seconds - created.read_seconds - created.prepare_seconds) * per_release,
        },
        "dispatcher": {
            "seconds": drained.seconds,
            "deliveries_per_s": dispatcher_rate,
            "ms_per_delivery": 1000 * drained.seconds / n,
            "cpu_ms_per_delivery": 1000 * drained.cpu_seconds / n,
            "published": sum(d.state == "published" for d in rows),
            "sink_keys": landed,
            "duplicates": duplicates,
            "write_transactions_per_delivery": drained.write_sessions / n,
            "read_sessions_per_delivery": drained.read_sessions / n,
            "statements_per_delivery": drained.statements / n,
            "store_write_ms_per_delivery": 1000 * drained.write_seconds / n,
            "store_read_ms_per_delivery": 1000 * drained.read_seconds / n,
            "workers_inside_store": ratio(drained.write_seconds + drained.read_seconds,
                                          drained.seconds),
        },
        "plain_1_thread": {"seconds": plain[1], "deliveries_per_s": plain_1},
        "plain_w_threads": {"threads": options.workers, "seconds": plain[options.workers],
                            "deliveries_per_s": plain_w},
        "apprise_1_thread": {"seconds": apprise_seconds,
                             "deliveries_per_s": rate(n, apprise_seconds)},
        "ratio_vs_apprise": ratio(dispatcher_rate, rate(n, apprise_seconds)),
        "ratio_vs_plain_1_thread": ratio(dispatcher_rate, plain_1),
        "ratio_vs_plain_w_threads": ratio(dispatcher_rate, plain_w),
        "memory_channel": {
            "seconds": memory.seconds,
            "deliveries_per_s": rate(n, memory.seconds),
            "ms_per_delivery": 1000 * memory.seconds / n,
            "cpu_ms_per_delivery": 1000 * memory.cpu_seconds / n,
            "store_ms_per_delivery": 1000 * (memory.write_seconds + memory.read_seconds) / n,
        },
        "http_ms_per_delivery_estimate": 1000 * (drained.seconds - memory.seconds) / n,
        "peak_memory": {
            "tracemalloc_peak_mib": traced.traced_peak / MIB if traced else 0.0,
            "traced_deliveries": traced_n,
            "ru_maxrss_at_start_mib": rss_at_start / MIB,
            "ru_maxrss_after_dispatch_mib": rss_after_dispatch / MIB,
            "ru_maxrss_mib": maxrss_bytes() / MIB,
        },
        "phase_seconds": phases.seconds,
        "profiled": bool(options.profile),
        "ok": not check.problems,
        "problems": check.problems,
    }
    if dispatch_profiles and create_profiles:
        report = dispatch_profiles.report("dispatcher phase (all worker threads + drain loop)") + \
            create_profiles.report("release creation")
        if options.profile == "-":
            sys.stderr.write(report)
        else:
            Path(str(options.profile)).write_text(report, encoding="utf-8")
    return result


def table(result: Mapping[str, Any]) -> str:
    """The figures as a small text table."""
    n, w = result["deliveries"], result["workers"]
    d, m = result["dispatcher"], result["memory_channel"]
    c, mem = result["create"], result["peak_memory"]
    p1, pw = result["plain_1_thread"], result["plain_w_threads"]

    def row(label: str, seconds: float | None, per_s: float | None, ms: float) -> str:
        s = "" if seconds is None else f"{seconds:.2f}"
        r = "" if per_s is None else f"{per_s:.1f}"
        return f"{label:<46}{s:>9}{r:>10}{ms:>10.2f}"

    load = result["load_average_before_after"]
    lines = [
        f"{result['releases']} releases × {result['channels']} channels = {n} deliveries, "
        f"{w} workers, {result['database']}, {result['rows']} data rows per release, "
        f"{result['cpus']} CPUs, load average {load[0]} → {load[1]}",
        "",
        f"{'phase':<46}{'seconds':>9}{'per s':>10}{'ms each':>10}",
        row("dispatcher → webhook sink", d["seconds"], d["deliveries_per_s"], d["ms_per_delivery"]),
        row("plain requests loop, 1 thread", p1["seconds"], p1["deliveries_per_s"],
            1000 * p1["seconds"] / n),
        row(f"plain requests loop, {w} threads", pw["seconds"], pw["deliveries_per_s"],
            1000 * pw["seconds"] / n),
        row("Apprise json:// loop, 1 thread (stateless)", result["apprise_1_thread"]["seconds"],
            result["apprise_1_thread"]["deliveries_per_s"],
            1000 * result["apprise_1_thread"]["seconds"] / n),
        row("dispatcher → memory channel (no HTTP)", m["seconds"], m["deliveries_per_s"],
            m["ms_per_delivery"]),
        row("create release (per release)", c["seconds"], c["releases_per_s"], c["ms_per_release"]),
        row("  read the data file (timed alone)", None, None, c["read_data_ms_per_release"]),
        row("  render + prepare (timed alone)", None, None, c["render_prepare_ms_per_release"]),
        row("  the rest: check + transaction + commit", None, None,
            c["transaction_ms_per_release"]),
        "",
        f"ratio dispatcher / Apprise json:// loop:   {result['ratio_vs_apprise']:.3f}"
        " (target ≥ 1.0)",
        f"ratio dispatcher / plain loop, 1 thread:  {result['ratio_vs_plain_1_thread']:.3f}",
        f"ratio dispatcher / plain loop, {w} threads: {result['ratio_vs_plain_w_threads']:.3f}",
        "",
        f"store per delivery: {d['write_transactions_per_delivery']:.1f} write transactions, "
        f"{d['read_sessions_per_delivery']:.1f} read sessions, "
        f"{d['statements_per_delivery']:.1f} SQL statements",
        f"  wall time inside them, summed over workers: write {d['store_write_ms_per_delivery']:.2f}"
        f" ms, read {d['store_read_ms_per_delivery']:.2f} ms; on average "
        f"{d['workers_inside_store']:.1f} of {w} workers are inside a store session",
        f"  process CPU per delivery: {d['cpu_ms_per_delivery']:.2f} ms with the webhook (sink "
        f"included), {m['cpu_ms_per_delivery']:.2f} ms with the memory channel",
        f"  without HTTP (memory channel): {m['ms_per_delivery']:.2f} ms per delivery, "
        f"{m['store_ms_per_delivery']:.2f} ms inside the store summed over workers; "
        f"HTTP adds ≈ {result['http_ms_per_delivery_estimate']:.2f} ms",
        "",
        f"peak memory: tracemalloc {mem['tracemalloc_peak_mib']:.2f} MiB (dispatcher draining "
        f"{mem['traced_deliveries']} deliveries, traced pass)",
        f"  ru_maxrss {mem['ru_maxrss_at_start_mib']:.1f} MiB after imports, "
        f"{mem['ru_maxrss_after_dispatch_mib']:.1f} MiB after the timed dispatch, "
        f"{mem['ru_maxrss_mib']:.1f} MiB at the end",
        "phases (s): " + ", ".join(f"{k} {v:.1f}" for k, v in result["phase_seconds"].items()),
        "",
        "checks: " + (f"every delivery published once; the sink accepted {d['sink_keys']} keys, "
                      f"{d['duplicates']} duplicates" if result["ok"] else "FAILED"),
    ]
    lines += [f"  - {problem}" for problem in result["problems"]]
    if result["profiled"]:
        lines.append("(profiled run: cProfile slows every phase it covers; do not quote these rates)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every delivery landed exactly once, 1 otherwise."""
    options = parse_args(argv)
    result = run(options)
    print(json.dumps(result, indent=2, ensure_ascii=False) if options.json else table(result))
    if not result["ok"]:
        print("benchmark checks failed:\n" + "\n".join(result["problems"]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
