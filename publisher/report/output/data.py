"""The report as JSON (every figure with its row ids) and as CSV (one line per figure)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from publisher import formula
from publisher.report.figure import Figure, Report, Table

CSV_HEADER = ("table_id", "table", "row", "column", "value", "unit", "status", "figure",
              "rows_of", "row_count", "note")


def meta(report: Report) -> dict[str, Any]:
    """How and from what the report was made."""
    return {
        "period": {"first": report.first, "last": report.last, "label_zh": report.period_zh,
                   "label_en": report.period_en, "complete": report.complete},
        "organ": report.organ,
        "made_at": report.made_at.isoformat(),
        "database": report.database,
        "audit": {"verified": report.audit.ok, "events": report.audit.events,
                  "problem": report.audit.problem},
        "notes": [{"zh": zh, "en": en} for zh, en in report.notes],
    }


def figure_json(figure: Figure, *, with_rows: bool = True) -> dict[str, Any]:
    found: dict[str, Any] = {"value": figure.value, "unit": figure.unit, "status": figure.status,
                             "rows_of": figure.rows_of or None, "row_count": len(figure.rows)}
    if with_rows:
        found["rows"] = list(figure.rows)
    if figure.note_zh or figure.note_en:
        found["note_zh"], found["note_en"] = figure.note_zh, figure.note_en
    return found


def table_json(table: Table) -> dict[str, Any]:
    return {"id": table.id, "title_zh": table.zh, "title_en": table.en,
            "first_header_zh": table.first_header_zh,
            "columns": [{"id": c.id, "zh": c.zh, "en": c.en} for c in table.columns],
            "rows": [{"key": r.key, "zh": r.zh, "en": r.en, "cells": r.cells} for r in table.rows],
            "note_zh": table.note_zh, "note_en": table.note_en}


def to_json(report: Report, *, with_rows: bool = True) -> dict[str, Any]:
    """The whole report: its provenance, its tables (cells name figure ids) and its figures."""
    return {
        "report": meta(report),
        "tables": [table_json(t) for t in report.tables],
        "figures": {fid: figure_json(f, with_rows=with_rows) for fid, f in report.figures.items()},
        "unknowable": [{"label": u.label, "source_zh": u.source_zh, "source_en": u.source_en}
                       for u in report.unknowable],
    }


def cells(report: Report) -> Iterator[tuple[Table, str, str, Figure]]:
    """Every shown figure: its table, its row label, its column label, the figure."""
    for table in report.tables:
        headers = {c.id: c.zh for c in table.columns}
        for row in table.rows:
            for column, figure_id in row.cells.items():
                yield table, row.zh, headers[column], report.figures[figure_id]


def to_csv(report: Report) -> str:
    """One line per figure, UTF-8 with a BOM so spreadsheet programs read the Chinese."""
    out = io.StringIO()
    writer = formula.Writer(out)  # no cell runs as a formula, whatever the list separator
    writer.writerow(CSV_HEADER)
    for table, row, column, figure in cells(report):
        value = figure.value if figure.value is not None else figure.shown()
        writer.writerow([table.id, table.zh, row, column, str(value), figure.unit,
                         figure.status, figure.id, figure.rows_of, len(figure.rows),
                         figure.note_zh])
    return "\ufeff" + out.getvalue()
