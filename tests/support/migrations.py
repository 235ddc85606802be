"""Alembic run by the tests on a connection they hold, with the project's own migrations."""

from __future__ import annotations

from alembic.config import Config as AlembicConfig

from publisher.store import MIGRATIONS


def alembic_config(connection: object) -> AlembicConfig:
    """An Alembic config with the project's migrations that runs on ``connection``."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg
