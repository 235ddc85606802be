"""An incident's grade under the Emergency Response Law, and the CAP severity each grade maps to.

突发事件应对法（2007）第三条 grades natural disasters, accidents and public-health events as
特别重大、重大、较大、一般 by social harm and scope; the grading standards are set by the
State Council or the departments it designates. Social-security events are not graded, and a
first report often goes out before the grade is known: 未定级 says so (CAP ``Unknown``).
No national table maps the grades onto CAP's Extreme/Severe/Moderate/Minor (see
``shared/protocols/annual-report.md`` §5), so the mapping is configuration
(``urgent.cap_severity``) with the obvious one as its default.
"""

from __future__ import annotations

from typing import Literal

Level = Literal["特别重大", "重大", "较大", "一般", "未定级"]
CapSeverity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]

LEVELS: tuple[Level, ...] = ("特别重大", "重大", "较大", "一般", "未定级")
ENGLISH: dict[str, str] = {"特别重大": "extremely serious (I)", "重大": "serious (II)",
                           "较大": "relatively serious (III)", "一般": "general (IV)",
                           "未定级": "not graded"}
DEFAULT_CAP: dict[Level, CapSeverity] = {"特别重大": "Extreme", "重大": "Severe",
                                         "较大": "Moderate", "一般": "Minor", "未定级": "Unknown"}
# The CAP words staff gave before the national grades (migration 0009 turned stored ones into
# these grades; API clients still sending them are told what to send instead).
LEGACY: dict[str, Level] = {cap: level for level, cap in DEFAULT_CAP.items()}


def check_level(value: object) -> object:
    """``value`` unchanged, unless it is an old CAP word: ValueError saying which grade to give.
    (Anything else is left to the ``Level`` type, which lists the grades.)"""
    if isinstance(value, str) and value.strip() in LEGACY:
        word = value.strip()
        raise ValueError(
            f"“{word}”是 CAP 严重程度，已不再接受：请给出事件等级（{'、'.join(LEVELS)}），例如 "
            f"{LEGACY[word]}；CAP 严重程度由 urgent.cap_severity 换算 / '{word}' is a CAP "
            f"severity and no longer accepted: give the incident's grade ({', '.join(LEVELS)}), "
            f"e.g. {LEGACY[word]}; the CAP severity follows from urgent.cap_severity")
    return value


def label_en(level: str) -> str:
    """The grade in English (a value that is no grade, as it is)."""
    return ENGLISH.get(level, level)
