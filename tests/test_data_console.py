"""The console's data pages over real HTTP: a supplier sees only its definitions, downloads
templates, uploads, sees problems by cell, and previews every channel; staff see the same."""

from __future__ import annotations

import io
import re
from pathlib import Path

import openpyxl
import pytest
import requests

from publisher import config as config_module
from publisher import release
from publisher.app import App
from publisher.config import TableSchema
from publisher.source import read_table
from tests.support.console import Browser, Console
from tests.support.project import with_other_definition

PAGE = "/data/weekly/2026-W50"  # the test clock is in W49, which has a file; W50 has none


@pytest.fixture
def console_app(app: App, project: Path) -> App:
    """The test App with a second definition, ``other``, reading its own folder."""
    return with_other_definition(app, project)


def _upload(browser: Browser, path: str, name: str, data: bytes, table: str = "items",
            page: str = PAGE) -> requests.Response:
    token = browser.csrf(page)
    return browser.post(f"{path}/{table}", data={"csrf_token": token},
                        files={"file": (name, data, "application/octet-stream")})


def _schema(app: App) -> TableSchema:
    return app.loaded.config.schemas["simple"]


def test_supplier_signs_in_to_its_data_and_sees_nothing_else(console: Console) -> None:
    """A supplier named for ``weekly`` lands on /data, sees only ``weekly`` there and in its
    navigation, and every other page (overview, log, audit, reports, another definition's data,
    triggering) answers 403."""
    supplier = console.signed_in("supplier")
    home = supplier.get("/")
    assert home.status_code == 303 and home.headers["Location"] == "/data"
    index = supplier.get("/data")
    assert index.status_code == 200
    assert 'data-definition="weekly"' in index.text and 'data-definition="other"' not in index.text
    assert re.findall(r'data-nav="([a-z_-]+)"', index.text) == ["data"]
    for path in ("/deliveries", "/audit", "/reports", "/incidents", "/releases/new",
                 "/data/other", "/data/other/2026-W50", "/data/other/template.xlsx",
                 "/data/other/template/items.csv", "/data/other/2026-W50/preview/mem-a"):
        assert supplier.get(path).status_code == 403, path
    answer = _upload(supplier, "/data/other/2026-W50", "a.csv", "项目,数量\n苹果,3\n".encode(),
                     page=PAGE)
    assert answer.status_code == 403
    assert not (console.app.data_dir / "other").exists()


def test_templates_read_back_through_the_release_reader(console: Console, tmp_path: Path) -> None:
    """The XLSX template has the table's sheet and headers, the CSV its header row with a BOM;
    both read back through the release's reader with every column found and no row."""
    supplier = console.signed_in("supplier")
    book = supplier.get("/data/weekly/template/items.xlsx")
    assert book.status_code == 200 and "attachment" in book.headers["Content-Disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(book.content))
    assert workbook.sheetnames == ["items"]
    sheet = workbook["items"]
    assert [c.value for c in sheet[1]] == ["项目", "数量"]
    plain = supplier.get("/data/weekly/template/items.csv")
    assert plain.content.startswith(b"\xef\xbb\xbf") and "项目,数量" in plain.content.decode()
    for name, data in (("t.xlsx", book.content), ("t.csv", plain.content)):
        (tmp_path / name).write_bytes(data)
        assert read_table(tmp_path / name, _schema(console.app), "items") == []
    english = supplier.get(f"{PAGE}?lang=en")
    assert english.status_code == 200 and "Expected columns" in english.text
    assert "Download the XLSX template" in english.text
    whole = supplier.get("/data/weekly/template.xlsx")
    assert openpyxl.load_workbook(io.BytesIO(whole.content)).sheetnames == ["items"]


def test_a_bad_cell_is_named_and_a_corrected_file_is_stored_and_previewed(
        console: Console) -> None:
    """A GB18030 CSV with a bad number answers 422 with the problems table naming row, column
    and value, and stores nothing; a corrected XLSX is stored (who, checksum on the page) and
    every channel's message is previewed with its rows."""
    supplier = console.signed_in("supplier", name="li.bureau")
    page = supplier.get(PAGE)
    assert page.status_code == 200 and 'data-arrival="missing"' in page.text
    assert 'data-column="item"' in page.text and 'data-column="amount"' in page.text
    bad = _upload(supplier, PAGE, "week.csv", "项目,数量\n苹果,三个\n".encode("gb18030"))
    assert bad.status_code == 422
    assert 'data-problem-row="第 2 行" data-problem-column="数量"' in bad.text
    assert "<code>三个</code>" in bad.text and "不是整数" in bad.text
    assert not (console.app.data_dir / "weekly" / "2026-W50.csv").exists()
    wrong_format = _upload(supplier, PAGE, "week.xlsx", b"PK\x03\x04")
    assert wrong_format.status_code == 415  # this table's path fixes .csv
    good = "项目,数量\n苹果,4\n桃,7\n".encode("gb18030")
    stored = _upload(supplier, PAGE, "week.csv", good)
    assert stored.status_code == 303, stored.text[:500]
    assert stored.headers["Location"] == f"{PAGE}?done=created&table=items"
    assert (console.app.data_dir / "weekly" / "2026-W50.csv").read_bytes() == good
    after = supplier.get(stored.headers["Location"])
    assert 'data-uploaded-by="console:li.bureau"' in after.text
    assert 'data-preview="mem-a"' in after.text and 'data-preview="mem-b"' in after.text
    assert "苹果：4" in after.text and "桃：7" in after.text


def test_an_editor_replaces_and_removes_and_the_versions_are_listed(console: Console) -> None:
    """Staff with data.upload replace a file (the earlier version is listed as replaced) and
    take it out (listed as removed); a viewer sees the page without forms."""
    editor = console.signed_in("editor")
    assert _upload(editor, PAGE, "a.csv", "项目,数量\n苹果,1\n".encode()).status_code == 303
    assert _upload(editor, PAGE, "b.csv", "项目,数量\n苹果,2\n".encode()).status_code == 303
    page = editor.get(PAGE).text
    assert 'data-version="replaced"' in page
    removed = editor.post_form(f"{PAGE}/items/remove", from_page=PAGE)
    assert removed.status_code == 303
    page = editor.get(PAGE).text
    assert 'data-version="removed"' in page and 'data-arrival="missing"' in page
    viewer = console.signed_in("viewer").get(PAGE)
    assert viewer.status_code == 200 and 'data-form="upload"' not in viewer.text


def test_supplier_sees_its_releases_outcome(console: Console) -> None:
    """Once the period's release is created, the supplier's page shows its outcome and the
    period's data is locked (no upload form)."""
    app = console.app
    release.create(app, "weekly", app.clock.now(), actor="scheduler", origin="scheduled")
    supplier = console.signed_in("supplier")
    page = supplier.get("/data/weekly/2026-W49")
    assert page.status_code == 200
    assert 'data-release="weekly@2026-12-02T10:00+08:00"' in page.text
    assert "data-release-outcome=" in page.text and "data-locked=" in page.text
    assert 'data-form="upload"' not in page.text


def test_an_old_excel_file_is_refused_naming_what_to_do(console: Console) -> None:
    """An .xls upload answers 415 saying to save it as .xlsx, and nothing is stored."""
    supplier = console.signed_in("supplier")
    answer = _upload(supplier, PAGE, "week.xls", b"\xd0\xcf\x11\xe0 old excel")
    assert answer.status_code == 415 and "另存为 .xlsx" in answer.text
    assert not (console.app.data_dir / "weekly" / "2026-W50.csv").exists()


def test_the_overview_lists_runs_whose_data_is_not_ready(console: Console, project: Path) -> None:
    """After the pre-flight finds next week's file missing, the overview lists that run with the
    problem, linked to its data page; once a valid file is uploaded and checked again, it is gone."""
    from datetime import datetime

    from publisher.intake import preflight
    from tests.support.project import SHANGHAI

    config = project / "schedules.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "    channels: [mem-a, mem-b]\n", "    channels: [mem-a, mem-b]\n    data_due_hours: 18\n",
        1), encoding="utf-8")
    app = console.app
    app.loaded = config_module.load(config)
    app.clock.set(datetime(2026, 12, 8, 17, 0, tzinfo=SHANGHAI))  # type: ignore[attr-defined]
    [checked] = preflight.sweep(app)
    assert not checked.ready
    staff = console.signed_in("viewer")
    page = staff.get("/").text
    assert 'data-not-ready="weekly@2026-12-09T10:00+08:00"' in page
    assert 'href="/data/weekly"' in page and "数据文件尚未到达" in page
    supplier = console.signed_in("supplier")
    assert 'data-preflight="not-ready"' in supplier.get(PAGE).text
    assert _upload(supplier, PAGE, "w.csv", "项目,数量\n苹果,3\n".encode()).status_code == 303
    [again] = preflight.sweep(app)
    assert again.ready and "data-not-ready=" not in staff.get("/").text
    assert 'data-preflight="ready"' in supplier.get(PAGE).text


def test_supplier_sees_why_its_release_was_held(console: Console) -> None:
    """A release held because its file never came shows, on the supplier's data page, its
    outcome and the reason, and the period stays open for the file."""
    app = console.app
    from datetime import datetime

    from tests.support.project import SHANGHAI

    due = datetime(2026, 12, 9, 10, 0, tzinfo=SHANGHAI)
    held = release.create(app, "weekly", due, actor="scheduler", origin="scheduled")
    assert held.state == "held"
    page = console.signed_in("supplier").get(PAGE).text
    assert 'data-release="weekly@2026-12-09T10:00+08:00"' in page
    assert "data-hold-reasons" in page and "数据文件尚未到达" in page
    assert 'data-form="upload"' in page  # held: the data may still come
