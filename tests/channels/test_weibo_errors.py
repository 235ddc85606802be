"""Every Weibo error code of weibo.md, table-driven, through the emulator and the adapter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from channels.base import (
    AlreadyPublished,
    ChannelError,
    ConfigurationError,
    ContentRejected,
    PermanentChannelError,
    RateLimited,
    TransientChannelError,
)
from channels.weibo import errors
from channels.weibo.errors import AuthorisationGone, parse_code, to_error
from tests.support.weibo import Rig, message, start_rig

# Written out from weibo.md (A1 OAuth2 list and the A3 table), not from channels/weibo/errors.py,
# so a code dropped from the table fails here. (code, expected outcome, window or None)
WEIBO_MD_CODES: list[tuple[int, type[ChannelError] | str, float | None]] = [
    (10001, TransientChannelError, None), (10002, TransientChannelError, None),
    (10003, TransientChannelError, None), (10004, ConfigurationError, None),
    (10006, ConfigurationError, None), (10008, PermanentChannelError, None),
    (10009, TransientChannelError, None), (10011, TransientChannelError, None),
    (10013, ConfigurationError, None), (10014, ConfigurationError, None),
    (10016, ConfigurationError, None), (10017, ConfigurationError, None),
    (10018, ContentRejected, None), (10020, ConfigurationError, None),
    (10021, ConfigurationError, None), (10022, RateLimited, 3600.0),
    (10023, RateLimited, 3600.0), (10024, RateLimited, 3600.0),
    (20003, ConfigurationError, None), (20005, ContentRejected, None),
    (20006, ContentRejected, None), (20007, ContentRejected, None),
    (20008, ContentRejected, None), (20012, ContentRejected, None),
    (20015, ConfigurationError, None), (20016, RateLimited, 600.0),
    (20017, "duplicate", None), (20018, ContentRejected, None),
    (20019, "duplicate", None), (20020, ContentRejected, None),
    (20021, ContentRejected, None), (20022, RateLimited, 14400.0),
    (20031, ConfigurationError, None), (20032, "success", None),
    (20034, ConfigurationError, None), (20101, PermanentChannelError, None),
    (20102, PermanentChannelError, None), (20111, "duplicate", None),
    (21301, AuthorisationGone, None), (21314, AuthorisationGone, None),
    (21315, AuthorisationGone, None), (21316, AuthorisationGone, None),
    (21317, AuthorisationGone, None), (21319, AuthorisationGone, None),
    (21321, ConfigurationError, None), (21322, ConfigurationError, None),
    (21323, ConfigurationError, None), (21324, ConfigurationError, None),
    (21325, ConfigurationError, None), (21326, ConfigurationError, None),
    (21327, AuthorisationGone, None), (21328, ConfigurationError, None),
    (21329, ConfigurationError, None), (21330, ConfigurationError, None),
    (21331, TransientChannelError, None), (21332, AuthorisationGone, None),
    (21335, ConfigurationError, None), (21337, ConfigurationError, None),
]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from start_rig(tmp_path)


def test_table_covers_exactly_the_codes_of_weibo_md() -> None:
    """The error table has one row per weibo.md code, no more and no fewer."""
    assert sorted(errors.TABLE) == sorted(code for code, _, _ in WEIBO_MD_CODES)
    assert len(errors.RULES) == len(errors.TABLE)


@pytest.mark.parametrize(("code", "expected", "window"), WEIBO_MD_CODES,
                         ids=[str(c) for c, _, _ in WEIBO_MD_CODES])
def test_code_through_the_emulator(rig: Rig, code: int, expected: type[ChannelError] | str,
                                   window: float | None) -> None:
    """Each code, answered by the emulator to share.json, becomes its class with both texts; a
    duplicate-content code with no post of this delivery on the timeline is a refusal."""
    channel = rig.channel()
    payload = channel.prepare(message(f"第{code}号测试"))
    rig.emulator.fail_next(f"{code}@/2/statuses/share.json")
    if expected == "success":
        receipt = channel.send(payload, "k")
        assert receipt.remote_id == "" and receipt.details["code"] == 20032
        return
    with pytest.raises(ChannelError) as caught:
        channel.send(payload, "k")
    error = caught.value
    rule = errors.TABLE[code]
    if expected == "duplicate":
        assert type(error) is ContentRejected and not isinstance(error, AlreadyPublished)
        assert rule.explanation_zh in error.explanation_zh and "本条未发布" in error.explanation_zh
        assert "NOT published" in error.explanation_en
    else:
        assert isinstance(expected, type) and type(error) is expected
        assert getattr(error, "retry_after", None) == window
        assert error.explanation_zh == rule.explanation_zh and error.explanation_en
    assert error.code == str(code)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in rule.explanation_zh)


@pytest.mark.parametrize("code", [21314, 21315, 21316, 21317, 21319, 21327, 21332])
def test_authorisation_gone_is_not_retried(rig: Rig, code: int) -> None:
    """Authorisation-gone codes fail at once with "re-authorise this account", never retried."""
    channel = rig.channel()
    rig.emulator.fail_next(str(code))
    with pytest.raises(AuthorisationGone) as caught:
        channel.send(channel.prepare(message()), "k")
    assert not caught.value.retryable
    assert isinstance(caught.value, PermanentChannelError)
    assert "re-authorise this account" in caught.value.explanation_en
    assert "重新授权此账号" in caught.value.explanation_zh


def test_error_code_sent_as_text_is_understood(rig: Rig) -> None:
    """An ``error_code`` that arrives as the string "20016" is the rate limit it names."""
    channel = rig.channel()
    rig.emulator.fail_next('"20016"')
    with pytest.raises(RateLimited) as caught:
        channel.send(channel.prepare(message()), "k")
    assert caught.value.code == "20016"


@pytest.mark.parametrize(("raw", "parsed"), [
    (20019, 20019), ("20019", 20019), (" 10006 ", 10006), ("", None), (None, None),
    (True, None), ("abc", None),
])
def test_parse_code(raw: object, parsed: int | None) -> None:
    """``error_code`` is read from a number or a digit string; anything else is no code."""
    assert parse_code(raw) == parsed


def test_unknown_codes_are_permanent_and_server_errors_transient() -> None:
    """A code outside the table stops for a person; a bare 5xx without a code is retried."""
    unknown = to_error(29999, "odd", http_status=400, operation="posting")
    assert type(unknown) is PermanentChannelError and unknown.code == "29999"
    assert type(to_error(None, "", http_status=502, operation="posting")) is \
        TransientChannelError


def test_bare_http_error_without_body(rig: Rig) -> None:
    """A bare 403 with no Weibo body (seen live in 2020) is a permanent error naming the status."""
    channel = rig.channel()
    rig.emulator.fail_next("http:403")
    with pytest.raises(PermanentChannelError) as caught:
        channel.send(channel.prepare(message()), "k")
    assert caught.value.code == "http_403"
