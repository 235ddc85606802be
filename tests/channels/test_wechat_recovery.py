"""Crashes and lost replies: find() reconciles, and a retried send never publishes twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from channels.base import OutcomeUnknown, RateLimited, TransientChannelError
from channels.wechat.sandbox import Account, Emulator, serve
from channels.wechat.sandbox.drill import ManualClock
from tests.support.channel import SHANGHAI
from tests.support.wechat import APP_ID, KEY, SECRET, follow, make_channel, message


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI))


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[Emulator]:
    account = Account(app_id=APP_ID, app_secret=SECRET, clock=clock.seconds, publish_polls=3,
                      publish_seconds=600)
    running = serve(account=account)
    yield running
    running.stop()


def test_job_in_flight_at_a_crash_is_found_without_a_second_article(
        emulator: Emulator, tmp_path: Path, clock: ManualClock) -> None:
    """The receipt of a running publish job is lost; after restart find() follows it, no resend."""
    before = make_channel(emulator, tmp_path, clock)
    payload = before.prepare(message(tmp_path))
    pending = before.send(payload, KEY)
    assert pending.pending  # the process dies here, before the core stored anything
    after = make_channel(emulator, tmp_path, clock)  # same work_dir, fresh memory
    found = after.find(KEY, payload)
    assert found is not None and not found.pending
    assert found.url is not None and found.details["publish_id"] == pending.details["publish_id"]
    account = emulator.account
    assert len(account.published()) == 1
    assert account.calls["freepublish/submit"] == 1 and account.calls["draft/add"] == 1


def test_find_uses_the_published_list_when_no_publish_id_was_kept(
        emulator: Emulator, tmp_path: Path, clock: ManualClock) -> None:
    """Without a recorded publish_id, find() matches the title in freepublish/batchget."""
    channel = make_channel(emulator, tmp_path, clock)
    payload = channel.prepare(message(tmp_path))
    first = follow(channel, channel.send(payload, KEY), clock)
    other = make_channel(emulator, tmp_path / "elsewhere", clock)  # its journal is empty
    found = other.find(KEY, payload)
    assert found is not None and found.remote_id == first.remote_id
    assert found.details["found_by"] == "batchget" and found.details["index"] == 1
    assert other.find(KEY, other.prepare(message(tmp_path, title="另一条通告"))) is None


def test_crash_before_submit_reuses_the_draft(emulator: Emulator, tmp_path: Path,
                                              clock: ManualClock) -> None:
    """The submit never reached WeChat but the client cannot know: an unknown outcome; find()
    says not landed, and once the settle time has passed the resend reuses the draft."""
    channel = make_channel(emulator, tmp_path, clock)
    payload = channel.prepare(message(tmp_path))
    emulator.account.inject("drop", "freepublish/submit")
    with pytest.raises(OutcomeUnknown):
        channel.send(payload, KEY)
    restarted = make_channel(emulator, tmp_path, clock)
    assert restarted.find(KEY, payload) is None
    clock.advance(restarted.settings.settle_seconds)
    follow(restarted, restarted.send(payload, KEY), clock)
    account = emulator.account
    assert account.calls["draft/add"] == 1 and len(account.published()) == 1


def test_lost_submit_reply_is_confirmed_from_the_published_list(
        emulator: Emulator, tmp_path: Path, clock: ManualClock) -> None:
    """Submit landed but its reply was lost: no resubmit before the settle time, then the
    article is found in the published list; one article."""
    channel = make_channel(emulator, tmp_path, clock)
    payload = channel.prepare(message(tmp_path))
    emulator.account.inject("lost", "freepublish/submit")
    with pytest.raises(OutcomeUnknown):
        channel.send(payload, KEY)
    with pytest.raises(TransientChannelError) as info:
        channel.send(payload, KEY)  # the job is still running: not in the list yet
    assert info.value.code == "publish_unconfirmed"
    assert info.value.retry_after == channel.settings.settle_seconds
    clock.advance(600)
    receipt = channel.send(payload, KEY)
    assert not receipt.pending and receipt.url is not None
    assert emulator.account.calls["freepublish/submit"] == 1
    assert len(emulator.account.published()) == 1


def test_lost_submit_reply_with_the_draft_kept_is_not_submitted_twice(
        tmp_path: Path, clock: ManualClock) -> None:
    """A platform that keeps the draft after a submit (unconfirmed either way): the draft still
    being there proves nothing, and the retry finds the article instead of submitting again."""
    account = Account(app_id=APP_ID, app_secret=SECRET, clock=clock.seconds, publish_polls=3,
                      publish_seconds=60, submit_keeps_draft=True)
    with serve(account=account) as emulator:
        channel = make_channel(emulator, tmp_path, clock)
        payload = channel.prepare(message(tmp_path))
        account.inject("lost", "freepublish/submit")
        with pytest.raises(OutcomeUnknown):
            channel.send(payload, KEY)
        clock.advance(channel.settings.settle_seconds)
        assert channel.find(KEY, payload) is not None
        receipt = channel.send(payload, KEY)
        assert receipt.details["found_by"] == "batchget"
        assert len(account.jobs) == 1 and len(account.published()) == 1


def test_mass_send_whose_reply_was_lost_is_sent_once(emulator: Emulator, tmp_path: Path,
                                                     clock: ManualClock) -> None:
    """An urgent mass send accepted but unanswered is an unknown outcome; a resend with the same
    clientmsgid within a minute is RateLimited (no worker asleep), then answered with the
    earlier send: one mass send."""
    channel = make_channel(emulator, tmp_path, clock)
    payload = channel.prepare(message(tmp_path, urgent=True))
    assert channel.settle_seconds(payload, KEY) == 60.0
    emulator.account.inject("lost", "message/mass/sendall")
    with pytest.raises(OutcomeUnknown):
        channel.send(payload, KEY)
    assert channel.find(KEY, payload) is None  # a resend with the clientmsgid settles it
    with pytest.raises(RateLimited) as info:
        channel.send(payload, KEY)  # 45066
    assert info.value.retry_after == 60.0
    clock.advance(60)
    receipt = follow(channel, channel.send(payload, KEY), clock)  # 45065
    account = emulator.account
    assert len(account.mass_sends) == 1 and account.mass_sends[0]["clientmsgid"] == KEY
    assert account.calls["message/mass/sendall"] == 3 and 60.0 not in clock.slept
    assert receipt.details["already_sent"] is True
    assert receipt.remote_id == f"mass:{account.mass_sends[0]['msg_id']}"
    assert account.calls["draft/add"] == 1


def test_mass_send_found_after_a_crash(emulator: Emulator, tmp_path: Path,
                                       clock: ManualClock) -> None:
    """A mass send whose msg_id was recorded is found by find() and retracted by mass/delete."""
    emulator.account.mass_status_polls = 2
    channel = make_channel(emulator, tmp_path, clock)
    payload = channel.prepare(message(tmp_path, urgent=True))
    assert channel.send(payload, KEY).pending
    found = make_channel(emulator, tmp_path, clock).find(KEY, payload)
    assert found is not None and not found.pending and found.details["mode"] == "mass"
    channel.retract(found)
    assert emulator.account.mass_sends[0]["status"] == "DELETE"
    assert len(emulator.account.mass_sends) == 1
