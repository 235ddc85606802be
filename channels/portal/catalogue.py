"""The disclosure-catalogue index number (索引号): organisation code/year-serial, 20 characters."""

from __future__ import annotations

import re
from dataclasses import dataclass

ORGAN_CODE_PATTERN = re.compile(r"[0-9A-Z]{9}")
INDEX_NUMBER_PATTERN = re.compile(
    r"\A(?P<organ>[0-9A-Z]{9})/(?P<year>[1-9][0-9]{3})-(?P<serial>(?!00000)[0-9]{5})\Z"
)
INDEX_NUMBER_LENGTH = 20
SERIAL_MAX = 99_999
RULE_TEXT = "9位组织机构代码/4位年份-5位流水号 (9-char organ code/4-digit year-5-digit serial)"


@dataclass(frozen=True)
class IndexNumber:
    """The parts of an index number."""

    organ_code: str
    year: int
    serial: int

    def __str__(self) -> str:
        return format_index_number(self.organ_code, self.year, self.serial)


def format_index_number(organ_code: str, year: int, serial: int) -> str:
    """Format an index number, e.g. ``000014349/2017-00110``; ValueError on a bad part."""
    if not ORGAN_CODE_PATTERN.fullmatch(organ_code):
        raise ValueError(
            f"组织机构代码须为9位数字或大写字母 / organisation code must be 9 digits or "
            f"capital letters: {organ_code!r}"
        )
    if not 1000 <= year <= 9999:
        raise ValueError(f"年份须为4位 / year must have 4 digits: {year}")
    if not 1 <= serial <= SERIAL_MAX:
        raise ValueError(
            f"流水号须在1至{SERIAL_MAX}之间 / serial must be 1..{SERIAL_MAX}: {serial}"
        )
    return f"{organ_code}/{year:04d}-{serial:05d}"


def parse_index_number(text: str) -> IndexNumber:
    """Split an index number into its parts; ValueError when it breaks the catalogue rule."""
    match = INDEX_NUMBER_PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(f"索引号不符合规则 / index number breaks the rule {RULE_TEXT}: {text!r}")
    return IndexNumber(match["organ"], int(match["year"]), int(match["serial"]))


def is_index_number(text: str) -> bool:
    """Whether ``text`` is a well-formed index number."""
    try:
        parse_index_number(text)
    except ValueError:
        return False
    return True
