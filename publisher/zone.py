"""Times for people: shown in the configured zone (config ``timezone``), with its offset for machines."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any


def iso(moment: datetime, zone: tzinfo) -> str:
    """``moment`` in ``zone`` as ISO 8601 to the second, with the offset:
    ``2026-12-02T10:51:00+08:00``."""
    return moment.astimezone(zone).isoformat(timespec="seconds")


def localised(value: Any, zone: tzinfo) -> Any:
    """A JSON value (an audit event's details) with every aware ISO 8601 timestamp in it moved
    into ``zone``; everything else as it was. Stored records keep their own text: this is
    for showing them."""
    if isinstance(value, dict):
        return {key: localised(item, zone) for key, item in value.items()}
    if isinstance(value, list):
        return [localised(item, zone) for item in value]
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return moment.astimezone(zone).isoformat(
                timespec="microseconds" if moment.microsecond else "seconds")
    return value
