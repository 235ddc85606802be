"""Several nodes on one PostgreSQL database: heartbeat rows, silent nodes, LISTEN/NOTIFY wake-ups."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from importlib import metadata
from typing import Any

from sqlalchemy import event, or_, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from publisher.alert import alert
from publisher.app import App
from publisher.logs import get_logger
from publisher.process import holder_id
from publisher.store.models import Node

log = get_logger(__name__)

WAKE_CHANNEL = "publisher_wake"  # NOTIFY channel: something is due now on some node
SQLITE_REFUSED = ("集群模式需要 PostgreSQL（cluster.enabled 为 true，但数据库是 SQLite；请设置 "
                  "PUBLISHER_DATABASE_URL=postgresql+psycopg://…，或关闭 cluster.enabled）/ cluster "
                  "mode needs PostgreSQL: cluster.enabled is true but the database is SQLite (set "
                  "PUBLISHER_DATABASE_URL=postgresql+psycopg://… or turn cluster.enabled off)")


class ClusterRefused(Exception):  # a refusal with its zh-CN/English reason
    """Cluster mode asked for on a database that cannot coordinate nodes (SQLite)."""


def version() -> str:
    try:
        return metadata.version("gov-publisher")
    except metadata.PackageNotFoundError:
        return "dev"


def check_supported(app: App) -> None:
    """Raise ClusterRefused when cluster mode is on and the database is SQLite."""
    if app.loaded.config.cluster.enabled and app.store.is_sqlite:
        raise ClusterRefused(SQLITE_REFUSED)


def bound_idle_transactions(app: App) -> None:
    """Have PostgreSQL end any of this node's sessions left idle inside a transaction for
    longer than the lease: a node paused mid-transaction (stopped, frozen) would otherwise
    keep its row locks, the lease row's included, and block the takeover."""
    seconds = max(1, int(app.loaded.config.cluster.lease_seconds))

    @event.listens_for(app.store.engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET idle_in_transaction_session_timeout = '{seconds}s'")
        cursor.close()
        dbapi_connection.commit()

    app.store.engine.dispose()  # the pooled connections made before get the setting too


def silent_nodes(app: App, now: datetime | None = None) -> set[str]:
    """Ids of nodes stopped or silent past ``cluster.silent_seconds``: their claims are
    orphans, reconciled by any other node (publisher/dispatch.py ``recover``)."""
    now = now or app.clock.now()
    silent = timedelta(seconds=app.loaded.config.cluster.silent_seconds)
    with app.store.read() as session:
        return set(session.execute(select(Node.id).where(
            or_(Node.role.in_(("stopped", "silent")), Node.beat_at < now - silent))).scalars())


def nodes(app: App) -> list[Node]:
    """Every node row, newest beat first."""
    with app.store.read() as session:
        return list(session.execute(select(Node).order_by(Node.beat_at.desc())).scalars())


def is_up(app: App, node: Node, now: datetime | None = None) -> bool:
    now = now or app.clock.now()
    silent = timedelta(seconds=app.loaded.config.cluster.silent_seconds)
    return node.role not in ("stopped", "silent") and now - node.beat_at <= silent


def watch(app: App) -> list[str]:
    """Mark nodes that stopped beating as ``silent`` and alert staff once for each (a job of
    the scheduler role); returns their ids."""
    now = app.clock.now()
    silent = timedelta(seconds=app.loaded.config.cluster.silent_seconds)
    with app.store.write() as session:
        gone = list(session.execute(select(Node).where(
            Node.role.in_(("scheduler", "standby")), Node.beat_at < now - silent)).scalars())
        for node in gone:
            node.role = "silent"
    for node in gone:
        alert(app, "node.silent", f"节点停止心跳：{node.id}（最后心跳 {node.beat_at:%H:%M:%S} UTC）",
              f"node {node.id} stopped beating (last heartbeat {node.beat_at:%H:%M:%S} UTC)",
              node=node.id)
    return [node.id for node in gone]


class Heartbeat:
    """This node's row, written every ``cluster.heartbeat_seconds`` with its role."""

    def __init__(self, app: App, role: Callable[[], str]) -> None:
        self.app = app
        self.role = role
        self.id = holder_id()
        self.started = app.clock.now()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self, role: str | None = None) -> None:
        now = self.app.clock.now()
        with self.app.store.write() as session:
            row = session.get(Node, self.id)
            if row is None:
                session.add(Node(id=self.id, host=socket.gethostname(), pid=os.getpid(),
                                 version=version(), started_at=self.started, beat_at=now,
                                 role=role or self.role()))
                return
            row.beat_at = now
            row.role = role or self.role()

    def start(self) -> None:
        self.beat()
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        seconds = self.app.loaded.config.cluster.heartbeat_seconds
        while not self._stop.wait(seconds):
            try:
                self.beat()
            except SQLAlchemyError as exc:  # the database away: beat again next time
                log.warning("node.beat_failed", error_type=type(exc).__name__)

    def stop(self) -> None:
        self._stop.set()
        try:
            self.beat("stopped")
        except SQLAlchemyError as exc:
            log.warning("node.beat_failed", error_type=type(exc).__name__)


def notify(app: App) -> None:
    """Wake every node's dispatcher (PostgreSQL NOTIFY; nothing to do on SQLite)."""
    if app.store.is_sqlite:
        return
    try:
        with app.store.engine.connect() as connection:
            connection.execute(text("SELECT pg_notify(:channel, '')"),
                               {"channel": WAKE_CHANNEL})
            connection.commit()
    except SQLAlchemyError as exc:  # the pollers find the work anyway
        log.warning("node.notify_failed", error_type=type(exc).__name__)


class Listener:
    """LISTENs on ``publisher_wake`` on a connection of its own and calls ``wake`` at each
    notification; reconnects by itself when the database goes away."""

    def __init__(self, app: App, wake: Callable[[], None]) -> None:
        self.url = make_url(app.store.url).set(drivername="postgresql").render_as_string(
            hide_password=False)
        self.wake = wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="listen", daemon=True)
        self.listening = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {WAKE_CHANNEL}")
                    self.listening.set()
                    self.wake()  # whatever was notified while we were not listening
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self.wake()
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("node.listen_failed", error_type=type(exc).__name__)
                self._stop.wait(2.0)
