"""Shipped Weibo templates rendered from the samples, prepared within 140 and posted to the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from channels.base import Message, idempotency_key
from channels.weibo.adapter import WeiboChannel
from channels.weibo.mark import mark_for, without_mark
from publisher.release import slug_of
from publisher.render import Renderer
from tests.support.project import ROOT
from tests.support.render import context_for, sample_tables, shipped_config
from tests.support.weibo import Rig, start_rig

CONFIG = shipped_config()
DEFINITIONS = sorted(CONFIG.releases)
RENDERER = Renderer(ROOT / "templates")


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from start_rig(tmp_path)


def _message(definition_id: str) -> Message:
    """The weibo message the core builds for the definition's samples, due 2 December 2026."""
    context = context_for(CONFIG, definition_id, sample_tables(CONFIG, definition_id), RENDERER,
                          kind="weibo")
    body = RENDERER.render(definition_id, "weibo", "txt", context)
    key = context["release"]["key"]
    definition = CONFIG.releases[definition_id]
    return Message(release_key=key, definition_id=definition_id,
                   title=context["release"]["title"], body=body, body_format="text",
                   metadata={"column": definition.column, "slug": slug_of(key),
                             "column_name": CONFIG.columns[definition.column]})


def test_every_weibo_definition_has_a_template() -> None:
    """Each definition that lists a weibo channel, and every shipped one, has weibo.txt.j2."""
    weibo = {name for name, ch in CONFIG.channels.items() if ch.kind == "weibo"}
    assert any(set(CONFIG.releases[d].channels) & weibo for d in DEFINITIONS)
    for definition_id in DEFINITIONS:
        assert RENDERER.template_path(definition_id, "weibo", "txt").is_file(), definition_id


@pytest.mark.parametrize("definition_id", DEFINITIONS)
@pytest.mark.parametrize("link_base", ["http://www.gov.example.cn/",
                                       "https://www.gov.example.cn/"])
def test_shipped_samples_fit_the_limit(rig: Rig, definition_id: str, link_base: str) -> None:
    """Every shipped definition's sample renders to a post within 140 carrying its portal link,
    then its delivery's mark."""
    channel = rig.channel(link_base_url=link_base)
    message = _message(definition_id)
    payload = channel.prepare(message)
    status = str(payload.data["status"])
    assert channel.counter.fits(status)
    assert status.endswith(" " + mark_for(idempotency_key(message.release_key, channel.name)))
    assert without_mark(status).endswith(str(payload.data["link"]))
    assert payload.data["link"].startswith(link_base)
    assert "{{" not in status and "\n\n" not in status


def test_food_safety_release_posted_through_the_emulator(rig: Rig) -> None:
    """The food-safety post lands within the limit with the headline numbers and the portal link."""
    tables = sample_tables(CONFIG, "food-safety-sampling")
    batches, unqualified = len(tables["unqualified"]) + len(tables["qualified"]), \
        len(tables["unqualified"])
    assert unqualified > 0
    channel: WeiboChannel = rig.channel()
    message = _message("food-safety-sampling")
    receipt = channel.send(channel.prepare(message), "food-safety-key")
    [post] = rig.emulator.platform.posts
    assert post["idstr"] == receipt.remote_id
    text = post["text"]
    assert f"抽检食品{batches}批次" in text
    assert f"不合格{unqualified}批次" in text
    page = f"http://www.gov.example.cn/food-safety/{slug_of(message.release_key)}.html"
    assert text.endswith(f" {page} {mark_for('food-safety-key')}")
    assert channel.counter.length(text) <= 140
