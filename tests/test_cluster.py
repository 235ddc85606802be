"""Several `publisher run` nodes on one PostgreSQL database: takeover, fencing, shared work."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from channels.webhook.sandbox import Sink, serve
from publisher.store import Store
from publisher.store.models import AuditEvent, Delivery, Lease, Node, Release
from tests.support.pg import reset_pg
from tests.support.project import ROOT, TEMPLATE

PUBLISHER = str(Path(sys.executable).parent / "publisher")
pytestmark = [pytest.mark.slow, pytest.mark.postgres]
LEASE = 3.0  # seconds: the scheduler's lease in these tests
GRACE = 6.0  # seconds past the lease a takeover may take (a loaded 2-core machine)
EVERY = 10  # seconds between the cron fire times (longer than a takeover on a loaded machine)
REPEATS = int(os.environ.get("PUBLISHER_CLUSTER_REPEATS", "3"))  # `make cluster-soak`: 20

CONFIG = """\
timezone: Asia/Shanghai
data_dir: inbox
defaults:
  misfire_grace_minutes: 10
  retry_deadline_hours: 1
  workers: 2
  retry: {{attempts_per_claim: 2, initial_wait_seconds: 0.2, max_wait_seconds: 1,
          sweep_wait_seconds: 1, max_sweep_wait_seconds: 2}}
columns: {{news: 新闻}}
cluster: {{enabled: true, lease_seconds: {lease}, heartbeat_seconds: 0.5, silent_seconds: 3}}
channels:
  sink:
    kind: webhook
    settings: {{url: "{url}", token: "${{SINK_TOKEN}}", timeout_seconds: 20}}
schemas:
  simple:
    columns:
      - {{id: item, header: 项目}}
      - {{id: amount, header: 数量, type: int}}
releases:
  tick:
    title: "第{{{{ period.label }}}}次测试发布"
    issuing_organ: 测试局
    organ_code: "MB0000001"
    subject_category: 综合政务
    column: news
    schedule: "{schedule}"
    source:
      period: day
      tables:
        items: {{path: "items.csv", schema: simple}}
    channels: [sink]
"""


def _project(root: Path, url: str, schedule: str) -> Path:
    (root / "templates" / "tick").mkdir(parents=True)
    (root / "templates" / "tick" / "webhook.txt.j2").write_text(TEMPLATE, encoding="utf-8")
    (root / "inbox").mkdir()
    (root / "inbox" / "items.csv").write_text("项目,数量\n苹果,3\n", encoding="utf-8")
    config = root / "schedules.yaml"
    config.write_text(CONFIG.format(url=url, lease=LEASE, schedule=schedule), encoding="utf-8")
    return config


@pytest.fixture
def sink() -> Iterator[Sink]:
    running = serve()
    yield running
    running.stop()


@pytest.fixture
def cluster_db(pg_database: str) -> str:
    """This run's PostgreSQL database, emptied for this test (its nodes are all stopped after)."""
    reset_pg(pg_database)
    return pg_database


class Nodes:
    """The node processes of one test, each logging to its own file."""

    def __init__(self, root: Path, config: Path, url: str) -> None:
        self.root, self.config = root, config
        self.env = {**os.environ, "PUBLISHER_DATABASE_URL": url, "SINK_TOKEN": "tok-cluster-1"}
        self.env.pop("PUBLISHER_CONFIG", None)
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.logs: dict[int, Path] = {}

    def start(self, poll: float = 0.1, web: bool = False) -> subprocess.Popen[bytes]:
        log = self.root / f"node-{len(self.logs)}.log"
        proc = subprocess.Popen(
            [PUBLISHER, "run", "--config", str(self.config), "--no-serve",
             *(["--web", "--web-port", "0"] if web else ["--no-web"]),
             "--poll-seconds", str(poll), "--json-logs"],
            env=self.env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=self.root)
        self.procs[proc.pid], self.logs[proc.pid] = proc, log
        return proc

    def log(self, pid: int) -> str:
        return self.logs[pid].read_text(encoding="utf-8", errors="replace")

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _holder_pid(store: Store) -> int | None:
    with store.read() as session:
        lease = session.get(Lease, "scheduler")
    return int(lease.holder.split(":")[1]) if lease is not None else None


def _live_nodes(store: Store) -> int:
    with store.read() as session:
        return sum(1 for n in session.execute(select(Node)).scalars()
                   if n.role in ("scheduler", "standby"))


def _releases(store: Store) -> list[Release]:
    with store.read() as session:
        return list(session.execute(select(Release).order_by(Release.due_at)).scalars())


def _deliveries(store: Store) -> list[Delivery]:
    with store.read() as session:
        return list(session.execute(select(Delivery)).scalars())


def _next_fire(after: float) -> float:
    """The next wall-clock second that is a multiple of EVERY (the cron's fire times)."""
    return (int(after) // EVERY + 1) * EVERY


def test_cluster_mode_on_sqlite_is_refused(tmp_path: Path, sink: Sink) -> None:
    """`publisher run` with cluster.enabled on the embedded SQLite exits 2 naming PostgreSQL."""
    config = _project(tmp_path, sink.url, "manual")
    env = {**os.environ, "PUBLISHER_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
           "SINK_TOKEN": "tok-cluster-1"}
    done = subprocess.run([PUBLISHER, "run", "--config", str(config), "--no-serve", "--no-web"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "集群模式需要 PostgreSQL" in done.stderr and "cluster mode needs PostgreSQL" in done.stderr


def test_standby_fires_the_run_of_a_killed_scheduler_once(tmp_path: Path, sink: Sink,
                                                          cluster_db: str) -> None:
    """Three nodes: the scheduler node is SIGKILLed just before a cron fire time (random
    offsets, PUBLISHER_CLUSTER_REPEATS times); a standby fires that run within lease + grace,
    and across the whole run every fire time has exactly one release, published once."""
    config = _project(tmp_path, sink.url, f"*/{EVERY} * * * * *")
    nodes = Nodes(tmp_path, config, cluster_db)
    rng = random.Random(15)
    try:
        store = Store(cluster_db)
        for _ in range(3):
            nodes.start()
        _wait(lambda: _live_nodes(store) == 3 and _holder_pid(store) is not None, 90,
              "three nodes and a scheduler")
        takeovers: list[float] = []
        for _ in range(REPEATS):
            holder = _holder_pid(store)
            assert holder is not None
            fire = _next_fire(time.time() + 1.0)
            time.sleep(max(0.0, fire - rng.uniform(0.05, 1.5) - time.time()))
            victim = nodes.procs[holder]
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            due = datetime.fromtimestamp(fire, UTC)

            def fired(due: datetime = due) -> bool:
                return any(r.due_at == due and r.state == "active" for r in _releases(store))
            _wait(fired, LEASE + GRACE + 5, f"the run due at {due}")
            nodes.start()  # three nodes again for the next round
            created = next(r.created_at for r in _releases(store) if r.due_at == due)
            takeovers.append((created - due).total_seconds())
            assert (created - due).total_seconds() <= LEASE + GRACE, takeovers
            assert _holder_pid(store) not in (None, holder)
            _wait(lambda: _live_nodes(store) >= 2, 60, "the new node")
        _wait(lambda: all(d.state == "published" for d in _deliveries(store)), 60,
              "every delivery to publish")
        moved = sum(nodes.log(pid).count('"alert": "scheduler.moved"') for pid in nodes.procs)
    finally:
        nodes.stop_all()
    assert moved == REPEATS  # staff told each time the role changed hands
    releases = [r for r in _releases(store) if r.origin != "manual"]
    dues = [r.due_at for r in releases]
    assert len(dues) == len(set(dues))
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(dues)]
    assert all(gap == EVERY for gap in gaps), gaps  # no fire time lost
    assert all(r.state == "active" for r in releases), [r.state for r in releases]
    deliveries = _deliveries(store)
    assert len(deliveries) == len(releases)
    assert all(sink.state.count(d.idempotency_key) == 1 for d in deliveries)
    assert set(sink.state.accepted) == {d.idempotency_key for d in deliveries}
    store.dispose()


def test_a_resumed_scheduler_records_nothing(tmp_path: Path, sink: Sink,
                                             cluster_db: str) -> None:
    """SIGSTOP the scheduler node past its lease, let the standby take over, SIGCONT it: the
    resumed node fires no release and records no audit event as scheduler; it stands by."""
    config = _project(tmp_path, sink.url, "*/2 * * * * *")
    nodes = Nodes(tmp_path, config, cluster_db)
    try:
        store = Store(cluster_db)
        for _ in range(2):
            nodes.start()
        _wait(lambda: _live_nodes(store) == 2 and _holder_pid(store) is not None, 90,
              "two nodes and a scheduler")
        old = _holder_pid(store)
        assert old is not None
        _wait(lambda: "scheduler.fired" in nodes.log(old), 30, "a run fired by the first")
        nodes.procs[old].send_signal(signal.SIGSTOP)
        stopped = datetime.now(UTC)
        _wait(lambda: _holder_pid(store) not in (None, old), LEASE + GRACE + 10,
              "the standby to take over")
        time.sleep(4.5)  # fire times pass under the new scheduler, and the old one's jobs fall due
        listed = subprocess.run([PUBLISHER, "nodes", "--format", "json", "--config", str(config)],
                                env=nodes.env, capture_output=True, text=True, timeout=60,
                                check=False, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        roles = {int(n["pid"]): (n["role"], n["up"]) for n in json.loads(listed.stdout)}
        assert roles[old] == ("silent", False)  # stopped beating: alerted, its claims orphans
        assert ("scheduler", True) in roles.values()
        before = len(nodes.log(old))
        nodes.procs[old].send_signal(signal.SIGCONT)
        _wait(lambda: "scheduler.lease_lost" in nodes.log(old)[before:], 30,
              "the resumed node to notice it lost the lease")
        time.sleep(3)  # its APScheduler's jobs run (fenced) while it stands by
        after = nodes.log(old)[before:]
        assert _holder_pid(store) not in (None, old)
    finally:
        nodes.stop_all()
    assert "scheduler.fired" not in after
    assert "release.missed" not in after and "gazette.compiled" not in after
    with store.read() as session:
        events = list(session.execute(select(AuditEvent).where(
            AuditEvent.at > stopped)).scalars())
    holders = {e.actor for e in events if e.action == "scheduler.active"}
    assert len(holders) == 1 and f":{old}:" not in next(iter(holders))
    dues = [r.due_at for r in _releases(store)]
    assert len(dues) == len(set(dues))
    store.dispose()


def test_a_silent_nodes_sends_are_reconciled_by_another(tmp_path: Path, sink: Sink,
                                                        cluster_db: str) -> None:
    """A node stopped (SIGSTOP) while its delivery is mid-send stops beating; another node
    reconciles the delivery within about a minute, and the emulator counts it once, also after
    the stopped node resumes."""
    config = _project(tmp_path, sink.url, "manual")
    nodes = Nodes(tmp_path, config, cluster_db)
    sink.state.delay_seconds = 4.0  # the remote accepts, then answers slowly
    try:
        store = Store(cluster_db)
        for _ in range(2):
            nodes.start()
        _wait(lambda: _live_nodes(store) == 2, 90, "two nodes")
        made = subprocess.run([PUBLISHER, "trigger", "tick", "--no-send", "--config",
                               str(config)], env=nodes.env, capture_output=True, text=True,
                              timeout=60, check=False, cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        _wait(lambda: len(sink.state.accepted) == 1
              and any(d.state == "sending" for d in _deliveries(store)), 30, "a send in flight")
        sending = next(d for d in _deliveries(store) if d.state == "sending")
        assert sending.claimed_by is not None
        pid = int(sending.claimed_by.split(":")[1])
        nodes.procs[pid].send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        sink.state.delay_seconds = 0.0

        def settled() -> bool:
            row = next(d for d in _deliveries(store) if d.id == sending.id)
            return row.state == "published"
        _wait(settled, 75, "another node to reconcile the delivery")
        took = time.monotonic() - stopped
        row = next(d for d in _deliveries(store) if d.id == sending.id)
        assert row.claimed_by != sending.claimed_by
        nodes.procs[pid].send_signal(signal.SIGCONT)
        time.sleep(5)  # the resumed node's send answers; its finish finds the claim taken
        final = next(d for d in _deliveries(store) if d.id == sending.id)
    finally:
        nodes.stop_all()
    assert took < 60, took
    assert final.state == "published"
    assert sink.state.count(sending.idempotency_key) == 1
    store.dispose()


WEIBO_CONFIG = """\
timezone: Asia/Shanghai
data_dir: inbox
defaults:
  misfire_grace_minutes: 10
  retry_deadline_hours: 1
  workers: 2
columns: {{news: 新闻}}
cluster: {{enabled: true, lease_seconds: {lease}, heartbeat_seconds: 0.5, silent_seconds: 3}}
channels:
  weibo-main:
    kind: weibo
    settings:
      access_token: ${{WEIBO_ACCESS_TOKEN}}
      base_url: "{weibo}"
      link_base_url: "http://127.0.0.1:8180/"
      rip: 127.0.0.1
      posts_per_hour: {limit}
schemas:
  simple:
    columns:
      - {{id: item, header: 项目}}
      - {{id: amount, header: 数量, type: int}}
releases:
  tick:
    title: "测试发布"
    issuing_organ: 测试局
    organ_code: "MB0000001"
    subject_category: 综合政务
    column: news
    schedule: "* * * * * *"
    source:
      period: day
      tables:
        items: {{path: "items.csv", schema: simple}}
    channels: [weibo-main]
"""


def test_two_nodes_never_exceed_one_weibo_accounts_hourly_window(tmp_path: Path,
                                                                 cluster_db: str) -> None:
    """Two nodes sharing a Weibo account whose window is 3 posts an hour, with a release due
    every second: the emulator receives exactly 3 posts, the rest wait for the window."""
    from channels.weibo.platform import PlatformConfig
    from channels.weibo.sandbox import serve as serve_weibo

    limit = 3
    weibo = serve_weibo(config=PlatformConfig(posts_per_hour=1000, calls_per_hour=100_000))
    (tmp_path / "templates" / "tick").mkdir(parents=True)
    (tmp_path / "templates" / "tick" / "weibo.txt.j2").write_text(
        "【{{ release.key }}】" + TEMPLATE, encoding="utf-8")
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "items.csv").write_text("项目,数量\n苹果,3\n", encoding="utf-8")
    config = tmp_path / "schedules.yaml"
    config.write_text(WEIBO_CONFIG.format(lease=LEASE, weibo=weibo.url, limit=limit),
                      encoding="utf-8")
    nodes = Nodes(tmp_path, config, cluster_db)
    nodes.env["WEIBO_ACCESS_TOKEN"] = weibo.platform.issue_token().value
    try:
        store = Store(cluster_db)
        for _ in range(2):
            nodes.start()
        _wait(lambda: _live_nodes(store) == 2, 90, "two nodes")
        _wait(lambda: len(_deliveries(store)) >= 3 * limit, 60, "releases beyond the window")
        time.sleep(3)  # both nodes keep claiming while the window is full
        deliveries = _deliveries(store)
        posts = list(weibo.platform.posts)
    finally:
        nodes.stop_all()
        weibo.stop()
    assert len(posts) == limit, len(posts)
    assert sum(1 for d in deliveries if d.state == "published") == limit
    assert len({d.claimed_by for d in deliveries if d.claimed_by}) == 2  # both nodes took some
    store.dispose()


def test_a_trigger_wakes_every_node_at_once(tmp_path: Path, sink: Sink, cluster_db: str) -> None:
    """Two nodes that look for due work only every 60 s send a release triggered from another
    process within seconds: the trigger's NOTIFY wakes their dispatchers."""
    config = _project(tmp_path, sink.url, "manual")
    nodes = Nodes(tmp_path, config, cluster_db)
    try:
        store = Store(cluster_db)
        for _ in range(2):
            nodes.start(poll=60)
        _wait(lambda: _live_nodes(store) == 2 and _holder_pid(store) is not None, 90,
              "two nodes")
        pids = list(nodes.procs)
        _wait(lambda: all("run.started" in nodes.log(pid) for pid in pids), 60, "both started")
        time.sleep(1)  # both dispatchers now wait out their 60 s poll
        made = subprocess.run([PUBLISHER, "trigger", "tick", "--config", str(config)],
                              env=nodes.env, capture_output=True, text=True, timeout=60,
                              check=False, cwd=tmp_path)
        assert "the daemon (publisher run) is running" in made.stdout, made.stdout
        sent = time.monotonic()
        _wait(lambda: any(d.state == "published" for d in _deliveries(store)), 20,
              "a node to send it")
        took = time.monotonic() - sent
    finally:
        nodes.stop_all()
    assert took < 10, took
    assert len(sink.state.accepted) == 1
    store.dispose()


def _admin_sql(database_url: str, *statements: str) -> None:
    import psycopg

    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        for statement in statements:
            conn.execute(statement.encode())  # test-made literal SQL


def test_a_node_cut_off_from_postgresql_stops_scheduling_and_rejoins(
        tmp_path: Path, sink: Sink, cluster_db: str) -> None:
    """The scheduler node's database role is barred and its connections terminated: within
    its lease it stops acting as scheduler and the other node takes over; let back in, it
    beats again as a standby by itself, and every fire time still has one release."""
    config = _project(tmp_path, sink.url, "*/2 * * * * *")
    role = f"node_{uuid.uuid4().hex[:8]}"
    store = Store(cluster_db)
    _admin_sql(cluster_db, f'CREATE ROLE "{role}" LOGIN',
               f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"',
               f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"',
               f'GRANT CREATE, USAGE ON SCHEMA public TO "{role}"')
    nodes = Nodes(tmp_path, config, cluster_db)
    own_url = cluster_db.replace("postgres@", f"{role}@")
    try:
        cut = Nodes(tmp_path, config, own_url)
        cut.logs, cut.procs = nodes.logs, nodes.procs  # one set of processes to stop
        first = cut.start()
        _wait(lambda: _holder_pid(store) == first.pid, 90, "the first node to schedule")
        nodes.start()
        _wait(lambda: _live_nodes(store) == 2, 90, "two nodes")
        _admin_sql(cluster_db, f'ALTER ROLE "{role}" NOLOGIN',
                   f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                   f"WHERE usename = '{role}'")
        barred = time.monotonic()
        _wait(lambda: "scheduler.lease_lost" in nodes.log(first.pid), LEASE + GRACE + 10,
              "the cut-off node to give the role up")
        _wait(lambda: _holder_pid(store) not in (None, first.pid), LEASE + GRACE + 10,
              "the other node to take over")
        took = time.monotonic() - barred
        _admin_sql(cluster_db, f'ALTER ROLE "{role}" LOGIN')
        back = datetime.now(UTC)

        def rejoined() -> bool:
            with store.read() as session:
                row = next(n for n in session.execute(select(Node)).scalars()
                           if n.pid == first.pid)
            return row.beat_at > back and row.role == "standby"
        _wait(rejoined, 30, "the node to beat again as a standby")
        time.sleep(2.5)
    finally:
        nodes.stop_all()
        _admin_sql(cluster_db, f'DROP OWNED BY "{role}"', f'DROP ROLE IF EXISTS "{role}"')
    assert took < LEASE + GRACE + 10, took
    dues = [r.due_at for r in _releases(store)]
    assert len(dues) == len(set(dues))
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(dues)]
    assert all(gap == 2 for gap in gaps), gaps  # no fire time lost across the cut
    assert all(sink.state.count(key) == 1 for key in sink.state.accepted)
    store.dispose()


URGENT_SECTION = """\
urgent:
  issuing_organ: 某市人民政府新闻办公室
  organ_code: "MB0000999"
  subject_category: 综合政务
  column: news
  channels: [sink]
  sender: www.example.gov.cn
web: {port: 0}
"""


def test_an_urgent_post_to_one_nodes_api_overtakes_routine_work_on_every_node(
        tmp_path: Path, sink: Sink, cluster_db: str) -> None:
    """With a routine backlog being sent by two nodes, an urgent post accepted by node A's API
    is published at once by a free node, and no routine send starts on its channel on any
    node between its acceptance and its publication."""
    import shutil

    import requests

    from publisher import config as config_module
    from publisher import release
    from publisher.app import App
    from publisher.store.models import Attempt


    config = _project(tmp_path, sink.url, "manual")
    config.write_text(config.read_text(encoding="utf-8") + URGENT_SECTION, encoding="utf-8")
    shutil.copytree(ROOT / "templates" / "_urgent", tmp_path / "templates" / "_urgent")
    sink.state.delay_seconds = 0.4  # a slow remote: the backlog takes seconds
    store = Store(cluster_db)
    os.environ.setdefault("SINK_TOKEN", "tok-cluster-1")
    app = App(loaded=config_module.load(config), store=store)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=60)
    for n in range(40):  # the routine backlog, one key each
        release.create(app, "tick", base + timedelta(seconds=n), actor="staff:wang",
                       origin="manual")
    nodes = Nodes(tmp_path, config, cluster_db)
    token = subprocess.run([PUBLISHER, "tokens", "add", "ops", "--role", "urgent", "--config",
                            str(config)], env=nodes.env, capture_output=True, text=True,
                           timeout=60, check=True, cwd=tmp_path).stdout.splitlines()[0].strip()
    try:
        first = nodes.start(web=True)
        _wait(lambda: "HTTP API at" in nodes.log(first.pid), 90, "node A's API")
        nodes.start()
        _wait(lambda: _live_nodes(store) == 2, 90, "two nodes")
        _wait(lambda: sum(d.state == "published" for d in _deliveries(store)) >= 4, 60,
              "the backlog under way")
        api = nodes.log(first.pid).split("HTTP API at ", 1)[1].split()[0]
        posted = requests.post(f"{api}api/urgent", json={
            "title": "某高架桥发生垮塌", "facts": "今日9时40分，某高架桥一段桥面垮塌，现场已封闭。",
            "area": "某区某高架桥", "severity": "较大", "instruction": "请绕行。"},
            headers={"Authorization": f"Bearer {token}"}, timeout=30)
        accepted = datetime.now(UTC)
        assert posted.status_code in (200, 201, 202), posted.text

        def urgent_done() -> bool:
            return any(d.urgent and d.state == "published" for d in _deliveries(store))
        _wait(urgent_done, 20, "the urgent post")
        backlog_left = sum(not d.urgent and d.state != "published" for d in _deliveries(store))
    finally:
        nodes.stop_all()
    urgent = next(d for d in _deliveries(store) if d.urgent)
    with store.read() as session:
        started = min(session.execute(select(Attempt.started_at).where(
            Attempt.delivery_id == urgent.id)).scalars())
    assert urgent.published_at is not None
    # no routine delivery was claimed, on either node, once the urgent one was committed
    # (answered by the API) and until it was published
    claimed_during = [d.id for d in _deliveries(store) if not d.urgent and d.claimed_at
                      and accepted < d.claimed_at < urgent.published_at]
    assert claimed_during == []
    assert backlog_left > 0  # it overtook the backlog instead of waiting behind it
    assert (started - accepted).total_seconds() < 5
    assert sink.state.count(urgent.idempotency_key) == 1
    store.dispose()
