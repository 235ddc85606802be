"""The report as an XLSX workbook: a sheet on how it was made, then one sheet per table with the
format's labels verbatim, and a sheet of every figure with the number of rows it counts."""

from __future__ import annotations

import io
import re

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

from publisher.report.figure import Figure, Report, Table
from publisher.report.output.data import meta

ABOUT_SHEET = "说明"
FIGURES_SHEET = "指标"
UNKNOWN_SHEET = "无法统计"
_BAD = re.compile(r"[\[\]:*?/\\]")
BOLD = Font(bold=True)


def sheet_name(title: str, taken: set[str]) -> str:
    """An Excel sheet name (≤ 31 characters, none of []:*?/\\) not used yet."""
    base = _BAD.sub("", title)[:31] or "表"
    name, n = base, 2
    while name in taken:
        suffix = f"（{n}）"
        name, n = base[:31 - len(suffix)] + suffix, n + 1
    taken.add(name)
    return name


def append(sheet: Worksheet, values: list[object]) -> None:
    """Append a row; text that starts with ``=`` stays text (a title is never a formula)."""
    sheet.append(values)
    for cell in sheet[sheet.max_row]:
        if cell.data_type == "f":
            cell.data_type = "s"


def cell_value(figure: Figure) -> int | float | str:
    """Numbers stay numbers; what is not known is written in words (未记录, 无法统计)."""
    if isinstance(figure.value, int | float) and not isinstance(figure.value, bool):
        return figure.value
    return figure.shown()


def _about(sheet: Worksheet, report: Report) -> None:
    info = meta(report)
    audit = info["audit"]
    verified = {None: "未核验", True: f"完整（{audit['events']} 条）", False: f"被破坏：{audit['problem']}"}
    rows = [("期间", f"{report.period_zh}（{report.first} 至 {report.last}）"),
            ("期间已结束", "是" if report.complete else "否"),
            ("发布机构", report.organ or "全部"),
            ("生成时间", info["made_at"]), ("数据库", report.database),
            ("审计链核验", verified[audit["verified"]])]
    rows += [("说明", zh) for zh, _en in report.notes]
    append(sheet, ["项目", "内容"])
    for row in rows:
        append(sheet, list(row))
    sheet.column_dimensions["A"].width = 14
    sheet.column_dimensions["B"].width = 90


def _table(sheet: Worksheet, report: Report, table: Table) -> None:
    append(sheet, [table.zh])
    sheet["A1"].font = BOLD
    append(sheet, [table.first_header_zh, *[c.zh for c in table.columns]])
    for cell in sheet[2]:
        cell.font = BOLD
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for row in table.rows:
        append(sheet, [row.zh, *[cell_value(report.figures[row.cells[c.id]])
                                if c.id in row.cells else "" for c in table.columns]])
    notes = [f"{report.figures[f].id}：{report.figures[f].note_zh}" for row in table.rows
             for f in row.cells.values() if report.figures[f].note_zh
             and report.figures[f].status in ("unknown", "not_recorded", "draft")]
    if table.note_zh:
        append(sheet, [])
        append(sheet, [f"注：{table.note_zh}"])
    for note in notes:
        append(sheet, [note])
    sheet.column_dimensions["A"].width = 34
    for index in range(len(table.columns)):
        sheet.column_dimensions[chr(ord("B") + index) if index < 25 else "Z"].width = 16


def _figures(sheet: Worksheet, report: Report) -> None:
    append(sheet, ["指标编号", "数值", "单位", "状态", "所计记录", "记录数", "说明"])
    for figure in report.figures.values():
        append(sheet, [figure.id, cell_value(figure), figure.unit, figure.status,
                      figure.rows_of, len(figure.rows), figure.note_zh])
    sheet.column_dimensions["A"].width = 60


def to_xlsx(report: Report) -> bytes:
    """The workbook's bytes."""
    book = Workbook()
    about = book.active
    assert about is not None
    about.title = ABOUT_SHEET
    _about(about, report)
    taken = {ABOUT_SHEET, FIGURES_SHEET, UNKNOWN_SHEET}
    for table in report.tables:
        _table(book.create_sheet(sheet_name(table.zh, taken)), report, table)
    if report.unknowable:
        sheet = book.create_sheet(UNKNOWN_SHEET)
        append(sheet, ["项目", "数据来源"])
        for item in report.unknowable:
            append(sheet, [item.label, item.source_zh])
        sheet.column_dimensions["A"].width = 50
    _figures(book.create_sheet(FIGURES_SHEET), report)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
