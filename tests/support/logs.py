"""Log capture for tests: structlog's own capture of events, or every line as really rendered."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from publisher import logs

Events = list[MutableMapping[str, Any]]


@pytest.fixture
def log_events() -> Iterator[Events]:
    """Every structlog event of the test as a dict, unrendered (structlog.testing.capture_logs)."""
    with capture_logs() as events:
        yield events


def named(events: Events, event: str) -> Events:
    """The captured events called ``event``, in order."""
    return [e for e in events if e.get("event") == event]


def rendered(stream: io.StringIO, event: str) -> list[dict[str, Any]]:
    """The JSON lines of a ``log_stream`` called ``event``, in order."""
    found = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    return [line for line in found if line.get("event") == event]


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Every log line of the process (structlog and stdlib, DEBUG and up) into a StringIO."""
    root = logging.getLogger()
    level = root.level
    quiet = {name: logging.getLogger(name).level for name in logs.QUIET_LOGGERS}
    stream = io.StringIO()
    logs.configure(json=True, level="DEBUG", stream=stream)
    raw = _RawHandler()
    root.addHandler(raw)
    yield stream
    stream.write("\n".join(raw.lines))
    root.removeHandler(raw)
    for handler in [h for h in root.handlers if isinstance(h, logs.RootHandler)]:
        root.removeHandler(handler)
    root.setLevel(level)
    for name, quiet_level in quiet.items():
        logging.getLogger(name).setLevel(quiet_level)
    structlog.reset_defaults()


class _RawHandler(logging.Handler):
    """Keeps each record's message as given, before any formatter runs."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.msg!s} {record.args!s}")
