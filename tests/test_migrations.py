"""Schema migrations upgrade a database that already holds releases and deliveries."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from publisher.store import Store
from tests.support.migrations import alembic_config


def test_upgrade_keeps_existing_rows(database_url: str) -> None:
    """A database at revision 0002 with a release and a delivery upgrades to the newest schema,
    keeping both rows and their foreign key."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0002")
        connection.execute(text(
            "INSERT INTO releases (id, key, definition_id, origin, state, due_at, created_at, "
            "deadline_at, urgent, details, actor) VALUES (1, 'r@2026-12-02T10:00+08:00', 'r', "
            "'manual', 'active', '2026-12-02 02:00:00', '2026-12-02 02:00:00', "
            "'2026-12-03 02:00:00', false, '{}', 'staff:li')"))
        connection.execute(text(
            "INSERT INTO deliveries (id, release_id, channel, kind, state, idempotency_key, urgent, "
            "payload, claims, attempts, created_at, updated_at) VALUES (1, 1, 'portal-main', "
            "'portal', 'published', 'k1', false, '{}', 1, 1, '2026-12-02 02:00:00', "
            "'2026-12-02 02:00:01')"))
    engine.dispose()
    store = Store(database_url)  # migrates to head at start
    try:
        columns = {c["name"] for c in inspect(store.engine).get_columns("releases")}
        assert {"incident_id", "msg_type"} <= columns
        assert "incidents" in inspect(store.engine).get_table_names()
        with store.engine.connect() as connection:
            row = connection.execute(text(
                "SELECT d.state, r.key, r.incident_id FROM deliveries d JOIN releases r "
                "ON r.id = d.release_id")).one()
        assert tuple(row) == ("published", "r@2026-12-02T10:00+08:00", None)
    finally:
        store.dispose()


def test_delivery_actions_migration_keeps_attempts_and_foreign_keys(database_url: str) -> None:
    """Rebuilding the deliveries table for 0004 keeps its rows, the attempts that reference it
    and the foreign keys, and lets one release hold a send and a follow-up on one channel."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0003")
        connection.execute(text(
            "INSERT INTO releases (id, key, definition_id, origin, state, due_at, created_at, "
            "deadline_at, urgent, details, actor) VALUES (1, 'r@2026-12-02T10:00+08:00', 'r', "
            "'manual', 'active', '2026-12-02 02:00:00', '2026-12-02 02:00:00', "
            "'2026-12-03 02:00:00', false, '{}', 'staff:li')"))
        connection.execute(text(
            "INSERT INTO deliveries (id, release_id, channel, kind, state, idempotency_key, urgent, "
            "payload, claims, attempts, created_at, updated_at) VALUES (7, 1, 'weibo-main', "
            "'weibo', 'published', 'k7', false, '{}', 1, 1, '2026-12-02 02:00:00', "
            "'2026-12-02 02:00:01')"))
        connection.execute(text(
            "INSERT INTO attempts (id, delivery_id, number, started_at, duration_ms, outcome) "
            "VALUES (1, 7, 1, '2026-12-02 02:00:00', 12, 'published')"))
    engine.dispose()
    store = Store(database_url)
    try:
        with store.engine.begin() as connection:
            row = connection.execute(text(
                "SELECT d.action, d.target_id, a.duration_ms FROM deliveries d "
                "JOIN attempts a ON a.delivery_id = d.id")).one()
            assert tuple(row) == ("send", None, 12)
            connection.execute(text(
                "INSERT INTO deliveries (id, release_id, channel, kind, action, target_id, state, "
                "idempotency_key, urgent, payload, claims, attempts, created_at, updated_at) "
                "VALUES (8, 1, 'weibo-main', 'weibo', 'follow_up', 7, 'pending', 'k8', false, "
                "'{}', 0, 0, '2026-12-02 02:00:00', '2026-12-02 02:00:00')"))
        # the foreign key is enforced again
        with store.engine.connect() as connection, pytest.raises(IntegrityError):
            connection.execute(text(
                "INSERT INTO attempts (id, delivery_id, number, started_at, duration_ms, "
                "outcome) VALUES (2, 999, 1, '2026-12-02 02:00:00', 1, 'published')"))
            connection.commit()
    finally:
        store.dispose()


def test_optimize_gives_sqlite_planner_statistics(tmp_path: Path) -> None:
    """Store.optimize (run by the daemon every 6 hours and at close) leaves SQLite with planner
    statistics for the deliveries table once it holds rows."""
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with store.engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO releases (id, key, definition_id, origin, state, due_at, created_at, "
                "deadline_at, urgent, details, actor) VALUES (1, 'r@x', 'r', 'manual', 'active', "
                "'2026-12-02 02:00:00', '2026-12-02 02:00:00', '2026-12-03 02:00:00', false, "
                "'{}', 't')"))
            for n in range(200):
                connection.execute(text(
                    "INSERT INTO deliveries (release_id, channel, kind, state, idempotency_key, "
                    "urgent, payload, claims, attempts, created_at, updated_at) VALUES (1, "
                    f"'c{n % 4}', 'memory', 'published', 'k{n}', false, '{{}}', 1, 1, "
                    "'2026-12-02 02:00:00', '2026-12-02 02:00:01')"))
        store.optimize()
        with store.engine.connect() as connection:
            tables = {row[0] for row in connection.execute(text(
                "SELECT tbl FROM sqlite_stat1 WHERE stat IS NOT NULL"))}
        assert "deliveries" in tables
    finally:
        store.dispose()


def test_migration_0014_adds_the_intake_tables_and_keeps_accounts_and_tokens(
        database_url: str) -> None:
    """Upgrading from 0013 keeps an account and a token (with no definitions: not suppliers) and
    adds data_files and preflight_checks; downgrading to 0013 removes them and the columns."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            command.upgrade(alembic_config(connection), "0013")
            connection.execute(text(
                "INSERT INTO accounts (id, name, display_name, password_hash, roles, created_at, "
                "created_by, password_changed_at) VALUES (1, 'li', 'li', 'x', 'editor', "
                "'2026-12-02 02:00:00', 't', '2026-12-02 02:00:00')"))
            connection.execute(text(
                "INSERT INTO api_tokens (id, name, token_sha256, role, created_at, created_by) "
                "VALUES (1, 'desk', 'abc', 'urgent', '2026-12-02 02:00:00', 't')"))
            command.upgrade(alembic_config(connection), "0014")
            names = set(inspect(connection).get_table_names())
            assert {"data_files", "preflight_checks"} <= names
            assert tuple(connection.execute(text(
                "SELECT a.roles, a.definitions, t.role, t.definitions FROM accounts a, "
                "api_tokens t")).one()) == ("editor", None, "urgent", None)
            command.downgrade(alembic_config(connection), "0013")
            names = set(inspect(connection).get_table_names())
            assert not {"data_files", "preflight_checks"} & names
            columns = {c["name"] for c in inspect(connection).get_columns("accounts")}
            assert "definitions" not in columns
            assert connection.execute(text("SELECT name FROM accounts")).scalar_one() == "li"
    finally:
        engine.dispose()


def test_head_revision_read_from_file_names_is_alembics_head() -> None:
    """The newest revision read-only commands expect (from the file names, no alembic) is the
    head alembic itself finds: every migration file is named after its revision."""
    from alembic.script import ScriptDirectory

    from publisher.store import head_revision

    cfg = alembic_config(None)  # the project's migrations; no connection is needed to read them
    assert head_revision() == ScriptDirectory.from_config(cfg).get_current_head()


def test_check_current_refuses_an_older_schema_without_migrating(tmp_path: Path) -> None:
    """A store opened without migrating accepts a database at the newest revision and refuses
    one at an older revision (or with no schema), naming both revisions; it changes nothing."""
    from publisher.store import SchemaOutdated, head_revision

    url = f"sqlite:///{tmp_path / 'db'}"
    empty = Store(url, migrate=False)
    with pytest.raises(SchemaOutdated, match="no schema yet"):
        empty.check_current()
    empty.dispose()
    Store(url).dispose()  # migrates
    current = Store(url, migrate=False)
    current.check_current()
    with current.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    with pytest.raises(SchemaOutdated, match=f"at 0001, this version needs {head_revision()}"):
        current.check_current()
    with current.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() \
            == "0001"
    current.dispose()
