"""The portal channel: publishes releases as pages of a static site with indexes, feed, sitemap."""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote, urlsplit

from pydantic import Field, field_validator

from channels.base import (
    Channel,
    ChannelContext,
    ChannelSettings,
    ConfigurationError,
    Message,
    Payload,
    Receipt,
)
from channels.portal.cap import CapSpec, cap_recorded, check_cap_owner
from channels.portal.content import KIND, PageSpec, PortalLimits, prepare_data
from channels.portal.errors import conflict, not_found, os_error, payload_invalid
from channels.portal.manifest import (
    WITHDRAWN,
    Item,
    Manifest,
    Source,
    Update,
    entry_id_for,
    load_manifest,
    load_source,
    rfc3339,
    save_manifest,
    save_source,
    source_path,
)
from channels.portal.site import SiteInfo, rebuild_indexes, render_page, render_withdrawn
from channels.portal.storage import copy_atomic, remove_tree, site_lock, write_atomic


def base_url_problem(url: str) -> str | None:
    """What is wrong with a base URL, or None: absolute http(s), no query, ends with ``/``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"base_url 须为 http(s) 绝对地址 / base_url must be an absolute http(s) URL: {url!r}"
    if parts.query or parts.fragment:
        return f"base_url 不能带查询或锚点 / base_url must have no query or fragment: {url!r}"
    if not url.endswith("/"):
        return f"base_url 须以 / 结尾 / base_url must end with '/': {url!r}"
    return None


class PortalSettings(ChannelSettings):
    """Settings of one portal site."""

    site_name: str = Field(min_length=1, max_length=100)
    site_dir: str = Field(min_length=1)  # relative paths resolve against the context's work_dir
    base_url: str
    author: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("base_url")
    @classmethod
    def _base_url_shape(cls, value: str) -> str:
        problem = base_url_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class PortalChannel(Channel[PortalSettings]):
    """The government web portal, written as a static site into ``site_dir``."""

    kind: ClassVar[str] = KIND
    platform_zh: ClassVar[str] = "政府网站"
    platform_en: ClassVar[str] = "government website"
    limits: ClassVar[PortalLimits] = PortalLimits()
    settings_model: ClassVar[type[ChannelSettings]] = PortalSettings
    body_format: ClassVar[str] = "html"
    template_ext: ClassVar[str] = "html"

    def __init__(self, name: str, settings: PortalSettings, context: ChannelContext) -> None:
        super().__init__(name, settings, context)
        site_dir = Path(settings.site_dir)
        self.site_dir = site_dir if site_dir.is_absolute() else context.work_dir / site_dir
        self.info = SiteInfo(
            site_name=settings.site_name,
            base_url=settings.base_url,
            author=settings.author or settings.site_name,
            zone=context.zone,
        )

    @classmethod
    def drill_settings(cls, settings: ChannelSettings, folder: Path) -> ChannelSettings:
        """A drill writes its own site under ``folder``, never into the public ``site_dir``."""
        return settings.model_copy(update={"site_dir": str(folder / "site")})

    # ------------------------------------------------------------------ contract

    def prepare(self, message: Message) -> Payload:
        """Pure: check title, body, metadata and attachments; the payload holds all send needs."""
        return Payload(kind=KIND, data=prepare_data(message, self.limits))

    def send(self, payload: Payload, key: str) -> Receipt:
        """Write the page (and its CAP document) atomically, rebuild the indexes and feeds,
        commit the manifest."""
        spec = PageSpec.from_payload(payload)
        cap = CapSpec.from_payload(payload)
        now = rfc3339(self._now())
        with self._writing("发布信息", "publishing the page"):
            manifest = load_manifest(self.site_dir, self.info.base_url)
            existing = self._owned(manifest, spec, key)
            if cap is not None:
                check_cap_owner(manifest, cap, spec.slug)
            digest = spec.digest()
            if existing is None:
                published = updated = now
                source = Source(body_html=spec.body_html)
            else:
                published = existing.published
                updated = existing.updated if existing.content_sha256 == digest else now
                source = self._source_or_new(spec)
            item = Item(
                slug=spec.slug,
                key=key,
                entry_id=existing.entry_id if existing else entry_id_for(key),
                path=spec.path,
                column=spec.column,
                column_name=spec.column_name,
                title=spec.title,
                summary=spec.summary,
                metadata=spec.metadata,
                attachments=self._copy_attachments(spec),
                published=published,
                updated=updated,
                content_sha256=digest,
            )
            self._commit(manifest, item, source, cap)
        return self._receipt(item)

    def find(self, key: str, payload: Payload) -> Receipt | None:
        """The receipt when the manifest shows this delivery landed (withdrawn ones included)."""
        slug = payload.data.get("slug")
        with self._reading():
            manifest = load_manifest(self.site_dir, self.info.base_url)
        item = manifest.items.get(slug) if isinstance(slug, str) else None
        if item is None or item.key != key:
            item = manifest.by_key(key)
        return None if item is None else self._receipt(item)

    def retract(self, receipt: Receipt, payload: Payload | None = None) -> None:
        """Replace the page with a withdrawal notice at the same URL; the feed entry says so.

        ``payload``, when given, is the withdrawal notice prepared for the portal: its
        ``body_html`` is shown on the notice page, its ``cap`` (a Cancel) joins the CAP feed.
        """
        notice = self._notice_html(payload)
        cap = CapSpec.from_payload(payload)
        now = rfc3339(self._now())
        with self._writing("撤回信息", "withdrawing the page"):
            manifest = load_manifest(self.site_dir, self.info.base_url)
            item = manifest.items.get(receipt.remote_id)
            if item is None:
                raise not_found(receipt.remote_id)
            if cap is not None:
                check_cap_owner(manifest, cap, item.slug)
            if not item.live:
                if cap is not None and not cap_recorded(manifest, cap):
                    self._record_cap(manifest, cap, item)
                    rebuild_indexes(self.site_dir, self.info, manifest)
                    save_manifest(self.site_dir, manifest)
                return
            item.status, item.withdrawn_at, item.updated = WITHDRAWN, now, now
            write_atomic(self.site_dir / item.path, render_withdrawn(self.info, item, notice))
            remove_tree(self._files_dir(item.column, item.slug))
            source_path(self.site_dir, item.slug).unlink(missing_ok=True)
            if cap is not None:
                self._record_cap(manifest, cap, item)
            rebuild_indexes(self.site_dir, self.info, manifest)
            save_manifest(self.site_dir, manifest)

    def follow_up(self, receipt: Receipt, payload: Payload) -> Receipt:
        """Add a dated update (更新) at the top of the page's timeline and bump its feed entry."""
        title, body = payload.data.get("title"), payload.data.get("body_html")
        if payload.kind != KIND or not isinstance(title, str) or not isinstance(body, str):
            raise payload_invalid("a follow-up needs a portal payload with title and body_html")
        digest = hashlib.sha256(f"{title}\x1f{body}".encode()).hexdigest()
        cap = CapSpec.from_payload(payload)
        now = rfc3339(self._now())
        with self._writing("追加更新", "adding an update"):
            manifest = load_manifest(self.site_dir, self.info.base_url)
            item = manifest.items.get(receipt.remote_id)
            if item is None:
                raise not_found(receipt.remote_id)
            if not item.live:
                raise conflict("withdrawn", f"信息 {item.slug} 已撤回，不能追加更新",
                               f"{item.slug} was withdrawn; it takes no updates", item.slug)
            if cap is not None:
                check_cap_owner(manifest, cap, item.slug)
            source = load_source(self.site_dir, item.slug)
            if all(update.sha256 != digest for update in source.updates):
                source.updates.insert(0, Update(at=now, title=title, body_html=body, sha256=digest))
                item.updated = now
            # Committed on a retry too: a crash after the source was saved but before the page,
            # the CAP document or the manifest were written is finished now, with the same bytes.
            self._commit(manifest, item, source, cap)
        return self._receipt(item, updates=len(source.updates))

    def check(self) -> list[str]:
        """Problems with base_url or with writing into site_dir (empty when fine)."""
        problems = []
        url_problem = base_url_problem(self.info.base_url)
        if url_problem:
            problems.append(url_problem)
        folder = self.site_dir
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if not folder.is_dir():
            problems.append(f"site_dir 不是目录 / site_dir is not a folder: {folder}")
            return problems
        try:
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            problems.append(
                f"site_dir 无法写入 / site_dir is not writable: {folder} ({exc.strerror or exc})"
            )
        return problems

    # ------------------------------------------------------------------ helpers

    def _now(self) -> datetime:
        moment = self.context.clock()
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ConfigurationError(
                "时钟须带时区 / the clock must return timezone-aware times",
                code="naive_clock",
            )
        return moment.astimezone(self.context.zone)  # stamps carry the readers' offset

    @contextlib.contextmanager
    def _writing(self, action_zh: str, action_en: str) -> Iterator[None]:
        try:
            with site_lock(self.site_dir):
                yield
        except OSError as exc:
            raise os_error(exc, action_zh, action_en, self.site_dir) from exc

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise os_error(exc, "读取网站清单", "reading the site manifest", self.site_dir) from exc

    def _owned(self, manifest: Manifest, spec: PageSpec, key: str) -> Item | None:
        """The item this delivery already wrote, if any; refuses to overwrite anyone else's."""
        existing = manifest.items.get(spec.slug)
        if existing is not None and existing.key != key:
            raise conflict("slug_taken", f"页面标识 {spec.slug} 已被另一条信息占用",
                           f"slug {spec.slug} already belongs to another release", spec.slug)
        if existing is not None and not existing.live:
            raise conflict("withdrawn", f"信息 {spec.slug} 已撤回，不能重新发布",
                           f"{spec.slug} was withdrawn; publish under a new slug", spec.slug)
        if existing is not None and existing.column != spec.column:
            raise conflict("column_changed", f"信息 {spec.slug} 已发布在其他栏目",
                           f"{spec.slug} is already published in column {existing.column}",
                           spec.slug)
        same_number = manifest.by_index_number(spec.metadata["index_number"])
        if same_number is not None and same_number.slug != spec.slug:
            number = spec.metadata["index_number"]
            raise conflict("index_number_taken", f"索引号 {number} 已被 {same_number.slug} 使用",
                           f"index number {number} is already used by {same_number.slug}", number)
        return existing

    def _source_or_new(self, spec: PageSpec) -> Source:
        """The page's stored timeline with the new body (a lost source file starts afresh)."""
        try:
            source = load_source(self.site_dir, spec.slug)
        except FileNotFoundError:
            return Source(body_html=spec.body_html)
        source.body_html = spec.body_html
        return source

    def _files_dir(self, column: str, slug: str) -> Path:
        return self.site_dir / column / f"{slug}.files"

    def _copy_attachments(self, spec: PageSpec) -> list[dict[str, str]]:
        folder = self._files_dir(spec.column, spec.slug)
        remove_tree(folder)
        listed = []
        for attachment in spec.attachments:
            source = Path(attachment["path"])
            if not source.is_absolute():
                source = self.context.work_dir / source
            copy_atomic(source, folder / attachment["name"])
            href = f"{spec.slug}.files/{quote(attachment['name'])}"
            listed.append({"name": attachment["name"],
                           "content_type": attachment["content_type"], "href": href})
        return listed

    def _commit(
        self, manifest: Manifest, item: Item, source: Source, cap: CapSpec | None = None
    ) -> None:
        """Page and CAP document first, then indexes and feeds, then the manifest: the
        manifest write is the commit point."""
        save_source(self.site_dir, item.slug, source)
        write_atomic(self.site_dir / item.path, render_page(self.info, item, source))
        manifest.items[item.slug] = item
        if cap is not None:
            self._record_cap(manifest, cap, item)
        rebuild_indexes(self.site_dir, self.info, manifest)
        save_manifest(self.site_dir, manifest)

    def _record_cap(self, manifest: Manifest, cap: CapSpec, item: Item) -> None:
        """Write ``cap/<identifier>.xml`` (again, on a retry: same bytes) and list it."""
        write_atomic(self.site_dir / cap.path, cap.xml)
        manifest.caps[cap.identifier] = cap.entry(item)

    @staticmethod
    def _notice_html(payload: Payload | None) -> str | None:
        """The withdrawal notice's rendered body, when the core prepared one for the portal."""
        if payload is None:
            return None
        body = payload.data.get("body_html")
        if payload.kind != KIND or not (body is None or isinstance(body, str)):
            raise payload_invalid("a withdrawal notice needs a portal payload with body_html text")
        return body if body and body.strip() else None

    def _receipt(self, item: Item, **extra: int) -> Receipt:
        return Receipt(
            remote_id=item.slug,
            url=self.info.base_url + item.path,
            published_at=datetime.fromisoformat(item.published),
            details={"path": item.path, "entry_id": item.entry_id, "status": item.status,
                     "updated": item.updated, **extra},
        )
