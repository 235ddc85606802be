"""Tests of the disclosure-catalogue index number (索引号) rule."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.portal.catalogue import (
    INDEX_NUMBER_LENGTH,
    INDEX_NUMBER_PATTERN,
    IndexNumber,
    format_index_number,
    is_index_number,
    parse_index_number,
)

organ_codes = st.text(alphabet=string.digits + string.ascii_uppercase, min_size=9, max_size=9)
years = st.integers(min_value=1000, max_value=9999)
serials = st.integers(min_value=1, max_value=99_999)


@given(organ_codes, years, serials)
def test_any_valid_parts_format_to_twenty_matching_characters(
    organ: str, year: int, serial: int
) -> None:
    """Every valid code, year and serial formats to 20 characters that match the pattern."""
    text = format_index_number(organ, year, serial)
    assert len(text) == INDEX_NUMBER_LENGTH == 20
    assert INDEX_NUMBER_PATTERN.fullmatch(text)
    assert parse_index_number(text) == IndexNumber(organ, year, serial)


def test_the_gov_cn_example_is_accepted() -> None:
    """The index number printed on a real gov.cn page follows the rule."""
    assert format_index_number("000014349", 2017, 110) == "000014349/2017-00110"
    assert is_index_number("000014349/2017-00110")


@given(st.text(min_size=0, max_size=12).filter(lambda s: len(s) != 9 or not s.isalnum()))
def test_organ_codes_other_than_nine_capitals_or_digits_are_refused(organ: str) -> None:
    """An organisation code that is not 9 digits or capital letters is refused."""
    with pytest.raises(ValueError, match="organisation code"):
        format_index_number(organ, 2026, 1)


@given(st.one_of(st.integers(max_value=999), st.integers(min_value=10_000)))
def test_years_without_four_digits_are_refused(year: int) -> None:
    """A year outside 1000..9999 is refused."""
    with pytest.raises(ValueError, match="year"):
        format_index_number("MB0000123", year, 1)


@given(st.one_of(st.integers(max_value=0), st.integers(min_value=100_000)))
def test_serials_outside_five_digits_are_refused(serial: int) -> None:
    """A serial outside 1..99999 is refused."""
    with pytest.raises(ValueError, match="serial"):
        format_index_number("MB0000123", 2026, serial)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "MB0000123/2026-0001",  # serial too short
        "MB0000123/2026-000001",  # serial too long
        "MB0000123/26-00001",  # year too short
        "mb0000123/2026-00001",  # lower case
        "MB000012/2026-00001",  # code too short
        "MB0000123-2026-00001",  # wrong separator
        "MB0000123/2026-00000",  # serial zero
        "MB0000123/0999-00001",  # year with a leading zero
        "MB0000123/2026-00001\n",  # trailing newline
    ],
)
def test_malformed_index_numbers_do_not_match(text: str) -> None:
    """Index numbers that break the rule are refused by the pattern and the parser."""
    assert not INDEX_NUMBER_PATTERN.fullmatch(text)
    assert not is_index_number(text)
    with pytest.raises(ValueError, match="index number"):
        parse_index_number(text)
