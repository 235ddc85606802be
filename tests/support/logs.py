"""Every log line of the process, as rendered, for tests that read what the logs really say."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
import structlog

from publisher import logs


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
