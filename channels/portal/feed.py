"""The Atom feed (RFC 4287) and the sitemap (sitemaps.org 0.9), serialised with ElementTree."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo

from channels.portal.cap import CAP_FEED_PATH, CAP_MEDIA_TYPE, cap_href
from channels.portal.manifest import (
    ENTRY_NAMESPACE,
    CapEntry,
    Item,
    Manifest,
    local_stamp,
    shown_time,
)

ATOM_NS = "http://www.w3.org/2005/Atom"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
FEED_MAX_ENTRIES = 50
WITHDRAWN_TITLE_PREFIX = "【已撤回】"
CAP_FEED_TITLE = "应急预警 CAP"
CAP_MSG_TYPE_SCHEME = "urn:oasis:names:tc:emergency:cap:1.2#msgType"
CAP_SUMMARY_PREFIX = {"Alert": "预警发布", "Update": "预警更新", "Cancel": "预警撤销"}
EPOCH = "1970-01-01T00:00:00+00:00"


def _child(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _serialise(root: ET.Element) -> bytes:
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"


def _entries(manifest: Manifest) -> list[Item]:
    """The feed's entries: most recently updated first (compared as instants: older manifests
    hold UTC stamps beside local ones), withdrawn ones included."""
    ordered = sorted(manifest.items.values(),
                     key=lambda i: (datetime.fromisoformat(i.updated), i.slug), reverse=True)
    return ordered[:FEED_MAX_ENTRIES]


def _latest(stamps: Iterable[str], zone: tzinfo) -> str:
    """The latest of ``stamps`` (as instants), in ``zone``."""
    return local_stamp(max(stamps, key=datetime.fromisoformat, default=EPOCH), zone)


def build_feed(manifest: Manifest, *, site_name: str, base_url: str, author: str,
               zone: tzinfo = UTC) -> bytes:
    """The site's Atom feed, its times in the readers' ``zone``; entry ids come from the
    manifest and never follow the URLs."""
    entries = _entries(manifest)
    feed = ET.Element("feed", {"xmlns": ATOM_NS, "xml:lang": "zh-CN"})
    _child(feed, "id", manifest.feed_id)
    _child(feed, "title", site_name)
    _child(feed, "updated", _latest((i.updated for i in entries), zone))
    _child(_child(feed, "author"), "name", author)
    _child(feed, "link", rel="self", type="application/atom+xml", href=base_url + "feed.atom")
    _child(feed, "link", rel="alternate", type="text/html", href=base_url)
    for item in entries:
        entry = _child(feed, "entry")
        _child(entry, "id", item.entry_id)
        title = item.title if item.live else WITHDRAWN_TITLE_PREFIX + item.title
        _child(entry, "title", title)
        _child(entry, "updated", local_stamp(item.updated, zone))
        _child(entry, "published", local_stamp(item.published, zone))
        _child(entry, "link", rel="alternate", type="text/html", href=base_url + item.path)
        _child(_child(entry, "author"), "name", item.metadata.get("issuing_organ", author))
        _child(entry, "category", term=item.column, label=item.column_name)
        if item.live:
            summary = item.summary
        else:
            stamp = shown_time(item.withdrawn_at or item.updated, zone)
            summary = f"本信息已于{stamp}撤回。This release was withdrawn on {stamp}."
        _child(entry, "summary", summary, type="text")
    return _serialise(feed)


def cap_feed_id(manifest: Manifest) -> str:
    """The CAP feed's permanent id, derived from the site feed's stored id."""
    return f"urn:uuid:{uuid.uuid5(ENTRY_NAMESPACE, manifest.feed_id + '#cap')}"


def _cap_entries(manifest: Manifest) -> list[CapEntry]:
    """The CAP documents, newest ``sent`` first (compared as instants, whatever their offset)."""
    ordered = sorted(manifest.caps.values(),
                     key=lambda c: (datetime.fromisoformat(c.sent), c.identifier), reverse=True)
    return ordered[:FEED_MAX_ENTRIES]


def build_cap_feed(manifest: Manifest, *, site_name: str, base_url: str, author: str) -> bytes:
    """The CAP Atom feed: one entry per alert document, linking the document and its page."""
    entries = _cap_entries(manifest)
    feed = ET.Element("feed", {"xmlns": ATOM_NS, "xml:lang": "zh-CN"})
    _child(feed, "id", cap_feed_id(manifest))
    _child(feed, "title", f"{site_name} {CAP_FEED_TITLE}")
    _child(feed, "updated", entries[0].sent if entries else EPOCH)
    _child(_child(feed, "author"), "name", author)
    _child(feed, "link", rel="self", type="application/atom+xml", href=base_url + CAP_FEED_PATH)
    _child(feed, "link", rel="alternate", type="text/html", href=base_url)
    for cap in entries:
        item = manifest.items.get(cap.slug)
        entry = _child(feed, "entry")
        _child(entry, "id", cap.entry_id)
        _child(entry, "title", cap.headline)
        _child(entry, "updated", cap.sent)
        _child(entry, "published", cap.sent)
        organ = item.metadata.get("issuing_organ", author) if item else author
        _child(_child(entry, "author"), "name", organ)
        _child(entry, "link", rel="alternate", type=CAP_MEDIA_TYPE,
               href=cap_href(base_url, cap.identifier))
        _child(entry, "link", rel="related", type="text/html", href=base_url + cap.path)
        _child(entry, "category", term=cap.msg_type, scheme=CAP_MSG_TYPE_SCHEME)
        prefix = CAP_SUMMARY_PREFIX.get(cap.msg_type, cap.msg_type)
        _child(entry, "summary", f"{prefix}（CAP {cap.msg_type}）：{cap.headline}", type="text")
    return _serialise(feed)


def build_sitemap(manifest: Manifest, *, base_url: str, zone: tzinfo = UTC) -> bytes:
    """The sitemap: the home page, each column index (as ``<column>/``) and each live page,
    last changes in ``zone``."""
    live = sorted((i for i in manifest.items.values() if i.live), key=lambda i: i.path)
    columns: dict[str, list[str]] = {}
    for item in manifest.items.values():
        columns.setdefault(item.column, []).append(item.updated)
    urlset = ET.Element("urlset", {"xmlns": SITEMAP_NS})

    def add(path: str, lastmod: str) -> None:
        url = _child(urlset, "url")
        _child(url, "loc", base_url + path)
        _child(url, "lastmod", lastmod)

    add("", _latest((i.updated for i in manifest.items.values()), zone))
    for column, stamps in sorted(columns.items()):
        add(f"{column}/", _latest(stamps, zone))
    for item in live:
        add(item.path, local_stamp(item.updated, zone))
    return _serialise(urlset)
