"""Builds the static site from the manifest: release pages, column and home indexes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path

import jinja2
from markupsafe import Markup

from channels.portal.cap import CAP_FEED_PATH
from channels.portal.feed import build_cap_feed, build_feed, build_sitemap
from channels.portal.manifest import Item, Manifest, Source, local_stamp, shown_time
from channels.portal.storage import write_atomic
from channels.portal.tables import scroll_regions

HOME_ITEMS_PER_COLUMN = 10
FEED_NAME = "feed.atom"
SITEMAP_NAME = "sitemap.xml"
INDEX_NAME = "index.html"

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class SiteInfo:
    """The settings every built file needs."""

    site_name: str
    base_url: str
    author: str
    zone: tzinfo = UTC  # the readers' zone: times on pages are shown in it


@dataclass(frozen=True)
class _ShownUpdate:
    at: str
    shown: str
    title: str
    body: Markup


@dataclass(frozen=True)
class _Column:
    id: str
    name: str
    items: list[Item]
    more: bool


def metadata_panel(metadata: dict[str, str]) -> list[tuple[str, str]]:
    """The gov.cn metadata panel rows in order; optional rows only when they have a value."""
    rows = [
        ("索引号", metadata.get("index_number", "")),
        ("主题分类", metadata.get("subject_category", "")),
        ("发布机构", metadata.get("issuing_organ", "")),
        ("成文日期", metadata.get("signed_date", "")),
        ("文号", metadata.get("document_number", "")),
        ("发布日期", metadata.get("published_date", "")),
        ("内容概述", metadata.get("summary", "")),
    ]
    optional = {"成文日期", "文号", "内容概述"}
    return [(label, value) for label, value in rows if value or label not in optional]


def render_page(info: SiteInfo, item: Item, source: Source) -> bytes:
    """The full HTML5 page of one live release; ``source.body_html`` is trusted markup."""
    updates = [
        _ShownUpdate(local_stamp(u.at, info.zone), shown_time(u.at, info.zone), u.title,
                     Markup(scroll_regions(u.body_html)))  # noqa: S704
        for u in source.updates
    ]
    html = _environment.get_template("page.html.j2").render(
        site_name=info.site_name,
        root="../",
        item=item,
        panel=metadata_panel(item.metadata),
        updates=updates,
        body=Markup(scroll_regions(source.body_html)),  # noqa: S704 - rendered with autoescape by the core
    )
    return html.encode("utf-8")


def render_withdrawn(info: SiteInfo, item: Item, notice_html: str | None = None) -> bytes:
    """The withdrawal notice (已撤回) that replaces a page at the same URL.

    ``notice_html`` is the withdrawal notice rendered by the core's templates (trusted markup,
    like a page body); it is shown under the standard sentence.
    """
    stamp = item.withdrawn_at or item.updated
    html = _environment.get_template("withdrawn.html.j2").render(
        site_name=info.site_name,
        root="../",
        item=item,
        withdrawn_at=local_stamp(stamp, info.zone),
        withdrawn_shown=shown_time(stamp, info.zone),
        notice=None if notice_html is None else Markup(notice_html),  # noqa: S704
    )
    return html.encode("utf-8")


def _newest_first(items: list[Item]) -> list[Item]:
    return sorted(items, key=Item.sort_key, reverse=True)


def render_column(
    info: SiteInfo, column: str, column_name: str, items: list[Item], *, cap_feed: bool = False
) -> bytes:
    """A column's index page: its live items, newest first."""
    html = _environment.get_template("column.html.j2").render(
        site_name=info.site_name,
        root="../",
        column=column,
        column_name=column_name,
        items=_newest_first([i for i in items if i.live]),
        cap_feed=cap_feed,
    )
    return html.encode("utf-8")


def columns_of(manifest: Manifest) -> dict[str, str]:
    """Every column that ever held an item, with its latest display name."""
    names: dict[str, tuple[str, str]] = {}
    for item in manifest.items.values():
        known = names.get(item.column)
        if known is None or datetime.fromisoformat(item.updated) >= \
                datetime.fromisoformat(known[0]):
            names[item.column] = (item.updated, item.column_name)
    return {column: name for column, (_, name) in sorted(names.items())}


def render_home(info: SiteInfo, manifest: Manifest) -> bytes:
    """The home page: every column with its latest live items."""
    columns = []
    for column, name in columns_of(manifest).items():
        live = _newest_first([i for i in manifest.items.values() if i.column == column and i.live])
        columns.append(
            _Column(column, name, live[:HOME_ITEMS_PER_COLUMN], len(live) > HOME_ITEMS_PER_COLUMN)
        )
    html = _environment.get_template("home.html.j2").render(
        site_name=info.site_name, root="", columns=columns, cap_feed=bool(manifest.caps)
    )
    return html.encode("utf-8")


def rebuild_indexes(site_dir: Path, info: SiteInfo, manifest: Manifest) -> None:
    """Rewrite the column indexes, the home page, the Atom feed, the sitemap and the CAP feed."""
    items = list(manifest.items.values())
    cap_feed = bool(manifest.caps)
    for column, name in columns_of(manifest).items():
        in_column = [i for i in items if i.column == column]
        html = render_column(info, column, name, in_column, cap_feed=cap_feed)
        write_atomic(site_dir / column / INDEX_NAME, html)
    write_atomic(site_dir / INDEX_NAME, render_home(info, manifest))
    write_atomic(
        site_dir / FEED_NAME,
        build_feed(manifest, site_name=info.site_name, base_url=info.base_url, author=info.author,
                   zone=info.zone),
    )
    write_atomic(site_dir / SITEMAP_NAME,
                 build_sitemap(manifest, base_url=info.base_url, zone=info.zone))
    if cap_feed:  # a site that never published a CAP document gets no cap folder
        write_atomic(
            site_dir / CAP_FEED_PATH,
            build_cap_feed(manifest, site_name=info.site_name, base_url=info.base_url,
                           author=info.author),
        )
