"""A period's release rendered from the files in the inbox, exactly as it would go out, unrecorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from channels.base import Payload
from channels.portal.catalogue import format_index_number
from publisher.app import App
from publisher.intake.slot import due_for
from publisher.period import Period
from publisher.release import ReleaseProblems, occurrence_key, prepare_release
from publisher.source import DataError, load_source
from publisher.store.models import IndexCounter


@dataclass(frozen=True)
class PeriodPreview:
    """What a release of the period would send now: each channel's payload, or the problems
    that would hold it (data, rendering, channel limits)."""

    due_at: datetime
    key: str
    title: str = ""
    payloads: dict[str, Payload] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        return not self.problems and bool(self.payloads)


def _next_index_number(app: App, organ_code: str, year: int) -> str:
    """The 索引号 the next release of the organisation would get (read, never taken)."""
    with app.store.read() as session:
        last = session.execute(select(IndexCounter.last_serial).where(
            IndexCounter.organ_code == organ_code, IndexCounter.year == year)).scalar_one_or_none()
    return format_index_number(organ_code, year, (last or 0) + 1)


def prepare(app: App, definition_id: str, period: Period) -> PeriodPreview:
    """Read the period's files from the inbox and render and prepare every channel for the run
    that reads them (its due time; a manual definition: now). Nothing is recorded."""
    definition = app.loaded.definition(definition_id)
    assert definition.source is not None
    due = due_for(app, definition_id, period) or app.clock.now()
    key = occurrence_key(definition_id, due, app)
    try:
        tables = load_source(definition.source, app.loaded.config.schemas, app.data_dir, period)
    except DataError as exc:
        return PeriodPreview(due, key, problems=tuple(_located(app, exc)))
    number = _next_index_number(app, definition.organ_code, due.astimezone(app.loaded.zone).year)
    try:
        prepared = prepare_release(app, definition_id, key, due, index_number=number,
                                   tables=tables, period=period)
    except ReleaseProblems as exc:
        return PeriodPreview(due, key, problems=tuple(exc.problems))
    return PeriodPreview(due, key, prepared.title, dict(prepared.payloads),
                         tuple(prepared.skipped))


def _located(app: App, exc: DataError) -> list[str]:
    """Each problem naming its file relative to the inbox (several tables' problems name
    theirs already)."""
    inbox = Path(app.data_dir)
    if exc.file == inbox:
        return [p.replace(f"{inbox}/", "") for p in exc.problems]
    try:
        name = exc.file.relative_to(inbox).as_posix()
    except ValueError:
        name = str(exc.file)
    return [f"{name}: {p}" for p in exc.problems]
