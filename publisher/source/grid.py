"""Raw grids of cells from CSV (encoding detected), XLSX and JSON files."""

from __future__ import annotations

import codecs
import csv
import io
import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from publisher.config import ColumnSpec
from publisher.source.problem import DataError, Grid, _Problems
from publisher.source.value import normalise_header

# --------------------------------------------------------------------------- raw grids


def _decode(data: bytes) -> tuple[str, str]:
    """Text and encoding of a CSV/JSON file: UTF-8 (BOM or not), UTF-16 with BOM, else GB18030."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("gb18030"), "gb18030"


def _csv_grid(text: str, delimiter: str) -> Grid:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    grid: Grid = []
    previous_line = 0
    for number, cells in enumerate(reader, start=1):
        first_line, previous_line = previous_line + 1, reader.line_num
        zh, en = f"第 {number} 行", f"row {number}"
        if first_line != number:  # multi-line cells above: say where a text editor shows it
            zh, en = f"{zh}（文本第 {first_line} 行）", f"{en} (text line {first_line})"
        grid.append(((zh, en, number), cells))
    return grid


def _xlsx_grid(file: Path, sheet: str | None) -> Grid:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import openpyxl  # imported on first use: it adds ~0.2 s to every command's start

            book = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except Exception as exc:
        raise DataError(file, [f"无法作为 XLSX 打开 / cannot open as XLSX: {exc}"]) from exc
    try:
        names: list[str] = list(book.sheetnames)
        if sheet is None or (sheet not in names and len(names) == 1):
            worksheet = book.worksheets[0]
        elif sheet in names:
            worksheet = book[sheet]
        else:
            raise DataError(file, [f"工作表不存在 / no sheet named {sheet}"
                                   f"（现有 / present: {'、'.join(names)}）"])
        worksheet.reset_dimensions()  # some exporters write a wrong <dimension>
        return [((f"第 {n} 行", f"row {n}", n), list(cells))
                for n, cells in enumerate(worksheet.iter_rows(values_only=True), start=1)]
    finally:
        book.close()


def _json_grid(file: Path, text: str, problems: _Problems,
               lookup: Mapping[str, ColumnSpec]) -> Grid:
    """A JSON table as a grid whose header row holds column ids (each object mapped alone)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(file, [f"JSON 语法错误 / JSON syntax error: 第 {exc.lineno} 行 / "
                               f"line {exc.lineno}: {exc.msg}"]) from exc
    items = data.get("rows") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise DataError(file, ['JSON 应为对象列表或 {"rows": [...]} / '
                               'JSON must be a list of objects or {"rows": [...]}'])
    ids: dict[str, None] = {}
    objects: list[tuple[int, dict[str, Any]]] = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            problems.add(f"第 {number} 条不是对象 / item {number} is not an object")
            continue
        mapped: dict[str, Any] = {}
        for key, value in item.items():
            spec = lookup.get(normalise_header(str(key)))
            if spec is not None and spec.id in mapped:
                problems.add(f"第 {number} 条重复给出 / item {number} repeats: {spec.header}")
            elif spec is not None:
                mapped[spec.id] = value
        ids.update(dict.fromkeys(mapped))
        objects.append((number, mapped))
    grid: Grid = [(("表头", "header", None), list(ids))]
    grid += [((f"第 {n} 条", f"item {n}", n), [item.get(i) for i in ids]) for n, item in objects]
    return grid


