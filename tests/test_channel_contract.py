"""The channel contract, held for every kind on its emulator (and WordPress on the real one).

Each kind is built the way ``--sandbox`` builds it (``start_sandbox``), and the suite proves:
send; the same key twice makes one remote item (counted at the emulator); find after send;
an over-limit field is ContentRejected naming the field; wrong credentials are AuthExpired
or a configuration error, never content; follow-up and retract work or raise NotSupported;
check() is clean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image
from pydantic import SecretStr

from channels import registry
from channels.base import (
    AuthExpired,
    Channel,
    ChannelContext,
    ChannelError,
    ConfigurationError,
    ContentRejected,
    Message,
    NotSupported,
    Receipt,
)
from channels.memory.adapter import MemoryStore
from publisher.clock import ManualClock

SHANGHAI = timezone(timedelta(hours=8))
START = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)
KEY = "0123456789abcdef0123456789abcdef"
KINDS = ("memory", "portal", "wechat", "weibo", "webhook", "wordpress", "gazette")


@dataclass
class Harness:
    """One kind ready for the contract: how to build its channel (``settings`` changes, e.g.
    a wrong password), count what its remote holds, and which field an over-long title
    breaks."""

    kind: str
    build: Callable[..., Channel[Any]]
    count: Callable[[], int]
    title_field: str = "title"
    has_credentials: bool = True
    # the in-memory kind records every send, repeats included, so the core's tests can see a
    # double send: it is the one kind that does not fold a repeated key into one item
    dedupes: bool = True

    @property
    def channel(self) -> Channel[Any]:
        return self.build()


def _context(tmp_path: Path, clock: ManualClock) -> ChannelContext:
    return ChannelContext(clock=clock.now, sleep=clock.sleep, session=requests.Session(),
                          work_dir=tmp_path, zone=SHANGHAI)


def _message(serial: int = 49, **overrides: Any) -> Message:
    values: dict[str, Any] = {
        "release_key": f"food-safety-sampling@2026-W{serial:02d}",
        "definition_id": "food-safety-sampling",
        "title": f"2026年第{serial}周食品安全监督抽检信息",
        "body": "<p>本周共抽检食品 <strong>120</strong> 批次，不合格 2 批次。</p>",
        "body_format": "html",
        "metadata": {"issuing_organ": "某市市场监督管理局", "subject_category": "卫生、体育\\食品安全",
                     "index_number": f"MB0000123/2026-{serial:05d}",
                     "published_date": "2026-12-02", "signed_date": "2026-12-01",
                     "column": "food-safety", "column_name": "食品安全抽检",
                     "slug": f"food-safety-sampling-2026-w{serial:02d}"},
        "published_at": START,
    }
    values.update(overrides)
    return Message(**values)


def _for(channel: Channel[Any], message: Message) -> Message:
    """The message in the body format the kind's templates make."""
    if channel.body_format == "text":
        return replace(message, body="本周共抽检食品 120 批次，不合格 2 批次。", body_format="text")
    return message


def _sandboxed(kind: str, settings: dict[str, Any], context: ChannelContext,
               stops: list[Callable[[], None]]) -> tuple[Any, Callable[..., Channel[Any]]]:
    """The kind's settings pointed at its emulator, and a builder taking changed settings."""
    cls = registry.channel_class(kind)
    pointed, stop = cls.start_sandbox(cls.settings_model(**settings))
    stops.append(stop)

    def build(**changes: Any) -> Channel[Any]:
        return cls(f"{kind}-main", pointed.model_copy(update=changes), context)
    return pointed, build


def _harness(kind: str, tmp_path: Path, context: ChannelContext,
             stops: list[Callable[[], None]], request: pytest.FixtureRequest) -> Harness:
    if kind == "memory":
        MemoryStore.reset()
        _p, build = _sandboxed(kind, {}, context, stops)
        return Harness(kind, build, lambda: len(MemoryStore.published("memory-main"))
                       - len(MemoryStore.retracted("memory-main")),
                       has_credentials=False, dedupes=False)
    if kind in ("portal", "gazette"):
        settings: dict[str, Any] = {"site_name": "某市人民政府门户网站", "site_dir": "site",
                                    "base_url": "http://portal.example.gov.cn/"}
        if kind == "gazette":
            settings.update(gazette_name="某市人民政府公报",
                            section_by_release={"food-safety-sampling": "departments"})
        _p, build = _sandboxed(kind, settings, context, stops)
        site = tmp_path / "site"
        count: Callable[[], int] = (
            (lambda: _portal_pages(site)) if kind == "portal" else (lambda: _gazette_items(site)))
        return Harness(kind, build, count, has_credentials=False)
    if kind == "webhook":
        pointed, build = _sandboxed(kind, {"url": "https://duty.example.gov.cn/hooks",
                                           "token": SecretStr("tok-123456")}, context, stops)
        url = pointed.url
        return Harness(kind, build, lambda: len(_accepted(url)))
    if kind == "wechat":
        cover = tmp_path / "cover.jpg"
        Image.new("RGB", (300, 128), (180, 40, 40)).save(cover)
        pointed, build = _sandboxed(kind, {
            "app_id": "wx0000000000000000", "app_secret": SecretStr("s" * 32),
            "portal_base_url": "http://portal.example.gov.cn/", "author": "某市人民政府",
            "cover_image": str(cover), "journal_dir": str(tmp_path / "journal")}, context, stops)
        base = pointed.base_url
        return Harness(kind, build, lambda: int(requests.get(
            f"{base.rstrip('/')}/_sandbox/stats", timeout=5).json()["live"]))
    if kind == "weibo":
        pointed, build = _sandboxed(kind, {
            "link_base_url": "http://portal.example.gov.cn/", "rip": "127.0.0.1",
            "access_token": SecretStr("placeholder")}, context, stops)
        base = pointed.base_url
        return Harness(kind, build, lambda: len([p for p in requests.get(
            f"{base.rstrip('/')}/_sandbox/posts", timeout=5).json()["posts"]
            if not p.get("deleted")]), title_field="status")
    assert kind == "wordpress"
    return _wordpress(context, stops, real=False, request=request)


def _accepted(url: str) -> list[Any]:
    posts = requests.get(f"{url.rstrip('/')}/_posts", timeout=5).json()["posts"]
    return list({p["key"] for p in posts})


def _portal_pages(site: Path) -> int:
    """Pages the portal shows as published (a withdrawn one shows its notice instead)."""
    from channels.portal.manifest import load_manifest

    manifest = load_manifest(site, "http://portal.example.gov.cn/")
    return sum(1 for item in manifest.items.values() if item.live)


def _gazette_items(site: Path) -> int:
    """Items queued for the next issue, plus those published in issues."""
    from channels.gazette.state import load_state

    state = load_state(site)
    return len(state.queue) + sum(len(issue.items) for issue in state.issues)


def _wordpress(context: ChannelContext, stops: list[Callable[[], None]], *, real: bool,
               request: pytest.FixtureRequest) -> Harness:
    from channels.wordpress.adapter import ALL_STATUSES, WordPressChannel, WordPressSettings

    if real:
        site = request.getfixturevalue("real_wordpress")
        settings = WordPressSettings(base_url=site.url, username=site.username,
                                     application_password=SecretStr(site.application_password),
                                     settle_seconds=0)
    else:
        made, stop = WordPressChannel.start_sandbox(WordPressSettings(
            base_url="https://www.example.gov.cn/", username="publisher-bot",
            application_password=SecretStr("abcd efgh ijkl mnop"), settle_seconds=0))
        stops.append(stop)
        assert isinstance(made, WordPressSettings)
        settings = made

    def build(**changes: Any) -> Channel[Any]:
        return WordPressChannel("wordpress-main", settings.model_copy(update=changes), context)

    auth = (settings.username, settings.application_password.get_secret_value())

    def count() -> int:
        reply = requests.get(f"{settings.base_url}wp-json/wp/v2/posts", auth=auth, timeout=30,
                             params={"status": ALL_STATUSES.replace(",trash", ""),
                                     "context": "edit", "per_page": "100"})
        return sum(KEY in p["content"]["raw"] for p in reply.json())

    if real:  # the site lives for the whole run: each test starts with no post of KEY
        listed = requests.get(f"{settings.base_url}wp-json/wp/v2/posts", auth=auth, timeout=30,
                              params={"status": ALL_STATUSES, "context": "edit",
                                      "per_page": "100", "search": KEY}).json()
        for post in listed:
            requests.delete(f"{settings.base_url}wp-json/wp/v2/posts/{post['id']}", auth=auth,
                            params={"force": "true"}, timeout=30).raise_for_status()
    return Harness("wordpress", build, count)


@pytest.fixture(params=[*KINDS, pytest.param("wordpress-real",
                                             marks=[pytest.mark.slow, pytest.mark.wordpress])])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    """Each kind on its emulator; ``wordpress-real``: Debian's WordPress (tests/conftest.py)."""
    clock = ManualClock(START)
    context = _context(tmp_path, clock)
    stops: list[Callable[[], None]] = []
    try:
        if request.param == "wordpress-real":
            yield _wordpress(context, stops, real=True, request=request)
        else:
            yield _harness(request.param, tmp_path, context, stops, request)
    finally:
        for stop in stops:
            stop()
        context.session.close()


def _send(harness: Harness, serial: int = 49) -> tuple[Channel[Any], Receipt, Any]:
    channel = harness.channel
    payload = channel.prepare(_for(channel, _message(serial)))
    receipt = channel.send(payload, KEY)
    return channel, channel.status(receipt), payload


def test_send_once_per_key(harness: Harness) -> None:
    """A send lands one remote item with a receipt; the same key sent again makes none more."""
    before = harness.count()
    channel, receipt, payload = _send(harness)
    assert receipt.remote_id
    assert harness.count() == before + 1
    try:
        channel.send(payload, KEY)
    except ChannelError as exc:  # a kind may refuse the repeat outright; it must not post
        assert not isinstance(exc, ContentRejected), exc
    assert harness.count() == before + (1 if harness.dedupes else 2)


def test_find_after_send(harness: Harness) -> None:
    """find returns the item a send made (or NotSupported where the remote has no lookup)."""
    channel, receipt, payload = _send(harness)
    try:
        found = channel.find(KEY, payload)
    except NotSupported:
        return
    assert found is not None and found.remote_id == receipt.remote_id


def test_over_limit_title_names_the_field(harness: Harness) -> None:
    """A title over the kind's limit is ContentRejected naming the field."""
    channel = harness.channel
    limit = channel.limits.title_max_chars or getattr(channel.settings, "limit", None) or 200
    long_title = "标" * (int(limit) * 3 + 10)
    message = _for(channel, _message(title=long_title))
    if channel.body_format == "text":  # a text kind's text is its title and body together
        message = replace(message, body=long_title)
    with pytest.raises(ContentRejected) as info:
        channel.prepare(message)
    assert harness.title_field in info.value.field or "title" in info.value.field


def test_wrong_credentials_are_never_content(harness: Harness) -> None:
    """Wrong credentials end as AuthExpired or a configuration error, never as content; and
    nothing lands."""
    if not harness.has_credentials:
        pytest.skip(f"{harness.kind} has no credentials (a local or in-memory channel)")
    wrong = {"wordpress": {"application_password": SecretStr("wxyz wxyz wxyz wxyz")},
             "webhook": {"token": SecretStr("wrong-token")},
             "wechat": {"app_secret": SecretStr("w" * 32)},
             "weibo": {"access_token": SecretStr("2.00wrongtoken")}}[harness.kind]
    channel = harness.build(**wrong)
    before = harness.count()
    with pytest.raises((AuthExpired, ConfigurationError)) as info:
        channel.send(channel.prepare(_for(channel, _message())), KEY)
    assert not isinstance(info.value, ContentRejected)
    assert harness.count() == before


def test_follow_up_and_retract_work_or_say_not_supported(harness: Harness) -> None:
    """follow_up and retract either work or raise NotSupported; a retracted item is gone."""
    channel, receipt, _payload = _send(harness)
    try:
        follow = channel.follow_up(receipt, channel.prepare_follow_up(
            _for(channel, _message(50))))
        assert follow.remote_id
    except NotSupported:
        pass
    before = harness.count()
    try:
        channel.retract(receipt)
    except NotSupported:
        return
    assert harness.count() == before - 1


def test_check_is_clean(harness: Harness) -> None:
    """check() finds nothing wrong with a channel on its emulator."""
    assert harness.channel.check() == []
