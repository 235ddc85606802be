"""The report as a Word (.docx) section that staff paste into their annual report: section 二 in
the format's table, the bot's supplementary tables, what it cannot know, and how it was made."""

from __future__ import annotations

import io
from typing import Any

from docx import Document
from docx.oxml.ns import qn
from docx.shared import Pt

from publisher.report import label
from publisher.report.figure import Report, Table

FORMAT_BLOCKS = ("item_one", "item_five", "item_six", "item_eight")
WIDTH = 4  # the format's table: 信息内容 and at most three figures a block
FONT = "宋体"


def _cjk_font(document: Any) -> None:
    style = document.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(10.5)
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), FONT)


def _row(table: Any, texts: list[str], *, bold: bool = False) -> None:
    """A row of the format table; a block with fewer figures spans its last cell to the end."""
    cells = table.add_row().cells
    if len(texts) < WIDTH:
        cells[len(texts) - 1].merge(cells[WIDTH - 1])
    for index, text in enumerate(texts):
        cells[index].text = text
        if bold:
            for run in cells[index].paragraphs[0].runs:
                run.bold = True


def _format_table(document: Any, report: Report) -> None:
    blocks = [t for t in report.tables if t.id in FORMAT_BLOCKS]
    if not blocks:
        return
    table = document.add_table(rows=0, cols=WIDTH)
    table.style = "Table Grid"
    for block in blocks:
        title = table.add_row().cells
        title[0].merge(title[WIDTH - 1]).text = block.zh
        _row(table, [label.CONTENT, *[c.zh for c in block.columns]], bold=True)
        for row in block.rows:
            _row(table, [row.zh, *[report.figures[row.cells[c.id]].shown()
                                   for c in block.columns]])
    item_one = next((t for t in blocks if t.id == "item_one"), None)
    if item_one is not None and item_one.note_zh:
        document.add_paragraph(f"注：{item_one.note_zh}")


def _table(document: Any, report: Report, table: Table) -> None:
    document.add_heading(table.zh, level=3)
    word = document.add_table(rows=1, cols=1 + len(table.columns))
    word.style = "Table Grid"
    header = word.rows[0].cells
    for index, text in enumerate([table.first_header_zh, *[c.zh for c in table.columns]]):
        header[index].text = text
    for row in table.rows:
        cells = word.add_row().cells
        cells[0].text = row.zh
        for index, column in enumerate(table.columns, start=1):
            figure_id = row.cells.get(column.id)
            cells[index].text = report.figures[figure_id].shown() if figure_id else ""
    if table.note_zh:
        document.add_paragraph(f"注：{table.note_zh}")


def _provenance(document: Any, report: Report) -> None:
    audit = report.audit
    chain = ("未核验" if audit.ok is None else f"完整（{audit.events} 条）" if audit.ok
             else f"被破坏：{audit.problem}")
    document.add_paragraph(
        f"以上数字由政务信息发布系统依据其记录统计：期间 {report.period_zh}（{report.first} 至 "
        f"{report.last}），生成于 {report.made_at.isoformat(timespec='seconds')}，数据库 "
        f"{report.database}，审计链核验：{chain}。每项数字所计的记录可在工作台“年度报告”页或用 "
        f"publisher report annual --explain 查看。")
    for zh, _en in report.notes:
        document.add_paragraph(zh, style="List Bullet")


def to_docx(report: Report, headings: dict[str, str] | None = None) -> bytes:
    """The .docx file's bytes."""
    headings = headings or {}
    document = Document()
    _cjk_font(document)
    document.add_heading(label.heading("二", headings), level=1)
    _format_table(document, report)
    others = [t for t in report.tables if t.id not in FORMAT_BLOCKS]
    if others:
        document.add_heading("补充统计（发布系统记录）", level=2)
        for table in others:
            _table(document, report, table)
    if report.unknowable:
        document.add_heading("本系统无法统计的项目", level=2)
        for item in report.unknowable:
            document.add_paragraph(f"{item.label}：请向{item.source_zh}取得。",
                                   style="List Bullet")
    document.add_heading("统计说明", level=2)
    _provenance(document, report)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
