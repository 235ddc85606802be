"""Images and secrets on the WeChat path: conversion under 1 MB, allow-listed hosts, token masking."""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from channels.base import ContentRejected, Message
from channels.wechat import media
from channels.wechat.sandbox import Account, Emulator, serve
from channels.wechat.sandbox.drill import ManualClock
from tests.channels.test_wechat import (
    APP_ID,
    KEY,
    SECRET,
    SHANGHAI,
    follow,
    make_channel,
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI))


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[Emulator]:
    running = serve(account=Account(app_id=APP_ID, app_secret=SECRET, clock=clock.seconds))
    yield running
    running.stop()


class _Quiet(SimpleHTTPRequestHandler):
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def image_host(tmp_path: Path) -> Iterator[str]:
    """A loopback web server for ``tmp_path/www``; yields its base URL."""
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def noisy_png(side: int) -> bytes:
    out = io.BytesIO()
    Image.effect_noise((side, side), 120).convert("RGB").save(out, format="PNG")
    return out.getvalue()


def test_large_png_becomes_a_jpeg_under_one_megabyte() -> None:
    """A PNG over 1 MB is re-encoded as JPEG under the uploadimg limit."""
    data = noisy_png(1200)
    assert len(data) >= media.BODY_IMAGE_MAX_BYTES
    name, converted, content_type = media.to_upload(data, "chart.png")
    assert (name, content_type) == ("chart.jpg", "image/jpeg")
    assert len(converted) < media.BODY_IMAGE_MAX_BYTES


def test_small_png_is_kept_as_it_is() -> None:
    """A PNG already under 1 MB is uploaded unchanged."""
    data = noisy_png(40)
    assert media.to_upload(data, "a.png") == ("a.png", data, "image/png")


def test_not_an_image_is_rejected_by_field() -> None:
    """Bytes that are no image are a ContentRejected on the image field."""
    with pytest.raises(ContentRejected) as info:
        media.to_upload(b"%PDF-1.7", "report.pdf")
    assert info.value.field == "image"


def test_image_from_an_allow_listed_host(emulator: Emulator, tmp_path: Path, clock: ManualClock,
                                         image_host: str) -> None:
    """An <img> on an allow-listed host is fetched, uploaded and its src rewritten."""
    (tmp_path / "www" / "map.png").write_bytes(noisy_png(50))
    channel = make_channel(emulator, tmp_path, clock, image_hosts=["127.0.0.1"])
    message = Message(release_key="r@1", definition_id="r", title="空气质量",
                      body=f'<p>分布图</p><img src="{image_host}/map.png">', body_format="html",
                      metadata={"column": "air-quality", "slug": "r-1"})
    follow(channel, channel.send(channel.prepare(message), KEY), clock)
    [article] = emulator.account.published()
    assert image_host not in article["content"] and emulator.account.images[0] in article["content"]


def test_access_tokens_are_handed_to_the_redactor(emulator: Emulator, tmp_path: Path,
                                                  clock: ManualClock) -> None:
    """Every access token the channel obtains is passed to the context's register_secret."""
    seen: list[str] = []
    channel = make_channel(emulator, tmp_path, clock)
    context = channel.context
    object.__setattr__(context, "register_secret", seen.append)
    channel = type(channel)("wechat-main", channel.settings, context)
    token = channel.tokens.token()
    assert token in seen and emulator.account.stable_current == token
