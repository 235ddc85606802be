"""The annual report written out: the XLSX and Word files read back with the format's labels and
the same figures; CSV and JSON; the CLI through its real entry point."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook

from publisher.report import label
from publisher.report.build import build_report
from publisher.report.figure import Report
from publisher.report.output.data import CSV_HEADER, to_csv, to_json
from publisher.report.output.docx import to_docx
from publisher.report.output.text import render
from publisher.report.output.xlsx import cell_value, to_xlsx
from publisher.report.period import ReportPeriod
from tests.support.report_history import YEAR, ZONE, History

PUBLISHER = str(Path(sys.executable).parent / "publisher")
TIMEOUT_SECONDS = 300


@pytest.fixture(scope="module")
def report(history: History) -> Report:
    return build_report(history.app, ReportPeriod.year(YEAR, ZONE))


def test_xlsx_has_a_sheet_per_table_with_the_formats_labels(report: Report) -> None:
    """The workbook opens with openpyxl: a sheet on how it was made, one per table whose
    headers and rows are the format's words verbatim (信息内容, 本年制发件数 …), and cells equal
    to the figures (numbers as numbers, 未记录 and 无法统计 in words)."""
    book = load_workbook(io.BytesIO(to_xlsx(report)))
    about = {row[0]: row[1] for row in book["说明"].iter_rows(values_only=True)}
    assert about["期间"].startswith("2026年") and "完整" in about["审计链核验"]
    assert about["数据库"] == report.database
    sheet = book[label.ITEM_ONE]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == label.ITEM_ONE
    assert rows[1][:4] == (label.CONTENT, label.MADE, label.REPEALED, label.IN_FORCE)
    assert [r[0] for r in rows[2:4]] == [label.RULE, label.NORMATIVE]
    rule = report.figures["documents/item_one/rule/made"].value
    assert rows[2][1] == rule and rows[2][3] == "无法统计"
    assert book[label.ITEM_EIGHT]["B2"].value == label.FEE_AMOUNT
    assert [r[0] for r in book[label.ITEM_SIX].iter_rows(min_row=3, max_row=4, values_only=True)
            ] == [label.PENALTY, label.COERCION]
    for table in report.tables:  # every table's figures, cell by cell
        found = [s for s in book.worksheets if s["A1"].value == table.zh]
        assert len(found) == 1, table.zh
        values = list(found[0].iter_rows(min_row=3, values_only=True))
        for index, row in enumerate(table.rows):
            expected = [cell_value(report.figures[row.cells[c.id]]) if c.id in row.cells else None
                        for c in table.columns]
            assert list(values[index][1:1 + len(table.columns)]) == [
                None if v == "" else v for v in expected], (table.id, row.key)
    ids = {r[0] for r in book["指标"].iter_rows(min_row=2, values_only=True)}
    assert ids == set(report.figures)


def test_word_section_has_the_formats_table_and_the_figures(report: Report) -> None:
    """The .docx opens with python-docx: heading 二、主动公开政府信息情况, then the format's table
    with its blocks and labels verbatim and the drafted figures, the supplementary tables,
    what the bot cannot know, and the provenance."""
    document = Document(io.BytesIO(to_docx(report)))
    headings = [p.text for p in document.paragraphs if p.style is not None
                and p.style.name.startswith("Heading")]
    assert headings[0] == label.HEADINGS["二"]
    assert "本系统无法统计的项目" in headings
    first = document.tables[0]
    texts = [[cell.text for cell in row.cells] for row in first.rows]
    assert texts[0][0] == label.ITEM_ONE
    assert texts[1] == [label.CONTENT, label.MADE, label.REPEALED, label.IN_FORCE]
    assert texts[2][:2] == [label.RULE, str(report.figures["documents/item_one/rule/made"].value)]
    flat = [cell for row in texts for cell in row]
    for words in (label.ITEM_FIVE, label.LICENSING, label.DECISIONS, label.ITEM_SIX,
                  label.PENALTY, label.COERCION, label.ITEM_EIGHT, label.FEES,
                  label.FEE_AMOUNT):
        assert words in flat, words
    body = "\n".join(p.text for p in document.paragraphs)
    assert report.database in body and "审计链核验：完整" in body
    assert label.HEADINGS["三"] in body  # named among what the bot cannot know
    totals = next(t for t in document.tables if t.rows[1].cells[0].text == "主动公开信息（条）")
    assert totals.rows[1].cells[1].text == str(report.figures[
        "publications/totals/items/value"].value)


def test_configured_headings_replace_the_formats(report: Report) -> None:
    """A body that words section 二 its own way (report.headings) gets its own heading."""
    document = Document(io.BytesIO(to_docx(report, {"二": "二、主动公开情况"})))
    assert document.paragraphs[0].text == "二、主动公开情况"


def test_csv_and_json_carry_every_figure(report: Report) -> None:
    """The CSV (UTF-8 with BOM) has one line per shown figure with its id and row count; the
    JSON has every figure with its rows, the tables naming them, and the provenance."""
    text = to_csv(report)
    assert text.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(text[1:])))
    assert tuple(lines[0]) == CSV_HEADER
    by_id = {line[7]: line for line in lines[1:]}
    items = report.figures["publications/totals/items/value"]
    assert by_id[items.id][4] == str(items.value) and by_id[items.id][9] == str(len(items.rows))
    assert by_id["documents/item_one/rule/in_force"][4] == "无法统计"
    data = json.loads(json.dumps(to_json(report), default=str))
    assert data["report"]["audit"]["verified"] is True
    assert data["figures"][items.id]["rows"] == list(items.rows)
    shown = {fid for table in data["tables"] for row in table["rows"]
             for fid in row["cells"].values()}
    assert shown == set(data["figures"])


def test_terminal_table_aligns_chinese_and_says_what_is_unknown(report: Report) -> None:
    """The terminal table has every table's title, 未记录 / 无法统计 in place of numbers, and
    how to list a figure's rows."""
    text = render(report)
    for table in report.tables:
        assert f"■ {table.zh}" in text
    assert "未记录" in text and "无法统计" in text and "--explain" in text


def test_cli_writes_each_format_and_explains_a_figure(history: History, tmp_path: Path) -> None:
    """``publisher report annual`` (the installed entry point, on the history's database) for a
    past half-year writes the same figures as the report made in-process, an XLSX and a .docx
    file, and ``--explain`` lists the rows of one figure."""
    env = {**os.environ, "PUBLISHER_DATABASE_URL": history.app.store.url,
           "PUBLISHER_LOG_LEVEL": "WARNING"}
    config = str(history.app.loaded.file)
    base = [PUBLISHER, "report", "annual", "--from", f"{YEAR}-01-01", "--to", f"{YEAR}-06-30",
            "--config", config]

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *extra], env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_SECONDS, check=False)

    answer = run("--format", "json")
    assert answer.returncode == 0, answer.stderr
    made = json.loads(answer.stdout)
    here = build_report(history.app, ReportPeriod.days(date(YEAR, 1, 1), date(YEAR, 6, 30), ZONE))
    assert {k: v["value"] for k, v in made["figures"].items()} == {
        k: f.value for k, f in here.figures.items()}
    assert made["report"]["period"]["complete"] is True
    for kind in ("xlsx", "docx"):
        out = tmp_path / f"report.{kind}"
        answer = run("--format", kind, "--output", str(out))
        assert answer.returncode == 0, answer.stderr
        assert out.stat().st_size > 1000
    load_workbook(tmp_path / "report.xlsx")
    Document(str(tmp_path / "report.docx"))
    answer = run("--explain", "runs/scheduled/weekly/late")
    assert answer.returncode == 0, answer.stderr
    late = here.figures["runs/scheduled/weekly/late"]
    assert answer.stdout.splitlines()[0] == f"runs/scheduled/weekly/late = {late.value} 次"
    assert sum("weekly@" in line for line in answer.stdout.splitlines()) == late.value
    table = run()
    assert table.returncode == 0 and "■ 定期发布按时情况" in table.stdout


def test_cli_refuses_bad_options_naming_them(history: History) -> None:
    """A bad period, an unknown format, a binary format without --output and an unknown figure
    exit 2 with a message naming the option, and write nothing."""
    env = {**os.environ, "PUBLISHER_DATABASE_URL": history.app.store.url}
    config = str(history.app.loaded.file)
    cases = [(["--from", "2026-13-01", "--to", "2026-12-31"], "--from"),
             (["--from", "2026-12-01", "--to", "2026-01-01"], "--to"),
             (["--year", "2026", "--from", "2026-01-01"], "--year"),
             (["--format", "pdf"], "--format"), (["--format", "xlsx"], "--output"),
             (["--explain", "runs/nothing/x/y"], "no figure")]
    for extra, named in cases:
        answer = subprocess.run([PUBLISHER, "report", "annual", *extra, "--config", config],
                                env=env, capture_output=True, text=True,
                                timeout=TIMEOUT_SECONDS, check=False)
        assert answer.returncode == 2, (extra, answer.stderr)
        assert named in answer.stderr, (extra, answer.stderr)
