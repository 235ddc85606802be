"""The WeChat emulator itself: uploads, draft checks, quotas, clientmsgid rules and faults."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from PIL import Image

from channels.wechat.sandbox import Account, Emulator, configure, serve
from channels.wechat.sandbox.drill import ManualClock

APP_ID, SECRET = "wx1234567890abcdef", "sandbox-secret-123456"
RID = re.compile(r" rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 12, 2, 10, 0, tzinfo=UTC))


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[Emulator]:
    running = serve(account=Account(app_id=APP_ID, app_secret=SECRET, clock=clock.seconds))
    yield running
    running.stop()


class Client:
    """Raw calls with a stable token, for poking the emulator directly."""

    def __init__(self, url: str) -> None:
        self.url = url + "/cgi-bin/"
        self.token = requests.post(self.url + "stable_token", json={
            "grant_type": "client_credential", "appid": APP_ID, "secret": SECRET},
            timeout=5).json()["access_token"]

    def post(self, api: str, body: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        params = {"access_token": self.token, **kw.pop("params", {})}
        reply: dict[str, Any] = requests.post(self.url + api, params=params, json=body,
                                              timeout=5, **kw).json()
        return reply

    def upload(self, api: str, data: bytes, name: str = "a.png", **params: str) -> dict[str, Any]:
        return self.post(api, None, params=params, files={"media": (name, data, "image/png")})


def image(fmt: str, size: tuple[int, int] = (32, 32), noise: bool = False) -> bytes:
    out = io.BytesIO()
    picture = Image.effect_noise(size, 100).convert("RGB") if noise else Image.new("RGB", size)
    picture.save(out, format=fmt)
    return out.getvalue()


def test_uploads_check_type_and_size(emulator: Emulator) -> None:
    """uploadimg takes JPEG/PNG under 1 MB (else 40005/40009); add_material returns id and url."""
    client = Client(emulator.url)
    assert client.upload("media/uploadimg", image("PNG"))["url"].startswith("http://mmbiz.qpic.cn/")
    assert client.upload("media/uploadimg", image("GIF"))["errcode"] == 40005
    big = image("PNG", (1100, 1100), noise=True)
    assert len(big) >= 1024 * 1024
    assert client.upload("media/uploadimg", big)["errcode"] == 40009
    material = client.upload("material/add_material", image("JPEG"), type="image")
    assert material["media_id"] and material["url"].startswith("http://mmbiz.qpic.cn/")
    assert client.upload("material/add_material", image("PNG"), type="thumb")["errcode"] == 40005


def test_draft_checks_and_removal_on_publish(emulator: Emulator) -> None:
    """draft/add checks data, thumb and lengths; a submitted draft is gone (40007)."""
    client = Client(emulator.url)
    thumb = client.upload("material/add_material", image("JPEG"), type="image")["media_id"]
    good = {"title": "标题", "content": "<p>正文</p>", "thumb_media_id": thumb}
    assert client.post("draft/add", {"articles": []})["errcode"] == 44003
    assert client.post("draft/add", {"articles": [{**good, "thumb_media_id": "x"}]})["errcode"] \
        == 40007
    assert client.post("draft/add", {"articles": [{**good, "title": "标" * 33}]})["errcode"] \
        == 45003
    assert client.post("draft/add", {"articles": [{**good, "author": "作" * 17}]})["errcode"] \
        == 45110
    refused = client.post("draft/add", {"articles": [{**good, "digest": "摘" * 41}]})
    assert refused["errcode"] == 45004 and RID.search(refused["errmsg"])
    media_id = client.post("draft/add", {"articles": [good]})["media_id"]
    assert client.post("draft/get", {"media_id": media_id})["news_item"][0]["title"] == "标题"
    assert client.post("freepublish/submit", {"media_id": media_id})["publish_id"].isdigit()
    assert client.post("draft/get", {"media_id": media_id})["errcode"] == 40007


def test_daily_quota_and_clear_quota(emulator: Emulator) -> None:
    """Past the per-API daily limit calls get 45009; clear_quota resets, ten times a month."""
    emulator.account.daily_limit = 2
    client = Client(emulator.url)
    codes = [client.post("draft/get", {"media_id": "x"})["errcode"] for _ in range(3)]
    assert codes == [40007, 40007, 45009]
    for _ in range(10):
        assert client.post("clear_quota", {"appid": APP_ID})["errcode"] == 0
    assert client.post("clear_quota", {"appid": APP_ID})["errcode"] == 48006


def test_clientmsgid_rules(emulator: Emulator, clock: ManualClock) -> None:
    """clientmsgid over 32 bytes is 45067; a repeat within 60 s is 45066; later 45065 + msg_id."""
    client = Client(emulator.url)
    thumb = client.upload("material/add_material", image("JPEG"), type="image")["media_id"]
    media_id = client.post("draft/add", {"articles": [
        {"title": "t", "content": "<p>c</p>", "thumb_media_id": thumb}]})["media_id"]
    body = {"filter": {"is_to_all": True}, "mpnews": {"media_id": media_id},
            "msgtype": "mpnews", "clientmsgid": "k" * 33}
    assert client.post("message/mass/sendall", body)["errcode"] == 45067
    sent = client.post("message/mass/sendall", {**body, "clientmsgid": "k" * 32})
    assert sent["errcode"] == 0 and isinstance(sent["msg_id"], int)
    assert client.post("message/mass/sendall", {**body, "clientmsgid": "k" * 32})["errcode"] \
        == 45066
    clock.advance(120)
    again = client.post("message/mass/sendall", {**body, "clientmsgid": "k" * 32})
    assert (again["errcode"], again["msg_id"]) == (45065, sent["msg_id"])
    assert len(emulator.account.mass_sends) == 1
    clock.advance(86_400)  # a day later the id is free again, but the draft is gone
    client = Client(emulator.url)
    assert client.post("message/mass/sendall", {**body, "clientmsgid": "k" * 32})["errcode"] \
        == 40007


def test_faults_from_the_command_line() -> None:
    """--fault options queue errcode, status, slow and lost faults for the named APIs."""
    account, port = configure(["--port", "0", "--fault", "errcode:draft/add:-1",
                               "--fault", "status:freepublish/get:502", "--fault", "slow::1.5",
                               "--fault", "lost:message/mass/sendall"])
    kinds = [(f.kind, f.api, f.errcode, f.status, f.seconds) for f in account.faults]
    assert port == 0 and kinds == [
        ("errcode", "draft/add", -1, 503, 0.0), ("status", "freepublish/get", -1, 502, 0.0),
        ("slow", "", -1, 503, 1.5), ("lost", "message/mass/sendall", -1, 503, 0.0)]
