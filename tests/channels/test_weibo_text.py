"""The Weibo length counter of weibo.md A2 on mixed Chinese, ASCII and link text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from channels.weibo.text import Counter, host_under, links

COUNTER = Counter()
LINK = "http://www.gov.example.cn/food-safety/food-safety-sampling-20261202-1000.html"


@pytest.mark.parametrize(("text", "units"), [
    ("", 0),
    ("a", 1),
    ("ab", 2),
    ("食品", 4),
    ("抽检120批次", 3 + 8),
    ("\x80", 1),  # the documented boundary: up to 0x80 counts as ASCII
    ("\x81", 2),
    ("，", 2),  # full-width punctuation counts whole
    (LINK, 20),  # an http link of up to 140 bytes costs 20 half-units
    ("详情" + LINK + "。", 4 + 20 + 2),
    ("http://t.cn/A6abcdEF", 20),  # t.cn short links count literally: here also 20 bytes
    ("http://t.cn/A6abcdEFGH", 22),
    ("http://weibo.com/1234567890/Abc", 31),  # weibo.com up to 41 bytes: literal
    ("http://weibo.com/" + "x" * 30, 20),  # 47 bytes: over 41, so a counted link again
    ("http://m.weibo.cn/status/1", 26),
    ("http://x.cn/" + "a" * 140, 152 - 140 + 20),  # over 140 bytes: bytelen - 140 + 20
])
def test_units(text: str, units: int) -> None:
    """ASCII half, other characters one, links by the documented rule (in half-units)."""
    assert COUNTER.units(text) == units


def test_length_rounds_half_units_up() -> None:
    """Length is ceil(half-units / 2): one ASCII letter is already one character."""
    assert COUNTER.length("a") == 1
    assert COUNTER.length("ab") == 1
    assert COUNTER.length("abc") == 2
    assert COUNTER.length("食a") == 2


def test_https_links_count_literally_unless_configured() -> None:
    """An https link counts at its literal length by default, as a link when configured."""
    link = "https://www.gov.example.cn/food-safety/a.html"  # 45 bytes
    assert Counter().units(link) == 45
    assert Counter(https_as_link=True).units(link) == 20


def _mixed(chinese: int, ascii_chars: int) -> str:
    return "详" * chinese + "a" * ascii_chars + " " + LINK


@pytest.mark.parametrize(("text", "length", "fits"), [
    (_mixed(129, 0), 140, True),  # 258 + 1 + 20 = 279 half-units -> 140
    (_mixed(129, 1), 140, True),  # 280 -> exactly 140: at the limit
    (_mixed(129, 2), 141, False),  # 281 -> just over
    (_mixed(128, 2), 140, True),  # just under after trading one Chinese for two ASCII
    (_mixed(130, 0), 141, False),
    ("详" * 139 + "a", 140, True),
    ("详" * 140, 140, True),
    ("详" * 140 + "a", 141, False),
])
def test_at_under_and_over_the_limit(text: str, length: int, fits: bool) -> None:
    """Mixed Chinese, ASCII and a link right at, just under and just over 140."""
    assert COUNTER.length(text) == length
    assert COUNTER.fits(text) is fits
    assert COUNTER.over_by(text) == max(length - 140, 0)


def test_limit_is_configurable() -> None:
    """A smaller limit moves the boundary and the over-by count with it."""
    counter = Counter(limit=10)
    assert counter.fits("详" * 10) and not counter.fits("详" * 11)
    assert counter.over_by("详" * 13) == 3


def test_links_and_hosts() -> None:
    """Links end at a space or non-ASCII character; hosts match the domain and subdomains."""
    assert links("见http://a.cn/x，和 https://b.cn/y z") == ["http://a.cn/x", "https://b.cn/y"]
    assert host_under("www.gov.example.cn", "gov.example.cn")
    assert host_under("gov.example.cn", "GOV.example.cn")
    assert not host_under("evilgov.example.cn", "gov.example.cn")


@given(st.text(alphabet=[chr(code) for code in range(0x81)]))
def test_ascii_without_links_counts_half(text: str) -> None:
    """Text of ASCII characters alone (no link) is ceil(len / 2) characters."""
    if "http" in text:
        return
    assert COUNTER.length(text) == (len(text) + 1) // 2


@given(st.text(max_size=60), st.text(max_size=60))
def test_concatenation_adds_up_without_links(left: str, right: str) -> None:
    """Without links, half-units add up over concatenation and every character costs 1 or 2."""
    if "http" in left + right or "http" in left[-8:] + right[:8]:
        return
    assert COUNTER.units(left + right) == COUNTER.units(left) + COUNTER.units(right)
    assert len(left) <= COUNTER.units(left) <= 2 * len(left)


@given(st.text(alphabet="详a ", max_size=200))
def test_appending_a_link_costs_ten_or_eleven_characters(text: str) -> None:
    """A space and one short http link (21 half-units) add ten or eleven characters."""
    grown = COUNTER.length(text + " " + LINK) - COUNTER.length(text)
    assert 10 <= grown <= 11
