"""The webhook kind against its loopback sink: keys, duplicates and error classification."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from pydantic import SecretStr

from channels.base import (
    AlreadyPublished,
    AuthExpired,
    ChannelContext,
    ChannelError,
    ConfigurationError,
    ContentRejected,
    Message,
    PermanentChannelError,
    RateLimited,
    TransientChannelError,
    idempotency_key,
)
from channels.webhook.adapter import WebhookChannel, WebhookSettings, shown_url
from channels.webhook.sandbox import Sink, serve


@pytest.fixture
def sink() -> Iterator[Sink]:
    running = serve()
    yield running
    running.stop()


def _channel(url: str, tmp_path: Path) -> WebhookChannel:
    context = ChannelContext(clock=lambda: datetime(2026, 12, 2, tzinfo=UTC), sleep=lambda s: None,
                             session=requests.Session(), work_dir=tmp_path)
    settings = WebhookSettings(url=url, token=SecretStr("tok-123456"), timeout_seconds=5)
    return WebhookChannel("hook", settings, context)


def _message() -> Message:
    return Message(release_key="r@2026-12-02T10:00+08:00", definition_id="r", title="标题",
                   body="正文", body_format="text")


def test_send_then_find(sink: Sink, tmp_path: Path) -> None:
    """A sent payload is found again by its key; an unknown key is not."""
    channel = _channel(sink.url, tmp_path)
    payload = channel.prepare(_message())
    key = idempotency_key("r@2026-12-02T10:00+08:00", "hook")
    receipt = channel.send(payload, key)
    assert channel.find(key, payload) == receipt
    assert channel.find("0" * 32, payload) is None
    assert sink.state.count(key) == 1


def test_resend_is_reported_as_already_published(sink: Sink, tmp_path: Path) -> None:
    """The same key twice: the sink keeps one delivery and the channel reports the first receipt."""
    channel = _channel(sink.url, tmp_path)
    payload = channel.prepare(_message())
    first = channel.send(payload, "k" * 32)
    with pytest.raises(AlreadyPublished) as info:
        channel.send(payload, "k" * 32)
    assert info.value.receipt == first
    assert len(sink.state.accepted) == 1


@pytest.mark.parametrize(("status", "error"), [
    (500, TransientChannelError), (503, TransientChannelError), (408, TransientChannelError),
    (429, RateLimited), (401, AuthExpired), (400, ContentRejected), (413, ContentRejected),
    (403, ConfigurationError), (404, ConfigurationError), (410, PermanentChannelError),
])
def test_status_classification(sink: Sink, tmp_path: Path, status: int,
                               error: type[ChannelError]) -> None:
    """Each HTTP status maps to its error class, carrying the status as the code."""
    channel = _channel(sink.url, tmp_path)
    sink.state.faults.append(status)
    with pytest.raises(error) as info:
        channel.send(channel.prepare(_message()), "f" * 32)
    assert info.value.code == str(status)
    assert type(info.value) is error or issubclass(type(info.value), error)


def test_retry_after_is_read(sink: Sink, tmp_path: Path) -> None:
    """A 429's Retry-After header becomes the error's retry_after."""
    channel = _channel(sink.url, tmp_path)
    sink.state.faults.append(429)
    with pytest.raises(RateLimited) as info:
        channel.send(channel.prepare(_message()), "a" * 32)
    assert info.value.retry_after == 1.0


def test_unreachable_is_transient(tmp_path: Path) -> None:
    """A refused connection is transient (the key makes the resend safe)."""
    running = serve()
    url = running.url
    running.stop()
    channel = _channel(url, tmp_path)
    with pytest.raises(TransientChannelError):
        channel.send(channel.prepare(_message()), "b" * 32)


def test_empty_title_is_rejected(tmp_path: Path) -> None:
    """prepare refuses an empty title naming the field."""
    channel = _channel("http://127.0.0.1:9", tmp_path)
    message = Message(release_key="r", definition_id="r", title=" ", body="x", body_format="text")
    with pytest.raises(ContentRejected) as info:
        channel.prepare(message)
    assert info.value.field == "title"


@pytest.mark.parametrize("status", [503, 429, 401, 400, 403, 410])
def test_errors_name_the_url(sink: Sink, tmp_path: Path, status: int) -> None:
    """Every refusal names the request and the receiving system's URL, in its message and in
    the staff's explanations."""
    channel = _channel(sink.url, tmp_path)
    sink.state.faults.append(status)
    with pytest.raises(ChannelError) as info:
        channel.send(channel.prepare(_message()), "c" * 32)
    where = f"POST {sink.url}/deliveries"
    assert str(info.value).startswith(f"{where}: ")
    assert where in info.value.explanation_zh and where in info.value.explanation_en


def test_errors_redact_credentials_and_query_values(sink: Sink, tmp_path: Path) -> None:
    """A URL with a password and a token in its query is used as configured (the query kept
    after the path) but named with both masked, in the message and the explanations; the
    same when the receiver cannot be reached."""
    host = sink.url.removeprefix("http://")
    url = f"http://duty:hook-pass-7Q@{host}/in/?token=query-secret-9Z&team=a"
    channel = _channel(url, tmp_path)
    sink.state.faults.append(503)
    with pytest.raises(TransientChannelError) as info:
        channel.send(channel.prepare(_message()), "d" * 32)
    shown = f"POST http://duty:***@{host}/in/deliveries?token=***&team=***"
    assert str(info.value).startswith(f"{shown}: server error 503")
    sink.stop()
    fresh = _channel(url, tmp_path)  # no kept-alive connection to the stopped sink
    with pytest.raises(TransientChannelError) as unreachable:
        fresh.send(fresh.prepare(_message()), "e" * 32)
    assert str(unreachable.value) == f"{shown}: unreachable (ConnectionError)"
    for error in (info.value, unreachable.value):
        described = str(error.describe())
        assert "hook-pass-7Q" not in described and "query-secret-9Z" not in described
        assert shown in error.explanation_zh and shown in error.explanation_en


def test_unreadable_url_is_not_shown() -> None:
    """A URL that cannot be parsed is never echoed into an error."""
    assert shown_url("http://[::1/x?token=abc") == "(unreadable url)"
