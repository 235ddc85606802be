"""What every section of the report reads: one database snapshot, the period, the settings."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, true
from sqlalchemy.orm import Session

from channels import registry
from publisher.app import App
from publisher.report.calendar import WorkCalendar
from publisher.report.figure import Figure, Table
from publisher.report.period import ReportPeriod
from publisher.report.settings import ReportConfig
from publisher.store.models import Release

PUBLISHING_ACTIONS = ("send", "follow_up")  # a retraction publishes nothing
STREAM_ROWS = 5000


@dataclass
class Context:
    """One report's inputs: the app, a read session on one snapshot, the period and filters."""

    app: App
    session: Session
    period: ReportPeriod
    organ: str | None
    now: datetime
    tables: list[Table] = field(default_factory=list)
    figures: dict[str, Figure] = field(default_factory=dict)
    notes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def zone(self) -> ZoneInfo:
        return self.app.loaded.zone

    @property
    def settings(self) -> ReportConfig:
        return self.app.loaded.config.report

    @property
    def calendar(self) -> WorkCalendar:
        return WorkCalendar.from_config(self.settings.calendar)

    @property
    def start(self) -> datetime:
        return self.period.start

    @property
    def end(self) -> datetime:
        """The period's end, or now while the period is still running."""
        return min(self.period.end, self.now)

    def organ_filter(self) -> ColumnElement[bool]:
        """Releases of the organ asked for (``--organ``), or every release."""
        return Release.issuing_organ == self.organ if self.organ else true()

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def stream(self, query: Any) -> Any:
        """Rows of a large query as plain tuples, fetched in batches (Core, not the ORM)."""
        return self.session.connection().execute(query.execution_options(yield_per=STREAM_ROWS))

    def month_of(self) -> Callable[[datetime], str]:
        """``2026-03`` for an instant, in the configured zone (by month boundaries: no zone
        conversion per row)."""
        first = self.period.start.astimezone(self.zone).replace(day=1)
        bounds, labels = [], []
        moment = first - timedelta(days=400)
        moment = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        while moment < self.period.end + timedelta(days=400):
            bounds.append(moment.astimezone(UTC))  # the store's own tzinfo: fast comparisons
            labels.append(f"{moment:%Y-%m}")
            moment = (moment.replace(day=28) + timedelta(days=4)).replace(day=1)
            moment = datetime(moment.year, moment.month, 1, tzinfo=self.zone)

        def month(when: datetime) -> str:
            return labels[bisect_right(bounds, when) - 1]
        return month

    def note(self, zh: str, en: str) -> None:
        if (zh, en) not in self.notes:
            self.notes.append((zh, en))


def private_kinds(present: set[str] | None = None) -> list[str]:
    """Channel kinds that declare their posts are not publications (an internal system)."""
    names = set(registry.kinds()) | (present or set())
    private = []
    for kind in sorted(names):
        try:
            if not registry.channel_class(kind).public:
                private.append(kind)
        except KeyError:  # a kind no longer in this build: its past posts still count
            continue
    return private


def platform(kind: str) -> tuple[str, str]:
    """The platform a kind declares (政府网站, 政务微博 …), or the kind's own name."""
    try:
        cls: Any = registry.channel_class(kind)
    except KeyError:
        return kind, kind
    return cls.platform_zh or kind, cls.platform_en or kind


@contextmanager
def snapshot(app: App) -> Iterator[Session]:
    """A read session whose queries all see one snapshot of the database (PostgreSQL:
    REPEATABLE READ, read only; SQLite: one deferred read transaction in WAL mode)."""
    with app.store.read() as session:
        if not app.store.is_sqlite:
            session.connection(execution_options={"isolation_level": "REPEATABLE READ",
                                                  "postgresql_readonly": True})
        yield session
