"""The WeChat, Weibo and webhook emulators keep what they published on disk across a restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from pydantic import SecretStr

from channels.base import ChannelContext, ChannelError, ContentRejected
from channels.webhook.adapter import WebhookChannel, WebhookSettings
from channels.webhook.sandbox import serve as serve_sink
from channels.wechat.adapter import WechatChannel, WechatSettings
from channels.wechat.sandbox import Account
from channels.wechat.sandbox import serve as serve_wechat
from channels.weibo.adapter import WeiboChannel, WeiboSettings
from channels.weibo.platform import PlatformConfig
from channels.weibo.sandbox import serve as serve_weibo
from publisher.clock import ManualClock
from tests.test_channel_contract import KEY, START, _context, _for, _message

WEIBO_TOKEN = "2.00state-file-token"


def _cut(context: ChannelContext) -> None:
    """Close the kept-alive connections, as the emulator's process ending would (a stopped
    in-process server still answers on connections it had accepted)."""
    context.session.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def test_weibo_comment_and_delete_after_a_restart(tmp_path: Path, clock: ManualClock) -> None:
    """A post made before the emulator restarts can be commented on and deleted after it."""
    state = tmp_path / "sandbox" / "weibo.json"
    config = PlatformConfig(safe_domain="portal.example.gov.cn")
    emulator = serve_weibo(config=config, state_file=state)
    emulator.platform.issue_token(value=WEIBO_TOKEN)
    port = emulator.port
    settings = WeiboSettings(base_url=emulator.url, link_base_url="http://portal.example.gov.cn/",
                             rip="127.0.0.1", access_token=SecretStr(WEIBO_TOKEN))
    context = _context(tmp_path, clock)
    channel = WeiboChannel("weibo-main", settings, context)
    receipt = channel.send(channel.prepare(_for(channel, _message())), KEY)
    emulator.stop()
    _cut(context)

    again = serve_weibo(port, config=config, state_file=state)
    try:
        assert [p["idstr"] for p in again.platform.posts] == [receipt.remote_id]
        comment = channel.follow_up(receipt, channel.prepare_follow_up(
            _for(channel, _message(50))))
        assert comment.details["comment_on"] == receipt.remote_id
        channel.retract(receipt)
        assert again.platform.live_posts() == []
        second = channel.send(channel.prepare(_for(channel, _message(51))), KEY[::-1])
        assert second.remote_id != receipt.remote_id  # ids go on from where they were
    finally:
        again.stop()
        context.session.close()
    saved = json.loads(state.read_text(encoding="utf-8"))
    assert [c["status_id"] for c in saved["comments"]] == [receipt.remote_id]
    assert [p["deleted"] for p in saved["posts"]] == [True, False]


def test_wechat_withdrawal_after_a_restart(tmp_path: Path, clock: ManualClock) -> None:
    """An article published before the emulator restarts is found and withdrawn after it."""
    state = tmp_path / "sandbox" / "wechat.json"
    cover = tmp_path / "cover.jpg"
    Image.new("RGB", (300, 128), (180, 40, 40)).save(cover)

    def account() -> Account:
        return Account(app_id="wx0000000000000000", app_secret="s" * 32, publish_polls=0,
                       clock=lambda: clock.now().timestamp(), state_file=state)

    emulator = serve_wechat(account=account())
    port = emulator.port
    settings = WechatSettings(base_url=emulator.url, app_id="wx0000000000000000",
                              app_secret=SecretStr("s" * 32),
                              portal_base_url="http://portal.example.gov.cn/",
                              author="某市人民政府", cover_image=str(cover),
                              journal_dir=str(tmp_path / "journal"))
    context = _context(tmp_path, clock)
    channel = WechatChannel("wechat-main", settings, context)
    payload = channel.prepare(_for(channel, _message()))
    receipt = channel.status(channel.send(payload, KEY))
    assert receipt.remote_id
    emulator.stop()
    _cut(context)

    again = serve_wechat(port, account=account())
    try:
        assert len(again.account.published()) == 1
        found = channel.find(KEY, payload)
        assert found is not None and found.remote_id == receipt.remote_id
        channel.retract(receipt)
        assert [a["is_deleted"] for a in again.account.published()] == [True]
    finally:
        again.stop()
        context.session.close()
    restarted = account()
    restarted.load()
    assert [a["is_deleted"] for a in restarted.published()] == [True]


def test_webhook_remembers_its_receipts_after_a_restart(tmp_path: Path,
                                                         clock: ManualClock) -> None:
    """A delivery received before the sink restarts is found after it, and its repeat makes
    no second item."""
    state = tmp_path / "sandbox" / "webhook.json"
    sink = serve_sink(token="tok-123456", state_file=state)
    port = sink.port
    settings = WebhookSettings(url=sink.url, token=SecretStr("tok-123456"))
    context = _context(tmp_path, clock)
    channel = WebhookChannel("webhook-main", settings, context)
    payload = channel.prepare(_for(channel, _message()))
    receipt = channel.send(payload, KEY)
    sink.stop()
    _cut(context)

    again = serve_sink(port, token="tok-123456", state_file=state)
    try:
        found = channel.find(KEY, payload)
        assert found is not None and found.remote_id == receipt.remote_id
        try:
            channel.send(payload, KEY)
        except ChannelError as exc:  # a kind may refuse the repeat; it must not post
            assert not isinstance(exc, ContentRejected), exc
        assert list(again.state.accepted) == [KEY]
    finally:
        again.stop()
        context.session.close()


def test_a_file_that_is_not_state_is_named(tmp_path: Path) -> None:
    """A state file that is not an emulator's JSON stops the start with an error naming it."""
    state = tmp_path / "weibo.json"
    state.write_text("not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"weibo\.json"):
        serve_weibo(state_file=state)
