"""The console's /reports page over a year of history: the same figures as the report, each a
link to its rows, charts as inline SVG with no script or outside address, downloads; and in
Chromium, the page with its charts."""

from __future__ import annotations

import html
import io
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from openpyxl import load_workbook
from playwright.sync_api import ConsoleMessage, Page, expect

from publisher.app import App
from publisher.report.build import build_report
from publisher.report.period import ReportPeriod
from tests.support.browser import screenshot
from tests.support.console import PASSWORD, Browser, Console
from tests.support.report_history import YEAR, ZONE, History

FIGURE_LINK = re.compile(r'<a href="(/reports/figure\?[^"]+)" data-figure="([^"]+)"[^>]*>'
                         r'([^<]*)</a>')


def _viewer(console: Console) -> Browser:
    """A signed-in viewer with a name of its own (the history's database outlives each test)."""
    return console.signed_in("viewer", name=f"viewer-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def console_app(history: History) -> App:
    """The console serves the year's history."""
    return history.app


def test_reports_page_shows_every_figure_linked_to_its_rows(console: Console,
                                                             history: History) -> None:
    """A viewer's /reports?year=2026 shows every figure of the report with its value, each a
    link to that figure's rows; the charts are inline SVG; the page has no script and names no
    other site."""
    viewer = _viewer(console)
    page = viewer.get(f"/reports?year={YEAR}")
    assert page.status_code == 200, page.text[:300]
    report = build_report(history.app, ReportPeriod.year(YEAR, ZONE), verify=False)
    links = {figure_id: (html.unescape(href), text)
             for href, figure_id, text in FIGURE_LINK.findall(page.text)}
    assert set(links) == set(report.figures)
    for figure_id, (href, text) in links.items():
        assert html.unescape(text) == report.figures[figure_id].shown(), figure_id
        query = parse_qs(urlsplit(href).query)
        assert query == {"year": [str(YEAR)], "id": [figure_id]}
    assert page.text.count('<svg xmlns="http://www.w3.org/2000/svg"') == 2
    assert 'data-chart="monthly"' in page.text and 'data-chart="first-reports"' in page.text
    assert "<script" not in page.text
    outside = [u for u in re.findall(r'(?:src|href)="(https?://[^"]+)"', page.text)
               if not u.startswith(console.base)]
    assert outside == []
    assert 'data-audit="unchecked"' in page.text
    verified = viewer.get(f"/reports?year={YEAR}&verify=1")
    assert 'data-audit="ok"' in verified.text


def test_figure_page_lists_the_rows_with_links(console: Console, history: History) -> None:
    """/reports/figure lists each row the figure counts, linked to its release page."""
    viewer = _viewer(console)
    figure_id = "runs/scheduled/weekly/late"
    page = viewer.get(f"/reports/figure?year={YEAR}&id={figure_id}")
    assert page.status_code == 200
    report = build_report(history.app, ReportPeriod.year(YEAR, ZONE), sections=["runs"],
                          verify=False)
    rows = [int(i) for i in re.findall(r'<tr data-id="(\d+)">', page.text)]
    assert rows == list(report.figures[figure_id].rows) and len(rows) == 3
    for row in rows:
        assert f'href="/releases/{row}"' in page.text
    answer = viewer.get(f"/releases/{rows[0]}")
    assert answer.status_code == 200 and "weekly@" in answer.text


def test_downloads_are_the_same_report(console: Console, history: History) -> None:
    """The XLSX download opens with openpyxl and holds the page's figures; the JSON download
    has every figure with its rows."""
    viewer = _viewer(console)
    answer = viewer.get(f"/reports/annual.xlsx?year={YEAR}")
    assert answer.status_code == 200
    assert "attachment" in answer.headers["content-disposition"]
    book = load_workbook(io.BytesIO(answer.content))
    report = build_report(history.app, ReportPeriod.year(YEAR, ZONE), verify=False)
    assert book["主动公开信息总量"]["B3"].value == report.figures[
        "publications/totals/items/value"].value
    data = viewer.get(f"/reports/annual.json?year={YEAR}").json()
    assert {k: v["rows"] for k, v in data["figures"].items()} == {
        k: list(f.rows) for k, f in report.figures.items()}


def test_bad_parameters_answer_400_naming_them(console: Console) -> None:
    """A year, date or figure the page cannot use answers 400 with a page naming it."""
    viewer = _viewer(console)
    for path, named in ((f"/reports?from={YEAR}-02-30&to={YEAR}-03-01", "from"),
                        (f"/reports?year={YEAR}&from={YEAR}-01-01", "year"),
                        (f"/reports/figure?year={YEAR}&id=runs/x", "id")):
        answer = viewer.get(path)
        assert answer.status_code == 400, path
        assert f"“{named}”" in answer.text, (path, answer.text[:400])


def test_reports_page_in_chromium_shows_its_charts(console: Console, history: History,
                                                   page: Page) -> None:
    """In headless Chromium a viewer signs in, opens the annual report, sees both charts drawn
    (bars in the SVG), follows a bar to the rows it counts, and no CSP refusal is logged."""
    blocked: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            blocked.append(message.text)

    page.on("console", on_console)
    name = f"zhou-{uuid.uuid4().hex[:8]}"
    console.account("viewer", name=name)
    page.goto(f"{console.base}/reports?year={YEAR}")
    page.fill('input[name="name"]', name)
    page.fill('input[name="password"]', PASSWORD)
    page.click('form[action="/login"] button[type="submit"]')
    page.wait_for_url(f"{console.base}/reports?year={YEAR}")
    monthly = page.locator('svg[data-chart="monthly"]')
    expect(monthly).to_be_visible()
    assert monthly.locator("rect").count() > 12 * 3  # a bar per month and channel, and keys
    first = page.locator('svg[data-chart="first-reports"]')
    expect(first).to_be_visible()
    expect(first).to_contain_text("未记录")  # the incident without an event time
    box = monthly.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 200
    screenshot(page, "reports-annual")
    bridge = history.incidents["bridge"]
    page.locator(f'svg[data-chart="first-reports"] a[href*="{bridge}"]').first.click()
    page.wait_for_url(re.compile(r"/reports/figure\?"))
    expect(page.locator('table[data-table="rows"] tbody tr')).to_have_count(1)
    screenshot(page, "reports-figure")
    assert blocked == []
