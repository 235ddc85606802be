"""What an alert says: its title (zh / en), a body of its details, its subject; all redacted."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from publisher.logs import REDACTOR

DETAIL_MAX_CHARS = 300  # one detail's text in a message
DRILL_MARK = "【演练 drill】"  # title prefix of alerts from a --sandbox run
# The detail naming what an alert is about, first found wins (else its English text).
SUBJECT_KEYS = ("delivery_id", "release_id", "channel")
# Chinese labels of the details callers pass; others show under their own name.
LABELS: Mapping[str, str] = {
    "problems": "问题",
    "release_id": "发布编号",
    "release": "发布定义",
    "delivery_id": "投递编号",
    "channel": "渠道",
    "error": "错误",
    "reason": "原因",
    "due_at": "应发布时间",
    "expires_at": "到期时间",
    "days_left": "剩余天数",
}


def subject_of(text_en: str, details: Mapping[str, Any]) -> str:
    """What an alert is about, for de-duplication: a delivery, a release, a channel, or its text."""
    for key in SUBJECT_KEYS:
        if details.get(key) is not None:
            return f"{key}={details[key]}"
    return text_en


def _text(value: Any) -> str:
    if isinstance(value, list | tuple | set | frozenset):
        text = "; ".join(str(item) for item in value)
    elif isinstance(value, Mapping):
        text = ", ".join(f"{k}={v}" for k, v in value.items())
    else:
        text = str(value)
    return text if len(text) <= DETAIL_MAX_CHARS else text[:DETAIL_MAX_CHARS - 1] + "…"


def compose(kind: str, text_zh: str, text_en: str, details: Mapping[str, Any], at: datetime,
            zone: tzinfo) -> tuple[str, str]:
    """The message's title (zh / en) and body (one ``标签 key: value`` line per detail), redacted."""
    title = REDACTOR.redact_text(f"{text_zh} / {text_en}")
    lines = []
    for key, value in details.items():
        if value is None:
            continue
        shown = REDACTOR.redact_field(key, value)
        label = f"{LABELS[key]} {key}" if key in LABELS else key
        lines.append(f"{label}: {REDACTOR.redact_text(_text(shown))}")
    lines.append(f"类别 kind: {kind}")
    lines.append(f"时间 at: {at.astimezone(zone):%Y-%m-%d %H:%M:%S %z}")
    return title, "\n".join(lines)
