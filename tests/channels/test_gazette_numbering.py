"""Gazette numbering: year + issue number, a running total across years, merged issues."""

from __future__ import annotations

from datetime import date

import pytest

from channels.gazette.numbering import (
    IssueNumber,
    next_number,
    next_publication_date,
    parse_reference,
)


def test_running_total_continues_across_the_year_boundary() -> None:
    """The first issue of a new year is number 1 and its total follows the last issue of the old."""
    history = [IssueNumber(2026, (23,), 737), IssueNumber(2026, (24,), 738)]
    nxt = next_number(history, 2027)
    assert (nxt.year, nxt.numbers, nxt.total_no) == (2027, (1,), 739)
    assert nxt.full_label == "2027年第1期（总第739期）"


def test_merged_issue_has_one_total_number() -> None:
    """A double issue covers two numbers of the year under a single total number."""
    history = [IssueNumber(2024, (4,), 737)]
    merged = next_number(history, 2024, merged=2)
    assert merged.numbers == (5, 6) and merged.total_no == 738
    assert merged.full_label == "2024年第5、6期（总第738期）"
    assert merged.slug == "2024-05-06"
    after = next_number([*history, merged], 2024)
    assert (after.numbers, after.total_no) == ((7,), 739)


def test_first_issue_starts_where_the_paper_gazette_left_off() -> None:
    """Before any compiled issue, the configured first numbers apply."""
    first = next_number([], 2026, first_issue_no=20, first_total_no=734)
    assert (first.numbers, first.total_no) == ((20,), 734)


def test_an_issue_number_is_never_reused() -> None:
    """Asking for a number already published is refused; skipping ahead is allowed."""
    history = [IssueNumber(2026, (3,), 10)]
    with pytest.raises(ValueError):
        next_number(history, 2026, issue_no=3)
    assert next_number(history, 2026, issue_no=5).numbers == (5,)


def test_no_issue_for_a_year_already_left_behind() -> None:
    """Once a later year has issues, an earlier year cannot get one."""
    with pytest.raises(ValueError):
        next_number([IssueNumber(2027, (1,), 5)], 2026)


def test_references_by_slug_and_total() -> None:
    """An issue is found by 2024-05, 2024/6 (inside a merged issue) or its total number."""
    merged = IssueNumber(2024, (5, 6), 738)
    known = [IssueNumber(2024, (4,), 737), merged]
    assert parse_reference("2024-05", known) == merged
    assert parse_reference("2024/06", known) == merged
    assert parse_reference("738", known) == merged
    assert parse_reference("2024-09", known) is None


def test_semi_monthly_publication_dates() -> None:
    """With days 5 and 20, the next date is the 20th, then the 5th of the next month."""
    assert next_publication_date((5, 20), date(2026, 12, 6)) == date(2026, 12, 20)
    assert next_publication_date((5, 20), date(2026, 12, 21)) == date(2027, 1, 5)
    assert next_publication_date((5, 20), date(2026, 12, 5)) == date(2026, 12, 5)
