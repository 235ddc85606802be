"""The ``report:`` section of schedules.yaml and the document types a release may declare."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# What a release is, for block 第二十条第（一）项 and 三同步 (labels in report/label.py).
DocumentType = Literal["rule", "normative", "interpretation", "repeal_rule", "repeal_normative",
                       "other"]
DOCUMENT_TYPES: tuple[str, ...] = ("rule", "normative", "interpretation", "repeal_rule",
                                   "repeal_normative", "other")
_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\.\.(\d{4}-\d{2}-\d{2}))?$")
MAX_RANGE_DAYS = 31


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def expand_days(entries: list[str]) -> frozenset[date]:
    """``2026-10-01..2026-10-07`` and ``2026-01-01`` entries as a set of dates."""
    days: set[date] = set()
    for entry in entries:
        match = _DAY.match(entry)
        if match is None:
            raise ValueError(f"{entry!r}: write YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD")
        first = date.fromisoformat(match[1])
        last = date.fromisoformat(match[2]) if match[2] else first
        if not timedelta(0) <= last - first <= timedelta(days=MAX_RANGE_DAYS):
            raise ValueError(f"{entry!r}: the range must run forward, at most "
                             f"{MAX_RANGE_DAYS} days")
        days.update(first + timedelta(days=n) for n in range((last - first).days + 1))
    return frozenset(days)


class CalendarConfig(_Model):
    """Working days: Monday to Friday, less ``holidays``, plus make-up ``workdays`` (调休上班)."""

    holidays: list[str] = Field(default_factory=list)  # days off, or ranges a..b
    workdays: list[str] = Field(default_factory=list)  # weekend days that are working days

    @field_validator("holidays", "workdays")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        expand_days(value)
        return value


class ReportConfig(_Model):
    """How the annual report judges timeliness; every threshold the law leaves open is here."""

    calendar: CalendarConfig = CalendarConfig()
    # a scheduled run is on time when first published within this of its due time
    on_time_minutes: int = Field(60, ge=0, le=7 * 24 * 60)
    # target from an incident's event to its first report on a channel (default 1 hour)
    first_report_target_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
    # 条例 第二十六条: published within 20 working days of being formed
    timeliness_working_days: int = Field(20, ge=1, le=365)
    # an interpretation counts as released together (三同步) when first published within this
    # of its document
    together_within_minutes: int = Field(60, ge=0, le=30 * 24 * 60)
    # 期数 of a merged issue (第5、6期): each of its numbers (``numbers``) or one (``once``)
    gazette_merged_issue: Literal["numbers", "once"] = "numbers"
    # headings of the report's sections, where a body words them differently (一 … 六)
    headings: dict[str, str] = Field(default_factory=dict)

    @field_validator("headings")
    @classmethod
    def _known_headings(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - {"一", "二", "三", "四", "五", "六"})
        if unknown:
            raise ValueError(f"unknown section(s) {unknown}; sections are 一 to 六")
        return value
