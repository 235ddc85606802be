"""Every errcode in wechat.md: its class, its action, and what the adapter does at the emulator."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from channels.base import (
    AuthExpired,
    ChannelError,
    ConfigurationError,
    ContentRejected,
    OutcomeUnknown,
    PermanentChannelError,
    RateLimited,
    TransientChannelError,
)
from channels.wechat import errors
from channels.wechat.sandbox import Emulator
from channels.wechat.sandbox.drill import ManualClock
from tests.support.wechat import KEY, SECRET, clock, emulator, follow, make_channel, message

__all__ = ["clock", "emulator"]  # fixtures: the WeChat emulator on a hand-driven clock

R, T, W, S, F = errors.RETRY, errors.REFRESH, errors.WAIT, errors.ALREADY, errors.FAIL
P, C, CR = PermanentChannelError, ConfigurationError, ContentRejected

# code -> (class, action), as wechat.md §1, §2, §3, §4, §5 and §6 describe them.
SPEC: dict[int, tuple[type[ChannelError], str]] = {
    -1: (TransientChannelError, R),
    40001: (AuthExpired, T), 40014: (AuthExpired, T), 42001: (AuthExpired, T), 41001: (P, F),
    40002: (C, F), 40013: (C, F), 40125: (C, F), 40164: (C, F), 40243: (C, F), 41002: (C, F),
    41004: (C, F), 43002: (P, F), 50004: (C, F), 50007: (C, F), 89503: (RateLimited, W),
    89506: (C, F), 89507: (C, F),
    40007: (P, F), 40005: (CR, F), 40009: (CR, F), 44003: (CR, F), 45003: (CR, F),
    45004: (CR, F), 45110: (CR, F), 45166: (CR, F), 41039: (CR, F),
    45009: (RateLimited, W), 45011: (RateLimited, W), 48006: (RateLimited, W),
    45028: (P, F), 45065: (P, S), 45066: (RateLimited, W), 45067: (P, F),
    40152: (C, F), 45062: (C, F), 48021: (P, F), 41040: (P, F), 89504: (RateLimited, W),
    89505: (RateLimited, W), 40059: (P, F),
    48001: (C, F), 50001: (C, F), 53500: (P, F), 53501: (RateLimited, W), 53502: (P, F),
    53600: (P, F), 53503: (CR, F), 53504: (P, F), 53505: (P, F), 53404: (P, F), 53405: (CR, F),
    53406: (P, F), 40114: (P, F), 88000: (P, F),
}
MASS_CODES = {45028, 45065, 45066, 45067}
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_documented_code_is_in_the_table() -> None:
    """The table covers every errcode wechat.md names, each with zh-CN and English texts."""
    assert set(SPEC) <= set(errors.CODES)
    for code in errors.CODES.values():
        assert CJK.search(code.explanation_zh) and code.explanation_en and not CJK.search(code.explanation_en)
        if code.decision == W:
            assert code.window_seconds and code.window_seconds > 0


@pytest.mark.parametrize("code", sorted(SPEC))
def test_code_classification_and_action(code: int, emulator: Emulator, tmp_path: Path,
                                        clock: ManualClock) -> None:
    """Each code maps to its class and action; at the emulator the adapter acts on it."""
    expected_class, expected_action = SPEC[code]
    entry = errors.entry(code)
    assert (entry.error, entry.decision) == (expected_class, expected_action)
    account = emulator.account
    urgent = code in MASS_CODES
    channel = make_channel(emulator, tmp_path, clock)
    payload = channel.prepare(message(tmp_path, urgent=urgent))
    if code == 45065:  # a real duplicate: the journal is lost and the send is repeated later
        follow(channel, channel.send(payload, KEY), clock)
        clock.advance(120)
        again = make_channel(emulator, tmp_path / "restarted", clock)
        receipt = follow(again, again.send(payload, KEY), clock)
        assert receipt.details["already_sent"] is True and len(account.mass_sends) == 1
        return
    api = "message/mass/sendall" if urgent else "draft/add"
    account.inject("errcode", api, errcode=code)
    if expected_action == T:
        follow(channel, channel.send(payload, KEY), clock)
        # the platform still hands back the refused token, so one forced refresh follows
        assert account.calls["stable_token"] == 3 and len(account.force_times) == 1
        assert account.calls[api] == 2
        return
    if code == 45028:
        receipt = follow(channel, channel.send(payload, KEY), clock)
        assert receipt.details["mode"] == "publish" and not account.mass_sends
        assert "published instead" in receipt.details["fallback_en"]
        assert len(account.published()) == 1
        return
    with pytest.raises(ChannelError) as info:
        channel.send(payload, KEY)
    error = info.value
    assert isinstance(error, expected_class) and error.code == str(code)
    assert error.explanation_zh == entry.explanation_zh and error.explanation_en == entry.explanation_en
    if expected_action in (R, W):
        assert isinstance(error, TransientChannelError) and error.retry_after == entry.window_seconds
    else:
        assert not error.retryable
    if isinstance(error, ContentRejected):
        assert error.field == entry.field
    text = repr(error.describe())
    assert SECRET not in text and channel.tokens.token() not in text and "access_token" not in text
    assert account.calls[api] == 1  # no hidden retries inside the adapter


def test_40001_on_the_token_endpoint_is_a_wrong_secret(emulator: Emulator, tmp_path: Path,
                                                       clock: ManualClock) -> None:
    """On stable_token 40001 means a wrong AppSecret: a ConfigurationError, no refresh loop."""
    emulator.account.inject("errcode", "stable_token", errcode=40001, times=5)
    channel = make_channel(emulator, tmp_path, clock)
    with pytest.raises(ConfigurationError) as info:
        channel.send(channel.prepare(message(tmp_path)), KEY)
    assert info.value.code == "40001" and emulator.account.calls["stable_token"] == 1


def test_replay_happens_only_once(emulator: Emulator, tmp_path: Path,
                                  clock: ManualClock) -> None:
    """A token refused twice in a row surfaces AuthExpired after one refresh and one replay."""
    emulator.account.inject("errcode", "draft/add", errcode=42001, times=2)
    channel = make_channel(emulator, tmp_path, clock)
    with pytest.raises(AuthExpired):
        channel.send(channel.prepare(message(tmp_path)), KEY)
    assert emulator.account.calls["draft/add"] == 2 and len(emulator.account.force_times) == 1


def test_server_errors_are_transient(emulator: Emulator, tmp_path: Path,
                                     clock: ManualClock) -> None:
    """An HTTP 503 from the platform is a TransientChannelError carrying the status."""
    emulator.account.inject("status", "draft/add", status=503)
    channel = make_channel(emulator, tmp_path, clock)
    with pytest.raises(TransientChannelError) as info:
        channel.send(channel.prepare(message(tmp_path)), KEY)
    assert info.value.code == "http_503"


@pytest.mark.parametrize(("kind", "options"), [("status", {"status": 503}),
                                               ("errcode", {"errcode": -1})])
def test_no_usable_answer_to_a_submit_is_an_unknown_outcome(
        emulator: Emulator, tmp_path: Path, clock: ManualClock, kind: str,
        options: dict[str, int]) -> None:
    """A 503 or a busy -1 answering freepublish/submit may hide an accepted job (wechat.md §6:
    check state first), so it is an OutcomeUnknown, not a retry that could publish twice."""
    emulator.account.inject(kind, "freepublish/submit", **options)
    channel = make_channel(emulator, tmp_path, clock)
    with pytest.raises(OutcomeUnknown) as info:
        channel.send(channel.prepare(message(tmp_path)), KEY)
    assert info.value.code == "no_answer"
    assert emulator.account.calls["freepublish/submit"] == 1


def test_wrong_address_is_a_configuration_error(emulator: Emulator, tmp_path: Path,
                                                clock: ManualClock) -> None:
    """A base_url answering 404 pages instead of JSON is a ConfigurationError, not retried."""
    channel = make_channel(emulator, tmp_path, clock, base_url=emulator.url + "/nowhere")
    emulator.account.inject("status", "", status=404)
    with pytest.raises(ConfigurationError) as info:
        channel.send(channel.prepare(message(tmp_path)), KEY)
    assert info.value.code == "http_404"
