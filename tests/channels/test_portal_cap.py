"""Tests of CAP 1.2 documents on the portal: cap/<identifier>.xml files and the cap/feed.atom feed."""

from __future__ import annotations

import errno
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

import pytest
import requests

from channels.base import Message, Payload, PermanentChannelError, Receipt, TransientChannelError
from channels.portal.adapter import PortalChannel
from channels.portal.manifest import load_manifest, save_manifest
from channels.portal.sandbox import serve
from channels.portal.site import rebuild_indexes
from publisher.cap import (
    CapAlert,
    CapArea,
    CapInfo,
    cap_time,
    media_type,
    reference_of,
    to_xml,
    validate,
)
from publisher.cap.model import MsgType

MessageFactory = Callable[..., Message]
A = "{http://www.w3.org/2005/Atom}"
BASE = "http://portal.example.gov.cn/"
PAGE = "food-safety/food-safety-sampling-2026-w49.html"
SHANGHAI = timezone(timedelta(hours=8))
SENDER = "www.example.gov.cn"
FIRST, UPDATE, CANCEL = (
    "www.example.gov.cn.urgent-2026-0001",
    "www.example.gov.cn.urgent-2026-0001.u1",
    "www.example.gov.cn.urgent-2026-0001.c1",
)


class Clock(Protocol):
    def advance(self, **delta: float) -> datetime: ...


def _alert(identifier: str, sent: datetime, msg_type: MsgType, headline: str,
           references: tuple[CapAlert, ...] = ()) -> CapAlert:
    info = CapInfo(event="桥梁垮塌", urgency="Immediate", severity="Severe", certainty="Observed",
                   sender_name="某市人民政府新闻办公室", headline=headline,
                   description="今日9时40分，某高架桥一段桥面垮塌。",
                   areas=[CapArea(area_desc="某区某高架桥")])
    return CapAlert(identifier=identifier, sender=SENDER, sent=sent, status="Exercise",
                    msg_type=msg_type,
                    references=[reference_of(r) for r in references], infos=[info])


def _incident() -> tuple[CapAlert, CapAlert, CapAlert]:
    first = _alert(FIRST, datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI), "Alert", "某高架桥发生垮塌")
    update = _alert(UPDATE, datetime(2026, 12, 2, 10, 30, tzinfo=SHANGHAI), "Update",
                    "某高架桥垮塌：2人受伤送医", (first,))
    cancel = _alert(CANCEL, datetime(2026, 12, 2, 3, 0, tzinfo=UTC), "Cancel",
                    "撤销：某高架桥垮塌信息有误", (first, update))  # 11:00 in Shanghai
    return first, update, cancel


def with_cap(payload: Payload, alert: CapAlert, **overrides: Any) -> Payload:
    """The payload as the core hands it over: the validated CAP document under data["cap"]."""
    xml = to_xml(alert)
    validate(xml)
    cap = {"identifier": alert.identifier, "xml": xml, "msg_type": alert.msg_type,
           "sent": cap_time(alert.sent), "headline": alert.infos[0].headline}
    cap.update(overrides)
    return Payload(kind=payload.kind, data={**payload.data, "cap": cap})


def key_of(message: Message) -> str:
    return f"{message.release_key}#portal-main"


def feed_entries(portal: PortalChannel) -> list[ET.Element]:
    root = ET.parse(portal.site_dir / "cap" / "feed.atom").getroot()  # noqa: S314 - our own file
    assert root.tag == f"{A}feed"
    return root.findall(f"{A}entry")


def links(entry: ET.Element) -> dict[str, tuple[str | None, str | None]]:
    return {str(link.get("rel")): (link.get("type"), link.get("href"))
            for link in entry.findall(f"{A}link")}


def read(portal: PortalChannel, path: str) -> str:
    return (portal.site_dir / path).read_text(encoding="utf-8")


def run_incident(portal: PortalChannel, make_message: MessageFactory, clock: Clock) -> Receipt:
    first, update, cancel = _incident()
    message = make_message()
    receipt = portal.send(with_cap(portal.prepare(message), first), key_of(message))
    clock.advance(minutes=30)
    follow = portal.prepare(make_message(title="续报", body="<p>2人受伤送医。</p>"))
    portal.follow_up(receipt, with_cap(follow, update))
    clock.advance(minutes=30)
    notice = portal.prepare(make_message(title="撤回说明", body="<p>经核实，该信息有误，现予撤回。</p>"))
    portal.retract(receipt, with_cap(notice, cancel))
    return receipt


def test_send_with_cap_writes_the_document_and_a_feed_entry(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """Send writes cap/<identifier>.xml byte for byte and an Atom entry linking it and the page."""
    first = _incident()[0]
    message = make_message()
    portal.send(with_cap(portal.prepare(message), first), key_of(message))
    written = (portal.site_dir / "cap" / f"{FIRST}.xml").read_text(encoding="utf-8")
    assert written == to_xml(first)
    validate(written)
    root = ET.parse(portal.site_dir / "cap" / "feed.atom").getroot()  # noqa: S314 - our own file
    assert root.findtext(f"{A}updated") == "2026-12-02T10:00:00+08:00"
    assert links(root)["self"] == ("application/atom+xml", BASE + "cap/feed.atom")
    (entry,) = feed_entries(portal)
    assert (entry.findtext(f"{A}id") or "").startswith("urn:uuid:")
    assert entry.findtext(f"{A}title") == "某高架桥发生垮塌"
    assert entry.findtext(f"{A}updated") == "2026-12-02T10:00:00+08:00"
    assert entry.findtext(f"{A}author/{A}name") == "某市市场监督管理局"
    assert "某高架桥发生垮塌" in (entry.findtext(f"{A}summary") or "")
    assert links(entry) == {
        "alternate": (media_type, f"{BASE}cap/{FIRST}.xml"),
        "related": ("text/html", BASE + PAGE),
    }


def test_update_and_cancel_add_entries_newest_first(
    portal: PortalChannel, make_message: MessageFactory, clock: Clock
) -> None:
    """A follow-up with an Update and a retract with a Cancel add a second and a third entry."""
    run_incident(portal, make_message, clock)
    entries = feed_entries(portal)
    assert [e.findtext(f"{A}title") for e in entries] == [
        "撤销：某高架桥垮塌信息有误", "某高架桥垮塌：2人受伤送医", "某高架桥发生垮塌"]
    terms = [c.get("term") for e in entries for c in e.findall(f"{A}category")]
    assert terms == ["Cancel", "Update", "Alert"]
    assert entries[0].findtext(f"{A}updated") == "2026-12-02T03:00:00+00:00"
    assert sorted(p.name for p in (portal.site_dir / "cap").iterdir()) == sorted(
        [f"{FIRST}.xml", f"{UPDATE}.xml", f"{CANCEL}.xml", "feed.atom"])
    assert len({e.findtext(f"{A}id") for e in entries}) == 3


def test_the_withdrawal_page_shows_the_notice_text(
    portal: PortalChannel, make_message: MessageFactory, clock: Clock
) -> None:
    """The retract payload's rendered notice appears on the 已撤回 page under the standard text."""
    run_incident(portal, make_message, clock)
    page = read(portal, PAGE)
    assert "已撤回" in page and "MB0000123/2026-00049" in page
    assert '<div class="notice-body"><p>经核实，该信息有误，现予撤回。</p></div>' in page
    assert "2人受伤送医" not in page


def test_resending_the_same_payloads_does_not_duplicate(
    portal: PortalChannel, make_message: MessageFactory, clock: Clock
) -> None:
    """Send, follow_up and retract retried with the same CAP documents leave one file and entry each."""
    first, update, cancel = _incident()
    message = make_message()
    payload = with_cap(portal.prepare(message), first)
    receipt = portal.send(payload, key_of(message))
    portal.send(payload, key_of(message))
    follow = with_cap(portal.prepare(make_message(title="续报", body="<p>续报。</p>")), update)
    portal.follow_up(receipt, follow)
    clock.advance(minutes=5)
    portal.follow_up(receipt, follow)
    notice = with_cap(portal.prepare(make_message(title="撤回", body="<p>撤回。</p>")), cancel)
    portal.retract(receipt, notice)
    feed_before = read(portal, "cap/feed.atom")
    portal.retract(receipt, notice)
    assert read(portal, "cap/feed.atom") == feed_before
    assert len(feed_entries(portal)) == 3
    assert len(list((portal.site_dir / "cap").glob("*.xml"))) == 3
    caps = json.loads((portal.site_dir / "_manifest.json").read_bytes())["caps"]
    assert sorted(caps) == sorted([FIRST, UPDATE, CANCEL])
    assert {c["slug"] for c in caps.values()} == {"food-safety-sampling-2026-w49"}


def test_a_payload_without_cap_writes_no_cap_folder(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """Without a cap part the site has no cap folder, no caps in the manifest, no CAP feed link."""
    message = make_message()
    receipt = portal.send(portal.prepare(message), key_of(message))
    portal.follow_up(receipt, portal.prepare(make_message(title="更新", body="<p>甲</p>")))
    portal.retract(receipt, portal.prepare(make_message(title="撤回", body="<p>乙</p>")))
    assert not (portal.site_dir / "cap").exists()
    assert "caps" not in json.loads((portal.site_dir / "_manifest.json").read_bytes())
    assert "cap/feed.atom" not in read(portal, "index.html")
    assert "cap/feed.atom" not in read(portal, "food-safety/index.html")


def test_home_and_column_pages_link_the_cap_feed(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """Once a CAP document exists, home and column heads announce the CAP Atom feed."""
    message = make_message()
    portal.send(with_cap(portal.prepare(message), _incident()[0]), key_of(message))
    link = '<link rel="alternate" type="application/atom+xml" title="应急预警 CAP" href="{}cap/feed.atom">'
    assert link.format("") in read(portal, "index.html")
    assert link.format("../") in read(portal, "food-safety/index.html")


def test_an_identifier_of_another_page_is_refused_and_nothing_is_written(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """A CAP identifier already published with another page is a conflict, not an overwrite."""
    first = _incident()[0]
    message = make_message(49)
    portal.send(with_cap(portal.prepare(message), first), key_of(message))
    other = make_message(50)
    with pytest.raises(PermanentChannelError) as caught:
        portal.send(with_cap(portal.prepare(other), first), key_of(other))
    assert caught.value.code == "cap_identifier_taken"
    assert not (portal.site_dir / "food-safety" / "food-safety-sampling-2026-w50.html").exists()
    assert len(feed_entries(portal)) == 1


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"identifier": "../escape"}, "identifier"),
        ({"identifier": "a b"}, "identifier"),
        ({"msg_type": "Ack"}, "msg_type"),
        ({"sent": "2026-12-02T10:00:00"}, "offset"),
        ({"sent": "yesterday"}, "ISO"),
        ({"headline": ""}, "non-empty"),
        ({"xml": "<alert>"}, "well-formed"),
        ({"xml": '<feed xmlns="http://www.w3.org/2005/Atom"/>'}, "not a CAP 1.2 alert"),
        ({"identifier": "another-id"}, "identifier/msgType"),
        ({"msg_type": "Update"}, "identifier/msgType"),
    ],
)
def test_a_malformed_cap_part_is_refused_before_writing(
    portal: PortalChannel, make_message: MessageFactory, overrides: dict[str, str], reason: str
) -> None:
    """A cap part that is incomplete, unsafe as a file name or not the document it names is refused."""
    message = make_message()
    payload = with_cap(portal.prepare(message), _incident()[0], **overrides)
    with pytest.raises(PermanentChannelError) as caught:
        portal.send(payload, key_of(message))
    assert caught.value.code == "payload_invalid"
    assert reason in str(caught.value)
    assert not portal.site_dir.exists() or not (portal.site_dir / PAGE).exists()


def test_a_crash_before_the_manifest_commit_is_recovered_by_the_retry(
    portal: PortalChannel, make_message: MessageFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A send that dies after writing the document but before the manifest leaves no entry; its
    retry writes the same file once and lists it once."""
    message = make_message()
    payload = with_cap(portal.prepare(message), _incident()[0])
    def crash(site_dir: Path, manifest: Any) -> None:
        raise OSError(errno.EIO, "simulated crash")

    monkeypatch.setattr("channels.portal.adapter.save_manifest", crash)
    with pytest.raises(TransientChannelError):
        portal.send(payload, key_of(message))
    assert (portal.site_dir / "cap" / f"{FIRST}.xml").exists()
    assert portal.find(key_of(message), payload) is None
    monkeypatch.setattr("channels.portal.adapter.save_manifest", save_manifest)
    portal.send(payload, key_of(message))
    assert len(feed_entries(portal)) == 1
    assert list(load_manifest(portal.site_dir, BASE).caps) == [FIRST]


def test_the_cap_feed_is_rebuilt_identically_from_the_manifest(
    portal: PortalChannel, make_message: MessageFactory, clock: Clock
) -> None:
    """Rebuilding the indexes from the manifest alone reproduces the CAP feed byte for byte."""
    run_incident(portal, make_message, clock)
    before = (portal.site_dir / "cap" / "feed.atom").read_bytes()
    (portal.site_dir / "cap" / "feed.atom").unlink()
    rebuild_indexes(portal.site_dir, portal.info, load_manifest(portal.site_dir, BASE))
    assert (portal.site_dir / "cap" / "feed.atom").read_bytes() == before


def test_the_sandbox_serves_cap_documents_as_application_cap_xml(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """The loopback server gives CAP documents their media type and the feed as Atom."""
    message = make_message()
    portal.send(with_cap(portal.prepare(message), _incident()[0]), key_of(message))
    handle = serve(portal.site_dir, 0)
    try:
        document = requests.get(f"{handle.url}cap/{FIRST}.xml", timeout=10)
        assert document.status_code == 200
        assert document.headers["Content-Type"] == media_type
        assert document.text == to_xml(_incident()[0])
        feed = requests.get(handle.url + "cap/feed.atom", timeout=10)
        assert feed.headers["Content-Type"].startswith("application/atom+xml")
        sitemap = requests.get(handle.url + "sitemap.xml", timeout=10)
        assert sitemap.headers["Content-Type"].startswith("application/xml")
    finally:
        handle.stop()
