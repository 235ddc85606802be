"""``publisher tokens``: add, list and revoke the API tokens of the HTTP API."""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from publisher.cli import CONFIG_OPTION, actor, cli, fail, open_app
from publisher.web.role import ROLES

if TYPE_CHECKING:
    pass

tokens_cli = typer.Typer(help="API 令牌 / API tokens of the HTTP API (stored hashed, each with a "
                              "role).", no_args_is_help=True)
cli.add_typer(tokens_cli, name="tokens")


def _when(moment: datetime | None, zone: tzinfo) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


@tokens_cli.command("add")
def tokens_add(
    name: str = typer.Argument(..., help="令牌名称 / token name (the audit actor is api:NAME)"),
    role: str = typer.Option(..., "--role", help=f"角色 / role: {' | '.join(ROLES)}"),
    definition: list[str] = typer.Option([], "--definition", help=(
        "数据报送（supplier）令牌可操作的发布定义，可重复 / a definition a supplier token may "
        "act on, repeatable")),
    config: Path = CONFIG_OPTION,
) -> None:
    """新建令牌，只显示一次 / Create a token; it is shown this once and stored only as a hash."""
    from publisher.web.token import TokenError, create

    app = open_app(config, json_logs=True)
    try:
        token = create(app, name, role, actor=actor(), definitions=definition)
    except TokenError as exc:
        raise fail(str(exc), 2) from None
    finally:
        app.close()
    typer.echo(token)
    typer.echo(f"令牌 {name}（角色 {role}）已创建。它只显示这一次，请立即妥善保存 / token {name} "
               f"(role {role}) created. It is shown only this once: store it safely now.",
               err=True)


@tokens_cli.command("list")
def tokens_list(config: Path = CONFIG_OPTION) -> None:
    """列出令牌（不显示令牌本身）/ List tokens: name, role, created, last used, revoked."""
    from publisher.web.token import list_tokens

    app = open_app(config, json_logs=True)
    try:
        rows = list_tokens(app)
    finally:
        app.close()
    zone = app.loaded.zone
    typer.echo("名称/name  角色/role  创建/created  创建人/by  最近使用/last used  吊销/revoked")
    for row in rows:
        scope = f"({','.join(row.definitions)})" if row.definitions else ""
        typer.echo(f"{row.name}  {row.role}{scope}  {_when(row.created_at, zone)}  {row.created_by}  "
                   f"{_when(row.last_used_at, zone)}  {_when(row.revoked_at, zone)}")


@tokens_cli.command("revoke")
def tokens_revoke(
    name: str = typer.Argument(..., help="令牌名称 / token name"),
    config: Path = CONFIG_OPTION,
) -> None:
    """立即吊销令牌 / Revoke a token at once; its requests are refused from now on."""
    from publisher.web.token import TokenError, revoke

    app = open_app(config, json_logs=True)
    try:
        revoke(app, name, actor=actor())
    except TokenError as exc:
        raise fail(str(exc), 2) from None
    finally:
        app.close()
    typer.echo(f"令牌 {name} 已吊销 / token {name} revoked")
