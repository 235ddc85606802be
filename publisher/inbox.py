"""What the inbox holds for a release created now: each table's path for its period, and the files there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from publisher import review
from publisher.app import App
from publisher.period import Period, period_of
from publisher.source import matching

ARRIVED, MISSING, SEVERAL = "arrived", "missing", "several"


@dataclass(frozen=True)
class Arrived:
    """A data file in the inbox: its path relative to the inbox, size and last change."""

    relative: str
    size_bytes: int
    modified_at: datetime  # aware, UTC


@dataclass(frozen=True)
class TableFiles:
    """One table of a definition: its path pattern, the path for the period, the files there."""

    table: str
    pattern: str
    resolved: str  # relative to the inbox; ``.*`` stays: any supported format
    files: tuple[Arrived, ...]

    @property
    def state(self) -> str:
        """ARRIVED (exactly one file), MISSING (none) or SEVERAL (keep exactly one)."""
        if not self.files:
            return MISSING
        return ARRIVED if len(self.files) == 1 else SEVERAL


@dataclass(frozen=True)
class Expected:
    """The data a release of a definition created now reads: its period and its tables."""

    definition_id: str
    due_at: datetime
    period: Period
    inbox: Path
    tables: tuple[TableFiles, ...]

    @property
    def complete(self) -> bool:
        return all(t.state == ARRIVED for t in self.tables)


def expected(app: App, definition_id: str, now: datetime) -> Expected | None:
    """The files a release of ``definition_id`` created at ``now`` would read (its due time is
    later when it needs review), or None for a definition that reads no data."""
    definition = app.loaded.definition(definition_id)
    if definition.source is None:
        return None
    due = review.manual_due(app, definition_id, now)
    source = definition.source
    period = period_of(due.astimezone(app.loaded.zone).date(), source.period,
                       source.period_offset)
    inbox = app.data_dir
    tables = []
    for name, table in source.tables.items():
        resolved, found = matching(inbox, table.path, period)
        tables.append(TableFiles(name, table.path, resolved, tuple(_fact(inbox, f) for f in found)))
    return Expected(definition_id, due, period, inbox, tuple(tables))


def _fact(inbox: Path, path: Path) -> Arrived:
    stat = path.stat()
    return Arrived(str(path.relative_to(inbox)), stat.st_size,
                   datetime.fromtimestamp(stat.st_mtime, UTC))


def size_text(size_bytes: int) -> str:
    """A file size as people read it: ``812 B``, ``23.5 KB``, ``1.2 MB``."""
    if size_bytes < 1024:
        return f"{size_bytes} B"
    if size_bytes < 1024 * 1024:
        return f"{size_bytes / 1024:.1f} KB"
    return f"{size_bytes / 1024 / 1024:.1f} MB"
