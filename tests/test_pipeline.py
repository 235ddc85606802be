"""The whole pipeline through the portal: data files in, static site pages, feed and sitemap out."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import select

from channels.portal.catalogue import INDEX_NUMBER_LENGTH, INDEX_NUMBER_PATTERN
from publisher import config as config_module
from publisher import release
from publisher.app import App
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.store import Store
from publisher.store.models import Delivery, Release
from tests.support.project import DUE, FOOD, HOSTILE, HOSTILE_ESCAPED, ROOT, SAMPLES, copy_project

IMAGE = "<img src=x onerror=alert(2)>"
ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def publish(config: Path, definition_id: str, data: Mapping[str, Path]) -> Release:
    """Create the release due at DUE from ``data`` and deliver it (emulator credentials)."""
    store = Store(f"sqlite:///{config.parent / 'publisher.db'}")
    try:
        app = App(loaded=config_module.load(config), store=store, clock=ManualClock(DUE),
                  sandbox=True)
        outcome = release.create(app, definition_id, DUE, actor="staff:test", origin="manual",
                                 data=data)
        assert outcome.state == "active", outcome.problems
        # one worker: the WeChat adapter's status polls advance the shared manual clock, so
        # concurrent sends would stamp the portal's pages with whichever moment they met
        dispatcher = Dispatcher(app, workers=1)
        try:
            dispatcher.drain(outcome.release_id, until=DUE + timedelta(minutes=5))
        finally:
            dispatcher.shutdown()
        with store.read() as session:
            row = session.get(Release, outcome.release_id)
            deliveries = session.execute(select(Delivery).where(
                Delivery.release_id == outcome.release_id)).scalars().all()
        assert row is not None
        enabled = {name for name in app.loaded.config.releases[definition_id].channels
                   if app.enabled(name)}
        assert "portal-main" in enabled
        expected = {(n, "queued" if app.loaded.config.channels[n].kind == "gazette"  # its issue
                     else "published") for n in enabled}
        assert {(d.channel, d.state) for d in deliveries} == expected, \
            [(d.channel, d.state, d.last_error) for d in deliveries]
        return row
    finally:
        store.dispose()


def site_files(site: Path) -> dict[str, bytes]:
    """Every file the portal wrote, by relative path (the lock file aside)."""
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in sorted(site.rglob("*"))
            if p.is_file() and p.name != "_manifest.lock"}


class _Tags(HTMLParser):
    """Collects the start tags and the visible text of an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


# --------------------------------------------------------------------------- formats


def test_gb18030_csv_and_xlsx_publish_identical_sites(tmp_path: Path) -> None:
    """The GB18030 CSV pair and the XLSX workbook holding the same rows, published at the same
    due time into two sites, give byte-identical pages, indexes, feed and sitemap."""
    csv_pair = {"unqualified": SAMPLES / "unqualified.csv", "qualified": SAMPLES / "qualified.csv"}
    for file in csv_pair.values():  # really GB18030, not UTF-8
        raw = file.read_bytes()
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        assert "食品名称" in raw.decode("gb18030")
    workbook = SAMPLES / "food-safety-sampling.xlsx"
    from_csv = publish(copy_project(tmp_path / "csv"), FOOD, csv_pair)
    from_xlsx = publish(copy_project(tmp_path / "xlsx"), FOOD,
                        {"unqualified": workbook, "qualified": workbook})
    assert from_csv.key == from_xlsx.key and from_csv.index_number == from_xlsx.index_number

    csv_site = site_files(tmp_path / "csv/var/site")
    xlsx_site = site_files(tmp_path / "xlsx/var/site")
    pages = [name for name in csv_site if name.startswith("food-safety/") and
             name.endswith(".html") and not name.endswith("index.html")]
    assert len(pages) == 1
    page = csv_site[pages[0]].decode("utf-8")
    assert "桃酥" in page and "蛋黄酥" in page  # rows of both tables are on the page
    assert csv_site.keys() == xlsx_site.keys()
    public = [name for name in csv_site if not name.startswith("_")]
    assert len(public) >= 5
    for name in public:  # internal _ files (never served) carry the clock of each channel's send
        assert csv_site[name] == xlsx_site[name], name


# --------------------------------------------------------------------------- escaping


def test_markup_in_data_is_escaped_on_every_portal_file(tmp_path: Path) -> None:
    """A `<script>` in a data cell that also feeds the title comes out escaped, never as a live
    tag, in the page, the column index, the home page, the Atom feed and the sitemap, while
    its text stays visible."""
    config = copy_project(tmp_path / "project")
    text = config.read_text(encoding="utf-8")
    shipped_title = 'title: "{{ release.issuing_organ }}关于{{ period.label }}食品安全监督抽检信息的通告"'
    assert text.count(shipped_title) == 1
    config.write_text(text.replace(
        shipped_title, 'title: "{{ tables.qualified[0].food_name }}抽检通告"'), encoding="utf-8")
    rows = list(csv.reader(io.StringIO((SAMPLES / "qualified.csv").read_bytes().decode("gb18030"),
                                       newline="")))
    header = rows[0]
    rows[1][header.index("食品名称")] = HOSTILE
    rows[1][header.index("被抽样单位名称")] = IMAGE
    hostile_csv = tmp_path / "qualified.csv"
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    hostile_csv.write_text(buffer.getvalue(), encoding="utf-8")

    row = publish(config, FOOD, {"unqualified": SAMPLES / "unqualified.csv",
                                 "qualified": hostile_csv})
    title = f"{HOSTILE}抽检通告"
    assert row.title == title

    site = config.parent / "var/site"
    files = {name: content.decode("utf-8") for name, content in site_files(site).items()
             if not any(part.startswith(("_", ".")) for part in name.split("/"))}  # as served
    assert {"index.html", "food-safety/index.html", "feed.atom", "sitemap.xml"} <= files.keys()
    for name, content in files.items():
        assert "<script" not in content.lower() and "<img" not in content.lower(), name
    page_name = next(n for n in files if re.fullmatch(r"food-safety/food-safety-sampling-.*\.html", n))
    for name in (page_name, "food-safety/index.html", "index.html"):
        document = parsed(files[name])
        assert "script" not in document.tags and "img" not in document.tags, name
        assert title in "".join(document.text), name  # visible as text
        assert f"{HOSTILE_ESCAPED}抽检通告" in files[name], name
    page = parsed(files[page_name])
    assert IMAGE in "".join(page.text)  # the other hostile cell, visible as text in the table

    feed = ET.fromstring(files["feed.atom"])  # noqa: S314 - our own output; well-formed
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [title]
    assert HOSTILE_ESCAPED in files["feed.atom"]
    sitemap = ET.fromstring(files["sitemap.xml"])  # noqa: S314 - our own output
    locations = [loc.text for loc in sitemap.iter(f"{SITEMAP}loc")]
    assert f"http://127.0.0.1:8180/{page_name}" in locations


# --------------------------------------------------------------------------- every definition


def _definitions() -> list[str]:
    return list(config_module.load(ROOT / "schedules.yaml").config.releases)


@pytest.mark.parametrize("definition_id", _definitions())
def test_every_shipped_definition_publishes_from_its_samples(tmp_path: Path,
                                                            definition_id: str) -> None:
    """Each shipped definition, fed its shipped samples, publishes a portal page holding its
    title and the metadata panel with a 20-character 索引号."""
    config = copy_project(tmp_path / "project")
    loaded = config_module.load(config)
    definition = loaded.config.releases[definition_id]
    assert definition.source is not None
    data = {name: loaded.resolve(table.sample) for name, table in definition.source.tables.items()
            if table.sample}
    assert data.keys() == definition.source.tables.keys()
    row = publish(config, definition_id, data)
    assert row.title

    pages = list((config.parent / "var/site" / definition.column).glob(f"{definition_id}-*.html"))
    assert len(pages) == 1
    html = pages[0].read_text(encoding="utf-8")
    document = parsed(html)
    visible = "".join(document.text)
    assert row.title in visible
    assert '<table class="meta">' in html
    panel = dict(re.findall(r'<tr><th scope="row">([^<]+)</th><td>([^<]*)</td></tr>', html))
    assert len(panel["索引号"]) == INDEX_NUMBER_LENGTH == 20
    assert INDEX_NUMBER_PATTERN.fullmatch(panel["索引号"])
    assert panel["索引号"] == row.index_number == f"{definition.organ_code}/2026-00001"
    assert panel["发布机构"] == definition.issuing_organ
    assert panel["主题分类"] == definition.subject_category
    assert panel["发布日期"] == "2026-12-02"
