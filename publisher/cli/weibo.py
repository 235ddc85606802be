"""``publisher weibo authorize``: the OAuth2 code flow for a Weibo account, token kept encrypted."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from publisher.cli import CONFIG_OPTION, cli, fail, open_app

if TYPE_CHECKING:
    pass

weibo_cli = typer.Typer(help="政务微博账号 / Weibo accounts.", no_args_is_help=True)
cli.add_typer(weibo_cli, name="weibo")


@weibo_cli.command("authorize")
def authorize(
    account: str = typer.Argument(..., help="微博渠道名 / the weibo channel, e.g. weibo-main"),
    code: str | None = typer.Option(None, "--code", help="回调地址或授权码（不填则提示）/ the "
                                    "callback URL or code (prompted for when absent)"),
    config: Path = CONFIG_OPTION,
) -> None:
    """授权微博账号并保存令牌（加密存于数据库）/ Authorise a Weibo account; its token is stored
    encrypted in the database, never in schedules.yaml."""
    from channels.base import ChannelError
    from channels.weibo import oauth
    from channels.weibo.adapter import WeiboChannel

    app = open_app(config)
    conf = app.loaded.config.channels.get(account)
    if conf is None or conf.kind != "weibo":
        raise fail(f"{account} 不是微博渠道 / {account} is not a weibo channel", 2)
    try:
        channel = app.channel(account)
        assert isinstance(channel, WeiboChannel)
        if channel.context.token_cache is None:
            raise fail("请在设置中配置 app_secret: ${WEIBO_APP_SECRET}，令牌以它加密保存 / set "
                       "app_secret: ${WEIBO_APP_SECRET}: the stored token is sealed with it", 2)
        state = secrets.token_urlsafe(8)
        typer.echo("1. 用该账号登录后打开 / sign in as the account and open:")
        typer.echo(f"   {oauth.authorize_url(channel.settings, state)}")
        pasted = code or typer.prompt("2. 粘贴回调地址或授权码 / paste the callback URL or the code")
        grant = oauth.exchange(channel.settings, channel.context.session,
                               oauth.code_from(pasted, state), app.clock.now())
        oauth.store(channel.context.token_cache, account, grant)
    except ChannelError as exc:
        raise fail(f"{exc.explanation_zh} / {exc.explanation_en}", 1) from None
    finally:
        app.close()
    typer.echo(f"已授权 / authorised: uid {grant.uid}, 有效期至 / valid until "
               f"{grant.expires_at.astimezone(app.loaded.zone):%Y-%m-%d %H:%M}")
