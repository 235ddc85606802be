"""Cell values: header normalisation and typing per column (int, number, date, text)."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from publisher.config import ColumnSpec
from publisher.source.problem import _BARS, _DATE, _DATE_COMPACT, _INT, _NUMBER, NOT_APPLICABLE, _BadValue

# --------------------------------------------------------------------------- cell values


def normalise_header(text: str) -> str:
    """A header as compared: NFKC (full-width -> half-width), ║ as ||, no whitespace, casefolded."""
    folded = unicodedata.normalize("NFKC", text).translate(_BARS)
    return "".join(folded.split()).casefold()


def _cell_text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, datetime):
        return raw.date().isoformat() if raw.time() == time() else raw.isoformat(sep=" ")
    if isinstance(raw, date):
        return raw.isoformat()
    if isinstance(raw, bool):
        return "TRUE" if raw else "FALSE"
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, dict | list):
        raise _BadValue("值不能是嵌套结构", "a value cannot be a nested object or list")
    return str(raw).replace("\r\n", "\n").replace("\r", "\n").strip()


def _typed(raw: Any, spec: ColumnSpec) -> Any:
    text = _cell_text(raw)
    if spec.type == "text":
        return text
    if text == NOT_APPLICABLE:
        return text
    if not text:
        if spec.required:
            raise _BadValue("为空（不适用请填“/”）", "empty (write / when not applicable)")
        return None
    if isinstance(raw, bool):
        raise _BadValue("不是数值", "not a number")
    if spec.type == "date":
        return _to_date(raw, text)
    digits = unicodedata.normalize("NFKC", text).replace(",", "")
    if spec.type == "int":
        if isinstance(raw, int):
            return raw
        if not _INT.fullmatch(digits):
            raise _BadValue("不是整数", "not a whole number")
        return int(digits.split(".")[0])
    if isinstance(raw, int | float | Decimal):
        return Decimal(str(raw))
    if not _NUMBER.fullmatch(digits):
        raise _BadValue("不是数值", "not a number")
    return Decimal(digits)


def _to_date(raw: Any, text: str) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    normal = unicodedata.normalize("NFKC", text)
    match = _DATE.fullmatch(normal) or _DATE_COMPACT.fullmatch(normal)
    if not match:
        raise _BadValue("不是日期（应为 2026-12-02）", "not a date (write 2026-12-02)")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise _BadValue("不是有效日期", "not a valid date") from None


