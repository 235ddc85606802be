"""A PostgreSQL database of one's own on the test server, made and dropped after use; a schema reset."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

PG_ADMIN = os.environ.get("PUBLISHER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def own_database(prefix: str) -> Iterator[str]:
    """A new database ``<prefix>_<random>`` (its SQLAlchemy URL), dropped on the way out."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(PG_ADMIN.replace("postgresql+psycopg://", "postgresql://"),
                            autocommit=True, connect_timeout=5)
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def reset_pg(url: str) -> None:
    """Drop and recreate the public schema of the database at ``url``."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
