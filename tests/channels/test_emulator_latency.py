"""The emulators' latency knob: each request waits before its answer and is logged in order."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from channels.wechat.sandbox import Account, configure, serve
from channels.weibo.platform import PlatformConfig
from channels.weibo.sandbox import serve as serve_weibo

LATENCY_SECONDS = 0.05


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as running:
        yield running


def test_wechat_latency_delays_each_request_and_logs_it(session: requests.Session) -> None:
    """With latency_seconds set, every WeChat call waits at least that long and the account's
    request log lists each API in arrival order."""
    emulator = serve(account=Account(latency_seconds=LATENCY_SECONDS))
    try:
        base = emulator.url + "/cgi-bin/"
        started = time.perf_counter()
        token = session.post(base + "stable_token", json={
            "grant_type": "client_credential", "appid": emulator.account.app_id,
            "secret": emulator.account.app_secret}, timeout=5).json()["access_token"]
        reply = session.post(base + "draft/get", params={"access_token": token},
                             json={"media_id": "missing"}, timeout=5).json()
        elapsed = time.perf_counter() - started
    finally:
        emulator.stop()
    assert reply["errcode"] == 40007
    assert elapsed >= 2 * LATENCY_SECONDS
    assert [api for _at, api in emulator.account.request_log] == ["stable_token", "draft/get"]
    arrivals = [at for at, _api in emulator.account.request_log]
    assert arrivals == sorted(arrivals)


def test_wechat_command_line_takes_the_latency() -> None:
    """``--latency-ms`` on the emulator's command line sets the account's latency in seconds."""
    account, _port = configure(["--latency-ms", "50"])
    assert account.latency_seconds == pytest.approx(0.05)
    assert configure([])[0].latency_seconds == 0.0


def test_weibo_latency_delays_each_request(session: requests.Session) -> None:
    """With latency_seconds set, a Weibo call waits at least that long and is still counted
    in the platform's call log."""
    emulator = serve_weibo(config=PlatformConfig(latency_seconds=LATENCY_SECONDS))
    try:
        token = emulator.platform.issue_token().value
        started = time.perf_counter()
        reply = session.get(emulator.url + "/2/statuses/user_timeline.json",
                            params={"access_token": token}, timeout=5)
        elapsed = time.perf_counter() - started
    finally:
        emulator.stop()
    assert reply.status_code == 200 and reply.json()["statuses"] == []
    assert elapsed >= LATENCY_SECONDS
    assert [path for _at, _uid, path in emulator.platform.calls] == [
        "/2/statuses/user_timeline.json"]
