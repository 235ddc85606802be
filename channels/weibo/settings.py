"""Settings and declared limits of the ``weibo`` kind."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from channels.base import ChannelSettings, Limits
from channels.weibo.text import host_under

MAX_PICTURE_BYTES = 5 * 1024 * 1024


class WeiboSettings(ChannelSettings):
    """One Weibo account posting through an app whose safe domain is the portal's."""

    access_token: SecretStr | None = None  # or stored by `publisher weibo authorize`
    link_base_url: str  # the portal's public base URL; posts link to <link_base_url><column>/<slug>.html
    safe_domain: str | None = None  # the app's approved 安全域名 (default: the host of link_base_url)
    rip: str  # the real IP of the acting user (this server's public address)
    limit: int = Field(140, ge=20, le=2000)
    posts_per_hour: int = Field(30, ge=1, le=1000)
    # the longest a post waits inside a worker for the hourly window; past it the delivery is
    # retried when the window reopens (RateLimited), so waiting posts hold no worker thread.
    # Urgent posts, first in the queue, wait up to URGENT_WINDOW_WAIT_SECONDS at least.
    window_wait_seconds: float = Field(60, ge=0, le=3600)
    base_url: str = "https://api.weibo.com"
    timeout_seconds: float = Field(15.0, gt=0)
    https_counts_as_link: bool = False  # UNCONFIRMED in weibo.md: count https links literally
    # find this delivery's post on the own timeline by its mark (after a lost answer, and on a
    # duplicate-content answer); false: such outcomes go to a person
    lookup_duplicates: bool = True
    # a post whose answer was lost may still be landing (Weibo has no idempotency key): the
    # timeline is searched again only after this, before any resend
    settle_seconds: float = Field(60.0, ge=0, le=86_400)
    expiry_warning_days: int = Field(14, ge=0)
    app_key: str | None = None  # client_id, for `publisher weibo authorize`
    app_secret: SecretStr | None = None  # client_secret, for `publisher weibo authorize`
    redirect_uri: str | None = None  # the app's registered callback

    @field_validator("link_base_url")
    @classmethod
    def _link_base(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("link_base_url must be an absolute http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("rip")
    @classmethod
    def _ip(cls, value: str) -> str:
        ipaddress.ip_address(value)
        return value

    @model_validator(mode="after")
    def _link_under_safe_domain(self) -> WeiboSettings:
        host = urlsplit(self.link_base_url).hostname or ""
        if self.safe_domain and not host_under(host, self.safe_domain):
            raise ValueError(f"link_base_url host {host!r} is not under safe_domain "
                             f"{self.safe_domain!r}; Weibo refuses such posts (10017)")
        return self

    @property
    def domain(self) -> str:
        """The safe domain in force."""
        return self.safe_domain or urlsplit(self.link_base_url).hostname or ""


@dataclass(frozen=True)
class WeiboLimits(Limits):
    """Weibo's declared limits: 140 counted characters, one picture under 5 MB."""

    body_max_chars: int | None = 140
    picture_max_bytes: int = MAX_PICTURE_BYTES
    comment_max_chars: int = 140  # 2/comments/create.json: "comment" at most 140 characters
