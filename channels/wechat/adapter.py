"""The ``wechat`` kind: articles to a WeChat Official Account (draft, publish job, mass send)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from channels.base import (
    Channel,
    ChannelContext,
    ChannelError,
    ChannelSettings,
    ConfigurationError,
    Limits,
    Message,
    Payload,
    Receipt,
)
from channels.wechat import content
from channels.wechat.api import Api
from channels.wechat.errors import error_for
from channels.wechat.journal import Journal
from channels.wechat.publish import Publisher
from channels.wechat.token import MemoryTokenCache, TokenProvider


class WechatSettings(ChannelSettings):
    """One Official Account: credentials, where the API is, and how articles are made."""

    app_id: str
    app_secret: SecretStr
    base_url: str = "https://api.weixin.qq.com"
    token_mode: Literal["stable", "classic"] = "stable"  # noqa: S105
    portal_base_url: str | None = None  # 阅读原文 = <portal_base_url><column>/<slug>.html
    author: str = ""
    cover_image: str | None = None  # used when a release brings no image attachment
    image_hosts: list[str] = Field(default_factory=list)  # hosts body images may come from
    mass_send_urgent: bool = True  # urgent releases go to every follower (群发)
    timeout_seconds: float = 15.0
    find_budget_seconds: float = 120.0  # how long find() follows a publish job still running
    # a submit whose answer was lost: how long before its article must show in the published
    # list (how long publish jobs take is unconfirmed); only then is it submitted again
    settle_seconds: float = Field(default=300.0, ge=0, le=86_400)
    journal_dir: str = "var/wechat"

    @field_validator("base_url", "portal_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value


@dataclass(frozen=True)
class WechatLimits(Limits):
    """WeChat's article limits (wechat.md §7)."""

    title_max_chars: int | None = content.TITLE_MAX_CHARS
    body_max_chars: int | None = content.CONTENT_MAX_CHARS - 1


class WechatChannel(Channel[WechatSettings]):
    """Routine releases are published (no push); urgent ones are mass-sent to all followers."""

    kind = "wechat"
    platform_zh = "政务微信公众号"
    platform_en = "WeChat official account"
    limits: ClassVar[Limits] = WechatLimits()
    settings_model = WechatSettings
    body_format = "html"
    template_ext = "html"

    def __init__(self, name: str, settings: WechatSettings, context: ChannelContext) -> None:
        super().__init__(name, settings, context)
        cache: object = context.token_cache or MemoryTokenCache(context.clock)
        register = getattr(context, "register_secret", None)
        self.tokens = TokenProvider(f"wechat:{settings.app_id}:{settings.token_mode}", cache,
                                    context.clock, self._fetch_token,
                                    register if callable(register) else None)
        self.api = Api(settings.base_url, context.session, self.tokens, settings.timeout_seconds)
        self.journal = Journal(context.work_dir / settings.journal_dir / name)
        self.publisher = Publisher(self)

    emulated: ClassVar[bool] = True

    @classmethod
    def start_sandbox(cls, settings: ChannelSettings, *, port: int = 0, host: str = "127.0.0.1",
                      state_file: Path | None = None
                      ) -> tuple[ChannelSettings, Callable[[], None]]:
        """Run the emulator with this account's id and secret, and send there instead."""
        from channels.wechat.sandbox import Account, serve

        assert isinstance(settings, WechatSettings)
        account = Account(app_id=settings.app_id,
                          app_secret=settings.app_secret.get_secret_value(),
                          publish_polls=0,  # a demo job ends at the first look
                          state_file=state_file)
        emulator = serve(port, account=account, host=host)
        return cls.sandbox_settings(settings, emulator.url), emulator.stop

    @classmethod
    def sandbox_settings(cls, settings: ChannelSettings, url: str) -> ChannelSettings:
        return settings.model_copy(update={"base_url": url})

    # ------------------------------------------------------------------ tokens

    def _fetch_token(self, force: bool) -> tuple[str, int]:
        secret = self.settings.app_secret.get_secret_value()
        if self.settings.token_mode == "stable":  # noqa: S105
            api = "stable_token"
            reply = self.api.raw("POST", api, body={
                "grant_type": "client_credential", "appid": self.settings.app_id,
                "secret": secret, "force_refresh": force})
        else:
            api = "token"
            reply = self.api.raw("GET", api, params={
                "grant_type": "client_credential", "appid": self.settings.app_id,
                "secret": secret})
        errcode = int(reply.get("errcode") or 0)
        if errcode or not reply.get("access_token"):
            raise error_for(errcode or -1, str(reply.get("errmsg", "")), api, token_endpoint=True)
        return str(reply["access_token"]), int(reply.get("expires_in") or 0)

    # ------------------------------------------------------------------ contract

    def prepare(self, message: Message) -> Payload:
        short_title, body = content.split_title(message.body)
        attachments = {a.name: a for a in message.attachments}
        allowed = [*attachments, *(f"host:{h}" for h in self.settings.image_hosts)]
        meta = message.metadata
        source_url = ""
        if self.settings.portal_base_url and meta.get("column") and meta.get("slug"):
            base = self.settings.portal_base_url.rstrip("/")
            source_url = f"{base}/{meta['column']}/{meta['slug']}.html"
        article = content.check(short_title or message.title, self.settings.author,
                                meta.get("summary"), body, source_url, allowed)
        cover = next((str(a.path) for a in message.attachments
                      if a.content_type.startswith("image/") and Path(a.name).stem == "cover"),
                     None)
        if cover is None and self.settings.cover_image:
            cover = str(self.context.work_dir / self.settings.cover_image)
        if cover is None:
            raise content.rejected("cover", "required", "须有封面图片（附件 cover.* 或设置 cover_image）",
                                   "a cover image is required (attachment cover.* or "
                                   "setting cover_image)")
        images = {src: str(attachments[src].path) if src in attachments else src
                  for src in article.images}
        return Payload(kind=self.kind, data={
            "release": message.release_key,
            "title": article.title,
            "author": article.author,
            "digest": article.digest,
            "content": article.content,
            "content_source_url": article.content_source_url,
            "cover": cover,
            "images": images,
            "urgent": bool(message.urgent and self.settings.mass_send_urgent),
            "published_at": message.published_at.isoformat() if message.published_at else None,
        })

    def send(self, payload: Payload, key: str) -> Receipt:
        return self.publisher.send(payload, key)

    def status(self, receipt: Receipt) -> Receipt:
        return self.publisher.status(receipt)

    def find(self, key: str, payload: Payload) -> Receipt | None:
        return self.publisher.find(key, payload)

    def settle_seconds(self, payload: Payload, key: str) -> float:
        return self.publisher.settle_seconds(payload, key)

    def retract(self, receipt: Receipt, payload: Payload | None = None) -> None:
        self.publisher.retract(receipt)

    def check(self) -> list[str]:
        try:
            if self.settings.token_mode == "stable":  # noqa: S105
                self._fetch_token(False)  # a real probe; the current token stays valid
            else:
                self.tokens.renew(None)  # each classic fetch replaces the token: use the cache
        except ChannelError as exc:
            return [f"{exc.explanation_zh} / {exc.explanation_en}"]
        if self.settings.cover_image and not (
                self.context.work_dir / self.settings.cover_image).is_file():
            return [f"封面图片不存在 / cover_image not found: {self.settings.cover_image}"]
        return []

    def now(self) -> datetime:
        """The injected clock."""
        return self.context.clock()

    def config_error(self, zh: str, en: str) -> ConfigurationError:
        """A ConfigurationError with both staff texts."""
        return ConfigurationError(f"{zh} / {en}", explanation_zh=zh, explanation_en=en)
