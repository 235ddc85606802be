"""The report as tables on a terminal (Chinese characters counted two columns wide)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import tzinfo

from publisher.report.build import Line
from publisher.report.figure import Figure, Report, Table

MAX_CELL = 28


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _fit(text: str, size: int) -> str:
    if width(text) <= size:
        return text
    out = ""
    for ch in text:
        if width(out + ch + "…") > size:
            break
        out += ch
    return out + "…"


def _pad(text: str, size: int, right: bool) -> str:
    gap = " " * (size - width(text))
    return gap + text if right else text + gap


def grid(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Aligned lines: the first column left, the others right."""
    cells = [[_fit(c, MAX_CELL) for c in row] for row in [headers, *rows]]
    sizes = [max(width(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for number, row in enumerate(cells):
        lines.append("  ".join(_pad(c, sizes[i], i > 0) for i, c in enumerate(row)).rstrip())
        if number == 0:
            lines.append("  ".join("-" * s for s in sizes))
    return lines


def table_lines(report: Report, table: Table, lang: str = "zh") -> list[str]:
    title = table.zh if lang == "zh" else table.en
    headers = [table.first_header_zh if lang == "zh" else table.first_header_en,
               *[c.zh if lang == "zh" else c.en for c in table.columns]]
    rows = [[row.zh if lang == "zh" else row.en,
             *[report.figures[row.cells[c.id]].shown(lang) if c.id in row.cells else ""
               for c in table.columns]] for row in table.rows]
    lines = [f"■ {title}", *grid(headers, rows)]
    names = {c.id: c.zh if lang == "zh" else c.en for c in table.columns}
    for row in table.rows:
        for column, figure_id in row.cells.items():
            figure = report.figures[figure_id]
            said = figure.note_zh if lang == "zh" else figure.note_en
            if said and figure.status != "derived" and figure.value not in (0, None):
                lines.append(f"  · {row.zh if lang == 'zh' else row.en} {names[column]}：{said}")
    note = table.note_zh if lang == "zh" else table.note_en
    if note:
        lines.append(f"  注：{note}" if lang == "zh" else f"  Note: {note}")
    return lines


def header_lines(report: Report) -> list[str]:
    audit = report.audit
    if audit.ok is None:
        chain = "未核验 / not verified"
    elif audit.ok:
        chain = f"完整，{audit.events} 条 / intact, {audit.events} events"
    else:
        chain = f"被破坏 / BROKEN: {audit.problem}"
    lines = [f"政府信息公开工作年度报告 统计 / annual report figures: {report.period_zh} "
             f"({report.first} – {report.last})",
             f"生成于 / made at: {report.made_at.isoformat(timespec='seconds')}",
             f"数据库 / database: {report.database}",
             f"审计链 / audit chain: {chain}"]
    if report.organ:
        lines.append(f"发布机构 / issuing organ: {report.organ}")
    lines += [f"  * {zh} / {en}" for zh, en in report.notes]
    return lines


def render(report: Report, lang: str = "zh") -> str:
    """The whole report as text."""
    lines = header_lines(report)
    for table in report.tables:
        lines += ["", *table_lines(report, table, lang)]
    if report.unknowable:
        lines += ["", "■ 本系统无法统计的项目 / what the bot cannot know"]
        lines += [f"  - {u.label}：{u.source_zh} / {u.source_en}" for u in report.unknowable]
    lines += ["", "查看某项数字所计的记录 / to list the rows behind a figure: "
                  "publisher report annual --explain FIGURE (figure ids: --format json)"]
    return "\n".join(lines) + "\n"


def explanation(report: Report, figure: Figure, lines: list[Line], zone: tzinfo) -> str:
    """A figure and the rows it counts."""
    out = [f"{figure.id} = {figure.shown()} {figure.unit}".rstrip(),
           f"期间 / period: {report.period_zh} ({report.first} – {report.last})",
           f"状态 / status: {figure.status}; 记录 / rows: {len(figure.rows)} "
           f"{figure.rows_of or ''}".rstrip()]
    if figure.note_zh:
        out.append(f"注 / note: {figure.note_zh} / {figure.note_en}")
    for line in lines:
        when = line.when.astimezone(zone).strftime("%Y-%m-%d %H:%M") if line.when else "-"
        out.append(f"  {line.id:>8}  {when}  {line.what}  {line.detail}".rstrip())
    return "\n".join(out) + "\n"
