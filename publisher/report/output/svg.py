"""Charts as inline SVG made on the server (no script, no external file): publications by month
and channel, and each incident's time to its first report. Every bar links to its figure."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from publisher.report.figure import Report

PALETTE = ("#1f5fa8", "#c0392b", "#2e8b57", "#d68910", "#6c3483", "#117a8b", "#7b7d7d",
           "#a04000")
Link = Callable[[str], str]  # figure id -> the URL of its rows


def _number(figure_value: object) -> float:
    return float(figure_value) if isinstance(figure_value, int | float) else 0.0


def monthly(report: Report, link: Link, *, title: str = "按月发布篇次（分渠道）") -> str:
    """Stacked bars: each month's publications, one colour per channel."""
    table = report.table("by_month")
    channels = [c for c in table.columns if c.id.startswith("channel:")]
    totals = [sum(_number(report.figures[row.cells[c.id]].value) for c in channels)
              for row in table.rows]
    top = max([*totals, 1.0])
    bar, gap, left, height, base = 34, 14, 48, 220, 250
    size = left + len(table.rows) * (bar + gap) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="group" class="chart" '
             f'data-chart="monthly" viewBox="0 0 {max(size, 320)} {base + 40 + 18 * len(channels)}"'
             f' width="{max(size, 320)}" aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<line x1="{left}" y1="{base}" x2="{size}" y2="{base}" stroke="#555"/>',
             f'<text x="{left - 6}" y="{base - height}" font-size="11" text-anchor="end">'
             f'{int(top)}</text>',
             f'<text x="{left - 6}" y="{base}" font-size="11" text-anchor="end">0</text>']
    for index, row in enumerate(table.rows):
        x, y = left + index * (bar + gap) + gap / 2, float(base)
        for number, column in enumerate(channels):
            figure = report.figures[row.cells[column.id]]
            value = _number(figure.value)
            if value <= 0:
                continue
            h = value / top * height
            y -= h
            parts.append(f'<a href="{escape(link(figure.id))}"><rect x="{x:.1f}" y="{y:.1f}" '
                         f'width="{bar}" height="{h:.1f}" fill="{PALETTE[number % len(PALETTE)]}">'
                         f'<title>{escape(row.zh)} {escape(column.zh)}：{int(value)} 篇次</title>'
                         f'</rect></a>')
        parts.append(f'<text x="{x + bar / 2:.1f}" y="{base + 14}" font-size="11" '
                     f'text-anchor="middle">{escape(row.zh[-2:])}月</text>')
        if totals[index]:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{y - 3:.1f}" font-size="10" '
                         f'text-anchor="middle">{int(totals[index])}</text>')
    for number, column in enumerate(channels):
        y = base + 32 + 18 * number
        parts.append(f'<rect x="{left}" y="{y - 10}" width="12" height="12" '
                     f'fill="{PALETTE[number % len(PALETTE)]}"/><text x="{left + 18}" y="{y}" '
                     f'font-size="12">{escape(column.zh)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def first_reports(report: Report, link: Link, target_minutes: int, *,
                  title: str = "各事件首报用时（分钟）") -> str:
    """Horizontal bars: minutes from each incident's event to its first report per channel,
    with the target marked; an incident without an event time says 未记录."""
    table = report.table("first_reports")
    channels = [c for c in table.columns if c.id.startswith("channel:")]
    values = [_number(report.figures[row.cells[c.id]].value) for row in table.rows
              for c in channels]
    top = max([*values, float(target_minutes) * 1.2, 1.0])
    label_w, plot_w, line_h = 220, 420, 14
    block = max(1, len(channels)) * line_h + 12
    height = 30 + len(table.rows) * block + 18 * len(channels) + 20
    scale = plot_w / top
    target_x = label_w + target_minutes * scale
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="group" class="chart" '
             f'data-chart="first-reports" viewBox="0 0 {label_w + plot_w + 60} {height}" '
             f'width="{label_w + plot_w + 60}" aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<line x1="{target_x:.1f}" y1="10" x2="{target_x:.1f}" '
             f'y2="{30 + len(table.rows) * block}" stroke="#c0392b" stroke-dasharray="4 3"/>',
             f'<text x="{target_x + 4:.1f}" y="20" font-size="11" fill="#c0392b">'
             f'目标 {target_minutes} 分钟</text>']
    for index, row in enumerate(table.rows):
        top_y = 30 + index * block
        parts.append(f'<text x="{label_w - 8}" y="{top_y + line_h}" font-size="12" '
                     f'text-anchor="end">{escape(row.zh[:16])}</text>')
        for number, column in enumerate(channels):
            figure = report.figures[row.cells[column.id]]
            y = top_y + number * line_h + 2
            if figure.value is None:
                words = "未记录" if figure.status == "not_recorded" else "—"
                parts.append(f'<text x="{label_w + 4}" y="{y + 10}" font-size="10" '
                             f'fill="#555">{words}</text>')
                continue
            w = max(1.0, _number(figure.value) * scale)
            parts.append(f'<a href="{escape(link(figure.id))}"><rect x="{label_w}" y="{y}" '
                         f'width="{w:.1f}" height="{line_h - 3}" '
                         f'fill="{PALETTE[number % len(PALETTE)]}"><title>{escape(row.zh)} '
                         f'{escape(column.zh)}：{figure.shown()} 分钟</title></rect></a>'
                         f'<text x="{label_w + w + 4:.1f}" y="{y + 10}" font-size="10">'
                         f'{figure.shown()}</text>')
    legend_y = 30 + len(table.rows) * block + 14
    for number, column in enumerate(channels):
        y = legend_y + 18 * number
        parts.append(f'<rect x="{label_w}" y="{y - 10}" width="12" height="12" '
                     f'fill="{PALETTE[number % len(PALETTE)]}"/><text x="{label_w + 18}" '
                     f'y="{y}" font-size="12">{escape(column.zh)}</text>')
    parts.append("</svg>")
    return "".join(parts)
