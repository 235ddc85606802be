"""Data errors that name the file and every problem in it; the shared constants."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

Where = tuple[str, str, int | None]  # (zh, en, number), e.g. ("第 5 行", "row 5", 5)
Grid = list[tuple[Where, list[Any]]]


@dataclass(frozen=True)
class DataProblem:
    """One problem of a data file: its text as listed (zh-CN / en) and, for a bad cell, where it
    is: the row (its number in the file, or the item of a JSON list), the column as written in
    the file, the value found, and what is wrong with it in each language."""

    text: str
    row: int | None = None
    row_label_zh: str | None = None
    row_label_en: str | None = None
    column: str | None = None
    value: str | None = None
    message_zh: str | None = None
    message_en: str | None = None


class DataError(Exception):
    """A data file cannot be used; ``problems`` lists every problem found in it (zh-CN / en),
    ``located`` the same problems with the row, column and value of each bad cell."""

    def __init__(self, file: Path, problems: Sequence[str | DataProblem]) -> None:
        self.file = Path(file)
        self.located = [p if isinstance(p, DataProblem) else DataProblem(p) for p in problems]
        self.problems = [p.text for p in self.located]
        if len(self.problems) == 1:
            text = f"{file}: {self.problems[0]}"
        else:
            count = len(self.problems)
            listed = "\n".join(f"  - {p}" for p in self.problems)
            text = f"{file}: 数据文件有 {count} 处问题 / {count} problem(s):\n{listed}"
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.file, self.located))


class DataMissing(DataError):
    """The period's data is not there (no file, an empty file or an empty table)."""


@dataclass(frozen=True)
class Table:
    """One table of a release's data: its name in the definition, the file read, typed rows."""

    name: str
    file: Path
    rows: list[dict[str, Any]]
    # where each row is in the file ("第 5 行", "row 5") and each column's header, for the
    # content checks' findings; not part of what the table holds
    wheres: tuple[Where, ...] = field(default=(), compare=False)
    headers: dict[str, str] = field(default_factory=dict, compare=False)


class _BadValue(ValueError):
    def __init__(self, zh: str, en: str) -> None:
        self.zh, self.en = zh, en
        super().__init__(f"{zh} / {en}")


class _Problems:
    def __init__(self) -> None:
        self.items: list[DataProblem] = []
        self.dropped = 0

    def add(self, message: str | DataProblem) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(message if isinstance(message, DataProblem) else DataProblem(message))
        else:
            self.dropped += 1

    def listed(self) -> list[DataProblem]:
        more = f"另有 {self.dropped} 处问题未列出 / {self.dropped} more problem(s) not listed"
        return [*self.items, DataProblem(more)] if self.dropped else list(self.items)


