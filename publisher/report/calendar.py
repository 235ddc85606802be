"""Working days: Monday to Friday, less configured holidays, plus make-up working days (调休)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from publisher.report.settings import CalendarConfig, expand_days


@dataclass(frozen=True)
class WorkCalendar:
    """Which days are working days; the years it has holidays for (others: weekends only)."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    @classmethod
    def from_config(cls, config: CalendarConfig) -> WorkCalendar:
        return cls(expand_days(config.holidays), expand_days(config.workdays))

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def working_days_after(self, start: date, end: date) -> int:
        """Working days in (start, end]: how many working days ``end`` comes after ``start``
        (0 when ``end`` is not after it). 成文 on a Friday, published the next Monday: 1."""
        count, day = 0, start + timedelta(days=1)
        while day <= end:
            count += self.is_working_day(day)
            day += timedelta(days=1)
        return count

    def years(self) -> frozenset[int]:
        """The years the configured holidays cover."""
        return frozenset(day.year for day in self.holidays)

    def missing_years(self, first: date, last: date) -> list[int]:
        """Years between ``first`` and ``last`` without any configured holiday: counted as if
        every weekday were a working day, which the report says."""
        return [year for year in range(first.year, last.year + 1) if year not in self.years()]
