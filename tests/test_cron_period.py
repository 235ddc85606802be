"""Cron expressions in the configured timezone, and reporting periods."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publisher.cron import cron_trigger
from publisher.period import period_of

SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(("expr", "expected"), [
    ("0 10 * * 3", datetime(2026, 12, 2, 10, 0, tzinfo=SH)),      # cron 3 = Wednesday
    ("0 10 * * wed", datetime(2026, 12, 2, 10, 0, tzinfo=SH)),
    ("0 10 * * 0", datetime(2026, 11, 29, 10, 0, tzinfo=SH)),     # 0 = Sunday
    ("0 10 * * 7", datetime(2026, 11, 29, 10, 0, tzinfo=SH)),     # 7 = Sunday too
    ("0 9 * * 1-5", datetime(2026, 11, 30, 9, 0, tzinfo=SH)),     # Monday to Friday
    ("0 9 15 1,4,7,10 *", datetime(2027, 1, 15, 9, 0, tzinfo=SH)),
])
def test_weekday_numbers_follow_cron(expr: str, expected: datetime) -> None:
    """Weekday numbers mean what they mean in cron (0 and 7 Sunday), not APScheduler's Monday=0."""
    start = datetime(2026, 11, 28, 12, 0, tzinfo=SH)
    assert cron_trigger(expr, SH).get_next_fire_time(None, start) == expected


@pytest.mark.parametrize("expr", ["0 10 * *", "61 10 * * *", "0 10 * * 8", "0 25 * * *"])
def test_malformed_cron_is_refused(expr: str) -> None:
    """A malformed expression raises ValueError."""
    with pytest.raises(ValueError):
        cron_trigger(expr, SH)


def test_week_period_crosses_the_year() -> None:
    """The ISO week holding 2027-01-01 is 2026-W53, starting Monday 2026-12-28."""
    p = period_of(date(2027, 1, 1), "week")
    assert (p.iso_year, p.iso_week, p.start, p.end) == (2026, 53, date(2026, 12, 28),
                                                        date(2027, 1, 3))
    assert p.label_zh == "2026年第53周"


def test_previous_month_and_quarter() -> None:
    """Offset -1 gives the month or quarter before, across the year boundary."""
    assert period_of(date(2027, 1, 10), "month", -1).label_zh == "2026年12月"
    q = period_of(date(2027, 1, 15), "quarter", -1)
    assert (q.label_zh, q.start, q.end) == ("2026年第4季度", date(2026, 10, 1), date(2026, 12, 31))


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
       st.sampled_from(["day", "week", "month", "quarter", "year"]),
       st.integers(min_value=-3, max_value=0))
def test_period_contains_its_day(day: date, unit: str, offset: int) -> None:
    """With offset 0 a period contains its day; every period's start is not after its end."""
    p = period_of(day, unit, offset)  # type: ignore[arg-type]
    assert p.start <= p.end
    if offset == 0:
        assert p.start <= day <= p.end
    else:
        assert p.end < day
