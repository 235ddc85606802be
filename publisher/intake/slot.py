"""Where one table of a definition's period lives in the inbox, and why a request for it is refused."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from publisher.app import App
from publisher.config import ReleaseDefinition, TableSchema, TableSource
from publisher.cron import cron_trigger
from publisher.period import Period, parse_key, period_of
from publisher.source import SUFFIXES, DataProblem

FORMATS = {"csv": ".csv", "xlsx": ".xlsx", "json": ".json"}  # format -> suffix it is stored with
MEDIA_TYPES = {
    "text/csv": "csv", "application/csv": "csv", "text/plain": "csv",
    "text/tab-separated-values": "csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/json": "json",
}


class IntakeRefused(Exception):
    """A data request that cannot be done: an HTTP status, a code, the reason in both
    languages and, for a file that does not read, every problem in it."""

    def __init__(self, status: int, code: str, message_zh: str, message_en: str,
                 problems: Sequence[DataProblem] = ()) -> None:
        self.status, self.code = status, code
        self.message_zh, self.message_en = message_zh, message_en
        self.problems = list(problems)
        super().__init__(f"{code}: {message_zh} / {message_en}")


@dataclass(frozen=True)
class Slot:
    """One table of a definition for one period: its schema and its path in the inbox."""

    definition_id: str
    period: Period
    table: str
    source: TableSource
    schema: TableSchema
    resolved: str  # relative to the inbox; may end in ``.*`` (any supported format)
    sharing: tuple[str, ...] = field(default=())  # other tables read from the same file

    @property
    def subject(self) -> str:
        """What the audit chain names: ``data:food-safety-sampling/2026-W49/qualified``."""
        return f"data:{self.definition_id}/{self.period.key}/{self.table}"

    @property
    def any_format(self) -> bool:
        return self.resolved.endswith(".*")

    def target(self, file_format: str) -> str:
        """The path (relative to the inbox) a file of ``file_format`` is stored at."""
        if self.any_format:
            return self.resolved[:-2] + FORMATS[file_format]
        return self.resolved

    def accepts(self) -> tuple[str, ...]:
        """The formats this table may be handed in as (a fixed suffix: that one only)."""
        if self.any_format:
            return tuple(FORMATS)
        kind = SUFFIXES.get("." + self.resolved.rsplit(".", 1)[-1].lower())
        return (kind,) if kind else ()


def definition_of(app: App, definition_id: str) -> ReleaseDefinition:
    """The definition that reads data, or IntakeRefused (404)."""
    definition = app.loaded.config.releases.get(definition_id)
    if definition is None or definition.source is None:
        raise IntakeRefused(404, "not_found", f"没有读取数据的发布定义 {definition_id[:100]}",
                            f"no definition {definition_id[:100]} that reads data")
    return definition


def period_for(app: App, definition_id: str, key: str) -> Period:
    """The definition's period named ``key`` (``2026-W49``), or IntakeRefused (404)."""
    source = definition_of(app, definition_id).source
    assert source is not None
    try:
        return parse_key(source.period, key)
    except ValueError as exc:
        zh, _, en = str(exc).partition(" / ")
        raise IntakeRefused(404, "bad_period", zh, en) from None


def slot(app: App, definition_id: str, period_key: str, table: str) -> Slot:
    """The slot of ``table`` in the definition's period ``period_key``, or IntakeRefused (404
    for an unknown definition, period or table; 409 for a path pattern no upload can fill)."""
    definition = definition_of(app, definition_id)
    period = period_for(app, definition_id, period_key)
    return slot_of(app, definition_id, definition, period, table)


def slot_of(app: App, definition_id: str, definition: ReleaseDefinition, period: Period,
            table: str) -> Slot:
    """The slot of ``table`` for an already known period."""
    source = definition.source
    assert source is not None
    chosen = source.tables.get(table)
    if chosen is None:
        names = "、".join(source.tables)
        raise IntakeRefused(404, "unknown_table",
                            f"发布定义 {definition_id} 没有数据表 {table[:100]}（有：{names}）",
                            f"definition {definition_id} has no table {table[:100]} "
                            f"(tables: {', '.join(source.tables)})")
    resolved = chosen.path.format(**period.fields())
    if glob.has_magic(resolved[:-2] if resolved.endswith(".*") else resolved) \
            or resolved.startswith(("/", "..")) or "/../" in resolved:
        raise IntakeRefused(409, "path_not_writable",
                            f"数据表 {table} 的路径模式 {chosen.path} 不指向单一文件，只能放入收件箱",
                            f"the path pattern {chosen.path} of table {table} names no single "
                            "file: drop its files into the inbox instead")
    sharing = tuple(name for name, other in source.tables.items()
                    if name != table and other.path.format(**period.fields()) == resolved)
    return Slot(definition_id, period, table, chosen,
                app.loaded.config.schemas[chosen.table_schema], resolved, sharing)


def slots(app: App, definition_id: str, period: Period) -> list[Slot]:
    """Every table's slot of the definition for ``period`` (tables no upload can fill left out)."""
    definition = definition_of(app, definition_id)
    assert definition.source is not None
    found = []
    for name in definition.source.tables:
        try:
            found.append(slot_of(app, definition_id, definition, period, name))
        except IntakeRefused:
            continue
    return found


def due_for(app: App, definition_id: str, period: Period) -> datetime | None:
    """When the scheduled run that reads ``period`` falls due (None: a manual definition)."""
    definition = definition_of(app, definition_id)
    assert definition.source is not None
    if definition.schedule == "manual":
        return None
    runs_in = period_of(period.start, period.unit, -definition.source.period_offset)
    zone = app.loaded.zone
    start = datetime.combine(runs_in.start, datetime.min.time(), zone) - timedelta(seconds=1)
    end = datetime.combine(runs_in.end + timedelta(days=1), datetime.min.time(), zone)
    due: datetime | None = cron_trigger(definition.schedule, zone).get_next_fire_time(None, start)
    return due if due is not None and due < end else None


def current_period(app: App, definition_id: str, now: datetime) -> Period:
    """The period the definition's next run reads (for a manual one: a run made now)."""
    definition = definition_of(app, definition_id)
    assert definition.source is not None
    due = cron_trigger(definition.schedule, app.loaded.zone).get_next_fire_time(None, now) \
        if definition.schedule != "manual" else None
    on = (due or now).astimezone(app.loaded.zone).date()
    return period_of(on, definition.source.period, definition.source.period_offset)


def detect_format(media_type: str | None, filename: str | None, data: bytes) -> str | None:
    """The format of an uploaded file: its name's suffix, else its media type, else its bytes
    (a ZIP is an XLSX workbook, ``[`` or ``{`` JSON, anything else text); None if unsupported."""
    if filename and "." in filename:
        kind = SUFFIXES.get("." + filename.rsplit(".", 1)[-1].lower())
        return kind
    media = (media_type or "").partition(";")[0].strip().lower()
    if media in MEDIA_TYPES:
        return MEDIA_TYPES[media]
    if media.endswith("+json"):
        return "json"
    if data.startswith(b"PK\x03\x04"):
        return "xlsx"
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return "json" if head in (b"[", b"{") else "csv"


def unsupported(filename: str) -> IntakeRefused:
    """The refusal of a file whose name says no supported format (an old .xls: save as .xlsx)."""
    shown = filename[:100]
    if shown.lower().endswith(".xls"):
        return IntakeRefused(415, "unsupported_format",
                             f"不支持旧版 Excel 文件 {shown}，请另存为 .xlsx 后上传",
                             f"old Excel files are not supported ({shown}): save it as .xlsx")
    return IntakeRefused(415, "unsupported_format", f"不支持的文件格式：{shown}（支持 CSV、XLSX、"
                         "JSON）", f"unsupported file type: {shown} (CSV, XLSX or JSON)")
