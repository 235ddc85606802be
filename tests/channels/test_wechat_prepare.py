"""prepare for WeChat: every limit named by field, the sanitiser, and the food-safety golden payload."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from channels.base import ChannelContext, ContentRejected, Message
from channels.wechat.adapter import WechatChannel, WechatSettings
from channels.wechat.sandbox.drill import ManualClock
from publisher.render import Renderer
from tests.support.channel import SHANGHAI
from tests.support.render import TEMPLATES, context_for, sample_tables, shipped_config
from tests.support.wechat import APP_ID, SECRET
from tests.support.wechat_golden import GOLDEN


def channel(tmp_path: Path, **settings: Any) -> WechatChannel:
    clock = ManualClock(datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI))
    context = ChannelContext(clock=clock, sleep=clock.sleep, session=requests.Session(),
                             work_dir=tmp_path)
    values: dict[str, Any] = {"app_id": APP_ID, "app_secret": SecretStr(SECRET),
                              "cover_image": "cover.jpg",
                              "portal_base_url": "http://127.0.0.1:8180/", **settings}
    return WechatChannel("wechat-main", WechatSettings(**values), context)


def msg(title: str = "通告", body: str = "<p>正文</p>", **metadata: str) -> Message:
    return Message(release_key="r@2026-12-02T10:00+08:00", definition_id="r", title=title,
                   body=body, body_format="html",
                   metadata={"column": "food-safety", "slug": "r-20261202", **metadata})


@pytest.mark.parametrize(("settings", "message", "field", "limit"), [
    ({}, msg(title="标" * 33), "title", "32 characters"),
    ({}, msg(title="  "), "title", "non-empty"),
    ({}, msg(body="<title>" + "短" * 33 + "</title><p>x</p>"), "title", "32 characters"),
    ({"author": "作" * 17}, msg(), "author", "16 characters"),
    ({}, msg(summary="摘" * 41), "digest", "120 bytes"),
    ({}, msg(body="<p>" + "字" * 20_000 + "</p>"), "content", "under 20000 characters"),
    ({}, msg(body="<p>" + "<br>" * 5 + "</p><script>x</script>"), "content", "non-empty"),
    ({"cover_image": None}, msg(), "cover", "required"),
    ({}, msg(body='<p>图</p><img src="http://elsewhere.example/a.png">'), "image",
     "a release file or an allow-listed host"),
    ({"portal_base_url": "http://p.example/" + "x" * 1100}, msg(), "content_source_url",
     "an http(s) URL of at most 1 KB"),
])
def test_each_limit_is_named(tmp_path: Path, settings: dict[str, Any], message: Message,
                             field: str, limit: str) -> None:
    """Each WeChat limit is a ContentRejected naming its field and limit, in both languages."""
    with pytest.raises(ContentRejected) as info:
        channel(tmp_path, **settings).prepare(message)
    assert (info.value.field, info.value.limit) == (field, limit)
    assert " / " in str(info.value)


def test_sanitiser_keeps_inline_styles_and_turns_links_into_text(tmp_path: Path) -> None:
    """Scripts, style blocks and classes go; external links become text; WeChat links stay."""
    body = ('<style>p{color:red}</style><p class="x" style="color:#333" onclick="y()">看'
            '<a href="https://www.samr.gov.cn/a">总局公告</a>和'
            '<a href="https://mp.weixin.qq.com/s?__biz=1">往期</a></p><script>alert(1)</script>'
            '<iframe src="https://x"></iframe>')
    data = channel(tmp_path).prepare(msg(body=body)).data
    assert data["content"] == (
        '<p style="color:#333">看总局公告（https://www.samr.gov.cn/a）和'
        '<a href="https://mp.weixin.qq.com/s?__biz=1">往期</a></p>')
    assert data["digest"] == "看总局公告（https://www.samr.gov.cn/a）和往期"
    assert data["content_source_url"] == "http://127.0.0.1:8180/food-safety/r-20261202.html"


def test_digest_is_clipped_to_120_bytes(tmp_path: Path) -> None:
    """Without a summary the digest is the text's first 120 bytes, ending with an ellipsis."""
    data = channel(tmp_path).prepare(msg(body="<p>" + "抽检" * 100 + "</p>")).data
    assert len(data["digest"].encode()) <= 120 and data["digest"].endswith("…")


def food_safety_payload(tmp_path: Path) -> dict[str, Any]:
    """The payload prepared from the shipped food-safety wechat template and its samples."""
    config = shipped_config()
    renderer = Renderer(TEMPLATES)
    context = context_for(config, "food-safety-sampling",
                          sample_tables(config, "food-safety-sampling"), renderer, kind="wechat")
    body = renderer.render("food-safety-sampling", "wechat", "html", context)
    message = Message(release_key=context["release"]["key"],
                      definition_id="food-safety-sampling", title=context["release"]["title"],
                      body=body, body_format="html",
                      metadata={"column": "food-safety",
                                "slug": "food-safety-sampling-20261202-100000"},
                      published_at=datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI))
    data = dict(channel(tmp_path, cover_image="templates/_layouts/wechat-cover.jpg",
                        author="某市市场监管局").prepare(message).data)
    data["cover"] = Path(data["cover"]).name
    return data


def test_food_safety_golden_payload(tmp_path: Path) -> None:
    """The food-safety wechat payload from the shipped samples equals the reviewed golden copy."""
    data = food_safety_payload(tmp_path)
    assert data == json.loads(GOLDEN)
    assert len(data["title"]) <= 32 and len(data["content"]) < 20_000
    assert "class=" not in data["content"] and "<table" in data["content"]


@pytest.mark.parametrize("definition_id", sorted(shipped_config().releases))
def test_every_shipped_definition_has_a_wechat_article(tmp_path: Path, definition_id: str) -> None:
    """Each shipped definition's wechat template renders its samples into an acceptable article."""
    config = shipped_config()
    renderer = Renderer(TEMPLATES)
    context = context_for(config, definition_id, sample_tables(config, definition_id), renderer,
                          kind="wechat")
    body = renderer.render(definition_id, "wechat", "html", context)
    data = channel(tmp_path).prepare(msg(title=context["release"]["title"], body=body)).data
    assert len(data["title"]) <= 32 and len(data["content"]) < 20_000
    assert "<table" in data["content"] and "class=" not in data["content"]
