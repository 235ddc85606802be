"""Blank data files for a definition's tables: an XLSX with the right sheet names and headers, and a CSV."""

from __future__ import annotations

import csv
import io
import re

from publisher.config import ReleaseDefinition, TableSchema

SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")  # characters Excel refuses in a sheet name
SHEET_MAX_CHARS = 31


def sheet_name(definition: ReleaseDefinition, table: str) -> str:
    """The sheet a table is read from (its ``sheet``), else the table's own name, as Excel
    allows it."""
    assert definition.source is not None
    name = definition.source.tables[table].sheet or table
    return SHEET_FORBIDDEN.sub("_", name)[:SHEET_MAX_CHARS]


def csv_template(schema: TableSchema) -> bytes:
    """A CSV holding the header row only, UTF-8 with a BOM (Excel opens it as UTF-8)."""
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerow([c.header for c in schema.columns])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def xlsx_template(definition: ReleaseDefinition, schemas: dict[str, TableSchema],
                  tables: list[str]) -> bytes:
    """An XLSX workbook with one sheet per table in ``tables``, named as the reader looks for
    it, holding the header row (bold, frozen) and each column's accepted aliases as a comment."""
    import openpyxl  # imported on first use, as the reader does
    from openpyxl.comments import Comment
    from openpyxl.styles import Font

    assert definition.source is not None
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    for table in tables:
        schema = schemas[definition.source.tables[table].table_schema]
        sheet = book.create_sheet(sheet_name(definition, table))
        sheet.append([c.header for c in schema.columns])
        for index, column in enumerate(schema.columns, start=1):
            cell = sheet.cell(row=1, column=index)
            cell.font = Font(bold=True)
            notes = [f"类型 / type: {column.type}", "必填 / required" if column.required
                     else "可空 / optional"]
            if column.aliases:
                notes.append("也可写作 / also accepted: " + "、".join(column.aliases))
            cell.comment = Comment("\n".join(notes), "publisher")
            letter = cell.column_letter
            sheet.column_dimensions[letter].width = max(10, min(40, 2 * len(column.header) + 4))
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
