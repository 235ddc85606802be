"""Working days: Monday to Friday, less configured holidays, plus make-up working days (调休)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from publisher.report.settings import CalendarConfig, expand_days


@dataclass(frozen=True)
class WorkCalendar:
    """Which days are working days; the years it has holidays for (others: weekends only)."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    # working days before each day (by ordinal), filled a year at a time as asked
    _before: dict[int, int] = field(default_factory=dict, compare=False, repr=False)

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
        if end <= start:
            return 0
        after, upto = start + timedelta(days=1), end + timedelta(days=1)
        for day in (after, upto):  # both counted from the same first day
            if day.toordinal() not in self._before:
                self._extend(day)
        return self._before[upto.toordinal()] - self._before[after.toordinal()]

    def _extend(self, day: date) -> None:
        """Count the working days before each day of a span of years around ``day`` and of
        every span counted before (the counts run from one first day)."""
        first = date(day.year - 1, 1, 1).toordinal()
        last = date(day.year + 1, 12, 31).toordinal() + 1
        if self._before:
            first, last = min(first, min(self._before)), max(last, max(self._before))
        count = 0
        for ordinal in range(first, last + 1):
            self._before[ordinal] = count
            count += self.is_working_day(date.fromordinal(ordinal))

    def years(self) -> frozenset[int]:
        """The years the configured holidays cover."""
        return frozenset(day.year for day in self.holidays)

    def missing_years(self, first: date, last: date) -> list[int]:
        """Years between ``first`` and ``last`` without any configured holiday: counted as if
        every weekday were a working day, which the report says."""
        return [year for year in range(first.year, last.year + 1) if year not in self.years()]
