"""Reads a release's data tables (CSV, XLSX, JSON) into typed rows checked against their schema."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import unicodedata
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from publisher.config import ColumnSpec, SourceConfig, TableSchema
from publisher.period import Period

MAX_PROBLEMS = 50  # problems listed per file; the rest are counted
HEADER_SEARCH_ROWS = 10  # the header may sit below a title row or two
SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
            ".json": "json"}
NOT_APPLICABLE = "/"
_BARS = str.maketrans({"║": "||", "‖": "||", "∥": "||", "│": "|"})
_INT = re.compile(r"[+-]?\d+(?:\.0*)?")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
                   r"(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?")
_DATE_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")

Where = tuple[str, str]  # (zh, en), e.g. ("第 5 行", "row 5")
Grid = list[tuple[Where, list[Any]]]


class DataError(Exception):
    """A data file cannot be used; ``problems`` lists every problem found in it (zh-CN / en)."""

    def __init__(self, file: Path, problems: list[str]) -> None:
        self.file = Path(file)
        self.problems = list(problems)
        if len(self.problems) == 1:
            text = f"{file}: {self.problems[0]}"
        else:
            count = len(self.problems)
            listed = "\n".join(f"  - {p}" for p in self.problems)
            text = f"{file}: 数据文件有 {count} 处问题 / {count} problem(s):\n{listed}"
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.file, self.problems))


class DataMissing(DataError):
    """The period's data is not there (no file, an empty file or an empty table)."""


@dataclass(frozen=True)
class Table:
    """One table of a release's data: its name in the definition, the file read, typed rows."""

    name: str
    file: Path
    rows: list[dict[str, Any]]


class _BadValue(ValueError):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.dropped = 0

    def add(self, message: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(message)
        else:
            self.dropped += 1

    def listed(self) -> list[str]:
        more = f"另有 {self.dropped} 处问题未列出 / {self.dropped} more problem(s) not listed"
        return [*self.items, more] if self.dropped else list(self.items)


# --------------------------------------------------------------------------- finding files


def locate(data_dir: Path, pattern: str, period: Period) -> Path:
    """The one data file matching ``pattern`` for ``period``; ``.*`` means any supported format."""
    relative = pattern.format(**period.fields())
    wanted = Path(data_dir) / relative
    any_format = relative.endswith(".*")
    found = sorted(
        path for path in Path(data_dir).glob(relative)
        if path.is_file()
        and not path.name.startswith(("~$", "."))
        and (not any_format or path.suffix.lower() in SUFFIXES)
    )
    if not found:
        raise DataMissing(wanted, ["数据文件尚未到达 / no data file matches this pattern"])
    if len(found) > 1:
        names = "、".join(str(p) for p in found)
        raise DataError(wanted, [f"匹配到多个数据文件，只能保留一个 / several files match, "
                                 f"keep exactly one: {names}"])
    return found[0]


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
        grid.append(((zh, en), cells))
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
        return [((f"第 {n} 行", f"row {n}"), list(cells))
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
    grid: Grid = [(("表头", "header"), list(ids))]
    grid += [((f"第 {n} 条", f"item {n}"), [item.get(i) for i in ids]) for n, item in objects]
    return grid


# --------------------------------------------------------------------------- cell values


def normalise_header(text: str) -> str:
    """A header as compared: NFKC (full-width -> half-width), ║ as ||, no whitespace, casefolded."""
    folded = unicodedata.normalize("NFKC", text).translate(_BARS)
    return "".join(folded.split()).casefold()


def _cell_text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, datetime):
        return raw.date().isoformat() if raw.time() == time() else raw.isoformat(sep=" ")
    if isinstance(raw, date):
        return raw.isoformat()
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, dict | list):
        raise _BadValue("值不能是嵌套结构", "a value cannot be a nested object or list")
    return str(raw).replace("\r\n", "\n").replace("\r", "\n").strip()


def _typed(raw: Any, spec: ColumnSpec) -> Any:
    text = _cell_text(raw)
    if spec.type == "text":
        return text
    if text == NOT_APPLICABLE:
        return text
    if not text:
        if spec.required:
            raise _BadValue("为空（不适用请填“/”）", "empty (write / when not applicable)")
        return None
    if isinstance(raw, bool):
        raise _BadValue("不是数值", "not a number")
    if spec.type == "date":
        return _to_date(raw, text)
    digits = unicodedata.normalize("NFKC", text).replace(",", "")
    if spec.type == "int":
        if isinstance(raw, int):
            return raw
        if not _INT.fullmatch(digits):
            raise _BadValue("不是整数", "not a whole number")
        return int(digits.split(".")[0])
    if isinstance(raw, int | float | Decimal):
        return Decimal(str(raw))
    if not _NUMBER.fullmatch(digits):
        raise _BadValue("不是数值", "not a number")
    return Decimal(digits)


def _to_date(raw: Any, text: str) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    normal = unicodedata.normalize("NFKC", text)
    match = _DATE.fullmatch(normal) or _DATE_COMPACT.fullmatch(normal)
    if not match:
        raise _BadValue("不是日期（应为 2026-12-02）", "not a date (write 2026-12-02)")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise _BadValue("不是有效日期", "not a valid date") from None


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
             *, by_id: bool) -> list[dict[str, Any]]:
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
    for (where_zh, where_en), cells in grid[at + 1:]:
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
                problems.add(f"{where_zh}「{header}」列 / {where_en}, column {header}: "
                             f"{exc}: {shown!r}")
        rows.append(row)
    return rows


def read_table(file: Path, schema: TableSchema, sheet: str | None = None) -> list[dict[str, Any]]:
    """Typed rows of one data file, keyed by column id; DataError lists every problem found."""
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
    rows = _records(file, schema, grid, problems, by_id=kind == "json")
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
            rows = read_table(file, schemas[table.table_schema], table.sheet)
            if not rows and not table.allow_empty:
                raise DataMissing(file, [f"数据表 {name} 为空，不发布空表 / table {name} has no "
                                         "rows: never publish an empty table"])
            tables[name] = Table(name, file, rows)
        except DataError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        kind = DataMissing if all(isinstance(e, DataMissing) for e in errors) else DataError
        raise kind(Path(data_dir), [f"{e.file}: {p}" for e in errors for p in e.problems])
    return tables


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
