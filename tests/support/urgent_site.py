"""The urgent pages in a real browser: a sandboxed copy of the shipped project served on loopback."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from channels.memory.adapter import MemoryStore
from publisher import config as config_module
from publisher.app import App
from publisher.dispatch import Dispatcher
from publisher.store import Store
from publisher.web import account as accounts
from publisher.web.api import create_app
from publisher.web.server import WebServer, serve
from tests.support.console import PASSWORD
from tests.support.project import ROOT

CHANNELS = ("portal-main", "wechat-main", "weibo-main")  # the shipped config's urgent channels


WAIT_MS = 30_000  # the longest any one step may take


FACTS = "今日9时40分，某区某高架桥一段桥面垮塌，现场已封闭，伤亡情况正在核实。"


def urgent_project(root: Path) -> Path:
    """A copy of the shipped project (config, templates, samples): portal, WeChat, Weibo."""
    for name in ("schedules.yaml", "templates", "samples"):
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    return root / "schedules.yaml"


@dataclass
class Site:
    """The console over a sandboxed copy of the shipped project, and its held-back daemon."""

    app: App
    server: WebServer
    daemon: Daemon

    @property
    def base(self) -> str:
        return self.server.url.rstrip("/")


@pytest.fixture
def site(tmp_path: Path, cheap_hashing: None) -> Iterator[Site]:
    """Console and API on loopback over SQLite, channels on their emulators, an urgent account."""
    config = urgent_project(tmp_path)
    MemoryStore.reset()
    app = App(loaded=config_module.load(config),
              store=Store(f"sqlite:///{tmp_path / 'publisher.db'}"), sandbox=True)
    accounts.create(app, "zhao.lei", PASSWORD, ["urgent"], actor="staff:test",
                    display_name="赵磊")
    daemon = Daemon(app)
    server = serve(create_app(app, wake=daemon.wake.set), "127.0.0.1", 0)
    try:
        yield Site(app, server, daemon)
    finally:
        server.stop()
        daemon.halt()
        app.close()


class Daemon:
    """The dispatching loop of ``publisher run`` in a thread, started when the test says so:
    until then recorded deliveries wait, so the board is seen before they go out."""

    def __init__(self, app: App) -> None:
        self.dispatcher = Dispatcher(app)
        self.stop, self.wake = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._loop, name="test-daemon", daemon=True)

    def _loop(self) -> None:
        while not self.stop.is_set():
            self.wake.clear()
            self.dispatcher.run_once()
            self.wake.wait(0.2)

    def halt(self) -> None:
        self.stop.set()
        self.wake.set()
        if self.thread.is_alive():
            self.thread.join(30)
        self.dispatcher.shutdown(wait=True)
