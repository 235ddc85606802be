"""Benchmark: /healthz during a flood of sign-ins with fresh names, next to /healthz at rest."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import func, select

if __package__ in (None, ""):  # run as a file (bench/signin_flood.py): the project root first
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dispatch_throughput import Check, logs_discarded
from publisher import config as config_module
from publisher.app import App
from publisher.store import Store
from publisher.store.models import AuditEvent
from publisher.web.api import create_app
from publisher.web.server import serve

TIMEOUT_SECONDS = 120
IDLE_PROBES = 20
CSRF_MARK = 'name="csrf_token" value="'


class FromAddress(HTTPAdapter):
    """Connections leaving from ``source`` (127.0.0.x): each flooding client its own address,
    so the per-address lock-out does not cut the flood short."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def _sign_in_post(base: str, n: int) -> Callable[[], int]:
    """A client at 127.0.0.<n+10> that has opened the sign-in form; the call sends it with a
    fresh name and answers the status code."""
    client = requests.Session()
    client.mount("http://", FromAddress(f"127.0.0.{10 + n % 240}"))
    form = client.get(base + "/login", timeout=TIMEOUT_SECONDS).text
    start = form.index(CSRF_MARK) + len(CSRF_MARK)
    token = form[start:form.index('"', start)]

    def post() -> int:
        return client.post(base + "/login", timeout=TIMEOUT_SECONDS, allow_redirects=False,
                           data={"csrf_token": token, "name": f"fresh-{n}",
                                 "password": "not the password of anyone"}).status_code

    return post


def _settle(futures: list[Future[int]], done: threading.Event) -> None:
    """Wait for every sign-in of the flood, then say so."""
    for future in futures:
        future.result()
    done.set()


def _health(session: requests.Session, url: str, check: Check) -> float:
    asked = time.perf_counter()
    answer = session.get(url, timeout=TIMEOUT_SECONDS)
    check.expect(answer.status_code == 200, f"/healthz answered {answer.status_code}")
    return time.perf_counter() - asked


def run(flood: int) -> dict[str, Any]:
    """Serve a throw-away project; time /healthz at rest, then during ``flood`` simultaneous
    sign-ins (real argon2id: 64 MiB, 3 passes each)."""
    check = Check()
    with tempfile.TemporaryDirectory(prefix="bench-signin-") as folder, logs_discarded():
        config = Path(folder) / "schedules.yaml"
        config.write_text("channels: {memory-main: {kind: memory}}\nreleases: {}\n",
                          encoding="utf-8")
        app = App(loaded=config_module.load(config),
                  store=Store(f"sqlite:///{Path(folder) / 'bench.db'}"))
        web = app.loaded.config.web
        server = serve(create_app(app), "127.0.0.1", 0)
        try:
            base = server.url.rstrip("/")
            with requests.Session() as health:
                idle = [_health(health, base + "/healthz", check) for _ in range(IDLE_PROBES)]
                posts = [_sign_in_post(base, n) for n in range(flood)]
                barrier = threading.Barrier(flood + 1)
                done = threading.Event()
                during: list[float] = []

                def send(post: Callable[[], int]) -> int:
                    barrier.wait()
                    return post()

                with ThreadPoolExecutor(flood) as pool:
                    futures = [pool.submit(send, post) for post in posts]
                    barrier.wait()
                    started = time.perf_counter()
                    threading.Thread(target=_settle, args=(futures, done), daemon=True).start()
                    while not done.is_set():
                        during.append(_health(health, base + "/healthz", check))
                    codes = [future.result() for future in futures]
                    duration = time.perf_counter() - started
        finally:
            server.stop()
        with app.store.read() as session:
            audited = session.execute(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == "account.sign_in_failed")).scalar_one()
        app.close()
    check.expect(set(codes) <= {401, 503}, f"sign-ins answered {sorted(set(codes))}")
    check.expect(audited == codes.count(401),
                 f"{audited} failures audited for {codes.count(401)} refusals")
    check.expect(bool(during), "no /healthz answered during the flood")
    idle_ms = statistics.median(idle) * 1000
    worst_ms = max(during or [0.0]) * 1000
    return {
        "ok": not check.problems, "problems": check.problems, "flood": flood,
        "password_checks": web.password_checks, "password_queue": web.password_queue,
        "checked_401": codes.count(401), "busy_503": codes.count(503),
        "flood_seconds": round(duration, 3),
        "healthz_idle_median_ms": round(idle_ms, 2),
        "healthz_flood_median_ms": round(statistics.median(during or [0.0]) * 1000, 2),
        "healthz_flood_max_ms": round(worst_ms, 2),
        "healthz_during_flood": len(during),
        "ratio_max_healthz_to_flood": round(worst_ms / 1000 / duration, 4) if duration else 0.0,
        "ratio_median_flood_to_idle": round(statistics.median(during or [0.0]) * 1000 / idle_ms,
                                            2) if idle_ms else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--flood", type=int, default=40, help="simultaneous sign-ins (40)")
    parser.add_argument("--quick", action="store_true", help="8 sign-ins")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    options = parser.parse_args(argv)
    result = run(8 if options.quick else max(1, min(options.flood, 240)))
    if options.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for key, value in result.items():
            print(f"{key:32} {value}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
