"""Tests for reading release data: file location, encodings, formats, typing and error reports."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.config import ColumnSpec, Config, SourceConfig, TableSchema, TableSource
from publisher.period import Period, period_of
from publisher.source import (
    MAX_PROBLEMS,
    DataError,
    DataMissing,
    Table,
    load_source,
    locate,
    parse_data_option,
    read_table,
)

ROOT = Path(__file__).resolve().parent.parent

SCHEMA = TableSchema(columns=[
    ColumnSpec(id="seq", header="序号", type="int"),
    ColumnSpec(id="food_name", header="食品名称"),
    ColumnSpec(id="failures", header="不合格项目║检验结果║标准值",
               aliases=["不合格项目||检验结果||标准值"]),
    ColumnSpec(id="lab", header="检验机构"),
    ColumnSpec(id="category", header="分类", required=False),
])
HEADERS = ["序号", "食品名称", "不合格项目║检验结果║标准值", "检验机构"]
ROWS = [
    ["1", "桃酥", "菌落总数║2.6×10⁵CFU/g║≤10⁵CFU/g\n大肠菌群║86CFU/g║≤10²CFU/g", "某市食品检验所"],
    ["2", "生姜", "铅(以Pb计)║0.32mg/kg║≤0.1mg/kg", "某检测认证集团（某市）"],
]


def shipped_config() -> Config:
    """schedules.yaml validated by its models (without the cross-checks that import channels)."""
    raw = yaml.safe_load((ROOT / "schedules.yaml").read_text(encoding="utf-8"))
    return Config.model_validate(raw)


def write_csv(path: Path, rows: list[list[str]], encoding: str) -> Path:
    """Write rows the way Excel does (CRLF, quoted multi-line cells) in ``encoding``."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def one_table_source(**table: object) -> SourceConfig:
    """A week-period source with one table ``unqualified``."""
    spec = {"path": "food/{iso_year}-W{iso_week:02d}/unqualified.*", "schema": "s", **table}
    return SourceConfig.model_validate({"period": "week", "tables": {"unqualified": spec}})


WEEK = period_of(date(2026, 12, 2), "week")


# --------------------------------------------------------------------------- encodings


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_each_csv_encoding_is_detected(tmp_path: Path, encoding: str) -> None:
    """UTF-8, UTF-8 with BOM and GB18030 CSV files all read to the same rows, unconfigured."""
    file = write_csv(tmp_path / "t.csv", [HEADERS, *ROWS], encoding)
    rows = read_table(file, SCHEMA)
    assert [r["food_name"] for r in rows] == ["桃酥", "生姜"]
    assert rows[0]["failures"] == ROWS[0][2]
    assert rows[1]["lab"] == "某检测认证集团（某市）"


def test_gb18030_file_that_is_not_utf8_is_read(tmp_path: Path) -> None:
    """A GB18030 file (with 4-byte sequences) that fails UTF-8 decoding is still read correctly."""
    file = write_csv(tmp_path / "t.csv", [HEADERS, *ROWS], "gb18030")
    data = file.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert "2.6×10⁵".encode("gb18030") in data  # ⁵ is outside GBK: a 4-byte GB18030 sequence
    assert read_table(file, SCHEMA)[0]["failures"].startswith("菌落总数║2.6×10⁵")


def test_utf16_excel_unicode_text_is_read(tmp_path: Path) -> None:
    """Excel's "Unicode text" export (UTF-16 with BOM, tab separated) reads like a CSV."""
    text = "\r\n".join("\t".join(row) for row in [HEADERS, ["1", "桃酥", "x║y║z", "所"]])
    file = tmp_path / "t.txt"
    file.write_bytes(text.encode("utf-16"))
    assert read_table(file, SCHEMA)[0]["failures"] == "x║y║z"


cell_text = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\x00"), min_size=1
).map(str.strip).filter(bool)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(cell_text, min_size=1, max_size=4))
def test_any_text_round_trips_through_gb18030_csv(
    tmp_path_factory: pytest.TempPathFactory, values: list[str]
) -> None:
    """Any stripped text written to a GB18030 CSV cell reads back unchanged (line breaks too)."""
    schema = TableSchema(columns=[ColumnSpec(id="name", header="名称")])
    file = write_csv(tmp_path_factory.mktemp("gb") / "t.csv", [["名称"], *[[v] for v in values]],
                     "gb18030")
    assert [r["name"] for r in read_table(file, schema)] == values


# --------------------------------------------------------------------------- formats


def test_shipped_xlsx_and_gb18030_csv_give_identical_rows() -> None:
    """The shipped food-safety workbook and its GB18030 CSV twins hold exactly the same rows."""
    config = shipped_config()
    source = config.releases["food-safety-sampling"].source
    assert source is not None
    workbook = ROOT / "samples/food-safety-sampling/food-safety-sampling.xlsx"
    for table in source.tables.values():
        assert table.sample is not None
        schema = config.schemas[table.table_schema]
        from_csv = read_table(ROOT / table.sample, schema, table.sheet)
        from_xlsx = read_table(workbook, schema, table.sheet)
        assert from_csv == from_xlsx
        assert len(from_csv) >= 3


def test_shipped_samples_all_read() -> None:
    """Every shipped sample file reads cleanly through its schema and is not empty."""
    config = shipped_config()
    for definition in config.releases.values():
        assert definition.source is not None
        for table in definition.source.tables.values():
            assert table.sample is not None
            rows = read_table(ROOT / table.sample, config.schemas[table.table_schema], table.sheet)
            assert rows


def test_xlsx_sheet_title_row_dates_and_numbers(tmp_path: Path) -> None:
    """XLSX: the named sheet, a title row above the header, dates as ISO text, numbers typed."""
    book = openpyxl.Workbook()
    book.active.title = "其他"
    sheet = book.create_sheet("不合格产品信息")
    sheet.append(["附件3  不合格产品信息"])
    sheet.append([*HEADERS, "生产日期"])
    sheet.append([1.0, "桃酥", "菌落总数║1║2", "所", datetime(2026, 11, 8)])
    sheet.append([None, None, None, None])
    sheet.append([2, "豆腐", "苯甲酸║3║不得使用", "所", "2026-11-20(购进日期)"])
    file = tmp_path / "book.xlsx"
    book.save(file)
    schema = TableSchema(columns=[*SCHEMA.columns, ColumnSpec(id="batch", header="生产日期")])
    rows = read_table(file, schema, "不合格产品信息")
    assert [(r["seq"], r["batch"]) for r in rows] == [(1, "2026-11-08"), (2, "2026-11-20(购进日期)")]
    with pytest.raises(DataError, match="不合格产品信息") as caught:
        read_table(file, schema, "合格产品信息")
    assert "其他" in str(caught.value)


def test_xlsx_formulas_are_read_as_their_values(tmp_path: Path) -> None:
    """A formula cell reads as the value Excel cached for it, not as the formula text."""
    book = openpyxl.Workbook()
    book.active.append(["区县", "户数"])
    book.active.append(["东城区", "=A1*0+1234"])
    saved = tmp_path / "saved.xlsx"
    book.save(saved)
    file = tmp_path / "book.xlsx"
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(file, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                # what Excel stores on save; openpyxl writes the empty value as <v /> or,
                # with lxml installed (python-docx brings it), as <v></v>
                data = re.sub(rb"<v ?/>|<v></v>", b"<v>1234</v>", data)
            target.writestr(item, data)
    schema = TableSchema(columns=[ColumnSpec(id="name", header="区县"),
                                  ColumnSpec(id="n", header="户数", type="int")])
    assert read_table(file, schema) == [{"name": "东城区", "n": 1234}]


def test_xlsx_bad_value_names_the_sheet_row(tmp_path: Path) -> None:
    """An XLSX error names the row number the spreadsheet shows (title row counted)."""
    book = openpyxl.Workbook()
    book.active.append(["标题"])
    book.active.append(HEADERS)
    book.active.append(["一", "桃酥", "x", "所"])
    file = tmp_path / "book.xlsx"
    book.save(file)
    with pytest.raises(DataError) as caught:
        read_table(file, SCHEMA)
    assert "row 3, column 序号" in str(caught.value)


@pytest.mark.parametrize("shape", ["list", "rows"])
def test_json_list_and_rows_shapes_keyed_by_header_or_id(tmp_path: Path, shape: str) -> None:
    """JSON as a list of objects or {"rows": [...]}, keys being headers or column ids."""
    items = [{"序号": 1, "food_name": "桃酥", "failures": "a║b║c", "检验机构": "所", "x": 1},
             {"seq": "2", "食品名称": "生姜", "failures": "d║e║f", "lab": "所"}]
    data: object = items if shape == "list" else {"issued": "2026-12-02", "rows": items}
    file = tmp_path / "t.json"
    file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    rows = read_table(file, SCHEMA)
    assert rows[0] == {"seq": 1, "food_name": "桃酥", "failures": "a║b║c", "lab": "所",
                       "category": ""}
    assert rows[1]["seq"] == 2 and rows[1]["food_name"] == "生姜"


def test_json_of_wrong_shape_is_refused(tmp_path: Path) -> None:
    """JSON that is neither a list nor {"rows": [...]} is a DataError naming the file."""
    file = tmp_path / "t.json"
    file.write_text('{"data": []}', encoding="utf-8")
    with pytest.raises(DataError, match=r"t\.json"):
        read_table(file, SCHEMA)


def test_unsupported_format_is_refused_with_a_hint(tmp_path: Path) -> None:
    """An old .xls file is refused with advice to save it as .xlsx."""
    file = tmp_path / "t.xls"
    file.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(DataError, match=r"\.xlsx"):
        read_table(file, SCHEMA)


# --------------------------------------------------------------------------- headers and values


def test_headers_match_after_normalising_width_bars_and_spaces(tmp_path: Path) -> None:
    """Full-width characters, || for ║, line breaks and spaces in headers still match."""
    headers = [" 序 号", "食品\n名称", "不合格项目 || 检验结果 || 标准值", "检验机构", "分类"]
    file = write_csv(tmp_path / "t.csv", [headers, ROWS[1] + ["食用农产品"]], "utf-8")
    assert read_table(file, SCHEMA)[0]["category"] == "食用农产品"
    fullwidth = TableSchema(columns=[ColumnSpec(id="a", header="标准（元/人·月）")])
    file = write_csv(tmp_path / "u.csv", [["标准(元/人·月)"], ["1"]], "utf-8")
    assert read_table(file, fullwidth) == [{"a": "1"}]


def test_missing_columns_are_all_named_with_the_file(tmp_path: Path) -> None:
    """Every missing required header is named, and so is the file."""
    file = write_csv(tmp_path / "t.csv", [["序号", "食品名称"], ["1", "桃酥"]], "gb18030")
    with pytest.raises(DataError) as caught:
        read_table(file, SCHEMA)
    message = str(caught.value)
    assert str(file) in message
    assert "数据文件缺少列 / missing column(s)" in message
    assert "检验机构" in message and "不合格项目║检验结果║标准值" in message
    assert "分类" not in message  # optional


def test_bad_int_names_file_line_and_column(tmp_path: Path) -> None:
    """A bad integer names the file, the row (and text line after multi-line cells) and header."""
    rows = [HEADERS, ROWS[0], ["二", "生姜", "x", "所"]]
    file = write_csv(tmp_path / "t.csv", rows, "gb18030")
    with pytest.raises(DataError) as caught:
        read_table(file, SCHEMA)
    assert caught.value.file == file
    message = str(caught.value)
    assert str(file) in message
    assert "第 3 行" in message and "row 3" in message
    assert "text line 4" in message  # row 2 spans two text lines
    assert "column 序号" in message and "'二'" in message


def test_every_problem_in_a_file_is_reported(tmp_path: Path) -> None:
    """All problems of a file are collected (missing column and each bad value), not the first."""
    schema = TableSchema(columns=[*SCHEMA.columns, ColumnSpec(id="d", header="日期", type="date"),
                                  ColumnSpec(id="n", header="数额", type="number")])
    rows = [[*HEADERS[:3], "日期", "数额"], ["x", "a", "b", "2026-02-30", "1.2.3"],
            ["2", "a", "b", "昨天", "12"]]
    file = write_csv(tmp_path / "t.csv", rows, "utf-8")
    with pytest.raises(DataError) as caught:
        read_table(file, schema)
    problems = caught.value.problems
    assert len(problems) == 5
    assert any("检验机构" in p for p in problems)
    assert any("row 2, column 日期" in p for p in problems)
    assert any("row 3, column 日期" in p for p in problems)


def test_problem_list_is_capped(tmp_path: Path) -> None:
    """A file full of bad values lists a sane number of problems and counts the rest."""
    rows = [HEADERS, *[["x", "a", "b", "c"] for _ in range(MAX_PROBLEMS + 7)]]
    file = write_csv(tmp_path / "t.csv", rows, "utf-8")
    with pytest.raises(DataError) as caught:
        read_table(file, SCHEMA)
    assert len(caught.value.problems) == MAX_PROBLEMS + 1
    assert "7 more" in caught.value.problems[-1]


def test_values_are_typed_stripped_and_blank_rows_skipped(tmp_path: Path) -> None:
    """Typed columns convert; "/" and inner line breaks stay; blank rows and extras drop out."""
    schema = TableSchema(columns=[
        ColumnSpec(id="name", header="区县"), ColumnSpec(id="n", header="户数", type="int"),
        ColumnSpec(id="money", header="支出（万元）", type="number"),
        ColumnSpec(id="day", header="日期", type="date"),
        ColumnSpec(id="extra", header="备注", type="int", required=False),
    ])
    rows = [["区县", "户数", "支出（万元）", "日期", "多余"],
            ["  东城区 ", "1,234", "878.25", "2026/12/2", "x"],
            ["", "", "", "", ""],
            ["西城区", "/", "1,112.50", "2026年12月3日", "y"],
            ["南湖区\n（含新区）", "１２", "-3", "20261204", "z"]]
    file = write_csv(tmp_path / "t.csv", rows, "utf-8-sig")
    assert read_table(file, schema) == [
        {"name": "东城区", "n": 1234, "money": Decimal("878.25"), "day": date(2026, 12, 2),
         "extra": None},
        {"name": "西城区", "n": "/", "money": Decimal("1112.50"), "day": date(2026, 12, 3),
         "extra": None},
        {"name": "南湖区\n（含新区）", "n": 12, "money": Decimal("-3"), "day": date(2026, 12, 4),
         "extra": None},
    ]


def test_empty_cell_in_required_typed_column_is_an_error(tmp_path: Path) -> None:
    """A blank number where one is required is reported, with the advice to write "/"."""
    file = write_csv(tmp_path / "t.csv", [HEADERS, ["", "桃酥", "x", "所"]], "utf-8")
    with pytest.raises(DataError, match="write /"):
        read_table(file, SCHEMA)


# --------------------------------------------------------------------------- locating files


def test_locate_fills_iso_week_at_the_year_boundary(tmp_path: Path) -> None:
    """1 January 2027 belongs to ISO week 2026-W53; 4 January 2027 starts 2027-W01."""
    pattern = "food/{iso_year}-W{iso_week:02d}/unqualified.*"
    w53 = period_of(date(2027, 1, 1), "week")
    w01 = period_of(date(2027, 1, 4), "week")
    assert (w53.iso_year, w53.iso_week, w01.iso_year, w01.iso_week) == (2026, 53, 2027, 1)
    for name in ("2026-W53/unqualified.xlsx", "2027-W01/unqualified.csv"):
        (tmp_path / "food" / name).parent.mkdir(parents=True)
        (tmp_path / "food" / name).write_bytes(b"x")
    assert locate(tmp_path, pattern, w53) == tmp_path / "food/2026-W53/unqualified.xlsx"
    assert locate(tmp_path, pattern, w01) == tmp_path / "food/2027-W01/unqualified.csv"


def test_locate_date_pattern_and_missing_file(tmp_path: Path) -> None:
    """A {date:%Y-%m-%d} pattern finds its file; an absent file is DataMissing naming the path."""
    day = Period("day", date(2026, 12, 2), date(2026, 12, 2))
    (tmp_path / "air").mkdir()
    (tmp_path / "air/2026-12-02.json").write_text("[]", encoding="utf-8")
    assert locate(tmp_path, "air/{date:%Y-%m-%d}.json", day).name == "2026-12-02.json"
    with pytest.raises(DataMissing, match="2026-12-03"):
        locate(tmp_path, "air/{date:%Y-%m-%d}.json", Period("day", date(2026, 12, 3),
                                                           date(2026, 12, 3)))


def test_locate_refuses_several_matches_and_ignores_junk(tmp_path: Path) -> None:
    """Two data files for one table is an error naming both; lock and backup files are ignored."""
    folder = tmp_path / "food/2026-W49"
    folder.mkdir(parents=True)
    for name in ("unqualified.csv", "~$unqualified.xlsx", "unqualified.csv.bak", ".unqualified.json"):
        (folder / name).write_bytes(b"x")
    pattern = "food/{iso_year}-W{iso_week:02d}/unqualified.*"
    assert locate(tmp_path, pattern, WEEK) == folder / "unqualified.csv"
    (folder / "unqualified.xlsx").write_bytes(b"x")
    with pytest.raises(DataError) as caught:
        locate(tmp_path, pattern, WEEK)
    assert not isinstance(caught.value, DataMissing)
    assert "unqualified.csv" in str(caught.value) and "unqualified.xlsx" in str(caught.value)


# --------------------------------------------------------------------------- whole sources


def test_empty_table_is_refused_unless_allowed(tmp_path: Path) -> None:
    """A header-only table is DataMissing ("never publish an empty table") unless allow_empty."""
    folder = tmp_path / "food/2026-W49"
    folder.mkdir(parents=True)
    write_csv(folder / "unqualified.csv", [HEADERS], "gb18030")
    with pytest.raises(DataMissing, match="never publish an empty table"):
        load_source(one_table_source(), {"s": SCHEMA}, tmp_path, WEEK)
    tables = load_source(one_table_source(allow_empty=True), {"s": SCHEMA}, tmp_path, WEEK)
    assert tables == {"unqualified": Table("unqualified", folder / "unqualified.csv", [])}


def test_load_source_uses_overrides_and_reports_every_table(tmp_path: Path) -> None:
    """--data overrides replace located files; problems in several tables come back together."""
    override = write_csv(tmp_path / "mine.csv", [HEADERS, *ROWS], "utf-8")
    source = SourceConfig.model_validate({"period": "week", "tables": {
        "a": {"path": "a/{iso_week}.*", "schema": "s"},
        "b": {"path": "b/{iso_week}.*", "schema": "s"},
    }})
    tables = load_source(source, {"s": SCHEMA}, tmp_path, WEEK, {"a": override, "b": override})
    assert tables["a"].file == override and len(tables["b"].rows) == 2
    with pytest.raises(DataMissing) as caught:
        load_source(source, {"s": SCHEMA}, tmp_path, WEEK)
    assert len(caught.value.problems) == 2 and caught.value.file == tmp_path
    assert "a/49" in str(caught.value) and "b/49" in str(caught.value)


def test_parse_data_option_forms() -> None:
    """NAME=FILE, one bare FILE for a one-table source, one bare XLSX for sheet-named tables."""
    sheets = SourceConfig(tables={
        "unqualified": TableSource.model_validate({"path": "u.*", "schema": "s",
                                                  "sheet": "不合格产品信息"}),
        "qualified": TableSource.model_validate({"path": "q.*", "schema": "s",
                                                "sheet": "合格产品信息"}),
    })
    assert parse_data_option(["x.csv"], one_table_source()) == {"unqualified": Path("x.csv")}
    assert parse_data_option(["week.xlsx"], sheets) == {
        "unqualified": Path("week.xlsx"), "qualified": Path("week.xlsx")}
    assert parse_data_option(["week.xlsx", "qualified=q=1.csv"], sheets) == {
        "unqualified": Path("week.xlsx"), "qualified": Path("q=1.csv")}
    assert parse_data_option(["unqualified=u.csv", "qualified=q.json"], sheets) == {
        "unqualified": Path("u.csv"), "qualified": Path("q.json")}
    assert parse_data_option(["dir/a=b.csv"], one_table_source()) == {
        "unqualified": Path("dir/a=b.csv")}
    for bad in (["week.csv"], ["nope=x.csv"], ["a.xlsx", "b.xlsx"], ["qualified="]):
        with pytest.raises(ValueError):
            parse_data_option(bad, sheets)


def test_locate_refuses_a_symlink_leading_out_of_the_inbox(tmp_path: Path) -> None:
    """A data file that is a symbolic link to a file outside the inbox, or that sits in a
    linked folder outside it, is a DataError naming the file and where it leads; a link
    that stays inside the inbox is read as before."""
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    (inbox / "air").mkdir(parents=True)
    (outside / "air").mkdir(parents=True)
    (outside / "secret.json").write_text("[]", encoding="utf-8")
    day = Period("day", date(2026, 12, 2), date(2026, 12, 2))
    (inbox / "air" / "2026-12-02.json").symlink_to(outside / "secret.json")
    with pytest.raises(DataError) as info:
        locate(inbox, "air/{date:%Y-%m-%d}.json", day)
    assert str(info.value.file).endswith("air/2026-12-02.json")
    assert "symbolic link to outside the inbox" in str(info.value)
    assert str(outside / "secret.json") in str(info.value)
    (outside / "air" / "2026-12-03.json").write_text("[]", encoding="utf-8")
    (inbox / "linked").symlink_to(outside / "air", target_is_directory=True)
    with pytest.raises(DataError, match="symbolic link"):
        locate(inbox, "linked/{date:%Y-%m-%d}.json",
               Period("day", date(2026, 12, 3), date(2026, 12, 3)))
    (inbox / "real.json").write_text("[]", encoding="utf-8")
    (inbox / "air" / "2026-12-04.json").symlink_to(inbox / "real.json")
    assert locate(inbox, "air/{date:%Y-%m-%d}.json",
                  Period("day", date(2026, 12, 4), date(2026, 12, 4))).name == "2026-12-04.json"
