"""Reads a release's data tables (CSV, XLSX, JSON) into typed rows checked against their schema."""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from publisher.config import ColumnSpec, SourceConfig, TableSchema
from publisher.period import Period
from publisher.source.grid import _csv_grid, _decode, _json_grid, _xlsx_grid
from publisher.source.problem import (
    HEADER_SEARCH_ROWS,
    MAX_PROBLEMS,
    SUFFIXES,
    DataError,
    DataMissing,
    DataProblem,
    Grid,
    Table,
    Where,
    _BadValue,
    _Problems,
)
from publisher.source.value import _typed, normalise_header

__all__ = [
    "MAX_PROBLEMS", "SUFFIXES", "DataError", "DataMissing", "DataProblem", "Table", "headers_of",
    "load_source", "locate",
    "matching", "normalise_header", "parse_data_option", "read_table",
]


# --------------------------------------------------------------------------- finding files


def matching(data_dir: Path, pattern: str, period: Period) -> tuple[str, list[Path]]:
    """The path ``pattern`` names for ``period`` (relative to ``data_dir``) and the data files
    there, sorted; ``.*`` means any supported format, and lock or hidden files never count."""
    relative = pattern.format(**period.fields())
    any_format = relative.endswith(".*")
    found = sorted(
        path for path in Path(data_dir).glob(relative)
        if path.is_file()
        and not path.name.startswith(("~$", "."))
        and not any(part.startswith(".") for part in path.relative_to(data_dir).parts)
        and (not any_format or path.suffix.lower() in SUFFIXES)
    )
    return relative, found


def locate(data_dir: Path, pattern: str, period: Period) -> Path:
    """The one data file matching ``pattern`` for ``period``; ``.*`` means any supported format."""
    relative, found = matching(data_dir, pattern, period)
    wanted = Path(data_dir) / relative
    if not found:
        raise DataMissing(wanted, ["数据文件尚未到达 / no data file matches this pattern"])
    if len(found) > 1:
        names = "、".join(str(p) for p in found)
        raise DataError(wanted, [f"匹配到多个数据文件，只能保留一个 / several files match, "
                                 f"keep exactly one: {names}"])
    return _inside(Path(data_dir), found[0])


def _inside(data_dir: Path, file: Path) -> Path:
    """``file`` unless it (or a folder on its way) is a symbolic link leading out of the
    inbox: then DataError naming it and where it leads (a link could publish any file the
    bot may read)."""
    target = file.resolve()
    if not target.is_relative_to(data_dir.resolve()):
        raise DataError(file, [f"数据文件是指向收件箱之外的符号链接（指向 {target}），不读取；请把文件"
                               f"本身放进收件箱 / the data file is a symbolic link to outside the "
                               f"inbox ({target}); it is not read: put the file itself in the "
                               "inbox"])
    return file


# --------------------------------------------------------------------------- tables


def _header_index(grid: Grid, lookup: Mapping[str, ColumnSpec]) -> int | None:
    """The row (among the first few) that names the most schema columns; None for no rows."""
    best, best_count = None, 0
    for index, (_, cells) in enumerate(grid[:HEADER_SEARCH_ROWS]):
        names = [normalise_header(str(c)) for c in cells if c is not None]
        count = len({lookup[n].id for n in names if n in lookup})
        if count > best_count:
            best, best_count = index, count
        if best is None and any(names):
            best = index  # fall back to the first non-blank row
    return best


def _lookup(schema: TableSchema, *, by_id: bool) -> dict[str, ColumnSpec]:
    """Normalised header (alias, and for JSON column id) -> its column."""
    lookup: dict[str, ColumnSpec] = {}
    for spec in schema.columns:
        for name in (spec.header, *spec.aliases, *([spec.id] if by_id else [])):
            lookup.setdefault(normalise_header(name), spec)
    return lookup


def _records(file: Path, schema: TableSchema, grid: Grid, problems: _Problems,
             *, by_id: bool, wheres: list[Where] | None = None) -> list[dict[str, Any]]:
    """Rows keyed by column id; ``by_id`` (JSON): the first row holds column ids."""
    lookup = _lookup(schema, by_id=by_id)
    at = (0 if grid else None) if by_id else _header_index(grid, lookup)
    if at is None:
        raise DataMissing(file, ["数据文件为空 / the file holds no rows"])
    columns: dict[str, tuple[int, str]] = {}  # column id -> (position, header as written)
    for position, cell in enumerate(grid[at][1]):
        written = " ".join(str(cell).split()) if cell is not None else ""
        found = lookup.get(normalise_header(written))
        if found is None:
            continue
        if found.id in columns:
            problems.add(f"列重复 / duplicate column: {columns[found.id][1]}、{written}")
            continue
        columns[found.id] = (position, found.header if by_id else written)
    missing = [s.header for s in schema.columns if s.required and s.id not in columns]
    if missing:
        problems.add(f"数据文件缺少列 / missing column(s): {'、'.join(missing)}")
    rows: list[dict[str, Any]] = []
    for (where_zh, where_en, number), cells in grid[at + 1:]:
        present = {cid: cells[pos] if pos < len(cells) else None
                   for cid, (pos, _) in columns.items()}
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in present.values()):
            continue  # a fully blank row
        row: dict[str, Any] = {}
        for spec in schema.columns:
            if spec.id not in columns:
                row[spec.id] = "" if spec.type == "text" else None
                continue
            header = columns[spec.id][1]
            try:
                row[spec.id] = _typed(present[spec.id], spec)
            except _BadValue as exc:
                shown = str(present[spec.id]).strip()[:40]
                problems.add(DataProblem(
                    f"{where_zh}「{header}」列 / {where_en}, column {header}: {exc}: {shown!r}",
                    row=number, row_label_zh=where_zh, row_label_en=where_en, column=header,
                    value=shown, message_zh=exc.zh, message_en=exc.en))
        rows.append(row)
        if wheres is not None:
            wheres.append((where_zh, where_en, number))
    return rows


def read_table(file: Path, schema: TableSchema, sheet: str | None = None, *,
               wheres: list[Where] | None = None) -> list[dict[str, Any]]:
    """Typed rows of one data file, keyed by column id; DataError lists every problem found.
    ``wheres`` receives each row's place in the file (for the content checks' findings)."""
    file = Path(file)
    kind = SUFFIXES.get(file.suffix.lower())
    if kind is None:
        hint = "（请另存为 .xlsx / save it as .xlsx）" if file.suffix.lower() == ".xls" else ""
        raise DataError(file, [f"不支持的文件格式 / unsupported file type: {file.suffix}{hint}; "
                               f"支持 / supported: {', '.join(SUFFIXES)}"])
    if not file.is_file():
        raise DataMissing(file, ["数据文件不存在 / data file not found"])
    problems = _Problems()
    if kind == "xlsx":
        grid = _xlsx_grid(file, sheet)
    else:
        data = file.read_bytes()
        if not data.strip():
            raise DataMissing(file, ["数据文件为空 / the file is empty"])
        try:
            text, encoding = _decode(data)
        except UnicodeDecodeError as exc:
            raise DataError(file, [f"无法识别文本编码（应为 UTF-8 或 GB18030）/ cannot decode as "
                                   f"UTF-8 or GB18030 at byte {exc.start}"]) from exc
        suffix = file.suffix.lower()  # tabs: Excel's "Unicode text" (UTF-16) and .tsv
        tabs = encoding == "utf-16" or suffix == ".tsv" or (
            suffix == ".txt" and "\t" in text.partition("\n")[0])
        try:
            grid = (_json_grid(file, text, problems, _lookup(schema, by_id=True))
                    if kind == "json" else _csv_grid(text, "\t" if tabs else ","))
        except csv.Error as exc:
            raise DataError(file, [f"CSV 格式错误 / malformed CSV: {exc}"]) from exc
    rows = _records(file, schema, grid, problems, by_id=kind == "json", wheres=wheres)
    if problems.items:
        raise DataError(file, problems.listed())
    return rows


def load_source(
    source: SourceConfig,
    schemas: Mapping[str, TableSchema],
    data_dir: Path,
    period: Period,
    overrides: Mapping[str, Path] | None = None,
) -> dict[str, Table]:
    """Every table of a release's data for ``period``.

    Errors of several tables come back together as one error whose ``file`` is ``data_dir``.
    """
    tables: dict[str, Table] = {}
    errors: list[DataError] = []
    for name, table in source.tables.items():
        try:
            chosen = (overrides or {}).get(name)
            file = Path(chosen) if chosen else locate(data_dir, table.path, period)
            schema = schemas[table.table_schema]
            wheres: list[Where] = []
            rows = read_table(file, schema, table.sheet, wheres=wheres)
            if not rows and not table.allow_empty:
                raise DataMissing(file, [f"数据表 {name} 为空，不发布空表 / table {name} has no "
                                         "rows: never publish an empty table"])
            tables[name] = Table(name, file, rows, tuple(wheres), headers_of(schema))
        except DataError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        kind = DataMissing if all(isinstance(e, DataMissing) for e in errors) else DataError
        raise kind(Path(data_dir), [f"{e.file}: {p}" for e in errors for p in e.problems])
    return tables


def headers_of(schema: TableSchema) -> dict[str, str]:
    """Column id -> the header staff know it by."""
    return {spec.id: spec.header for spec in schema.columns}


def parse_data_option(values: list[str], source: SourceConfig) -> dict[str, Path]:
    """Table name -> file from ``--data NAME=FILE`` or a bare ``--data FILE``; else ValueError.

    A bare FILE serves a one-table source, or is an XLSX workbook every table reads from (each
    table's ``sheet``); ``NAME=FILE`` entries given with it override single tables.
    """
    names = list(source.tables)
    bare: list[Path] = []
    named: dict[str, Path] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if sep and re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
            if name not in source.tables:
                raise ValueError(f"没有这个数据表 / no table named {name!r} "
                                 f"(tables: {', '.join(names)})")
            if name in named or not rest:
                raise ValueError(f"--data {name}= 重复或缺少文件 / given twice or without a file")
            named[name] = Path(rest)
        else:
            bare.append(Path(value))
    if len(bare) > 1:
        raise ValueError("只能给一个不带表名的文件 / only one --data FILE without NAME= "
                         f"(tables: {', '.join(names)})")
    result: dict[str, Path] = {}
    if bare:
        file = bare[0]
        unsheeted = [n for n, t in source.tables.items() if t.sheet is None]
        if len(names) > 1 and (SUFFIXES.get(file.suffix.lower()) != "xlsx" or unsheeted):
            raise ValueError(f"此发布有多个数据表，请写 NAME=FILE / this release reads several "
                             f"tables, write NAME=FILE for each: {', '.join(names)}")
        result = dict.fromkeys(names, file)
    return result | named
