"""The delivery log as staff read it: filters, keyset pages, each delivery's last attempt, CSV export."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, func, literal, or_, select, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from publisher import formula
from publisher.store import Store
from publisher.store.models import Attempt, Delivery, Incident, Release, UTCDateTime

PAGE_SIZE = 50
EXPORT_BATCH = 1000  # rows per page (and per chunk) while a CSV export streams
DATE_FIELDS = ("updated_at", "created_at")
BOM = "\ufeff"  # Excel reads a CSV as UTF-8 only when it opens with one


class BadCursor(ValueError):
    """A page cursor that this module did not make (or that was cut short)."""


@dataclass(frozen=True)
class LogFilter:
    """Which deliveries to show; every field left empty matches everything.

    ``since`` is inclusive and ``until`` exclusive, both aware, on ``date_field``
    (``updated_at``: the last change of state; ``created_at``: when the release made it). The
    log is sorted by that same date, newest first, then by id.
    """

    release: str | None = None  # a definition id or a release key
    release_id: int | None = None
    delivery_id: int | None = None
    channels: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    date_field: str = "updated_at"
    incident: str | None = None  # an incident key

    def __post_init__(self) -> None:
        if self.date_field not in DATE_FIELDS:
            raise ValueError(f"date_field must be one of {DATE_FIELDS}, not {self.date_field!r}")
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} must be an aware datetime")


@dataclass(frozen=True)
class AttemptSummary:
    """The last try of a delivery: when, how long, how it ended and the channel's own code."""

    number: int
    started_at: datetime
    duration_ms: int
    outcome: str
    code: str | None
    explanation_zh: str | None
    explanation_en: str | None


@dataclass(frozen=True)
class LogRow:
    """One delivery as the log shows it, with its release, incident and last attempt."""

    delivery_id: int
    release_id: int
    release_key: str
    release_title: str | None
    definition_id: str
    incident_key: str | None
    channel: str
    action: str
    state: str
    urgent: bool
    drill: bool
    attempts: int  # kept by the dispatcher in the transaction that adds each attempt row
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None
    url: str
    reason: str | None
    last_error: dict[str, Any] | None
    last_attempt: AttemptSummary | None

    def detail(self, zone: tzinfo) -> str:
        """What a person should read about the state: the reason it is in it, the error that
        put it there (or, after a hand retry, the last one), and the next try."""
        error = self.last_error or {}
        text = self.reason or ""
        if self.state in ("failed", "retry_wait", "unknown") and error:
            code = f"[{error.get('code')}] " if error.get("code") else ""
            words = f"{code}{error.get('explanation_zh') or error.get('message')}"
            if not text or text == error.get("message"):
                text = words
            else:
                text = f"{text}；上次错误 / last error: {words}"
        if self.state == "retry_wait" and self.next_attempt_at:
            text += f" (next {self.next_attempt_at.astimezone(zone):%m-%d %H:%M:%S})"
        return text.strip()

    def as_json(self, zone: tzinfo) -> dict[str, Any]:
        """The row as JSON values, times in ``zone``."""

        def at(value: datetime | None) -> str | None:
            return value.astimezone(zone).isoformat(timespec="seconds") if value else None

        last = self.last_attempt
        return {
            "delivery": self.delivery_id, "release_id": self.release_id,
            "release": self.release_key, "title": self.release_title,
            "definition": self.definition_id, "incident": self.incident_key,
            "channel": self.channel, "action": self.action, "state": self.state,
            "urgent": self.urgent, "drill": self.drill, "attempts": self.attempts,
            "created_at": at(self.created_at), "updated_at": at(self.updated_at),
            "next_attempt_at": at(self.next_attempt_at), "url": self.url,
            "detail": self.detail(zone),
            "last_attempt": None if last is None else {
                "number": last.number, "started_at": at(last.started_at),
                "duration_ms": last.duration_ms, "outcome": last.outcome, "code": last.code,
                "explanation_zh": last.explanation_zh, "explanation_en": last.explanation_en},
        }


@dataclass(frozen=True)
class LogPage:
    """One page of the log, newest change first, and the cursor of the next (None: the last)."""

    rows: list[LogRow]
    next_cursor: str | None

    def as_json(self, zone: tzinfo) -> dict[str, Any]:
        return {"rows": [row.as_json(zone) for row in self.rows], "next_cursor": self.next_cursor}


# --------------------------------------------------------------------------- cursors

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def encode_cursor(date_field: str, moment: datetime, delivery_id: int) -> str:
    """An opaque, URL-safe cursor: which date the log is sorted by, and the last row's key."""
    micros = (moment.astimezone(UTC) - _EPOCH) // _MICROSECOND
    return f"{date_field[0]}{micros:x}-{delivery_id:x}"


def decode_cursor(cursor: str, date_field: str = "updated_at") -> tuple[datetime, int]:
    """The sort key inside ``cursor`` for a log sorted by ``date_field``; ``BadCursor`` if it
    is not one of ours, or was made for the other order."""
    try:
        if cursor[:1] != date_field[0]:
            raise ValueError(cursor)
        micros_hex, id_hex = cursor[1:].split("-")
        if not (micros_hex.isalnum() and id_hex.isalnum()):
            raise ValueError(cursor)
        micros, delivery_id = int(micros_hex, 16), int(id_hex, 16)
        return _EPOCH + micros * _MICROSECOND, delivery_id
    except (ValueError, OverflowError):
        raise BadCursor(f"not a delivery-log cursor for this order: {cursor[:40]!r}") from None


# --------------------------------------------------------------------------- the query


class Unindexed(FunctionElement[Any]):
    """A column SQLite must not look up by index (``+column``, a no-op for any value); other
    databases see the plain column."""

    inherit_cache = True
    name = "unindexed"

    def __init__(self, column: ColumnElement[Any]) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(Unindexed)
def _plain(element: Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(Unindexed, "sqlite")
def _plus(element: Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + str(compiler.process(element.clauses, **kw))


# Core tables: a page's statement is rebuilt on each call, and Core builds it several times
# faster than ORM attributes do
DELIVERIES = cast(Table, Delivery.__table__)
RELEASES = cast(Table, Release.__table__)
INCIDENTS = cast(Table, Incident.__table__)
ATTEMPTS = cast(Table, Attempt.__table__)
LAST_ATTEMPT = ATTEMPTS.alias("last_attempt")
_D, _R, _I, _A, _L = DELIVERIES.c, RELEASES.c, INCIDENTS.c, ATTEMPTS.c, LAST_ATTEMPT.c
_NEWEST_ATTEMPT = select(func.max(_A.id)).where(_A.delivery_id == _D.id).scalar_subquery()
COLUMNS = (_D.id, _D.release_id, _R.key, _R.title, _R.definition_id, _I.key.label("incident_key"),
           _D.channel, _D.action, _D.state, _D.urgent, _D.drill, _D.attempts, _D.created_at,
           _D.updated_at, _D.next_attempt_at, _D.receipt, _D.reason, _D.last_error, _L.number,
           _L.started_at, _L.duration_ms, _L.outcome, _L.error)


def _conditions(where: LogFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.release:
        conditions.append(_D.release_id.in_(select(_R.id).where(
            or_(_R.definition_id == where.release, _R.key == where.release))))
    if where.release_id is not None:
        conditions.append(_D.release_id == where.release_id)
    if where.delivery_id is not None:
        conditions.append(_D.id == where.delivery_id)
    if where.incident:
        conditions.append(_D.release_id.in_(
            select(_R.id).join(INCIDENTS, _I.id == _R.incident_id).where(_I.key == where.incident)))

    # A release, an incident or one delivery is a bounded set of rows: the query starts there.
    # Without statistics SQLite guesses every equality picks ~10 rows and might walk all
    # 'published' rows of the state index instead, looking for the few of one release.
    bounded = bool(conditions)

    def column(value: Any) -> Any:
        return Unindexed(value) if bounded else value

    if where.channels:
        conditions.append(column(_D.channel).in_(where.channels))
    if where.states:
        conditions.append(column(_D.state).in_(where.states))
    moment = _order(where)[0]
    if where.since is not None:
        conditions.append(column(moment) >= where.since)
    if where.until is not None:
        conditions.append(column(moment) < where.until)
    return conditions


def _order(where: LogFilter) -> tuple[Any, Any]:
    """The sort key of the log: the date the filter is on (``updated_at`` unless asked), then id."""
    return (_D.created_at if where.date_field == "created_at" else _D.updated_at), _D.id


def keys(where: LogFilter, *, after: tuple[datetime, int] | None = None) -> Select[*tuple[Any, ...]]:
    """The sort keys (``id``, ``at``) of the matching deliveries, in log order, after ``after``."""
    moment, ident = _order(where)
    picked = select(ident.label("id"), moment.label("at")).where(*_conditions(where))
    if after is not None:
        picked = picked.where(tuple_(moment, ident) < tuple_(literal(after[0], UTCDateTime()),
                                                              after[1]))
    return picked.order_by(moment.desc(), ident.desc())


def statement(where: LogFilter, *, after: tuple[datetime, int] | None = None,
              limit: int = PAGE_SIZE + 1) -> Select[*tuple[Any, ...]]:
    """The one SELECT behind a page: the page's delivery ids picked from the indexes alone
    (sort key descending, starting after ``after``), then, for those rows only, the delivery,
    its release, incident and last attempt."""
    chosen = keys(where, after=after).limit(limit).subquery("chosen")
    return (
        select(*COLUMNS)
        .select_from(chosen)
        .join(DELIVERIES, _D.id == chosen.c.id)
        .join(RELEASES, _R.id == _D.release_id)
        .outerjoin(INCIDENTS, _I.id == _R.incident_id)
        .outerjoin(LAST_ATTEMPT, _L.id == _NEWEST_ATTEMPT)
        .order_by(chosen.c.at.desc(), chosen.c.id.desc())
    )


def _row(values: Sequence[Any]) -> LogRow:
    (delivery_id, release_id, key, title, definition_id, incident_key, channel, action, state,
     urgent, drill, attempts, created_at, updated_at, next_at, receipt, reason, last_error,
     number, started_at, duration_ms, outcome, error) = values
    summary = None
    if number is not None:
        error = error or {}
        summary = AttemptSummary(number=number, started_at=started_at, duration_ms=duration_ms,
                                 outcome=outcome, code=error.get("code"),
                                 explanation_zh=error.get("explanation_zh"),
                                 explanation_en=error.get("explanation_en"))
    return LogRow(delivery_id=delivery_id, release_id=release_id, release_key=key,
                  release_title=title, definition_id=definition_id, incident_key=incident_key,
                  channel=channel, action=action, state=state, urgent=bool(urgent),
                  drill=bool(drill), attempts=attempts, created_at=created_at,
                  updated_at=updated_at, next_attempt_at=next_at,
                  url=str((receipt or {}).get("url") or ""), reason=reason,
                  last_error=last_error, last_attempt=summary)


def page(session: Session, where: LogFilter | None = None, *, cursor: str | None = None,
         size: int = PAGE_SIZE) -> LogPage:
    """One page of the delivery log matching ``where``, after ``cursor`` (None: the newest).

    One SELECT, whatever the page size: each row carries its release, incident and last
    attempt. ``next_cursor`` is None on the last page. Raises ``BadCursor``.
    """
    if size < 1:
        raise ValueError("size must be at least 1")
    where = where or LogFilter()
    after = decode_cursor(cursor, where.date_field) if cursor else None
    result = session.execute(statement(where, after=after, limit=size + 1)).all()
    rows = [_row(values) for values in result[:size]]
    next_cursor = None
    if len(result) > size:
        last = rows[-1]
        moment = last.created_at if where.date_field == "created_at" else last.updated_at
        next_cursor = encode_cursor(where.date_field, moment, last.delivery_id)
    return LogPage(rows=rows, next_cursor=next_cursor)


def row(session: Session, delivery_id: int) -> LogRow | None:
    """One delivery as the log shows it, or None."""
    found = page(session, LogFilter(delivery_id=delivery_id), size=1).rows
    return found[0] if found else None


# --------------------------------------------------------------------------- CSV export

CSV_HEADER = (
    "投递编号 / delivery", "发布 / release", "标题 / title", "事件 / incident",
    "渠道 / channel", "动作 / action", "状态 / state", "尝试次数 / attempts",
    "最后尝试结果 / last outcome", "错误代码 / error code", "创建时间 / created",
    "更新时间 / updated", "链接 / URL", "说明 / detail",
)


def csv_cells(log_row: LogRow, zone: tzinfo) -> list[object]:
    """The export's cells of one row, in ``CSV_HEADER`` order (``formula.Writer`` neutralises
    them as it writes)."""
    last = log_row.last_attempt
    cells: list[object] = [
        log_row.delivery_id, log_row.release_key, log_row.release_title or "",
        log_row.incident_key or "", log_row.channel, log_row.action, log_row.state,
        log_row.attempts, last.outcome if last else "", (last.code or "") if last else "",
        log_row.created_at.astimezone(zone).isoformat(timespec="seconds"),
        log_row.updated_at.astimezone(zone).isoformat(timespec="seconds"),
        log_row.url, log_row.detail(zone),
    ]
    return cells


def export_csv(store: Store, where: LogFilter | None = None, *, zone: tzinfo,
               batch: int = EXPORT_BATCH) -> Iterator[str]:
    """Every delivery matching ``where`` as CSV text, streamed a chunk of ``batch`` rows at a
    time: UTF-8 BOM, a zh/en header, then the rows in page order.

    The pages are read in one read transaction on one snapshot (SQLite's WAL snapshot,
    REPEATABLE READ on PostgreSQL), so a delivery that changes state while the export runs is
    written once, as it was when the export began; writers are never blocked.
    """
    buffer = io.StringIO()
    writer = formula.Writer(buffer)
    writer.writerow(CSV_HEADER)
    yield BOM + buffer.getvalue()
    with store.read() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        cursor: str | None = None
        while True:
            chunk = page(session, where, cursor=cursor, size=batch)
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(csv_cells(r, zone) for r in chunk.rows)
            if chunk.rows:
                yield buffer.getvalue()
            if chunk.next_cursor is None:
                return
            cursor = chunk.next_cursor

