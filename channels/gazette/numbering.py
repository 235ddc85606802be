"""Gazette issue numbers: year and issue number plus a running total that continues across years."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

SLUG_PATTERN = re.compile(r"\A(?P<year>[0-9]{4})-(?P<first>[0-9]{2,3})(?:-(?P<last>[0-9]{2,3}))?\Z")


@dataclass(frozen=True)
class IssueNumber:
    """``(year, no_in_year…)`` plus ``total_no``; a merged issue covers several numbers."""

    year: int
    numbers: tuple[int, ...]
    total_no: int

    def __post_init__(self) -> None:
        if not self.numbers or any(b != a + 1 for a, b in zip(self.numbers, self.numbers[1:],
                                                                strict=False)):
            raise ValueError(f"期号须连续 / issue numbers must be consecutive: {self.numbers}")
        if self.numbers[0] < 1 or self.total_no < 1:
            raise ValueError("期号从 1 起 / issue numbers start at 1")

    @property
    def first(self) -> int:
        return self.numbers[0]

    @property
    def last(self) -> int:
        return self.numbers[-1]

    @property
    def label(self) -> str:
        """``2024年第5、6期``."""
        return f"{self.year}年第{'、'.join(str(n) for n in self.numbers)}期"

    @property
    def full_label(self) -> str:
        """``2024年第5、6期（总第738期）``."""
        return f"{self.label}（总第{self.total_no}期）"

    @property
    def label_en(self) -> str:
        """``2024 No. 5-6 (No. 738 in total)``."""
        numbers = str(self.first) if len(self.numbers) == 1 else f"{self.first}-{self.last}"
        return f"{self.year} No. {numbers} (No. {self.total_no} in total)"

    @property
    def slug(self) -> str:
        """``2024-05`` or, merged, ``2024-05-06``: the issue's file name."""
        if len(self.numbers) == 1:
            return f"{self.year}-{self.first:02d}"
        return f"{self.year}-{self.first:02d}-{self.last:02d}"

    def to_json(self) -> dict[str, object]:
        return {"year": self.year, "numbers": list(self.numbers), "total_no": self.total_no}

    @classmethod
    def from_json(cls, raw: dict[str, object]) -> IssueNumber:
        numbers = raw["numbers"]
        if not isinstance(numbers, list):
            raise ValueError("numbers must be a list")
        return cls(int(str(raw["year"])), tuple(int(n) for n in numbers), int(str(raw["total_no"])))


def next_number(previous: Sequence[IssueNumber], year: int, *, merged: int = 1,
                issue_no: int | None = None, first_issue_no: int = 1,
                first_total_no: int = 1) -> IssueNumber:
    """The number of the next issue published in ``year``.

    The issue number continues from the last issue of the same year (1 in a new year, or
    ``first_issue_no`` before any issue was compiled here); the total continues from the
    last issue of any year (``first_total_no`` for the very first). ``merged`` issues share
    one total number. ``issue_no`` asks for a given number; it may skip but never repeat.
    """
    if merged < 1:
        raise ValueError(f"合刊期数至少为 1 / merged must be at least 1: {merged}")
    same_year = [n for n in previous if n.year == year]
    later = [n for n in previous if n.year > year]
    if later:
        raise ValueError(f"已有 {later[0].year} 年的期次，不能再编 {year} 年 / "
                         f"issues of {later[0].year} exist; cannot compile one for {year}")
    expected = 1 if previous else first_issue_no
    if same_year:
        expected = max(n.last for n in same_year) + 1
    first = expected if issue_no is None else issue_no
    if first < expected:
        raise ValueError(f"{year}年第{first}期已出版或已跳过，下一期至少为第{expected}期 / "
                         f"issue {first} of {year} is taken; the next is at least {expected}")
    total = max((n.total_no for n in previous), default=first_total_no - 1) + 1
    return IssueNumber(year, tuple(range(first, first + merged)), total)


REFERENCE_PATTERN = re.compile(r"(?P<year>\d{4})-(?P<first>\d{1,3})(?:-\d{1,3})?")


def parse_reference(text: str, known: Iterable[IssueNumber]) -> IssueNumber | None:
    """Find an issue by slug (``2026-24``), ``2026/24`` or total number (``738``)."""
    issues = list(known)
    text = text.strip().replace("/", "-")
    if text.isdigit():
        return next((n for n in issues if n.total_no == int(text)), None)
    match = REFERENCE_PATTERN.fullmatch(text)  # as staff type it: 2026-1 as well as 2026-01
    if match is None:
        return None
    year, number = int(match["year"]), int(match["first"])
    return next((n for n in issues if n.year == year and number in n.numbers), None)


def next_publication_date(days: Sequence[int], after: date) -> date:
    """The first configured day of the month (e.g. the 5th and 20th) on or after ``after``."""
    if not days or any(not 1 <= d <= 28 for d in days):
        raise ValueError(f"出版日须为 1–28 日 / publication days must be 1..28: {list(days)}")
    moment = after
    for _ in range(62):
        if moment.day in days:
            return moment
        moment += timedelta(days=1)
    raise AssertionError("unreachable: a day in 1..28 comes within two months")
