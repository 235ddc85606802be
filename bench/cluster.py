"""Deliveries per second with one, two and three `publisher run` nodes on one PostgreSQL, as
ratios to one node, and the scheduler's failover time (last renewal → first action)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from channels.webhook.sandbox import Sink, serve
from publisher import cluster, release
from publisher import config as config_module
from publisher.app import App
from publisher.logs import configure
from publisher.store import Store
from publisher.store.models import AuditEvent, Delivery, Lease

PUBLISHER = str(Path(sys.executable).parent / "publisher")
ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
LEASE = 3.0
CONFIG = """\
timezone: Asia/Shanghai
data_dir: inbox
defaults:
  misfire_grace_minutes: 10
  retry_deadline_hours: 1
  workers: {workers}
columns: {{news: 新闻}}
cluster: {{enabled: true, lease_seconds: {lease}, heartbeat_seconds: 0.5, silent_seconds: 3}}
channels:
{channels}
schemas:
  simple: {{columns: [{{id: item, header: 项目}}, {{id: amount, header: 数量, type: int}}]}}
releases:
  tick:
    title: "第{{{{ period.label }}}}次测试发布"
    issuing_organ: 测试局
    organ_code: "MB0000001"
    subject_category: 综合政务
    column: news
    schedule: "{schedule}"
    source: {{period: day, tables: {{items: {{path: "items.csv", schema: simple}}}}}}
    channels: [{names}]
"""
TEMPLATE = "{% for r in tables['items'] %}{{ r.item }}：{{ r.amount }}\n{% endfor %}"


def _project(root: Path, sink: Sink, channels: int, workers: int, schedule: str) -> Path:
    (root / "templates" / "tick").mkdir(parents=True, exist_ok=True)
    (root / "templates" / "tick" / "webhook.txt.j2").write_text(TEMPLATE, encoding="utf-8")
    (root / "inbox").mkdir(exist_ok=True)
    (root / "inbox" / "items.csv").write_text("项目,数量\n苹果,3\n", encoding="utf-8")
    names = [f"hook-{n}" for n in range(channels)]
    listing = "\n".join(f'  {name}:\n    kind: webhook\n    settings: {{url: "{sink.url}", '
                        f'token: "${{SINK_TOKEN}}", timeout_seconds: 20}}' for name in names)
    config = root / "schedules.yaml"
    config.write_text(CONFIG.format(workers=workers, lease=LEASE, channels=listing,
                                    schedule=schedule, names=", ".join(names)), encoding="utf-8")
    return config


@contextmanager
def _database() -> Iterator[str]:
    import psycopg

    name = f"bench_cluster_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(ADMIN.replace("+psycopg", ""), autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
        admin.close()


def _wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {what}")


class Nodes:
    def __init__(self, root: Path, config: Path, url: str) -> None:
        self.root, self.config = root, config
        self.env = {**os.environ, "PUBLISHER_DATABASE_URL": url, "SINK_TOKEN": "tok-bench-1",
                    "PUBLISHER_LOG_LEVEL": "WARNING"}
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.root / f"node-{len(self.procs)}.log").open("ab")
        proc = subprocess.Popen([PUBLISHER, "run", "--config", str(self.config), "--no-serve",
                                 "--no-web", "--poll-seconds", "0.2", "--json-logs"],
                                env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.root)
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _up(store: Store) -> int:
    with store.read() as session:
        from publisher.store.models import Node
        return sum(1 for n in session.execute(select(Node)).scalars()
                   if n.role in ("scheduler", "standby"))


def throughput(nodes_n: int, releases: int, channels: int, workers: int,
               delay: float) -> dict[str, float]:
    """Start ``nodes_n`` nodes, then create ``releases`` releases at once: deliveries/s until
    every one is published, and the duplicates the sink saw."""
    sink = serve()
    sink.state.delay_seconds = delay  # a remote that takes this long per post
    try:
        with tempfile.TemporaryDirectory() as tmp, _database() as url:
            root = Path(tmp)
            config = _project(root, sink, channels, workers, "manual")
            os.environ["SINK_TOKEN"] = "tok-bench-1"
            store = Store(url)
            app = App(loaded=config_module.load(config), store=store)
            base = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=releases)
            for n in range(releases):  # one key each: a second apart
                release.create(app, "tick", base + timedelta(seconds=n), actor="bench",
                               origin="manual")
            later = datetime.now(UTC) + timedelta(days=1)
            with store.write() as session:  # held back until every node is up
                session.execute(update(Delivery).values(next_attempt_at=later))
            nodes = Nodes(root, config, url)
            try:
                for _ in range(nodes_n):
                    nodes.start()
                _wait(lambda: _up(store) == nodes_n, 120, "the nodes")
                time.sleep(1.0)
                started = time.monotonic()
                with store.write() as session:  # every delivery due at once
                    session.execute(update(Delivery).values(next_attempt_at=datetime.now(UTC)))
                cluster.notify(app)
                total = releases * channels

                def done() -> bool:
                    with store.read() as session:
                        return session.execute(select(func.count()).select_from(Delivery).where(
                            Delivery.state == "published")).scalar_one() == total
                _wait(done, 60 + total * delay * 2, "every delivery")
                elapsed = time.monotonic() - started
            finally:
                nodes.stop()
            duplicates = sum(1 for key in sink.state.accepted if sink.state.count(key) > 1)
            store.dispose()
            return {"nodes": nodes_n, "deliveries": total, "seconds": round(elapsed, 3),
                    "deliveries_per_s": round(total / elapsed, 2), "duplicates": duplicates}
    finally:
        sink.stop()


def failover(how: str) -> dict[str, float | str]:
    """Two nodes, a release every second; the scheduler node is killed (SIGKILL: gone, seen
    at once on this host) or hung (SIGSTOP: its lease must run out). Seconds from its last
    renewal to the new scheduler's first action (its scheduler.active audit event)."""
    sink = serve()
    try:
        with tempfile.TemporaryDirectory() as tmp, _database() as url:
            root = Path(tmp)
            config = _project(root, sink, 1, 2, "* * * * * *")
            store = Store(url)
            nodes = Nodes(root, config, url)
            try:
                for _ in range(2):
                    nodes.start()
                _wait(lambda: _up(store) == 2, 120, "two nodes")
                time.sleep(LEASE)  # a renewal or two
                with store.read() as session:
                    lease = session.get(Lease, "scheduler")
                    assert lease is not None
                    old = lease.holder
                victim = next(p for p in nodes.procs if f":{p.pid}:" in old)
                with store.read() as session:  # the renewal just before the failure
                    lease = session.get(Lease, "scheduler")
                    assert lease is not None
                    last_renewal = lease.expires_at - timedelta(seconds=LEASE)
                victim.send_signal(signal.SIGKILL if how == "kill" else signal.SIGSTOP)

                def moved() -> bool:
                    with store.read() as session:
                        current = session.get(Lease, "scheduler")
                    return current is not None and current.holder != old
                _wait(moved, 60, "a new scheduler")
                with store.read() as session:
                    first_action = session.execute(
                        select(AuditEvent.at).where(AuditEvent.action == "scheduler.active")
                        .order_by(AuditEvent.seq.desc()).limit(1)).scalar_one()
            finally:
                nodes.stop()
            store.dispose()
            return {"how": how, "lease_seconds": LEASE,
                    "seconds": round((first_action - last_renewal).total_seconds(), 3)}
    finally:
        sink.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--releases", type=int, default=100, help="releases per run (100)")
    parser.add_argument("--channels", type=int, default=2, help="webhook channels (2)")
    parser.add_argument("--workers", type=int, default=4, help="workers per node (4)")
    parser.add_argument("--delay-ms", type=float, default=50.0,
                        help="the sink's answer time per post (50 ms)")
    parser.add_argument("--quick", action="store_true", help="10 releases, no failover")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    configure(json=True, level="WARNING")
    releases = 10 if args.quick else args.releases
    runs = [throughput(n, releases, args.channels, args.workers, args.delay_ms / 1000)
            for n in (1, 2, 3)]
    one = runs[0]["deliveries_per_s"]
    result: dict[str, object] = {
        "cpus": os.cpu_count(), "releases": releases, "channels": args.channels,
        "workers_per_node": args.workers, "sink_delay_ms": args.delay_ms, "runs": runs,
        "ratios_to_one_node": {str(r["nodes"]): round(r["deliveries_per_s"] / one, 2)
                               for r in runs},
        "failover": [] if args.quick else [failover("kill"), failover("stop")],
    }
    ok = all(r["duplicates"] == 0 for r in runs)
    result["ok"] = ok
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0 if ok else 1
    print(f"machine: {os.cpu_count()} CPU cores (nodes, PostgreSQL and the sink share them)")
    print(f"{releases} releases x {args.channels} webhook channels, sink answers in "
          f"{args.delay_ms:.0f} ms, {args.workers} workers per node")
    for r in runs:
        print(f"  {r['nodes']} node(s): {r['deliveries_per_s']:8.1f} deliveries/s   "
              f"ratio {r['deliveries_per_s'] / one:4.2f}   duplicates {r['duplicates']}")
    for f in result["failover"]:  # type: ignore[attr-defined]
        print(f"  failover ({f['how']}, lease {f['lease_seconds']} s): last renewal -> first "
              f"action by the new scheduler {f['seconds']:.2f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
