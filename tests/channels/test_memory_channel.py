"""Tests of the in-memory channel kind: scripted outcomes, counting, lookups and limits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from channels.base import (
    AlreadyPublished,
    AuthExpired,
    ChannelContext,
    ChannelError,
    ConfigurationError,
    ContentRejected,
    Message,
    OutcomeUnknown,
    PermanentChannelError,
    RateLimited,
    Receipt,
    TransientChannelError,
)
from channels.memory.adapter import MemoryChannel, MemorySettings, MemoryStore
from channels.registry import channel_class

NAME = "memory-main"


@pytest.fixture(autouse=True)
def fresh_store() -> Iterator[None]:
    MemoryStore.reset()
    yield
    MemoryStore.reset()


@pytest.fixture
def make_channel(context: ChannelContext) -> Callable[..., MemoryChannel]:
    def make(**settings: Any) -> MemoryChannel:
        return MemoryChannel(NAME, MemorySettings(**settings), context)

    return make


def text_message(title: str = "空气质量预报", key: str = "air@2026-12-02") -> Message:
    return Message(release_key=key, definition_id="air", title=title, body="明天良。",
                   body_format="text")


def test_memory_kind_is_registered_with_text_templates() -> None:
    """The registry maps ``memory`` to MemoryChannel, which renders txt templates as text."""
    cls = channel_class("memory")
    assert cls is MemoryChannel
    assert (cls.body_format, cls.template_ext) == ("text", "txt")


def test_token_is_a_secret_field() -> None:
    """The token setting is declared secret and never shows in the settings' repr."""
    assert MemorySettings.secret_fields() == ["token"]
    settings = MemorySettings(token=SecretStr("s3cr3t"))
    assert "s3cr3t" not in repr(settings)


def test_unknown_scripted_outcomes_are_refused() -> None:
    """A fail_script entry that names no known outcome fails validation."""
    with pytest.raises(ValidationError):
        MemorySettings(fail_script=["explode"])
    with pytest.raises(ValueError, match="unknown scripted outcome"):
        MemoryStore.script(NAME, ["ok", "crash"])


def test_every_send_is_recorded_so_duplicates_are_countable(
    make_channel: Callable[..., MemoryChannel],
) -> None:
    """Two sends under one key are both recorded; find returns the first receipt."""
    channel = make_channel()
    payload = channel.prepare(text_message())
    first = channel.send(payload, "k1")
    second = channel.send(payload, "k1")
    assert first.remote_id != second.remote_id
    published = MemoryStore.published(NAME)
    assert [row["key"] for row in published] == ["k1", "k1"]
    assert published[0]["title"] == "空气质量预报"
    assert channel.find("k1", payload) == first
    assert channel.find("k2", payload) is None
    assert MemoryStore.published("another-channel") == []


@pytest.mark.parametrize(
    ("outcome", "kind", "code", "retry_after"),
    [
        ("transient", TransientChannelError, "transient", None),
        ("transient:2.5", TransientChannelError, "transient", 2.5),
        ("rate_limited:30", RateLimited, "rate_limited", 30.0),
        ("auth_expired", AuthExpired, "auth_expired", None),
        ("permanent", PermanentChannelError, "permanent", None),
        ("content_rejected", ContentRejected, "content_rejected", None),
        ("configuration", ConfigurationError, "configuration", None),
        ("outcome_unknown", OutcomeUnknown, "outcome_unknown", None),
        ("timeout", OutcomeUnknown, "timeout", None),
    ],
)
def test_scripted_outcomes_raise_their_error_with_all_fields(
    make_channel: Callable[..., MemoryChannel],
    outcome: str,
    kind: type[ChannelError],
    code: str,
    retry_after: float | None,
) -> None:
    """Each scripted outcome raises its error class carrying code, remote message and zh/en."""
    channel = make_channel(fail_script=[outcome])
    payload = channel.prepare(text_message())
    with pytest.raises(kind) as caught:
        channel.send(payload, "k1")
    error = caught.value
    assert type(error) is kind
    assert error.code == code
    assert error.remote_message == f"memory: {code}"
    assert error.explanation_zh and error.explanation_en
    assert error.explanation_zh != error.explanation_en
    assert getattr(error, "retry_after", None) == retry_after
    if isinstance(error, ContentRejected):
        assert (error.field, error.limit) == ("body", "scripted")
    assert channel.send(payload, "k2").remote_id  # the script is used up: next send is ok


def test_outcome_unknown_lands_but_timeout_does_not(
    make_channel: Callable[..., MemoryChannel],
) -> None:
    """outcome_unknown records the item (find sees it); timeout records nothing."""
    channel = make_channel(fail_script=["outcome_unknown", "timeout"])
    payload = channel.prepare(text_message())
    with pytest.raises(OutcomeUnknown):
        channel.send(payload, "landed")
    with pytest.raises(OutcomeUnknown):
        channel.send(payload, "lost")
    assert channel.find("landed", payload) is not None
    assert channel.find("lost", payload) is None
    assert len(MemoryStore.published(NAME)) == 1


def test_already_published_returns_the_earlier_receipt_without_a_second_copy(
    make_channel: Callable[..., MemoryChannel],
) -> None:
    """Scripted already_published dedupes by key and carries the earlier receipt."""
    channel = make_channel()
    payload = channel.prepare(text_message())
    earlier = channel.send(payload, "k1")
    MemoryStore.script(NAME, ["already_published"])
    with pytest.raises(AlreadyPublished) as caught:
        channel.send(payload, "k1")
    assert caught.value.receipt == earlier
    assert caught.value.code == "already_published"
    assert len(MemoryStore.published(NAME)) == 1


def test_already_published_for_an_unseen_key_reports_what_landed(
    make_channel: Callable[..., MemoryChannel],
) -> None:
    """With no earlier copy, already_published stands for a lost answer: one copy, its receipt."""
    channel = make_channel(fail_script=["already_published"])
    payload = channel.prepare(text_message())
    with pytest.raises(AlreadyPublished) as caught:
        channel.send(payload, "k1")
    assert channel.find("k1", payload) == caught.value.receipt
    assert len(MemoryStore.published(NAME)) == 1


def test_fail_script_is_shared_by_instances_and_extended_at_run_time(
    make_channel: Callable[..., MemoryChannel],
) -> None:
    """The configured script is queued once per process; script() appends more outcomes."""
    first = make_channel(fail_script=["transient"])
    second = make_channel(fail_script=["transient"])  # same channel built again: not re-queued
    payload = first.prepare(text_message())
    with pytest.raises(TransientChannelError):
        second.send(payload, "k1")
    first.send(payload, "k1")
    MemoryStore.script(NAME, ["permanent"])
    with pytest.raises(PermanentChannelError):
        second.send(payload, "k1")
    assert len(MemoryStore.published(NAME)) == 1


def test_prepare_enforces_the_title_limit(make_channel: Callable[..., MemoryChannel]) -> None:
    """A title over max_title_chars, or an empty one, is rejected naming the title."""
    channel = make_channel(max_title_chars=5)
    assert channel.prepare(text_message("五个字标题")).data["title"] == "五个字标题"
    with pytest.raises(ContentRejected) as caught:
        channel.prepare(text_message("六个字的标题"))
    assert (caught.value.field, caught.value.limit) == ("title", "<= 5 characters")
    with pytest.raises(ContentRejected) as caught:
        channel.prepare(text_message(""))
    assert caught.value.field == "title"


def test_retract_and_follow_up_are_recorded(
    make_channel: Callable[..., MemoryChannel], context: ChannelContext
) -> None:
    """Retract and follow-up are noted per channel; an unknown id is a permanent error."""
    channel = make_channel()
    payload = channel.prepare(text_message())
    receipt = channel.send(payload, "k1")
    assert isinstance(receipt.published_at, datetime)
    assert receipt.published_at == context.clock()
    assert channel.follow_up(receipt, payload) == receipt
    channel.retract(receipt)
    assert MemoryStore.retracted(NAME) == [receipt.remote_id]
    assert [f["remote_id"] for f in MemoryStore.follow_ups(NAME)] == [receipt.remote_id]
    with pytest.raises(PermanentChannelError) as caught:
        channel.retract(Receipt(remote_id="nope"))
    assert caught.value.code == "not_found"


def test_published_rows_are_copies(make_channel: Callable[..., MemoryChannel]) -> None:
    """Editing what published() returns does not change the store."""
    channel = make_channel()
    channel.send(channel.prepare(text_message()), "k1")
    MemoryStore.published(NAME)[0]["title"] = "changed"
    assert MemoryStore.published(NAME)[0]["title"] == "空气质量预报"
