"""Figures, tables and the report: every figure carries the ids of the rows it counts."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

# counted: a count of rows | measured: a time or share over rows | derived: from other figures
# not_recorded: the records lack what it needs (未记录) | unknown: the bot cannot know it
# draft: counted, for a person to confirm
Status = Literal["counted", "measured", "derived", "not_recorded", "unknown", "draft"]
RowTable = Literal["releases", "deliveries", "incidents", "audit_events", ""]
Value = bool | int | float | str | None  # bool: a yes/no cell (是/否)


def ids(values: Iterable[int] = ()) -> array[int]:
    """A compact, ordered list of row ids (8 bytes each)."""
    return array("q", values)


@dataclass
class Figure:
    """One number of the report, with the rows it was counted from."""

    id: str
    value: Value
    rows_of: RowTable = ""
    rows: Sequence[int] = field(default_factory=ids)
    unit: str = ""
    status: Status = "counted"
    note_zh: str = ""
    note_en: str = ""

    @property
    def known(self) -> bool:
        return self.status not in ("not_recorded", "unknown")

    def shown(self, lang: str = "zh") -> str:
        """The value as a person reads it: 未记录 / 无法统计 instead of a number when unknown."""
        if self.status == "not_recorded" and self.value is None:
            return "未记录" if lang == "zh" else "not recorded"
        if self.value is None and self.status in ("measured", "derived"):
            return "—"
        if self.value is None:
            return "无法统计" if lang == "zh" else "unknown"
        if isinstance(self.value, bool):
            return ("是" if self.value else "否") if lang == "zh" else ("yes" if self.value else "no")
        if isinstance(self.value, float):
            return f"{self.value:.1f}"
        return str(self.value)


def count(figure_id: str, rows_of: RowTable, rows: Sequence[int], unit: str = "",
          status: Status = "counted") -> Figure:
    """A figure that is the number of ``rows``."""
    return Figure(figure_id, len(rows), rows_of, rows, unit, status)


@dataclass(frozen=True)
class Column:
    """A column of a table: its id and its header in Chinese and English."""

    id: str
    zh: str
    en: str


@dataclass
class Row:
    """A row of a table: its key, its label, and the figure id in each column."""

    key: str
    zh: str
    en: str
    cells: dict[str, str] = field(default_factory=dict)  # column id -> figure id


@dataclass
class Table:
    """A table of the report (one sheet of the workbook, one table of the Word section)."""

    id: str
    zh: str
    en: str
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)
    note_zh: str = ""
    note_en: str = ""
    first_header_zh: str = "项目"  # the label column's header (the format's 信息内容)
    first_header_en: str = "Item"


class Sheet:
    """Builds one table: add rows, each cell a figure whose id is ``section/table/row/column``."""

    def __init__(self, section: str, table: Table, figures: dict[str, Figure]) -> None:
        self.section, self.table, self.figures = section, table, figures

    def figure_id(self, row: str, column: str) -> str:
        return f"{self.section}/{self.table.id}/{row}/{column}"

    def row(self, key: str, zh: str, en: str | None = None, **cells: Figure) -> Row:
        """Add a row; each keyword is a column id and the figure shown there (its id is set)."""
        made = Row(key, zh, en if en is not None else zh)
        for column, figure in cells.items():
            figure.id = self.figure_id(key, column)
            self.figures[figure.id] = figure
            made.cells[column] = figure.id
        self.table.rows.append(made)
        return made


@dataclass(frozen=True)
class AuditCheck:
    """Whether the audit chain verified when the report was made (None: not checked)."""

    ok: bool | None
    events: int = 0
    problem: str = ""


@dataclass(frozen=True)
class Unknowable:
    """Something the format asks for that the bot cannot know, and who does."""

    label: str  # the format's words
    source_zh: str
    source_en: str


@dataclass
class Report:
    """The figures of one period, their tables, and how and from what they were made."""

    period_zh: str
    period_en: str
    first: str  # ISO dates, the period's first and last day
    last: str
    organ: str | None
    made_at: datetime
    database: str
    audit: AuditCheck
    complete: bool  # the period has ended
    tables: list[Table] = field(default_factory=list)
    figures: dict[str, Figure] = field(default_factory=dict)
    unknowable: list[Unknowable] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (zh, en)

    def table(self, table_id: str) -> Table:
        return next(t for t in self.tables if t.id == table_id)

    def figure(self, figure_id: str) -> Figure:
        """The figure; KeyError naming it and the nearest ids when there is none."""
        try:
            return self.figures[figure_id]
        except KeyError:
            prefix = figure_id.rsplit("/", 1)[0]
            near = sorted(f for f in self.figures if f.startswith(prefix))[:8]
            raise KeyError(f"没有指标 {figure_id} / no figure {figure_id}"
                           + (f"; e.g. {', '.join(near)}" if near else "")) from None
