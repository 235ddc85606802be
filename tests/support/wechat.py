"""Shared helpers of the WeChat tests: the emulator's account, a channel on it, a message, polling."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image
from pydantic import SecretStr

from channels.base import (
    Attachment,
    ChannelContext,
    Message,
    Receipt,
)
from channels.wechat.adapter import WechatChannel, WechatSettings
from channels.wechat.sandbox import Account, Emulator, serve
from channels.wechat.sandbox.drill import ManualClock
from tests.support.channel import SHANGHAI

SECRET = "wx-secret-0123456789abcdef"
APP_ID = "wx1234567890abcdef"
KEY = "0123456789abcdef0123456789abcdef"


def make_channel(emulator: Emulator, work_dir: Path, clock: ManualClock,
                 cache: Any = None, **settings: Any) -> WechatChannel:
    """A channel on the emulator with a cover image in ``work_dir``."""
    if not (work_dir / "cover.jpg").exists():
        work_dir.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (300, 128), (180, 40, 40)).save(work_dir / "cover.jpg")
    context = ChannelContext(clock=clock, sleep=clock.sleep, session=requests.Session(),
                             work_dir=work_dir, token_cache=cache)
    values: dict[str, Any] = {"app_id": APP_ID, "app_secret": SecretStr(SECRET),
                              "base_url": emulator.url, "cover_image": "cover.jpg",
                              "portal_base_url": "http://portal.example.gov.cn/",
                              "author": "市市场监管局", **settings}
    return WechatChannel("wechat-main", WechatSettings(**values), context)


def message(work_dir: Path, *, title: str = "食品安全抽检通告", urgent: bool = False,
            body: str | None = None) -> Message:
    """A release message with one inline chart taken from the release's files."""
    Image.new("RGBA", (64, 64), (0, 90, 200, 255)).save(work_dir / "chart.webp")
    return Message(
        release_key="food-safety-sampling@2026-12-02T10:00+08:00",
        definition_id="food-safety-sampling", title=title,
        body=body if body is not None else '<p style="color:#333">本周抽检结果如下。</p>'
                                           '<img src="chart.webp">',
        body_format="html",
        metadata={"column": "food-safety", "slug": "food-safety-sampling-20261202-100000"},
        attachments=(Attachment("chart.webp", "image/webp", work_dir / "chart.webp"),),
        urgent=urgent, published_at=datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI))


def follow(channel: WechatChannel, receipt: Receipt, clock: ManualClock) -> Receipt:
    """Poll a pending receipt the way the dispatcher does (injected sleep, bounded)."""
    for _ in range(20):
        if not receipt.pending:
            return receipt
        clock.sleep(1)
        receipt = channel.status(receipt)
    raise AssertionError("still pending")


@pytest.fixture
def clock() -> ManualClock:
    """A hand-driven clock at 10:00 on 2 December 2026, +08:00."""
    return ManualClock(datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI))


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[Emulator]:
    """The WeChat emulator on loopback with the test account, on ``clock``; stopped after."""
    running = serve(account=Account(app_id=APP_ID, app_secret=SECRET, clock=clock.seconds))
    yield running
    running.stop()
