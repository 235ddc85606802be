"""Renders a gazette issue (TOC with anchors) and the yearly index as HTML, the issue as PDF."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from channels.gazette.numbering import IssueNumber
from channels.gazette.state import ERRATA_SECTION, ERRATA_SECTION_NAME, GazetteItem, Issue
from channels.portal.tables import scroll_regions

PORTAL_TEMPLATES = Path(__file__).parent.parent / "portal" / "templates"


def zh_date(value: str) -> str:
    """``2026-12-02`` as ``2026年12月2日`` (empty stays empty)."""
    if not value:
        return ""
    moment = date.fromisoformat(value)
    return f"{moment.year}年{moment.month}月{moment.day}日"


_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader([Path(__file__).with_name("templates"), PORTAL_TEMPLATES]),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters["zh_date"] = zh_date


@dataclass(frozen=True)
class Section:
    """A configured section (栏目) of the gazette, in its place in the order."""

    id: str
    name: str


@dataclass(frozen=True)
class PageInfo:
    """The names every gazette page shows."""

    gazette_name: str
    site_name: str
    column_name: str


def ordered(items: Sequence[GazetteItem], sections: Sequence[Section]) -> list[GazetteItem]:
    """Items in section order (errata last), then by signing date and title; anchors set."""
    rank = {s.id: n for n, s in enumerate(sections)}
    rank[ERRATA_SECTION] = len(sections)
    result = sorted(items, key=lambda i: (rank.get(i.section, len(sections)), i.signed_date,
                                          i.title, i.item_id))
    for number, item in enumerate(result, start=1):
        item.anchor = f"item-{number}"
    return result


def _names(sections: Sequence[Section]) -> dict[str, str]:
    return {**{s.id: s.name for s in sections}, ERRATA_SECTION: ERRATA_SECTION_NAME}


def render_issue(info: PageInfo, number: IssueNumber, published_date: str,
                 items: Sequence[GazetteItem], sections: Sequence[Section]) -> bytes:
    """The issue page: header with the full number, a TOC linking each item's anchor, the texts.

    ``items`` must already be ``ordered``; bodies are trusted markup rendered by the core.
    """
    by_slug = {i.slug: i for i in items if i.slug}
    names = _names(sections)
    groups: list[dict[str, Any]] = []
    for item in items:
        if not groups or groups[-1]["id"] != item.section:
            groups.append({"id": item.section, "name": names.get(item.section, item.section),
                           "entries": []})
        partner = by_slug.get(item.paired_with) if item.paired_with else None
        groups[-1]["entries"].append({
            **{k: getattr(item, k) for k in ("anchor", "title", "doc_no", "organ", "signed_date",
                                             "published_date", "effective_date", "kind",
                                             "corrects")},
            "body": Markup(scroll_regions(item.body_html)),  # noqa: S704 - autoescaped by the core
            "partner": partner,
        })
    html = _environment.get_template("issue.html.j2").render(
        site_name=info.site_name, gazette_name=info.gazette_name, column_name=info.column_name,
        root="../", number=number, published_date=published_date, sections=groups)
    return html.encode("utf-8")


def render_year(info: PageInfo, year: int, issues: Sequence[Issue],
                sections: Sequence[Section]) -> bytes:
    """The yearly index (总目录) of every item of ``year``, by section and by issuing organ."""
    names = _names(sections)
    rank = {s.id: n for n, s in enumerate(sections)}
    rank[ERRATA_SECTION] = len(sections)
    entries = []
    for issue in issues:
        if issue.number.year != year:
            continue
        for item in issue.items:
            entries.append({"section": item.section, "organ": item.organ, "title": item.title,
                            "doc_no": item.doc_no, "issue": issue.number.label,
                            "href": f"{issue.slug}.html#{item.anchor}"})
    by_section = [
        {"name": names.get(section, section),
         "entries": [e for e in entries if e["section"] == section]}
        for section in sorted({e["section"] for e in entries}, key=lambda s: rank.get(s, 99))
    ]
    by_organ = [{"name": organ, "entries": [e for e in entries if e["organ"] == organ]}
                for organ in sorted({e["organ"] for e in entries})]
    html = _environment.get_template("year.html.j2").render(
        site_name=info.site_name, gazette_name=info.gazette_name, column_name=info.column_name,
        root="../", year=year, by_section=by_section, by_organ=by_organ)
    return html.encode("utf-8")


def render_pdf(html: bytes, base_dir: Path) -> bytes:
    """The issue as PDF (WeasyPrint, CJK fonts embedded as subsets, TOC page numbers)."""
    weasyprint: Any = importlib.import_module("weasyprint")  # optional: only when pdf is on
    document = weasyprint.HTML(string=html.decode("utf-8"), base_url=str(base_dir))
    pdf = document.write_pdf()
    assert isinstance(pdf, bytes)
    return pdf
