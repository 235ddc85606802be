"""Images and secrets on the WeChat path: conversion under 1 MB, pictures that decode huge or are
broken, allow-listed hosts (redirects too), token masking."""

from __future__ import annotations

import functools
import io
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from PIL import Image

from channels.base import ContentRejected, Message
from channels.wechat import media
from channels.wechat.sandbox import Emulator
from channels.wechat.sandbox.drill import ManualClock
from tests.support.pictures import bomb_png
from tests.support.wechat import KEY, clock, emulator, follow, make_channel

__all__ = ["clock", "emulator"]  # fixtures: the WeChat emulator on a hand-driven clock


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


def test_the_bomb_is_a_real_picture() -> None:
    """The test's huge PNG is a valid picture: Pillow reads it whole, pixel by pixel."""
    with Image.open(io.BytesIO(bomb_png(3000, 2000))) as image:
        image.load()
        assert image.size == (3000, 2000) and image.getextrema() == (0, 0)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("side", [12_000, 30_000])
def test_a_picture_that_decodes_huge_is_refused_before_decoding(side: int) -> None:
    """A PNG of a few kilobytes that decodes to 12000² or 30000² pixels (Pillow's own bomb
    error beyond 179 megapixels) is a ContentRejected on the image field naming the limit,
    decided from its header: never decoded, never an unexpected error."""
    data = bomb_png(side, side)
    assert len(data) < 200_000
    assert struct.unpack(">II", data[16:24]) == (side, side)  # its header says so
    with pytest.raises(ContentRejected) as info:
        media.to_upload(data, "scene.png")
    assert info.value.field == "image" and "megapixels" in str(info.value.limit)
    assert "scene.png" in info.value.explanation_en


def test_a_damaged_picture_is_a_content_rejection() -> None:
    """A PNG cut short and a JPEG cut short are ContentRejected (image field), not an error
    from Pillow that would leave the delivery's outcome unknown."""
    png = noisy_png(300)
    out = io.BytesIO()
    Image.effect_noise((400, 300), 80).convert("RGB").save(out, format="JPEG")
    for data, name in ((png[: len(png) // 2], "a.png"), (out.getvalue()[:3000], "b.jpg")):
        with pytest.raises(ContentRejected) as info:
            media.to_upload(data, name)
        assert info.value.field == "image" and name in str(info.value)


def test_a_damaged_picture_is_refused_after_weasyprint_loaded() -> None:
    """WeasyPrint (the gazette's PDF) switches Pillow to padding cut-short files for the whole
    process when imported; a PNG and a JPEG cut short are still refused, and WeasyPrint's
    setting is left as it was."""
    import weasyprint  # noqa: F401  (imported for its effect on Pillow)
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is True
    out = io.BytesIO()
    Image.effect_noise((400, 300), 80).convert("RGB").save(out, format="JPEG")
    png = noisy_png(300)
    for data, name in ((png[: len(png) // 2], "a.png"), (out.getvalue()[:3000], "b.jpg")):
        with pytest.raises(ContentRejected):
            media.to_upload(data, name)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


class _Server(ThreadingHTTPServer):
    """A loopback test server: where it redirects to, and the paths it was asked for."""

    target = ""
    hits: list[str]


class _Redirect(BaseHTTPRequestHandler):
    """Answers every GET with a 302 to the server's ``target`` + the path."""

    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.server.target + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class _Counting(_Quiet):
    """Serves files and counts the requests it got."""

    server: _Server

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        super().do_GET()


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A second loopback image server, reached as ``localhost`` (not an allowed host name):
    its base URL and the paths asked of it."""
    root = tmp_path / "elsewhere"
    root.mkdir()
    (root / "map.png").write_bytes(noisy_png(50))
    server = _Server(("127.0.0.1", 0), functools.partial(_Counting, directory=str(root)))
    hits: list[str] = []
    server.hits = hits
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


@pytest.fixture
def redirector() -> Iterator[tuple[str, _Server]]:
    """A loopback server on 127.0.0.1 that redirects every GET to its ``target``."""
    server = _Server(("127.0.0.1", 0), _Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", server
    server.shutdown()
    server.server_close()


def test_a_redirect_off_the_allowed_hosts_is_not_followed(
        emulator: Emulator, tmp_path: Path, clock: ManualClock,
        redirector: tuple[str, _Server], elsewhere: tuple[str, list[str]]) -> None:
    """An <img> on an allow-listed host that redirects to a host outside ``image_hosts`` is
    refused (ContentRejected naming that host) without a single request reaching it; nothing
    is published."""
    start, server = redirector
    target, hits = elsewhere
    server.target = target
    channel = make_channel(emulator, tmp_path, clock, image_hosts=["127.0.0.1"])
    message = Message(release_key="r@1", definition_id="r", title="空气质量",
                      body=f'<p>分布图</p><img src="{start}/map.png">', body_format="html",
                      metadata={"column": "air-quality", "slug": "r-1"})
    payload = channel.prepare(message)
    with pytest.raises(ContentRejected) as info:
        channel.send(payload, KEY)
    assert info.value.field == "image" and "localhost" in info.value.explanation_en
    assert hits == [] and emulator.account.published() == []
    with pytest.raises(ContentRejected):  # the same by itself, and redirects stay bounded
        media.load(f"{start}/map.png", requests.Session(), 5, ("127.0.0.1",))
    assert hits == []


def test_a_redirect_within_the_allowed_hosts_is_followed(
        tmp_path: Path, redirector: tuple[str, _Server],
        elsewhere: tuple[str, list[str]]) -> None:
    """A redirect to another allow-listed host is followed hop by hop and the image read; a
    redirect loop on allowed hosts stops after MAX_REDIRECTS hops as a ContentRejected."""
    start, server = redirector
    target, hits = elsewhere
    server.target = target
    data = media.load(f"{start}/map.png", requests.Session(), 5, ("127.0.0.1", "localhost"))
    assert data == (tmp_path / "elsewhere" / "map.png").read_bytes() and hits == ["/map.png"]
    server.target = start  # to itself, for ever
    with pytest.raises(ContentRejected) as info:
        media.load(f"{start}/loop.png", requests.Session(), 5, ("127.0.0.1",))
    assert "redirect" in str(info.value.limit)
