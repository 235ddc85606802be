"""The database: engine set-up, migrations at start, and read/write transactions."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"
VERSIONS = MIGRATIONS / "versions"


class SchemaOutdated(Exception):
    """The database's schema is not the one this version of the bot writes."""


def head_revision() -> str:
    """The newest migration this version ships, read from the file names (``NNNN_*.py``, each
    file's revision is its number): no alembic import."""
    return max(p.name.split("_", 1)[0] for p in VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))
DEFAULT_SQLITE = "var/publisher.db"
MIGRATE_LOCK = 7_415_001  # PostgreSQL advisory lock key held while migrating
# a check run inside every write transaction of this context just before it commits (the
# scheduler's fencing: publisher/scheduler.py); it raises to roll the transaction back
FENCE: ContextVar[Callable[[Session], None] | None] = ContextVar("store_fence", default=None)


def database_url(root: Path) -> str:
    """``PUBLISHER_DATABASE_URL`` if set, else the embedded SQLite file under ``var/``."""
    url = os.environ.get("PUBLISHER_DATABASE_URL")
    if url:
        return url
    path = (root / DEFAULT_SQLITE).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def safe_url(url: str) -> str:
    """The URL with any password hidden, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_setup(engine: Engine) -> None:
    """WAL, full fsync on commit, foreign keys, and BEGIN IMMEDIATE for write transactions."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below rule
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")


class Store:
    """Owns the engine; hands out sessions for reads and serialised writes."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"future": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["pool_size"] = 10
        self.engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _sqlite_setup(self.engine)
        self._writer = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time: the threads of this process queue on a lock of
        # their own instead of in SQLite's busy handler, which sleeps and retries (up to 100 ms
        # between tries) while the writer before it has long finished. Other processes still
        # meet the busy handler (busy_timeout). Reentrant, as a nested write in one thread
        # would already wait on itself in SQLite.
        self._write_lock: threading.RLock | None = threading.RLock() if self.is_sqlite else None
        self._reader = sessionmaker(
            self.engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False
        )
        if migrate:
            self.migrate()

    @property
    def safe_url(self) -> str:
        return safe_url(self.url)

    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent)."""
        from alembic import command  # imported here: ~0.4 s that commands without a database skip
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.connect() as connection:
            # SQLite rebuilds a table to change its constraints; with foreign keys enforced,
            # dropping the old copy would take the rows that reference it along. SQLite's own
            # recipe: keys off outside the transaction, migrate, check every key, keys back on.
            raw = connection.connection.dbapi_connection if self.is_sqlite else None
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=OFF")
            try:
                with connection.begin():
                    if not self.is_sqlite:  # nodes starting together migrate one at a time
                        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATE_LOCK})")
                    cfg.attributes["connection"] = connection
                    command.upgrade(cfg, "head")
                    if raw is not None:
                        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if broken:
                            raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
            finally:
                if raw is not None:
                    raw.execute("PRAGMA foreign_keys=ON")

    def check_current(self) -> None:
        """Raise ``SchemaOutdated`` unless the schema is at the newest revision: what a
        read-only command checks instead of migrating (one small SELECT, alembic not loaded)."""
        head = head_revision()
        try:
            with self.engine.connect() as connection:
                found = connection.exec_driver_sql(
                    "SELECT version_num FROM alembic_version").scalars().all()
        except SQLAlchemyError:
            found = []
        current = found[0] if len(found) == 1 else None
        if current == head:
            return
        if current is None:
            raise SchemaOutdated(
                f"数据库尚未建立结构（{self.safe_url}）；请先运行写入数据库的命令（如 publisher run）"
                f" / the database has no schema yet ({self.safe_url}); run a command that writes "
                "(e.g. publisher run) first")
        if current > head:
            raise SchemaOutdated(
                f"数据库结构版本 {current} 比本程序（{head}）新，请升级程序 / the database schema is "
                f"at {current}, newer than this version knows ({head}): upgrade the bot")
        raise SchemaOutdated(
            f"数据库结构版本 {current} 已过时，本版本需要 {head}；请先运行写入数据库的命令（如 "
            f"publisher run）完成升级 / the database schema is at {current}, this version needs "
            f"{head}: run a command that writes (e.g. publisher run) to upgrade it first")

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed on success, rolled back on error.

        On SQLite it starts with BEGIN IMMEDIATE, so read-then-write sequences (the audit
        chain, claims) never race; commits are fsynced (synchronous=FULL). Inside a fenced
        context (``FENCE``) the fence checks, in the same transaction, that the writer may
        still record it.
        """
        fence = FENCE.get()
        if self._write_lock is None:
            with self._writer() as session, session.begin():
                yield session
                if fence is not None:
                    session.flush()
                    fence(session)
            return
        with self._write_lock, self._writer() as session, session.begin():
            yield session
            if fence is not None:
                session.flush()
                fence(session)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (never takes SQLite's write lock)."""
        with self._reader() as session:  # closing ends the transaction; objects stay loaded
            yield session

    def optimize(self) -> None:
        """Refresh SQLite's planner statistics: ANALYZE sampling at most 1000 rows of each
        index (``analysis_limit``), milliseconds even on millions of rows. ``PRAGMA optimize``
        would be the modern call, but before SQLite 3.46 it skips tables this connection has
        not queried. Nothing to do on PostgreSQL (autovacuum analyses)."""
        if self.is_sqlite:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA analysis_limit=1000")
                connection.exec_driver_sql("ANALYZE")
                connection.commit()

    def dispose(self) -> None:
        if self.is_sqlite:
            try:
                self.optimize()
            except SQLAlchemyError as exc:  # closing must not fail on statistics
                logging.getLogger(__name__).warning("store.optimize_failed: %s", exc)
        self.engine.dispose()
