"""The period a report covers: a calendar year or any run of days, in the configured zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


class PeriodError(ValueError):
    """A period that cannot be reported on; the message names the option."""


@dataclass(frozen=True)
class ReportPeriod:
    """Local days ``first`` to ``last`` (both included), as instants in ``zone``."""

    first: date
    last: date
    zone: ZoneInfo

    @classmethod
    def year(cls, year: int, zone: ZoneInfo) -> ReportPeriod:
        if not 2000 <= year <= 2100:
            raise PeriodError(f"--year: {year} 不在 2000–2100 之间 / is not between 2000 and 2100")
        return cls(date(year, 1, 1), date(year, 12, 31), zone)

    @classmethod
    def days(cls, first: date, last: date, zone: ZoneInfo) -> ReportPeriod:
        if last < first:
            raise PeriodError(f"--to {last} 早于 --from {first} / --to is before --from")
        if (last - first).days > 3660:
            raise PeriodError("期间不能超过十年 / the period may not exceed ten years")
        return cls(first, last, zone)

    @property
    def start(self) -> datetime:
        """The first instant of the period."""
        return datetime.combine(self.first, time(0), self.zone)

    @property
    def end(self) -> datetime:
        """The first instant after the period."""
        return datetime.combine(self.last + timedelta(days=1), time(0), self.zone)

    @property
    def is_year(self) -> bool:
        return (self.first.month, self.first.day, self.last.month, self.last.day) == (
            1, 1, 12, 31) and self.first.year == self.last.year

    @property
    def label_zh(self) -> str:
        if self.is_year:
            return f"{self.first.year}年"
        return f"{self.first:%Y-%m-%d} 至 {self.last:%Y-%m-%d}"

    @property
    def label_en(self) -> str:
        if self.is_year:
            return str(self.first.year)
        return f"{self.first:%Y-%m-%d} to {self.last:%Y-%m-%d}"

    def previous(self) -> ReportPeriod:
        """The period just before: as many whole months (the year before, for a year; the
        first half for the second), else as many days."""
        if self.is_year:
            return ReportPeriod.year(self.first.year - 1, self.zone)
        if self.first.day == 1 and (self.last + timedelta(days=1)).day == 1:
            months = (self.last.year - self.first.year) * 12 + self.last.month - self.first.month + 1
            start = self.first.year * 12 + self.first.month - 1 - months
            return ReportPeriod(date(start // 12, start % 12 + 1, 1),
                                self.first - timedelta(days=1), self.zone)
        length = self.last - self.first
        last = self.first - timedelta(days=1)
        return ReportPeriod(last - length, last, self.zone)

    def months(self) -> list[str]:
        """``2026-01`` … for every month the period touches."""
        out, day = [], self.first.replace(day=1)
        while day <= self.last:
            out.append(f"{day:%Y-%m}")
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        return out

    def query(self) -> dict[str, str]:
        """The period as console query parameters."""
        if self.is_year:
            return {"year": str(self.first.year)}
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def parse(zone: ZoneInfo, *, year: int | None = None, first: str | None = None,
          last: str | None = None, today: date | None = None) -> ReportPeriod:
    """The period asked for: ``year``, or ``first``/``last`` (YYYY-MM-DD), else this year."""
    if year is not None and (first or last):
        raise PeriodError("--year 与 --from/--to 只能选一种 / give --year or --from/--to")
    if year is not None:
        return ReportPeriod.year(year, zone)
    if first or last:
        if not (first and last):
            raise PeriodError("--from 与 --to 须同时给出 / give both --from and --to")
        return ReportPeriod.days(_day("--from", first), _day("--to", last), zone)
    return ReportPeriod.year((today or date.today()).year, zone)


def _day(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(f"{option}: {text!r} 不是日期 / is not a date (YYYY-MM-DD)") from None
