"""Shared helpers of the Weibo tests: an emulator, a hand-driven clock and a channel on it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from pydantic import SecretStr

from channels.base import ChannelContext, Message
from channels.weibo.adapter import WeiboChannel, WeiboSettings
from channels.weibo.platform import PlatformConfig
from channels.weibo.sandbox import Emulator, serve
from tests.support.channel import SHANGHAI, Clock

SAFE_DOMAIN = "gov.example.cn"
LINK_BASE = "http://www.gov.example.cn/"


@dataclass
class Sleeper:
    """An injected sleep that records each wait and moves the test clock by it."""

    clock: Clock
    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds=seconds)


@dataclass
class Rig:
    """An emulator, the clock it shares with the channel, and a way to make channels."""

    emulator: Emulator
    clock: Clock
    sleeper: Sleeper
    token: str
    work_dir: Path
    session: requests.Session

    def channel(self, name: str = "weibo-main", **settings: Any) -> WeiboChannel:
        values: dict[str, Any] = {
            "access_token": SecretStr(self.token), "link_base_url": LINK_BASE,
            "safe_domain": SAFE_DOMAIN, "rip": "211.156.0.1", "base_url": self.emulator.url,
        }
        values.update(settings)
        context = ChannelContext(clock=self.clock, sleep=self.sleeper, session=self.session,
                                 work_dir=self.work_dir)
        return WeiboChannel(name, WeiboSettings(**values), context)


def start_rig(tmp_path: Path, **config: Any) -> Iterator[Rig]:
    """Run an emulator sharing a fresh test clock; stop it afterwards."""
    clock = Clock(datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI))
    emulator = serve(config=PlatformConfig(safe_domain=SAFE_DOMAIN, **config), clock=clock)
    token = emulator.platform.issue_token().value
    session = requests.Session()
    try:
        yield Rig(emulator, clock, Sleeper(clock), token, tmp_path, session)
    finally:
        session.close()
        emulator.stop()


def message(body: str = "本周共抽检食品120批次，不合格2批次。", *, serial: int = 49,
            urgent: bool = False, **overrides: Any) -> Message:
    """A text message of the food-safety definition with portal metadata."""
    values: dict[str, Any] = {
        "release_key": f"food-safety-sampling@2026-W{serial:02d}",
        "definition_id": "food-safety-sampling", "title": "食品安全监督抽检信息",
        "body": body, "body_format": "text", "urgent": urgent,
        "metadata": {"column": "food-safety", "slug": f"food-safety-sampling-2026-w{serial:02d}"},
    }
    values.update(overrides)
    return Message(**values)
