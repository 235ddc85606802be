"""Tests of the portal's send, find, retract, follow_up and check on real files."""

from __future__ import annotations

import errno
import json
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pytest

from channels.base import (
    Attachment,
    ChannelContext,
    ChannelError,
    ConfigurationError,
    Message,
    PermanentChannelError,
    Receipt,
    TransientChannelError,
    idempotency_key,
)
from channels.portal.adapter import PortalChannel, PortalSettings
from channels.portal.errors import os_error

MessageFactory = Callable[..., Message]
A = "{http://www.w3.org/2005/Atom}"
PAGE = "food-safety/food-safety-sampling-2026-w49.html"


class Clock(Protocol):
    def advance(self, **delta: float) -> datetime: ...


def key_of(message: Message) -> str:
    return idempotency_key(message.release_key, "portal-main")


def publish(portal: PortalChannel, message: Message) -> Receipt:
    return portal.send(portal.prepare(message), key_of(message))


def manifest(portal: PortalChannel) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((portal.site_dir / "_manifest.json").read_bytes())
    return data


def feed_entries(portal: PortalChannel) -> list[ET.Element]:
    root = ET.parse(portal.site_dir / "feed.atom").getroot()  # noqa: S314 - our own file
    return root.findall(f"{A}entry")


def read(portal: PortalChannel, path: str) -> str:
    return (portal.site_dir / path).read_text(encoding="utf-8")


def test_send_returns_a_receipt_with_the_public_url(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """Send returns the slug as remote id, base_url + path as URL, and the clock's time."""
    receipt = publish(portal, make_message())
    assert receipt.remote_id == "food-safety-sampling-2026-w49"
    assert receipt.url == "http://portal.example.gov.cn/" + PAGE
    assert receipt.published_at is not None
    assert receipt.published_at.isoformat() == "2026-12-02T10:00:00+08:00"
    assert (portal.site_dir / PAGE).is_file()


def test_send_leaves_no_temporary_files(
    portal: PortalChannel, make_message: MessageFactory, tmp_path: Path
) -> None:
    """Every write is a temp file renamed into place, and none is left behind."""
    table = tmp_path / "t.csv"
    table.write_text("a,b\n", encoding="utf-8")
    publish(portal, make_message(48))
    publish(portal, make_message(49, attachments=(Attachment("表.csv", "text/csv", table),)))
    leftovers = [p for p in portal.site_dir.rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []


def test_resending_the_same_key_gives_one_page_and_one_feed_entry(
    portal: PortalChannel, make_message: MessageFactory, clock: Clock
) -> None:
    """The same key sent twice rewrites one page, keeps one feed entry and the first receipt."""
    message = make_message()
    first = publish(portal, message)
    clock.advance(minutes=5)
    second = publish(portal, message)
    assert second == first
    assert list(manifest(portal)["items"]) == ["food-safety-sampling-2026-w49"]
    assert len(feed_entries(portal)) == 1
    assert len(list((portal.site_dir / "food-safety").glob("*.html"))) == 2  # page + index
    assert manifest(portal)["items"]["food-safety-sampling-2026-w49"]["updated"] == (
        "2026-12-02T10:00:00+08:00"
    )  # unchanged content is not an edit


def test_resending_changed_content_bumps_updated_but_not_published(
    portal: PortalChannel, make_message: MessageFactory, clock: Clock
) -> None:
    """A re-send with a corrected body rewrites the page and bumps only the updated time."""
    publish(portal, make_message())
    clock.advance(hours=1)
    publish(portal, make_message(body="<p>更正后的正文。</p>"))
    item = manifest(portal)["items"]["food-safety-sampling-2026-w49"]
    assert (item["published"], item["updated"]) == (
        "2026-12-02T10:00:00+08:00", "2026-12-02T11:00:00+08:00"
    )
    assert "更正后的正文" in read(portal, PAGE)


def test_find_returns_none_before_send_and_the_receipt_after(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """Find reconciles from the manifest: nothing before send, the same receipt after."""
    message = make_message()
    payload = portal.prepare(message)
    assert portal.find(key_of(message), payload) is None
    receipt = portal.send(payload, key_of(message))
    assert portal.find(key_of(message), payload) == receipt
    assert portal.find("another-key", payload) is None


def test_find_ignores_a_page_written_without_its_manifest_entry(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """A page left by a crash before the manifest commit is not counted as published."""
    message = make_message()
    payload = portal.prepare(message)
    (portal.site_dir / "food-safety").mkdir(parents=True)
    (portal.site_dir / PAGE).write_text("half-done", encoding="utf-8")
    assert portal.find(key_of(message), payload) is None
    portal.send(payload, key_of(message))
    assert "half-done" not in read(portal, PAGE)


def test_another_release_cannot_take_a_published_slug(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """A different key aiming at a slug already published is refused, not overwritten."""
    publish(portal, make_message())
    other = make_message(
        release_key="other@2026", metadata={"index_number": "MB0000123/2026-00999"}
    )
    with pytest.raises(PermanentChannelError) as caught:
        publish(portal, other)
    assert caught.value.code == "slug_taken"
    assert "本周共抽检" in read(portal, PAGE)


def test_an_index_number_is_used_once(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """A second release reusing an index number is refused."""
    publish(portal, make_message(49))
    with pytest.raises(PermanentChannelError) as caught:
        publish(portal, make_message(50, metadata={"index_number": "MB0000123/2026-00049"}))
    assert caught.value.code == "index_number_taken"


def test_retract_leaves_a_withdrawal_notice_and_a_withdrawn_feed_entry(
    portal: PortalChannel, make_message: MessageFactory, clock: Clock, tmp_path: Path
) -> None:
    """Retract replaces the page by 已撤回 at the same URL, drops it from indexes and sitemap."""
    table = tmp_path / "t.csv"
    table.write_text("a,b\n", encoding="utf-8")
    message = make_message(attachments=(Attachment("表.csv", "text/csv", table),))
    receipt = publish(portal, message)
    publish(portal, make_message(48))
    clock.advance(hours=2)
    portal.retract(receipt)
    page = read(portal, PAGE)
    assert "已撤回" in page and "本周共抽检" not in page
    assert "MB0000123/2026-00049" in page
    assert not (portal.site_dir / "food-safety" / "food-safety-sampling-2026-w49.files").exists()
    assert not (portal.site_dir / "_source" / "food-safety-sampling-2026-w49.json").exists()
    for index in ("food-safety/index.html", "index.html", "sitemap.xml"):
        assert "w49" not in read(portal, index), index
        assert "w48" in read(portal, index), index
    entry = next(e for e in feed_entries(portal) if "w49" in ET.tostring(e, encoding="unicode"))
    assert (entry.findtext(f"{A}title") or "").startswith("【已撤回】")
    assert entry.findtext(f"{A}updated") == "2026-12-02T12:00:00+08:00"
    assert "撤回" in (entry.findtext(f"{A}summary") or "")
    found = portal.find(key_of(message), portal.prepare(message))
    assert found is not None and found.details["status"] == "withdrawn"


def test_retract_twice_is_harmless_and_resend_after_retract_is_refused(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """A second retract changes nothing; sending the withdrawn delivery again is refused."""
    message = make_message()
    receipt = publish(portal, message)
    portal.retract(receipt)
    before = read(portal, PAGE)
    portal.retract(receipt)
    assert read(portal, PAGE) == before
    with pytest.raises(PermanentChannelError) as caught:
        publish(portal, message)
    assert caught.value.code == "withdrawn"


def test_retract_of_an_unknown_item_is_a_permanent_error(portal: PortalChannel) -> None:
    """Retracting a slug the site never had raises PermanentChannelError not_found."""
    with pytest.raises(PermanentChannelError) as caught:
        portal.retract(Receipt(remote_id="never-published"))
    assert caught.value.code == "not_found"


def test_follow_up_adds_dated_updates_newest_first_and_bumps_the_feed(
    portal: PortalChannel, make_message: MessageFactory, clock: Clock
) -> None:
    """Each follow-up goes on top of the page's 更新 timeline and bumps the entry's updated time."""
    receipt = publish(portal, make_message())
    clock.advance(minutes=30)
    portal.follow_up(receipt, portal.prepare(make_message(title="第一次更新", body="<p>甲</p>")))
    clock.advance(minutes=30)
    update = portal.prepare(make_message(title="第二次更新", body="<p>乙</p>"))
    result = portal.follow_up(receipt, update)
    portal.follow_up(receipt, update)  # a retried follow-up is not added twice
    page = read(portal, PAGE)
    assert "<h2 id=\"updates\">更新</h2>" in page
    assert page.index("2026-12-02 11:00") < page.index("2026-12-02 10:30")
    assert page.index("第二次更新") < page.index("第一次更新") < page.index("本周共抽检")
    assert page.count("第二次更新") == 1
    assert result.remote_id == receipt.remote_id and result.details["updates"] == 2
    (entry,) = feed_entries(portal)
    assert entry.findtext(f"{A}updated") == "2026-12-02T11:00:00+08:00"
    assert entry.findtext(f"{A}published") == "2026-12-02T10:00:00+08:00"


def test_follow_up_on_a_withdrawn_item_is_refused(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """A withdrawn page takes no more updates."""
    receipt = publish(portal, make_message())
    portal.retract(receipt)
    with pytest.raises(PermanentChannelError) as caught:
        portal.follow_up(receipt, portal.prepare(make_message()))
    assert caught.value.code == "withdrawn"


def test_concurrent_sends_lose_no_item(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """Eight threads publishing at once all end up in the manifest, indexes and feed."""
    payloads = [(portal.prepare(make_message(n)), key_of(make_message(n))) for n in range(1, 9)]
    errors: list[BaseException] = []

    def send(index: int) -> None:
        try:
            portal.send(*payloads[index])
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(manifest(portal)["items"]) == 8
    assert len(feed_entries(portal)) == 8
    assert read(portal, "food-safety/index.html").count("<li>") == 8


def test_site_dir_that_is_a_file_is_a_configuration_error(
    make_portal: Callable[..., PortalChannel], make_message: MessageFactory, tmp_path: Path
) -> None:
    """When site_dir is a plain file, send raises ConfigurationError with both explanations."""
    (tmp_path / "site").write_text("not a folder", encoding="utf-8")
    portal = make_portal()
    with pytest.raises(ConfigurationError) as caught:
        publish(portal, make_message())
    assert caught.value.explanation_zh.startswith("网站目录无法写入")
    assert "site_dir" in caught.value.explanation_en
    assert portal.check() != []


@pytest.mark.parametrize(
    ("number", "kind", "retry_after"),
    [
        (errno.ENOSPC, TransientChannelError, 600.0),
        (errno.EDQUOT, TransientChannelError, 600.0),
        (errno.EIO, TransientChannelError, 5.0),
        (errno.EACCES, ConfigurationError, None),
        (errno.EPERM, ConfigurationError, None),
        (errno.EROFS, ConfigurationError, None),
        (errno.ENOENT, PermanentChannelError, None),
    ],
)
def test_os_errors_map_to_the_contract(
    number: int, kind: type[ChannelError], retry_after: float | None
) -> None:
    """Disk full and busy file systems retry; permissions and paths need a person."""
    error = os_error(OSError(number, "boom"), "发布信息", "publishing", Path("/srv/site"))
    assert type(error) is kind
    assert error.code == errno.errorcode[number]
    assert error.remote_message and "boom" in error.remote_message
    assert error.explanation_zh != error.explanation_en
    assert getattr(error, "retry_after", None) == retry_after


def test_check_passes_for_a_writable_site_and_reports_a_bad_base_url(
    portal: PortalChannel, context: ChannelContext
) -> None:
    """Check is empty for a writable folder and names a malformed base_url."""
    assert portal.check() == []
    assert not portal.site_dir.exists()  # probing created nothing
    bad = PortalSettings.model_construct(site_name="站", site_dir="site", base_url="ftp://x")
    problems = PortalChannel("portal-bad", bad, context).check()
    assert len(problems) == 1 and "base_url" in problems[0]
