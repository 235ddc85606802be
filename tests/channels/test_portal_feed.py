"""Tests of the Atom feed (RFC 4287) and the sitemap the portal writes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime

from channels.base import Message, Receipt, idempotency_key
from channels.portal.adapter import PortalChannel

MessageFactory = Callable[..., Message]
A = "{http://www.w3.org/2005/Atom}"
S = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def publish(portal: PortalChannel, message: Message) -> Receipt:
    return portal.send(portal.prepare(message), idempotency_key(message.release_key, portal.name))


def feed(portal: PortalChannel) -> ET.Element:
    return ET.parse(portal.site_dir / "feed.atom").getroot()  # noqa: S314 - our own file


def entries(portal: PortalChannel) -> dict[str, ET.Element]:
    found = {}
    for entry in feed(portal).findall(f"{A}entry"):
        link = entry.find(f"{A}link[@rel='alternate']")
        assert link is not None
        found[link.attrib["href"].rsplit("/", 1)[-1]] = entry
    return found


def text(element: ET.Element, tag: str) -> str:
    found = element.find(f"{A}{tag}")
    assert found is not None and found.text is not None, tag
    return found.text


def is_rfc3339(stamp: str) -> bool:
    moment = datetime.fromisoformat(stamp)
    return "T" in stamp and moment.utcoffset() is not None and stamp[-6] in "+-"


def test_feed_has_exactly_one_id_title_updated_author_and_self_link(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """The feed element carries exactly one id, title and updated, an author and rel=self."""
    publish(portal, make_message(48))
    publish(portal, make_message(49))
    root = feed(portal)
    assert root.tag == f"{A}feed"
    for tag in ("id", "title", "updated"):
        assert len(root.findall(f"{A}{tag}")) == 1, tag
    assert text(root, "title") == "某市人民政府门户网站"
    assert text(root, "id").startswith("urn:uuid:")
    assert is_rfc3339(text(root, "updated"))
    assert root.find(f"{A}author/{A}name") is not None
    links = root.findall(f"{A}link[@rel='self']")
    assert [link.attrib["href"] for link in links] == ["http://portal.example.gov.cn/feed.atom"]


def test_each_entry_has_the_required_elements(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """Every entry has one id, title, updated, published, an alternate link and a summary."""
    publish(portal, make_message(49, metadata={"summary": "本周抽检概况"}))
    entry = entries(portal)["food-safety-sampling-2026-w49.html"]
    for tag in ("id", "title", "updated", "published", "summary"):
        assert len(entry.findall(f"{A}{tag}")) == 1, tag
    assert text(entry, "title").endswith("食品安全监督抽检信息的通告")
    assert text(entry, "summary") == "本周抽检概况"
    assert text(entry, "updated") == text(entry, "published") == "2026-12-02T10:00:00+08:00"
    assert is_rfc3339(text(entry, "updated"))
    link = entry.find(f"{A}link[@rel='alternate']")
    assert link is not None
    assert link.attrib["href"] == (
        "http://portal.example.gov.cn/food-safety/food-safety-sampling-2026-w49.html"
    )


def test_entry_id_survives_resends_and_a_moved_site(
    make_portal: Callable[..., PortalChannel], make_message: MessageFactory
) -> None:
    """Re-sending under a new base URL keeps the entry id and the feed id; only links move."""
    message = make_message()
    first = make_portal()
    publish(first, message)
    feed_id = text(feed(first), "id")
    entry_id = text(entries(first)["food-safety-sampling-2026-w49.html"], "id")
    publish(first, message)
    moved = make_portal(base_url="https://www.example.gov.cn/portal/")
    publish(moved, message)
    after = entries(moved)
    assert len(after) == 1
    entry = after["food-safety-sampling-2026-w49.html"]
    assert text(entry, "id") == entry_id
    assert text(feed(moved), "id") == feed_id
    link = entry.find(f"{A}link[@rel='alternate']")
    assert link is not None and link.attrib["href"].startswith("https://www.example.gov.cn/portal/")


def test_sitemap_lists_every_live_page(
    portal: PortalChannel, make_message: MessageFactory
) -> None:
    """The sitemap parses and has one <url><loc> with lastmod for every HTML page of the site."""
    publish(portal, make_message(48))
    publish(portal, make_message(
        49, metadata={"column": "air-quality", "column_name": "空气质量", "slug": "aq-12-02"}
    ))
    root = ET.parse(portal.site_dir / "sitemap.xml").getroot()  # noqa: S314 - our own file
    assert root.tag == f"{S}urlset"
    urls = root.findall(f"{S}url")
    locs = [u.findtext(f"{S}loc") for u in urls]
    assert all(u.findtext(f"{S}lastmod") for u in urls)
    base = "http://portal.example.gov.cn/"
    site = portal.site_dir
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    expected = sorted(base + p.removesuffix("index.html") for p in pages)
    assert sorted(loc or "" for loc in locs) == expected
    assert len(locs) == 5  # home, two column indexes, two pages
