"""Fixtures for channel tests: a hand-driven clock, a context on tmp_path, portal messages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from channels.base import ChannelContext, Message
from channels.portal.adapter import PortalChannel, PortalSettings
from tests.support.channel import SHANGHAI, Clock

BASE_URL = "http://portal.example.gov.cn/"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI))


@pytest.fixture
def context(tmp_path: Path, clock: Clock) -> Iterator[ChannelContext]:
    session = requests.Session()
    yield ChannelContext(
        clock=clock, sleep=lambda seconds: None, session=session, work_dir=tmp_path,
        zone=SHANGHAI,
    )
    session.close()


@pytest.fixture
def make_portal(context: ChannelContext) -> Callable[..., PortalChannel]:
    def make(**settings: Any) -> PortalChannel:
        values: dict[str, Any] = {
            "site_name": "某市人民政府门户网站",
            "site_dir": "site",
            "base_url": BASE_URL,
        }
        values.update(settings)
        return PortalChannel("portal-main", PortalSettings(**values), context)

    return make


@pytest.fixture
def portal(make_portal: Callable[..., PortalChannel]) -> PortalChannel:
    return make_portal()


def _metadata(serial: int) -> dict[str, str]:
    return {
        "issuing_organ": "某市市场监督管理局",
        "subject_category": "卫生、体育\\食品安全",
        "index_number": f"MB0000123/2026-{serial:05d}",
        "published_date": "2026-12-02",
        "signed_date": "2026-12-01",
        "column": "food-safety",
        "column_name": "食品安全抽检",
        "slug": f"food-safety-sampling-2026-w{serial:02d}",
    }


@pytest.fixture
def make_message() -> Callable[..., Message]:
    def make(serial: int = 49, *, drop: tuple[str, ...] = (), **overrides: Any) -> Message:
        metadata = _metadata(serial)
        metadata.update(overrides.pop("metadata", {}))
        for key in drop:
            metadata.pop(key, None)
        values: dict[str, Any] = {
            "release_key": f"food-safety-sampling@2026-W{serial:02d}",
            "definition_id": "food-safety-sampling",
            "title": f"某市市场监督管理局关于2026年第{serial}周食品安全监督抽检信息的通告",
            "body": "<p>本周共抽检食品 <strong>120</strong> 批次，不合格 2 批次。</p>",
            "body_format": "html",
            "metadata": metadata,
        }
        values.update(overrides)
        return Message(**values)

    return make
