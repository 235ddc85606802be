"""Data tables in a page body, readable on a phone: each in a focusable, labelled scroll region."""

from __future__ import annotations

import html
import re

_TABLE = re.compile(r"<table\b[^>]*>.*?</table>", re.S | re.I)
_CAPTION = re.compile(r"<caption\b[^>]*>(.*?)</caption>", re.S | re.I)
_HEADING = re.compile(r"<h([2-6])\b[^>]*>(.*?)</h\1>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")
REGION_CLASS = "table-scroll"
FALLBACK_LABEL = "数据表"


def _text(markup: str) -> str:
    return " ".join(html.unescape(_TAG.sub("", markup)).split())


def label_of(body_html: str, table: re.Match[str]) -> str:
    """The table's caption, else the nearest heading above it, else a plain 数据表."""
    caption = _CAPTION.search(table.group(0))
    if caption and _text(caption.group(1)):
        return _text(caption.group(1))
    headings = list(_HEADING.finditer(body_html, 0, table.start()))
    return _text(headings[-1].group(2)) if headings else FALLBACK_LABEL


def scroll_regions(body_html: str) -> str:
    """Wrap every table of trusted ``body_html`` in ``<div class="table-scroll" role="region"
    tabindex="0" aria-label=…>``: keyboard users can scroll it, screen readers name it, and the
    layout's stylesheet (templates/_layout.html.j2) keeps its header row and first column in
    view. Bodies already wrapped
    are returned unchanged."""
    if f'class="{REGION_CLASS}"' in body_html:
        return body_html

    def wrap(table: re.Match[str]) -> str:
        label = html.escape(label_of(body_html, table), quote=True)
        return (f'<div class="{REGION_CLASS}" role="region" tabindex="0" aria-label="{label}">'
                f"{table.group(0)}</div>")

    return _TABLE.sub(wrap, body_html)

