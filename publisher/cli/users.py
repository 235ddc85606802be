"""``publisher users``: console accounts: add, passwd, roles, disable, enable, list."""

from __future__ import annotations

import sys
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from publisher.cli import CONFIG_OPTION, actor, cli, fail, open_app
from publisher.web.role import ROLES

if TYPE_CHECKING:
    pass

users_cli = typer.Typer(help="工作台账号 / Accounts of the staff console (argon2-hashed passwords, "
                             "roles).", no_args_is_help=True)
cli.add_typer(users_cli, name="users")

ROLE_HELP = f"角色，可重复 / role, repeatable: {' | '.join(ROLES)}"
DEFINITION_HELP = ("数据报送（supplier）角色可操作的发布定义，可重复 / a definition the supplier role "
                   "may act on, repeatable")
STDIN_HELP = "从标准输入读取密码（一行）/ read the password from standard input (one line)"


def _when(moment: datetime | None, zone: tzinfo) -> str:
    return "-" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _password(from_stdin: bool, name: str) -> str:
    """A new password: one line of stdin, or typed twice without echo; checked before use."""
    from publisher.web import account as accounts

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("新密码 / new password", hide_input=True,
                                confirmation_prompt="再输入一次 / again")
    try:
        accounts.check_password(password, accounts.normal_name(name))
    except accounts.AccountError as exc:
        raise fail(str(exc), 2) from None
    return password


@users_cli.command("add")
def users_add(
    name: str = typer.Argument(..., help="账号名 / account name (signs in with it; audited as "
                                         "console:NAME)"),
    role: list[str] = typer.Option(..., "--role", help=ROLE_HELP),
    definition: list[str] = typer.Option([], "--definition", help=DEFINITION_HELP),
    display_name: str | None = typer.Option(None, "--display-name",
                                            help="显示名称 / the name shown on pages"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=STDIN_HELP),
    config: Path = CONFIG_OPTION,
) -> None:
    """新建账号 / Create an account; the password is asked for twice (hidden) and stored hashed."""
    from publisher.web import account as accounts

    app = open_app(config, json_logs=True)
    try:
        normal = accounts.check_name(name)
        accounts.check_scope(app, accounts.check_roles(role), definition)
        if accounts.get(app, normal) is not None:
            raise accounts.AccountError(f"已有账号 {normal}", f"an account named {normal} exists")
        password = _password(password_stdin, name)
        made = accounts.create(app, name, password, role, actor=actor(),
                               display_name=display_name, definitions=definition)
    except accounts.AccountError as exc:
        raise fail(str(exc), 2) from None
    finally:
        app.close()
    typer.echo(f"账号 {made.name} 已创建（角色 {', '.join(made.roles)}）/ account {made.name} "
               f"created (roles {', '.join(made.roles)})")


@users_cli.command("passwd")
def users_passwd(
    name: str = typer.Argument(..., help="账号名 / account name"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help=STDIN_HELP),
    config: Path = CONFIG_OPTION,
) -> None:
    """设置新密码 / Set a new password; the account's sessions end."""
    from publisher.web import account as accounts

    password = _password(password_stdin, name)
    app = open_app(config, json_logs=True)
    try:
        changed = accounts.change_password(app, name, password, actor=actor())
    except accounts.AccountError as exc:
        raise fail(str(exc), 2) from None
    finally:
        app.close()
    typer.echo(f"账号 {changed.name} 的密码已更新，其登录已全部结束 / password of {changed.name} "
               "changed; its sessions have ended")


@users_cli.command("roles")
def users_roles(
    name: str = typer.Argument(..., help="账号名 / account name"),
    role: list[str] = typer.Option(..., "--role", help=ROLE_HELP),
    definition: list[str] = typer.Option([], "--definition", help=DEFINITION_HELP),
    config: Path = CONFIG_OPTION,
) -> None:
    """替换账号的角色 / Replace an account's roles (a supplier's definitions too)."""
    from publisher.web import account as accounts

    app = open_app(config, json_logs=True)
    try:
        changed = accounts.set_roles(app, name, role, actor=actor(), definitions=definition)
    except accounts.AccountError as exc:
        raise fail(str(exc), 2) from None
    finally:
        app.close()
    typer.echo(f"账号 {changed.name} 的角色：{', '.join(changed.roles)} / roles of {changed.name}: "
               f"{', '.join(changed.roles)}")


@users_cli.command("disable")
def users_disable(
    name: str = typer.Argument(..., help="账号名 / account name"),
    config: Path = CONFIG_OPTION,
) -> None:
    """立即停用账号 / Disable an account at once: its sessions end, it cannot sign in."""
    from publisher.web import account as accounts

    app = open_app(config, json_logs=True)
    try:
        accounts.disable(app, name, actor=actor())
    except accounts.AccountError as exc:
        raise fail(str(exc), 2) from None
    finally:
        app.close()
    typer.echo(f"账号 {accounts.normal_name(name)} 已停用 / account {accounts.normal_name(name)} "
               "disabled")


@users_cli.command("enable")
def users_enable(
    name: str = typer.Argument(..., help="账号名 / account name"),
    config: Path = CONFIG_OPTION,
) -> None:
    """重新启用账号 / Let a disabled account sign in again."""
    from publisher.web import account as accounts

    app = open_app(config, json_logs=True)
    try:
        accounts.enable(app, name, actor=actor())
    except accounts.AccountError as exc:
        raise fail(str(exc), 2) from None
    finally:
        app.close()
    typer.echo(f"账号 {accounts.normal_name(name)} 已启用 / account {accounts.normal_name(name)} "
               "enabled")


@users_cli.command("list")
def users_list(config: Path = CONFIG_OPTION) -> None:
    """列出账号（不显示密码）/ List accounts: name, display name, roles, created, last sign-in."""
    from publisher.web import account as accounts

    app = open_app(config, json_logs=True)
    try:
        rows = accounts.list_accounts(app)
    finally:
        app.close()
    zone = app.loaded.zone
    typer.echo("账号/name  显示名/display  角色/roles  创建/created  创建人/by  最近登录/last sign-in  "
               "停用/disabled")
    for row in rows:
        scope = f"({','.join(row.definitions)})" if row.definitions else ""
        typer.echo(f"{row.name}  {row.display_name}  {','.join(row.roles)}{scope}  "
                   f"{_when(row.created_at, zone)}  {row.created_by}  "
                   f"{_when(row.last_sign_in_at, zone)}  {_when(row.disabled_at, zone)}")
