"""/releases/new over real HTTP: each definition's data files for the period a release made now covers."""

from __future__ import annotations

import os
import re
from datetime import datetime

from tests.support.console import Console
from tests.support.project import SHANGHAI


def _cell(page: str, table: str) -> str:
    start = page.index(f'data-table-file="{table}"')
    return page[start:page.index("</div>\n", page.index('class="muted"', start))]


def test_trigger_form_shows_the_resolved_path_and_whether_each_file_arrived(
        console: Console) -> None:
    """For the week a release made now covers, the form names the path the pattern resolves to
    (weekly/2026-W49.csv, not {iso_year}-W{iso_week:02d}), says the file has arrived with its
    size and local time, and once removed says it has not arrived yet."""
    inbox = console.app.data_dir / "weekly"
    data = inbox / "2026-W49.csv"
    arrived_at = datetime(2026, 12, 2, 9, 12, tzinfo=SHANGHAI)
    os.utime(data, (arrived_at.timestamp(), arrived_at.timestamp()))
    editor = console.signed_in("editor")
    page = editor.get("/releases/new").text
    cell = _cell(page, "items")
    assert 'data-arrival="arrived"' in cell
    assert "<code data-resolved>weekly/2026-W49.csv</code>" in cell
    assert f"{data.stat().st_size} B" in cell
    assert re.search(r'<time datetime="2026-12-02T09:12:00\+08:00">2026-12-02 09:12</time>', cell)
    assert "本次期间：2026年第49周" in page
    assert f"<code data-inbox>{console.app.data_dir}</code>" in page

    data.rename(inbox / "2026-W49.old")  # not a data file: the pattern's suffix is .csv
    missing = _cell(editor.get("/releases/new").text, "items")
    assert 'data-arrival="missing"' in missing and "尚未到达" in missing
    assert "weekly/2026-W49.csv" in missing
    (inbox / "2026-W49.old").rename(data)
    english = _cell(editor.get("/releases/new?lang=en").text, "items")
    assert "arrived" in english and "weekly/2026-W49.csv" in english
