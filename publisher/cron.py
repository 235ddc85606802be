"""Standard five-field cron expressions turned into APScheduler triggers."""

from __future__ import annotations

import re
from datetime import tzinfo

from apscheduler.triggers.cron import CronTrigger

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _weekday_names(field: str) -> str:
    """Rewrite cron weekday numbers (0 or 7 = Sunday) as names.

    APScheduler 3 reads numbers with Monday = 0, so ``0 10 * * 3`` would fire on
    Thursdays; names mean the same to both.
    """

    def name(match: re.Match[str]) -> str:
        number = int(match.group(0))
        if number > 7:
            raise ValueError(f"day of week {number} is not between 0 and 7")
        return _DAY_NAMES[number]

    # only bare numbers; a step such as */2 keeps its number
    return re.sub(r"(?<![/\d])\d+", name, field)


def cron_trigger(expression: str, timezone: tzinfo) -> CronTrigger:
    """A trigger for a cron expression in ``timezone``; ValueError when malformed.

    Five fields are standard cron (minute hour day month weekday); six put seconds first,
    for drills and tests that need a fast schedule.
    """
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise ValueError(
            f"expected 5 fields (minute hour day month weekday) or 6 (seconds first), got {len(fields)}")
    second = fields.pop(0) if len(fields) == 6 else "0"
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        second=second,
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_weekday_names(weekday),
        timezone=timezone,
    )
