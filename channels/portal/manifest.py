"""The site's manifest (``_manifest.json``): every item ever published, keyed by slug."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from channels.base import PermanentChannelError
from channels.portal.errors import conflict
from channels.portal.storage import write_atomic

MANIFEST_NAME = "_manifest.json"
SOURCE_DIR = "_source"
VERSION = 1
PUBLISHED = "published"
WITHDRAWN = "withdrawn"
# Namespace of the portal's entry ids: urn:uuid:<uuid5(namespace, delivery key)>.
ENTRY_NAMESPACE = uuid.UUID("6f1c7a3e-2b8d-5c4e-9a10-3d5e7f9b1c2a")


def entry_id_for(key: str) -> str:
    """The permanent Atom id of a delivery: derived from its key, never from its URL."""
    return f"urn:uuid:{uuid.uuid5(ENTRY_NAMESPACE, key)}"


def feed_id_for(base_url: str) -> str:
    """The Atom id given to a new site's feed (stored, so moving the site keeps it)."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, base_url)}"


def rfc3339(moment: datetime) -> str:
    """A timestamp with its offset, to the second: ``2026-12-02T10:00:00+08:00``."""
    return moment.isoformat(timespec="seconds")


def local_stamp(stamp: str, zone: tzinfo) -> str:
    """An RFC 3339 timestamp moved into ``zone`` (the offset says which): older manifests
    hold UTC stamps, and a page's ``<time datetime>`` carries the readers' own offset."""
    return rfc3339(datetime.fromisoformat(stamp).astimezone(zone))


def shown_time(stamp: str, zone: tzinfo = UTC) -> str:
    """An RFC 3339 timestamp as staff and readers expect it, in their zone: ``2026-12-02 10:30``."""
    return datetime.fromisoformat(stamp).astimezone(zone).strftime("%Y-%m-%d %H:%M")


@dataclass
class Item:
    """One published (or withdrawn) release page as the indexes, feed and sitemap see it."""

    slug: str
    key: str
    entry_id: str
    path: str
    column: str
    column_name: str
    title: str
    summary: str
    metadata: dict[str, str]
    attachments: list[dict[str, str]]  # name, content_type, href (relative to the page)
    published: str
    updated: str
    content_sha256: str
    status: str = PUBLISHED
    withdrawn_at: str | None = None

    @property
    def live(self) -> bool:
        return self.status == PUBLISHED

    def sort_key(self) -> tuple[str, datetime, str]:
        """Newest first when sorted in reverse: publication date, first send (an instant,
        whatever the stamp's offset), slug."""
        return (self.metadata.get("published_date", ""), datetime.fromisoformat(self.published),
                self.slug)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Item:
        return cls(
            slug=str(raw["slug"]),
            key=str(raw["key"]),
            entry_id=str(raw["entry_id"]),
            path=str(raw["path"]),
            column=str(raw["column"]),
            column_name=str(raw["column_name"]),
            title=str(raw["title"]),
            summary=str(raw.get("summary", "")),
            metadata={str(k): str(v) for k, v in dict(raw.get("metadata") or {}).items()},
            attachments=[
                {str(k): str(v) for k, v in dict(a).items()} for a in raw.get("attachments") or []
            ],
            published=str(raw["published"]),
            updated=str(raw["updated"]),
            content_sha256=str(raw.get("content_sha256", "")),
            status=str(raw.get("status", PUBLISHED)),
            withdrawn_at=None if raw.get("withdrawn_at") is None else str(raw["withdrawn_at"]),
        )


@dataclass
class Update:
    """One dated entry of a page's timeline (更新)."""

    at: str
    title: str
    body_html: str
    sha256: str


@dataclass
class Source:
    """What rebuilding one page needs beyond the manifest: its body and its timeline."""

    body_html: str
    updates: list[Update] = field(default_factory=list)  # newest first

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Source:
        return cls(
            body_html=str(raw["body_html"]),
            updates=[
                Update(str(u["at"]), str(u["title"]), str(u["body_html"]), str(u["sha256"]))
                for u in raw.get("updates") or []
            ],
        )


@dataclass
class CapEntry:
    """One CAP alert document written as ``cap/<identifier>.xml``, for the CAP Atom feed."""

    identifier: str
    entry_id: str
    msg_type: str  # Alert | Update | Cancel
    sent: str  # RFC 3339
    headline: str
    slug: str  # the incident page it was published with
    path: str  # that page's path
    sha256: str  # of the document's bytes

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> CapEntry:
        return cls(**{name: str(raw[name]) for name in cls.__dataclass_fields__})


@dataclass
class Manifest:
    """The whole manifest: the feed's permanent id, the items by slug, CAP documents by id."""

    feed_id: str
    items: dict[str, Item] = field(default_factory=dict)
    caps: dict[str, CapEntry] = field(default_factory=dict)

    def by_key(self, key: str) -> Item | None:
        return next((item for item in self.items.values() if item.key == key), None)

    def by_index_number(self, index_number: str) -> Item | None:
        return next(
            (i for i in self.items.values() if i.metadata.get("index_number") == index_number),
            None,
        )

    def to_json(self) -> dict[str, Any]:
        raw = {
            "version": VERSION,
            "feed_id": self.feed_id,
            "items": {slug: asdict(item) for slug, item in sorted(self.items.items())},
        }
        if self.caps:  # absent until the first CAP document: older manifests stay as they were
            raw["caps"] = {name: asdict(cap) for name, cap in sorted(self.caps.items())}
        return raw


def _dump(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8") + b"\n"


def _corrupt(path: Path, reason: str) -> PermanentChannelError:
    return conflict(
        "manifest_corrupt",
        f"网站清单文件损坏（{path}）：{reason}，请联系运维人员从备份恢复",
        f"the site manifest {path} is damaged ({reason}); restore it from a backup",
        reason,
    )


def load_manifest(site_dir: Path, base_url: str) -> Manifest:
    """Read the manifest; a site without one starts empty with a new feed id."""
    path = site_dir / MANIFEST_NAME
    try:
        raw = json.loads(path.read_bytes())
    except FileNotFoundError:
        return Manifest(feed_id=feed_id_for(base_url))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _corrupt(path, str(exc)) from exc
    try:
        if raw.get("version") != VERSION:
            raise ValueError(f"unknown version {raw.get('version')!r}")
        items = {str(slug): Item.from_json(entry) for slug, entry in dict(raw["items"]).items()}
        caps = {str(name): CapEntry.from_json(entry)
                for name, entry in dict(raw.get("caps") or {}).items()}
        return Manifest(feed_id=str(raw["feed_id"]), items=items, caps=caps)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise _corrupt(path, f"{type(exc).__name__}: {exc}") from exc


def save_manifest(site_dir: Path, manifest: Manifest) -> None:
    """Write the manifest atomically: this write is the commit point of a send."""
    write_atomic(site_dir / MANIFEST_NAME, _dump(manifest.to_json()))


def source_path(site_dir: Path, slug: str) -> Path:
    return site_dir / SOURCE_DIR / f"{slug}.json"


def load_source(site_dir: Path, slug: str) -> Source:
    """Read one page's body and timeline."""
    path = source_path(site_dir, slug)
    try:
        return Source.from_json(json.loads(path.read_bytes()))
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise _corrupt(path, f"{type(exc).__name__}: {exc}") from exc


def save_source(site_dir: Path, slug: str, source: Source) -> None:
    """Write one page's body and timeline atomically."""
    write_atomic(source_path(site_dir, slug), _dump(asdict(source)))
