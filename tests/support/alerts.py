"""Alerts under test: a loopback receiver that keeps what the alert URLs post, and an App with alert URLs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from channels.loopback import Loopback, start
from publisher import config as config_module
from publisher.app import App
from publisher.clock import ManualClock
from publisher.store import Store
from tests.support.project import PROJECT_YAML


@dataclass
class Inbox:
    """What the receiver got; ``statuses`` are answered first; ``hang`` holds requests."""

    posts: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    hang: bool = False
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, seconds: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.posts) >= count:
                    return list(self.posts)
            time.sleep(0.01)
        with self.lock:
            return list(self.posts)


class AlertServer(ThreadingHTTPServer):
    inbox: Inbox


@pytest.fixture
def receiver() -> Iterator[tuple[Loopback[AlertServer], Inbox]]:
    """A JSON webhook receiver on 127.0.0.1 (Apprise's ``json://`` posts there)."""
    server = AlertServer(("127.0.0.1", 0), AlertHandler)
    server.inbox = Inbox()
    running = Loopback(server, start(server, "alert-receiver"))
    yield running, server.inbox
    server.inbox.release.set()
    running.stop()


def make_app(root: Path, store: Store, clock: ManualClock, urls: list[str], *,
             environ: dict[str, str] | None = None, base: str = PROJECT_YAML,
             **options: float) -> App:
    """An App on the small project (config ``base``) with an ``alerts:`` section appended."""
    (root / "schedules.yaml").write_text(base + alerts_yaml(urls, **options), encoding="utf-8")
    loaded = config_module.load(root / "schedules.yaml")
    return App(loaded=loaded, store=store, clock=clock, environ=environ or {})


class AlertHandler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True  # keep-alive without the ~40 ms delayed-ACK stall
    protocol_version = "HTTP/1.1"
    server: AlertServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the inbox is the record."""

    def do_POST(self) -> None:
        inbox = self.server.inbox
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if inbox.hang:
            inbox.holding.set()
            inbox.release.wait(HOLD_SECONDS)
        with inbox.lock:
            inbox.posts.append({"path": self.path, "body": body,
                                "authorization": self.headers.get("Authorization")})
            status = inbox.statuses.pop(0) if inbox.statuses else 200
        data = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def alerts_yaml(urls: list[str], *, interval: float = 600, timeout: float = 2) -> str:
    items = "".join(f"\n    - \"{url}\"" for url in urls)
    return (f"alerts:\n  urls:{items}\n  min_interval_seconds: {interval}\n"
            f"  timeout_seconds: {timeout}\n")


HOLD_SECONDS = 10.0  # how long the receiver holds a request when told to hang
