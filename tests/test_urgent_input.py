"""Urgent input that looks valid but is not, over real HTTP: pictures that decode huge or are
broken, a channel listed twice, invisible or direction-changing characters in a headline.
Each is refused with 422 naming the field, and nothing is recorded or sent."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
import requests
from PIL import Image
from sqlalchemy import select

from publisher.app import App
from publisher.dispatch import Dispatcher
from publisher.store.models import Attempt, Delivery
from publisher.urgent import UrgentPicture, UrgentPost, open_incident
from tests.support.api import POST, Api, api_counts
from tests.support.console import Console
from tests.support.pictures import bomb_png
from tests.support.urgent_console import (
    CHANNELS,
    console,
    console_app,
    form_pairs,
    open_by_form,
    post_form,
    table_counts,
    wakes,
)
from tests.support.urgent_console import POST as FORM

__all__ = ["console", "console_app", "wakes"]  # the urgent console's fixtures, over the plain console's
TIMEOUT_SECONDS = 30


def _picture(data: bytes, name: str = "scene.png", content_type: str = "image/png"
             ) -> dict[str, str]:
    return {"name": name, "content_type": content_type,
            "data_base64": base64.b64encode(data).decode("ascii")}


def _png(width: int = 64, height: int = 48) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, format="PNG")
    return out.getvalue()


def _problems(response: requests.Response) -> dict[str, str]:
    return {p["field"]: p["message"] for p in response.json()["problems"]}


def _step(api: Api, key: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(api.url(f"/api/incidents/{key}/updates"), json=body,
                         headers={"Authorization": f"Bearer {api.tokens['urgent']}"},
                         timeout=TIMEOUT_SECONDS)


# --------------------------------------------------------------------------- pictures


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_api_refuses_pictures_that_decode_huge_or_are_not_what_they_say(api: Api) -> None:
    """A 12000×12000 PNG of a few kilobytes, a 30000×30000 one, a PNG declared as JPEG and a
    PNG cut short are each answered 422 on the picture field saying what is wrong; a small
    real picture passes; nothing is recorded for the refused ones."""
    before = api_counts(api.app)
    cases = {
        "12000×12000": _picture(bomb_png(12_000, 12_000)),
        "too many pixels": _picture(bomb_png(30_000, 30_000)),
        "really image/png": _picture(_png(), "scene.jpg", "image/jpeg"),
        "damaged": _picture(_png(300, 200)[:-30]),
    }
    for words, picture in cases.items():
        response = api.post({**POST, "picture": picture})
        assert response.status_code == 422, (words, response.text)
        problems = _problems(response)
        assert set(problems) == {"picture"} and words in problems["picture"], problems
    assert api_counts(api.app) == before
    assert api.post({**POST, "picture": _picture(_png())}).status_code == 201


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_picture_file_for_the_command_line_is_checked_the_same_way(tmp_path: Any) -> None:
    """``publisher urgent --picture FILE`` reads the file through the same check: a huge PNG
    is refused naming the file and its size in pixels."""
    path = tmp_path / "scene.png"
    path.write_bytes(bomb_png(12_000, 12_000))
    with pytest.raises(ValueError, match="12000×12000"):
        UrgentPicture.from_file(path)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_bad_picture_that_reaches_wechat_fails_explained_never_unknown(console_app: App
                                                                         ) -> None:
    """A picture swapped on disk for a 30000×30000 PNG after intake (past the check) ends the
    WeChat delivery as failed with the reason staff read, not unknown; the other channels
    publish."""
    post = UrgentPost.model_validate({
        **{k: v for k, v in FORM.items() if k != "channels"},
        "channels": ["wechat-main", "mem-a"], "picture": _picture(_png())})
    outcome = open_incident(console_app, post, actor="staff:li")
    stored = console_app.loaded.resolve("var/urgent") / outcome.incident_key / "scene.png"
    stored.write_bytes(bomb_png(30_000, 30_000))
    dispatcher = Dispatcher(console_app)
    try:
        dispatcher.drain()
    finally:
        dispatcher.shutdown()
    with console_app.store.read() as session:
        states = dict(session.execute(select(Delivery.channel, Delivery.state)).all())
        wechat = session.execute(select(Delivery).where(Delivery.channel == "wechat-main")
                                 ).scalar_one()
        errors = [a.error for a in session.execute(
            select(Attempt).where(Attempt.delivery_id == wechat.id)).scalars()]
    assert states == {"wechat-main": "failed", "mem-a": "published"}
    assert errors and errors[-1] is not None
    assert "megapixels" in str(errors[-1]) and "scene.png" in str(errors[-1])


# --------------------------------------------------------------------------- a channel twice


def test_api_refuses_a_channel_listed_twice(api: Api) -> None:
    """A first report or an update naming a channel twice is answered 422 on the channels
    field naming the channel (not a 500 from the database); nothing is recorded."""
    before = api_counts(api.app)
    twice = api.post({**POST, "channels": ["mem-a", "mem-a"]})
    assert twice.status_code == 422, twice.text
    assert set(_problems(twice)) == {"channels"} and "mem-a" in _problems(twice)["channels"]
    assert api_counts(api.app) == before
    key = api.post(POST).json()["incident"]
    after_first = api_counts(api.app)
    update = _step(api, key, {"facts": "新的情况", "channels": ["mem-a", "mem-a"]})
    assert update.status_code == 422, update.text
    assert set(_problems(update)) == {"channels"} and "mem-a" in _problems(update)["channels"]
    assert api_counts(api.app) == after_first


def test_console_refuses_a_channel_listed_twice(console: Console) -> None:
    """The compose form posted with a channel twice (preview, live preview and publish) is
    answered 422 with the problem shown on the channels field; nothing is recorded."""
    browser = console.signed_in("urgent")
    twice = FORM | {"channels": [*CHANNELS, "mem-a"]}
    for path in ("/urgent/preview", "/urgent"):
        page = post_form(browser, path, twice)
        assert page.status_code == 422, (path, page.status_code)
        assert ('<li data-problem-for="channels"><a href="#field-channels">发布渠道重复选择了：mem-a。'
                '</a></li>') in page.text
    live = post_form(browser, "/urgent/preview.json", twice)
    assert live.status_code == 422 and "mem-a" in live.json()["fields"]["channels"]
    assert table_counts(console.app)[0] == 0


# --------------------------------------------------------------------------- hidden characters


@pytest.mark.parametrize("char", ["\u202e", "\u2067", "\u200b", "\ufeff", "\u2060"])
def test_api_refuses_a_headline_with_a_hidden_character(api: Api, char: str) -> None:
    """A headline (or the CAP event type) holding a direction override or isolate, a
    zero-width space, a BOM or a word joiner is answered 422 on that field, naming the
    character's position and code; an update's headline the same; nothing is recorded."""
    before = api_counts(api.app)
    title = f"某高架桥{char}发生垮塌"
    response = api.post({**POST, "title": title})
    assert response.status_code == 422, response.text
    problems = _problems(response)
    code = f"U+{ord(char):04X}"
    assert set(problems) == {"title"} and "character 5" in problems["title"]
    assert code in problems["title"] and "第 5 个字符" in problems["title"]
    event = api.post({**POST, "event": f"桥梁{char}垮塌"})
    assert event.status_code == 422 and set(_problems(event)) == {"event"}
    assert "event 第 3 个字符" in _problems(event)["event"]
    assert api_counts(api.app) == before
    key = api.post(POST).json()["incident"]
    after_first = api_counts(api.app)
    update = _step(api, key, {"facts": "新的情况", "title": title})
    assert update.status_code == 422 and code in _problems(update)["title"]
    assert api_counts(api.app) == after_first


def test_console_refuses_a_headline_with_a_hidden_character(console: Console) -> None:
    """The compose form with a right-to-left override in its headline is refused on the
    headline field naming the position and the character, in Chinese and English; an
    update's headline the same; nothing is recorded."""
    browser = console.signed_in("urgent")
    hostile = FORM | {"title": "某高架桥\u202e塌垮生发"}
    page = post_form(browser, "/urgent/preview", hostile)
    assert page.status_code == 422
    assert "标题第 5 个字符是不可见的控制字符 U+202E" in page.text
    english = browser.post("/urgent/preview?lang=en",
                           data=[*form_pairs(hostile), ("csrf_token", browser.csrf())])
    assert english.status_code == 422 and "Headline: character 5 is U+202E" in english.text
    assert table_counts(console.app)[0] == 0
    key = open_by_form(console, browser)
    update = post_form(browser, f"/incidents/{key}/update/preview",
                   {"facts": "新的情况", "title": "续\u200b报", "channels": []})
    assert update.status_code == 422 and "character 2 is U+200B" in update.text  # still English
