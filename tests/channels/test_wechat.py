"""The wechat kind against its emulator: the routine publish path, tokens, failures and retract."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import requests
from pydantic import SecretStr

from channels.base import (
    ConfigurationError,
    PermanentChannelError,
    Receipt,
    TransientChannelError,
)
from channels.wechat.sandbox import Emulator
from channels.wechat.sandbox.drill import ManualClock
from channels.wechat.token import MemoryTokenCache
from tests.support.wechat import APP_ID, KEY, SECRET, clock, emulator, follow, make_channel, message

__all__ = ["clock", "emulator"]  # fixtures: the WeChat emulator on a hand-driven clock


def test_routine_release_is_published_end_to_end(emulator: Emulator, tmp_path: Path,
                                                 clock: ManualClock) -> None:
    """Token, cover, inline image, draft, submit and polls end in a receipt with the article URL."""
    channel = make_channel(emulator, tmp_path, clock)
    payload = channel.prepare(message(tmp_path))
    pending = channel.send(payload, KEY)
    assert pending.pending and pending.details["publish_id"]
    receipt = follow(channel, pending, clock)
    account = emulator.account
    assert receipt.url is not None and receipt.url.startswith("https://mp.weixin.qq.com/s?")
    assert receipt.details["article_id"] == receipt.remote_id
    calls = account.calls
    assert (calls["stable_token"], calls["material/add_material"], calls["media/uploadimg"],
            calls["draft/add"], calls["freepublish/submit"]) == (1, 1, 1, 1, 1)
    [article] = account.published()
    assert article["content_source_url"] == (
        "http://portal.example.gov.cn/food-safety/food-safety-sampling-20261202-100000.html")
    assert account.images[0] in article["content"] and "chart.webp" not in article["content"]
    assert article["thumb_media_id"] in account.materials
    assert not account.drafts  # removed from the draft box once published


def test_send_again_after_success_does_not_publish_twice(emulator: Emulator, tmp_path: Path,
                                                         clock: ManualClock) -> None:
    """A second send under the same key follows the recorded job instead of submitting again."""
    channel = make_channel(emulator, tmp_path, clock)
    payload = channel.prepare(message(tmp_path))
    first = follow(channel, channel.send(payload, KEY), clock)
    second = follow(channel, channel.send(payload, KEY), clock)
    assert second.remote_id == first.remote_id
    assert emulator.account.calls["freepublish/submit"] == 1


def test_expiring_token_costs_one_fetch_and_one_replay_each(emulator: Emulator, tmp_path: Path,
                                                            clock: ManualClock) -> None:
    """A token expiring mid-release with parallel sends: one token call, one replay per failure."""
    channel = make_channel(emulator, tmp_path, clock, cache=MemoryTokenCache(clock))
    payloads = [channel.prepare(message(tmp_path, title=f"抽检通告{i}")) for i in range(6)]
    channel.tokens.token()  # the release starts with a cached token
    account = emulator.account
    assert account.calls["stable_token"] == 1
    account.expire_tokens()
    start = threading.Barrier(len(payloads))
    results: list[Receipt] = []

    def run(i: int) -> None:
        start.wait()
        results.append(channel.send(payloads[i], f"{i:032d}"))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(payloads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == len(payloads)
    assert account.calls["stable_token"] == 2  # the first one plus exactly one refresh
    rejected = sum(n for (api, code), n in account.errors.items() if code == 42001)
    assert rejected >= 1
    total = sum(account.calls[api] for api in (
        "material/add_material", "media/uploadimg", "draft/add", "freepublish/submit"))
    assert total == 4 * len(payloads) + rejected  # each rejected call replayed exactly once
    assert account.calls["freepublish/submit"] == len(payloads)


def test_stable_token_returns_the_same_token_with_remaining_lifetime(emulator: Emulator,
                                                                     clock: ManualClock) -> None:
    """stable_token hands back the current token and its remaining life; force issues a new one."""
    url = f"{emulator.url}/cgi-bin/stable_token"
    body = {"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET}
    first = requests.post(url, json=body, timeout=5).json()
    clock.advance(100)
    second = requests.post(url, json=body, timeout=5).json()
    assert second["access_token"] == first["access_token"]
    assert second["expires_in"] == first["expires_in"] - 100
    forced = requests.post(url, json={**body, "force_refresh": True}, timeout=5).json()
    assert forced["access_token"] != first["access_token"]
    too_soon = requests.post(url, json={**body, "force_refresh": True}, timeout=5).json()
    assert too_soon["errcode"] == 45011 and " rid: " in too_soon["errmsg"]
    assert requests.get(url, params=body, timeout=5).json()["errcode"] == 43002


def test_classic_token_keeps_the_previous_one_for_five_minutes(emulator: Emulator,
                                                              clock: ManualClock) -> None:
    """Each /cgi-bin/token call issues a new token; the old one works 300 s more, then 42001."""
    url = emulator.url + "/cgi-bin/"
    params = {"grant_type": "client_credential", "appid": APP_ID, "secret": SECRET}
    old = requests.get(url + "token", params=params, timeout=5).json()["access_token"]
    new = requests.get(url + "token", params=params, timeout=5).json()["access_token"]
    assert old != new

    def count(token: str) -> int:
        return int(requests.post(url + "draft/add", params={"access_token": token},
                                 json={"articles": []}, timeout=5).json()["errcode"])

    assert count(old) == 44003  # accepted, then refused for the empty articles
    clock.advance(301)
    assert count(old) == 42001 and count(new) == 44003
    assert count("") == 41001 and count("nonsense") == 40001


def test_classic_mode_fetches_through_token(emulator: Emulator, tmp_path: Path,
                                            clock: ManualClock) -> None:
    """token_mode classic uses GET /cgi-bin/token and never stable_token."""
    channel = make_channel(emulator, tmp_path, clock, token_mode="classic")
    follow(channel, channel.send(channel.prepare(message(tmp_path)), KEY), clock)
    assert emulator.account.calls["token"] == 1 and emulator.account.calls["stable_token"] == 0


def test_wrong_secret_is_a_configuration_error_without_the_secret(emulator: Emulator,
                                                                  tmp_path: Path,
                                                                  clock: ManualClock) -> None:
    """A wrong AppSecret is a ConfigurationError whose text holds neither secret nor URL."""
    channel = make_channel(emulator, tmp_path, clock, app_secret=SecretStr("wrong-secret-xyz"))
    with pytest.raises(ConfigurationError) as info:
        channel.send(channel.prepare(message(tmp_path)), KEY)
    text = repr(info.value.describe())
    assert info.value.code == "40125"
    assert "wrong-secret-xyz" not in text and "secret=" not in text and "127.0.0.1" not in text
    assert channel.check() and "AppSecret" in channel.check()[0]


def test_network_failure_hides_the_token(emulator: Emulator, tmp_path: Path,
                                         clock: ManualClock) -> None:
    """A dropped connection is transient, and the error names the API, not the token URL."""
    channel = make_channel(emulator, tmp_path, clock)
    payload = channel.prepare(message(tmp_path))
    token = channel.tokens.token()
    emulator.account.inject("drop", "draft/add")
    with pytest.raises(TransientChannelError) as info:
        channel.send(payload, KEY)
    text = repr(info.value.describe()) + str(info.value.__cause__) + str(info.value.__context__)
    assert "draft/add" in str(info.value)
    assert token not in text and SECRET not in text and "access_token" not in text


@pytest.mark.parametrize(("status", "fail_idx", "words"), [
    (2, [1], "originality"), (3, [], "publishing failed"), (4, [1], "review rejected"),
])
def test_failed_publish_job_is_a_clear_permanent_error(emulator: Emulator, tmp_path: Path,
                                                       clock: ManualClock, status: int,
                                                       fail_idx: list[int], words: str) -> None:
    """Publish statuses 2 to 4 end as permanent errors naming the cause and the failed article."""
    emulator.account.publish_script.append((status, fail_idx))
    channel = make_channel(emulator, tmp_path, clock)
    pending = channel.send(channel.prepare(message(tmp_path)), KEY)
    with pytest.raises(PermanentChannelError) as info:
        follow(channel, pending, clock)
    assert info.value.code == f"publish_status_{status}"
    assert words in info.value.explanation_en
    if fail_idx:
        assert "article 1" in info.value.explanation_en and "第 1 篇" in info.value.explanation_zh


def test_deleted_after_publishing_is_status_five(emulator: Emulator, tmp_path: Path,
                                                 clock: ManualClock) -> None:
    """Retract deletes index 1 only (never 0); the job then reads as status 5."""
    channel = make_channel(emulator, tmp_path, clock)
    pending = channel.send(channel.prepare(message(tmp_path)), KEY)
    receipt = follow(channel, pending, clock)
    channel.retract(receipt)
    [article] = emulator.account.published()
    assert article["is_deleted"] is True
    with pytest.raises(PermanentChannelError) as info:
        channel.status(pending)
    assert info.value.code == "publish_status_5"


def test_retract_refuses_index_zero(emulator: Emulator, tmp_path: Path,
                                    clock: ManualClock) -> None:
    """A receipt whose index is 0 is refused before any call: 0 would delete every article."""
    channel = make_channel(emulator, tmp_path, clock)
    receipt = Receipt(remote_id="a" * 43, details={"mode": "publish", "index": 0,
                                                   "article_id": "a" * 43})
    with pytest.raises(PermanentChannelError):
        channel.retract(receipt)
    assert emulator.account.calls["freepublish/delete"] == 0
