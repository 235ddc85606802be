"""The reporting period a release covers (day, ISO week, month, quarter, year)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

PeriodUnit = Literal["day", "week", "month", "quarter", "year"]


@dataclass(frozen=True)
class Period:
    """A reporting period; its fields fill data-file path patterns and templates."""

    unit: PeriodUnit
    start: date
    end: date  # inclusive

    @property
    def year(self) -> int:
        return self.start.year

    @property
    def month(self) -> int:
        return self.start.month

    @property
    def day(self) -> int:
        return self.start.day

    @property
    def quarter(self) -> int:
        return (self.start.month - 1) // 3 + 1

    @property
    def iso_year(self) -> int:
        return self.start.isocalendar().year

    @property
    def iso_week(self) -> int:
        return self.start.isocalendar().week

    @property
    def label_zh(self) -> str:
        """How staff and the public read the period, e.g. ``2026年第49周``."""
        if self.unit == "day":
            return f"{self.year}年{self.month}月{self.day}日"
        if self.unit == "week":
            return f"{self.iso_year}年第{self.iso_week}周"
        if self.unit == "month":
            return f"{self.year}年{self.month}月"
        if self.unit == "quarter":
            return f"{self.year}年第{self.quarter}季度"
        return f"{self.year}年"

    @property
    def key(self) -> str:
        """The period as URLs and the intake name it: ``2026-12-02``, ``2026-W49``, ``2026-12``,
        ``2026-Q4``, ``2026``."""
        if self.unit == "day":
            return self.start.isoformat()
        if self.unit == "week":
            return f"{self.iso_year}-W{self.iso_week:02d}"
        if self.unit == "month":
            return f"{self.year}-{self.month:02d}"
        if self.unit == "quarter":
            return f"{self.year}-Q{self.quarter}"
        return str(self.year)

    def fields(self) -> dict[str, Any]:
        """Placeholders for ``str.format`` path patterns."""
        return {
            "year": self.year,
            "month": self.month,
            "day": self.day,
            "quarter": self.quarter,
            "iso_year": self.iso_year,
            "iso_week": self.iso_week,
            "date": self.start,
            "start": self.start,
            "end": self.end,
        }

    def as_context(self) -> dict[str, Any]:
        """The period as templates see it."""
        return {**self.fields(), "unit": self.unit, "label": self.label_zh}


def period_of(day: date, unit: PeriodUnit, offset: int = 0) -> Period:
    """The period of ``unit`` containing ``day``, moved by ``offset`` periods (-1 = the one before)."""
    if unit == "day":
        start = day + timedelta(days=offset)
        return Period(unit, start, start)
    if unit == "week":
        monday = day - timedelta(days=day.weekday()) + timedelta(weeks=offset)
        return Period(unit, monday, monday + timedelta(days=6))
    if unit == "month":
        index = day.year * 12 + day.month - 1 + offset
        year, month0 = divmod(index, 12)
        last = calendar.monthrange(year, month0 + 1)[1]
        return Period(unit, date(year, month0 + 1, 1), date(year, month0 + 1, last))
    if unit == "quarter":
        index = day.year * 4 + (day.month - 1) // 3 + offset
        year, q0 = divmod(index, 4)
        first_month = q0 * 3 + 1
        last = calendar.monthrange(year, first_month + 2)[1]
        return Period(unit, date(year, first_month, 1), date(year, first_month + 2, last))
    year = day.year + offset
    return Period(unit, date(year, 1, 1), date(year, 12, 31))


_KEYS = {
    "day": re.compile(r"(\d{4})-(\d{2})-(\d{2})"),
    "week": re.compile(r"(\d{4})-W(\d{2})"),
    "month": re.compile(r"(\d{4})-(\d{2})"),
    "quarter": re.compile(r"(\d{4})-Q([1-4])"),
    "year": re.compile(r"(\d{4})"),
}
KEY_EXAMPLES = {"day": "2026-12-02", "week": "2026-W49", "month": "2026-12", "quarter": "2026-Q4",
                "year": "2026"}


def parse_key(unit: PeriodUnit, text: str) -> Period:
    """The period of ``unit`` whose ``key`` is ``text``; ValueError naming the expected form."""
    match = _KEYS[unit].fullmatch(text.strip())
    try:
        if match is None:
            raise ValueError(text)
        numbers = [int(part) for part in match.groups()]
        if unit == "day":
            day = date(*numbers)
        elif unit == "week":
            day = date.fromisocalendar(numbers[0], numbers[1], 1)
        elif unit == "month":
            day = date(numbers[0], numbers[1], 1)
        elif unit == "quarter":
            day = date(numbers[0], numbers[1] * 3 - 2, 1)
        else:
            day = date(numbers[0], 1, 1)
    except ValueError:
        raise ValueError(f"期间 {text[:40]!r} 无效，应形如 {KEY_EXAMPLES[unit]} / period {text[:40]!r} "
                         f"is not valid: write it like {KEY_EXAMPLES[unit]}") from None
    return period_of(day, unit)
