"""Personal data in a text: resident ID numbers (check digit), mobile and landline numbers, bank
card numbers (Luhn) and e-mail addresses; candidates found by pattern, confirmed by python-stdnum
and phonenumbers, and only ever shown masked."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType
from stdnum import luhn
from stdnum.cn import ric

KIND_WORDS: dict[str, tuple[str, str]] = {
    "id_number": ("居民身份证号码", "resident ID number"),
    "mobile": ("手机号码", "mobile number"),
    "landline": ("固定电话号码", "landline number"),
    "bank_card": ("银行卡号", "bank card number"),
    "email": ("电子邮箱", "e-mail address"),
}
_EDGE = r"(?<![0-9A-Za-z])", r"(?![0-9A-Za-z])"
PATTERNS: dict[str, re.Pattern[str]] = {
    "id_number": re.compile(rf"{_EDGE[0]}\d{{17}}[\dXx]{_EDGE[1]}"),
    "bank_card": re.compile(rf"{_EDGE[0]}[3-6]\d{{3}}(?:[ -]?\d{{4}}){{3}}(?:[ -]?\d{{1,3}})?{_EDGE[1]}"),
    "mobile": re.compile(rf"{_EDGE[0]}(?:(?:\+|00)86[ -]?)?1[3-9]\d[ -]?\d{{4}}[ -]?\d{{4}}{_EDGE[1]}"),
    "landline": re.compile(rf"{_EDGE[0]}(?:(?:\+|00)86[ -]?)?(?:\(0\d{{2,3}}\)|（0\d{{2,3}}）|0\d{{2,3}})"
                           rf"[ -]?\d{{7,8}}{_EDGE[1]}"),
    "email": re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
                        r"\.[A-Za-z]{2,}(?![\w-])"),
}
_CHEAP = re.compile(r"\d{7}|@")  # nothing to look for without seven digits in a row or an @
ORDER = ("id_number", "bank_card", "mobile", "landline", "email")


@dataclass(frozen=True)
class Hit:
    """One piece of personal data in a text: its kind, where, the value and its masked form."""

    kind: str
    start: int
    end: int
    value: str
    masked: str


def normal(value: str) -> str:
    """What two writings of one value share: digits (and X) only, or the lower-cased address."""
    if "@" in value:
        return value.strip().lower()
    digits = re.sub(r"[^0-9Xx]", "", value).upper()
    return digits[2:] if digits.startswith("86") and len(digits) > 11 else digits


def mask(kind: str, value: str) -> str:
    """The masked form: ``3101**********1234``, ``138****5678``, ``a***@example.cn``."""
    if kind == "email":
        user, _, domain = value.partition("@")
        return f"{user[:1]}***@{domain}"
    digits = normal(value)
    keep = {"id_number": (4, 4), "bank_card": (4, 4), "mobile": (3, 4)}.get(kind, (4, 4))
    if kind == "landline":
        keep = (3 if digits[:2] in {"01", "02"} else 4, 4)
    head, tail = keep
    return digits[:head] + "*" * max(len(digits) - head - tail, 0) + digits[-tail:]


def _confirmed(kind: str, value: str) -> bool:
    digits = normal(value)
    if kind == "id_number":
        return bool(ric.is_valid(digits))
    if kind == "bank_card":
        return 16 <= len(digits) <= 19 and bool(luhn.is_valid(digits))
    if kind in ("mobile", "landline"):
        try:
            number = phonenumbers.parse(value.replace("（", "(").replace("）", ")"), "CN")
        except phonenumbers.NumberParseException:
            return False
        if not phonenumbers.is_valid_number(number):
            return False
        kind_of = phonenumbers.number_type(number)
        if kind == "mobile":
            return kind_of in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
        return kind_of in (PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
    return True  # an e-mail address: the pattern is the rule


def find(text: str, kinds: Collection[str], allowed: Collection[str] = ()) -> list[Hit]:
    """Every piece of personal data of ``kinds`` in ``text`` (none twice over one stretch), but
    the ``allowed`` values (given in ``normal`` form)."""
    if not _CHEAP.search(text):
        return []
    hits: list[Hit] = []
    taken: list[tuple[int, int]] = []
    for kind in ORDER:
        if kind not in kinds:
            continue
        for match in PATTERNS[kind].finditer(text):
            start, end = match.span()
            if any(start < b and a < end for a, b in taken):
                continue
            value = match.group()
            if not _confirmed(kind, value):
                continue
            taken.append((start, end))
            if normal(value) not in allowed:
                hits.append(Hit(kind, start, end, value, mask(kind, value)))
    return sorted(hits, key=lambda h: h.start)
