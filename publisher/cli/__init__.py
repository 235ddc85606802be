"""The ``publisher`` command: one entry point, help in zh-CN and English.

The command modules import only ``typer`` at their top: everything else (the config models,
SQLAlchemy, alembic, the CAP schema, the web stack, the report writers) is imported inside the
command that uses it, so ``publisher --help`` and the read-only commands start fast
(bench/cli_startup.py).
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from publisher import config as config_module
    from publisher.app import App

CONFIG_OPTION = typer.Option(
    Path("schedules.yaml"), "--config", "-c", envvar="PUBLISHER_CONFIG",
    help="配置文件 / the config file (schedules.yaml)")

cli = typer.Typer(
    name="publisher",
    help="政务信息多渠道发布机器人 / Multi-channel publishing bot for government information.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
audit_cli = typer.Typer(help="审计日志 / The tamper-evident audit log.", no_args_is_help=True)
cli.add_typer(audit_cli, name="audit")


def actor() -> str:
    """Who is acting: ``PUBLISHER_ACTOR`` or the login name."""
    return os.environ.get("PUBLISHER_ACTOR") or f"staff:{getpass.getuser()}"


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def load_config(path: Path) -> config_module.LoadedConfig:
    from publisher import config as config_module

    try:
        return config_module.load(path)
    except config_module.ConfigError as exc:
        raise fail(str(exc), 2) from None


def open_app(path: Path, *, sandbox: bool = False, json_logs: bool | None = None,
             log_level: str = "INFO", read_only: bool = False) -> App:
    """Configure logs (``PUBLISHER_LOG_LEVEL``, else ``log_level``), load the config, open
    (and migrate) the database.

    ``read_only`` commands do not migrate: they check that the schema is the newest this
    version knows (no alembic import) and refuse clearly otherwise."""
    from publisher.app import App
    from publisher.logs import configure
    from publisher.store import SchemaOutdated, Store, database_url

    configure(json=(not sys.stderr.isatty()) if json_logs is None else json_logs,
              level=os.environ.get("PUBLISHER_LOG_LEVEL", log_level))
    loaded = load_config(path)
    if read_only:
        store = Store(database_url(loaded.root), migrate=False)
        try:
            store.check_current()
        except SchemaOutdated as exc:
            store.dispose()
            raise fail(str(exc), 2) from None
    else:
        store = Store(database_url(loaded.root))
    return App(loaded=loaded, store=store, sandbox=sandbox)


def main() -> None:
    """Console-script entry point."""
    from publisher.cli import (  # noqa: F401
        checks,
        content,
        gazette,
        inspect,
        releases,
        report,
        review,
        run,
        sandbox,
        tokens,
        urgent,
        users,
        weibo,
    )

    try:
        cli()
    except Exception as exc:
        # a config error, e.g. a definition id that is not in the config; the config module
        # is loaded only by commands that read the config (so not by --help)
        load = sys.modules.get("publisher.config.load")
        if load is None or not isinstance(exc, load.ConfigError):
            raise
        typer.echo(str(exc), err=True)
        sys.exit(2)
