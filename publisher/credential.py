"""Credentials a person must renew by hand: Weibo authorisations near expiry, alerted to staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from channels.weibo.adapter import CACHE_KEY_PREFIX
from channels.weibo.adapter import KIND as WEIBO
from channels.weibo.settings import WeiboSettings
from publisher.alert import alert
from publisher.app import App
from publisher.store.models import TokenRow

DEFAULT_WARNING_DAYS: int = WeiboSettings.model_fields["expiry_warning_days"].default


@dataclass(frozen=True)
class Expiry:
    """A Weibo account whose stored authorisation ends within its warning period (or has ended)."""

    channel: str
    expires_at: datetime
    left: timedelta

    @property
    def expired(self) -> bool:
        return self.left <= timedelta(0)


def token_row_key(channel: str) -> str:
    """The ``token_cache`` row of an account's authorisation (namespace, then the adapter's key)."""
    return f"{channel}:{CACHE_KEY_PREFIX}{channel}"


def expiring(app: App) -> list[Expiry]:
    """Enabled Weibo accounts whose token from ``publisher weibo authorize`` expires soon.

    A token given in the settings (``access_token``) has no expiry known here; ``publisher
    check --online`` asks Weibo about it.
    """
    now = app.clock.now()
    found: list[Expiry] = []
    for name, conf in sorted(app.loaded.config.channels.items()):
        if conf.kind != WEIBO or not conf.enabled:
            continue
        days = conf.settings.get("expiry_warning_days", DEFAULT_WARNING_DAYS)
        if not isinstance(days, int) or isinstance(days, bool) or days <= 0:
            continue
        with app.store.read() as session:
            row = session.get(TokenRow, token_row_key(name))
            expires_at = row.expires_at if row is not None else None
        if expires_at is not None and expires_at - now < timedelta(days=days):
            found.append(Expiry(name, expires_at, expires_at - now))
    return found


def alert_expiring(app: App) -> list[Expiry]:
    """Alert staff to each expiring or expired Weibo authorisation; returns what was found."""
    found = expiring(app)
    for expiry in found:
        name = expiry.channel
        when = f"{expiry.expires_at.astimezone(app.loaded.zone):%Y-%m-%d %H:%M}"
        command = f"publisher weibo authorize {name}"
        if expiry.expired:
            alert(app, "credential.expired", f"微博账号 {name} 的授权已于 {when} 过期，请运行 {command}",
                  f"the Weibo authorisation of {name} expired at {when}: run {command}",
                  channel=name, expires_at=when)
        else:
            days = expiry.left.days
            alert(app, "credential.expiring",
                  f"微博账号 {name} 的授权将于 {days} 天后（{when}）到期，请提前运行 {command}",
                  f"the Weibo authorisation of {name} expires in {days} days ({when}): "
                  f"run {command} before then", channel=name, expires_at=when, days_left=days)
    return found
