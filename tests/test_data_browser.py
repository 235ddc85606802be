"""The data page in headless Chromium: a supplier downloads the template, uploads a bad GB18030
CSV and sees the cell named, uploads a corrected XLSX, sees the preview, and the release
publishes at its due time from that file."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import FilePayload, Page, expect
from sqlalchemy import select

from channels.memory.adapter import MemoryStore
from publisher import config as config_module
from publisher.app import App
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.scheduler import Scheduler
from publisher.store import Store
from publisher.store.models import Delivery, Release
from publisher.web import account as accounts
from publisher.web.api import create_app
from publisher.web.server import serve
from tests.support.browser import screenshot
from tests.support.project import SHANGHAI

PASSWORD = "correct horse battery staple"
DUE = datetime(2026, 12, 9, 10, 0, tzinfo=SHANGHAI)  # Wednesday of 2026-W50
CONFIG = """\
timezone: Asia/Shanghai
data_dir: inbox
templates_dir: templates
defaults:
  retry: {attempts_per_claim: 1, initial_wait_seconds: 0.1, max_wait_seconds: 1,
          sweep_wait_seconds: 1, max_sweep_wait_seconds: 2}
columns:
  news: 新闻
channels:
  mem-a: {kind: memory, settings: {}}
  mem-b: {kind: memory, settings: {}}
schemas:
  sampling:
    columns:
      - {id: food, header: 食品名称, aliases: [样品名称]}
      - {id: sampled_on, header: 抽样日期, type: date}
      - {id: batches, header: 批次, type: int}
releases:
  sampling:
    title: "{{ period.label }}抽检信息"
    issuing_organ: 某市市场监督管理局
    organ_code: "MB0000123"
    subject_category: 综合政务
    column: news
    schedule: "0 10 * * wed"
    data_due_hours: 18
    source:
      period: week
      tables:
        results:
          path: "sampling/{iso_year}-W{iso_week:02d}/results.*"
          sheet: 抽检结果
          schema: sampling
    channels: [mem-a, mem-b]
"""
TEMPLATE = ("{% for r in tables['results'] %}{{ r.food }} {{ r.sampled_on }} {{ r.batches }}批\n"
            "{% endfor %}")


@dataclass
class Served:
    app: App
    base: str


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The console over a project whose one definition reads one table (any format), with a
    supplier account "zhao" for it; the clock on Monday of W50."""
    root = tmp_path / "project"
    (root / "templates" / "sampling").mkdir(parents=True)
    (root / "templates" / "sampling" / "memory.txt.j2").write_text(TEMPLATE, encoding="utf-8")
    (root / "inbox").mkdir()
    (root / "schedules.yaml").write_text(CONFIG, encoding="utf-8")
    MemoryStore.reset()
    clock = ManualClock(datetime(2026, 12, 7, 9, 0, tzinfo=SHANGHAI))
    app = App(loaded=config_module.load(root / "schedules.yaml"),
              store=Store(f"sqlite:///{tmp_path / 'db'}"), clock=clock)
    accounts.create(app, "zhao", PASSWORD, ["supplier"], actor="staff:test",
                    display_name="赵报送", definitions=["sampling"])
    server = serve(create_app(app), "127.0.0.1", 0)
    try:
        yield Served(app, server.url.rstrip("/"))
    finally:
        server.stop()
        app.close()
        MemoryStore.reset()


def _sign_in(page: Page, url: str) -> None:
    page.goto(url)
    page.get_by_label("账号").fill("zhao")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_supplier_uploads_sees_the_bad_cell_fixes_it_and_the_release_publishes(
        served: Served, page: Page, tmp_path: Path) -> None:
    """Chromium: sign in as a supplier, land on the data page, download the XLSX template, upload
    a GB18030 CSV with a bad date (the row, column and value are shown), upload the corrected
    template as XLSX, see each channel's preview; at the due time the scheduled run publishes
    exactly that file's rows."""
    _sign_in(page, served.base + "/login")
    expect(page).to_have_url(served.base + "/data")
    page.get_by_role("link", name="sampling").click()
    expect(page).to_have_url(served.base + "/data/sampling/2026-W50")
    expect(page.get_by_role("heading", level=1)).to_contain_text("2026年第50周")

    with page.expect_download() as waiting:
        page.locator('[data-data-table="results"] a[data-template="xlsx"]').click()
    assert waiting.value.suggested_filename == "sampling-results.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(waiting.value.path().read_bytes()))
    assert book.sheetnames == ["抽检结果"]
    assert [c.value for c in book["抽检结果"][1]] == ["食品名称", "抽样日期", "批次"]

    bad = "食品名称,抽样日期,批次\n饼干,2026-12-32,3\n".encode("gb18030")
    page.get_by_label("results 的数据文件").set_input_files(
        files=[FilePayload(name="本周.csv", mimeType="text/csv", buffer=bad)])
    page.get_by_role("button", name="上传并检查").click()
    problems = page.locator('section[data-problems="results"] table')
    expect(problems).to_be_visible()
    row = problems.locator("tbody tr").first
    expect(row).to_contain_text("第 2 行")
    expect(row).to_contain_text("抽样日期")
    expect(row).to_contain_text("2026-12-32")
    expect(row).to_contain_text("不是有效日期")
    screenshot(page, "data-upload-bad-cell")
    assert not (served.app.data_dir / "sampling").exists()

    sheet = book["抽检结果"]
    sheet.append(["饼干", datetime(2026, 12, 3), 3])
    sheet.append(["月饼", "2026-12-04", 2])
    out = io.BytesIO()
    book.save(out)
    page.get_by_label("results 的数据文件").set_input_files(
        files=[FilePayload(name="本周.xlsx", mimeType="application/octet-stream",
                           buffer=out.getvalue())])
    page.get_by_role("button", name="上传并检查").click()
    expect(page.locator('[data-done="created"]')).to_be_visible()
    expect(page.locator('[data-uploaded-by="console:zhao"]')).to_be_visible()
    for channel in ("mem-a", "mem-b"):
        preview = page.locator(f'[data-preview="{channel}"]')
        expect(preview).to_contain_text("饼干 2026-12-03 3批")
        expect(preview).to_contain_text("月饼 2026-12-04 2批")
    screenshot(page, "data-upload-preview")
    stored = served.app.data_dir / "sampling" / "2026-W50" / "results.xlsx"
    assert stored.read_bytes() == out.getvalue()

    assert isinstance(served.app.clock, ManualClock)
    served.app.clock.set(DUE)
    Scheduler(served.app).fire("sampling")
    with served.app.store.read() as session:
        made = session.execute(select(Release)).scalar_one()
    assert made.state == "active" and made.details["data_files"] == {"results": str(stored)}
    dispatcher = Dispatcher(served.app)
    try:
        dispatcher.drain(made.id, until=DUE + timedelta(minutes=5))
    finally:
        dispatcher.shutdown()
    with served.app.store.read() as session:
        states = {d.channel: d.state for d in session.execute(select(Delivery)).scalars()}
    assert states == {"mem-a": "published", "mem-b": "published"}
    [sent] = MemoryStore.published("mem-a")
    assert "饼干 2026-12-03 3批" in str(sent) and "月饼 2026-12-04 2批" in str(sent)
    _sign_in(page, served.base + "/login?next=/data/sampling/2026-W50")  # two days later
    expect(page.locator('[data-release="sampling@2026-12-09T10:00+08:00"]')).to_contain_text(
        "已完成")
