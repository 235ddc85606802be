"""The delivery-log query: every filter, keyset pages, last attempts, CSV export, its indexes."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import event, inspect

from publisher import formula, logview
from publisher.logview import BadCursor, LogFilter
from publisher.store import MIGRATIONS, Store
from publisher.store.models import Attempt, Delivery, Incident, Release
from tests.support.project import SHANGHAI

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
CHANNELS = ("portal-main", "wechat-main", "weibo-main")
STATES = ("published", "failed", "retry_wait", "published", "unknown", "pending")


@dataclass(frozen=True)
class Fact:
    """What the test wrote for one delivery, to compute each filter's expected rows."""

    delivery_id: int
    release_id: int
    release_key: str
    definition_id: str
    incident_key: str | None
    channel: str
    state: str
    created_at: datetime
    updated_at: datetime
    attempts: int


def _release(session: Any, number: int, definition: str, created: datetime,
             incident: Incident | None = None, title: str | None = None) -> Release:
    row = Release(key=f"{definition}@{created.isoformat()}#{number}", definition_id=definition,
                  origin="urgent" if incident else "scheduled", state="active", due_at=created,
                  created_at=created, deadline_at=created + timedelta(days=1),
                  urgent=incident is not None, title=title or f"{definition} 第{number}期",
                  details={}, actor="staff:li", incident_id=incident.id if incident else None)
    session.add(row)
    session.flush()
    return row


def _delivery(session: Any, release: Release, channel: str, state: str, created: datetime,
              updated: datetime, attempts: int, *, reason: str | None = None,
              error: dict[str, Any] | None = None) -> Delivery:
    row = Delivery(release_id=release.id, channel=channel, kind=channel.split("-")[0],
                   action="send", state=state, idempotency_key=f"{release.key}/{channel}",
                   urgent=release.urgent, payload={"kind": "memory", "data": {}}, claims=1,
                   attempts=attempts, created_at=created, updated_at=updated, reason=reason,
                   last_error=error,
                   receipt={"remote_id": "r", "url": f"https://example.gov.cn/{release.id}"
                            f"/{channel}.html"} if state == "published" else None)
    session.add(row)
    session.flush()
    for number in range(1, attempts + 1):
        last = number == attempts
        outcome = "published" if last and state == "published" else "transient"
        session.add(Attempt(delivery_id=row.id, number=number,
                            started_at=created + timedelta(seconds=number),
                            duration_ms=10 * number, outcome=outcome,
                            error=None if outcome == "published" else {
                                "code": f"E{number}", "explanation_zh": "渠道繁忙",
                                "explanation_en": "busy"}))
    return row


def _fill(store: Store) -> list[Fact]:
    """60 deliveries: 20 releases × 3 channels over 20 days, two definitions, one incident of
    4 releases, many rows sharing one updated_at, attempts 0 to 3."""
    facts: list[Fact] = []
    with store.write() as session:
        incident = Incident(key="bridge-20260310", title="某桥垮塌", area="某区",
                            severity="重大", status="open", drill=False, opened_at=T0,
                            opened_by="staff:li")
        session.add(incident)
        session.flush()
        for number in range(20):
            created = T0 + timedelta(days=number)
            in_incident = 9 <= number < 13
            definition = "_urgent" if in_incident else ("food-safety" if number % 2 else "air")
            release = _release(session, number, definition, created,
                               incident if in_incident else None)
            for c, channel in enumerate(CHANNELS):
                state = STATES[(number + c) % len(STATES)]
                # a third of all rows share one updated_at: the keyset must order them by id
                updated = T0 + timedelta(days=30) if (number + c) % 3 == 0 else \
                    created + timedelta(hours=c + 1)
                attempts = 0 if state == "pending" else 1 + (number + c) % 3
                row = _delivery(session, release, channel, state, created, updated, attempts)
                facts.append(Fact(row.id, release.id, release.key, definition,
                                  incident.key if in_incident else None, channel, state,
                                  created, updated, attempts))
    return facts


@pytest.fixture
def facts(store: Store) -> list[Fact]:
    return _fill(store)


def _expected(facts: list[Fact], keep: Callable[[Fact], bool], by: str = "updated_at"
              ) -> list[int]:
    chosen = [f for f in facts if keep(f)]
    chosen.sort(key=lambda f: (getattr(f, by), f.delivery_id), reverse=True)
    return [f.delivery_id for f in chosen]


def _all_pages(store: Store, where: LogFilter, size: int) -> Iterator[logview.LogPage]:
    cursor: str | None = None
    while True:
        with store.read() as session:
            found = logview.page(session, where, cursor=cursor, size=size)
        yield found
        if found.next_cursor is None:
            return
        cursor = found.next_cursor


def _ids(store: Store, where: LogFilter, size: int = 200) -> list[int]:
    return [r.delivery_id for p in _all_pages(store, where, size) for r in p.rows]


MID = T0 + timedelta(days=10)
FILTERS: list[tuple[str, LogFilter, Callable[[Fact], bool]]] = [
    ("nothing", LogFilter(), lambda f: True),
    ("definition", LogFilter(release="food-safety"), lambda f: f.definition_id == "food-safety"),
    ("channel", LogFilter(channels=("wechat-main",)), lambda f: f.channel == "wechat-main"),
    ("two channels", LogFilter(channels=("wechat-main", "weibo-main")),
     lambda f: f.channel != "portal-main"),
    ("state", LogFilter(states=("failed",)), lambda f: f.state == "failed"),
    ("channel and state", LogFilter(channels=("portal-main",), states=("published",)),
     lambda f: f.channel == "portal-main" and f.state == "published"),
    ("updated since", LogFilter(since=MID), lambda f: f.updated_at >= MID),
    ("updated range", LogFilter(since=MID, until=MID + timedelta(days=5)),
     lambda f: MID <= f.updated_at < MID + timedelta(days=5)),
    ("incident", LogFilter(incident="bridge-20260310"), lambda f: f.incident_key is not None),
    ("incident and state", LogFilter(incident="bridge-20260310", states=("published",)),
     lambda f: f.incident_key is not None and f.state == "published"),
    ("definition, channel, range",
     LogFilter(release="air", channels=("weibo-main",), since=T0, until=MID),
     lambda f: f.definition_id == "air" and f.channel == "weibo-main" and T0 <= f.updated_at < MID),
    ("unknown incident", LogFilter(incident="nope"), lambda f: False),
]


@pytest.mark.parametrize(("name", "where", "keep"), FILTERS, ids=[f[0] for f in FILTERS])
def test_each_filter_returns_exactly_its_rows(store: Store, facts: list[Fact], name: str,
                                              where: LogFilter, keep: Callable[[Fact], bool]
                                              ) -> None:
    """Each filter, alone or combined, returns exactly the matching deliveries, newest change
    first, ties broken by id."""
    assert _ids(store, where) == _expected(facts, keep), name


def test_release_key_id_and_created_range(store: Store, facts: list[Fact]) -> None:
    """A release key or id picks that release's deliveries; a created_at range filters on
    creation and sorts by it."""
    one = facts[7]
    assert _ids(store, LogFilter(release=one.release_key)) == _expected(
        facts, lambda f: f.release_id == one.release_id)
    assert _ids(store, LogFilter(release_id=one.release_id, states=(one.state,))) == _expected(
        facts, lambda f: f.release_id == one.release_id and f.state == one.state)
    since, until = T0 + timedelta(days=3), T0 + timedelta(days=8)
    created = LogFilter(date_field="created_at", since=since, until=until)
    assert _ids(store, created) == _expected(facts, lambda f: since <= f.created_at < until,
                                             by="created_at")
    with_channel = LogFilter(date_field="created_at", since=since, channels=("weibo-main",))
    assert _ids(store, with_channel, size=2) == _expected(
        facts, lambda f: since <= f.created_at and f.channel == "weibo-main", by="created_at")


@pytest.mark.parametrize("size", [1, 7, 50])
def test_keyset_pages_cover_every_row_once(store: Store, facts: list[Fact], size: int) -> None:
    """Walking the pages by cursor returns every delivery exactly once, in order, though a third
    of them share one updated_at; only the last page has no next cursor."""
    pages = list(_all_pages(store, LogFilter(), size))
    ids = [r.delivery_id for p in pages for r in p.rows]
    assert ids == _expected(facts, lambda f: True)
    assert len(ids) == len(set(ids)) == len(facts)
    assert all(len(p.rows) == size for p in pages[:-1]) and 0 < len(pages[-1].rows) <= size
    assert all(p.next_cursor for p in pages[:-1]) and pages[-1].next_cursor is None
    created = [r.delivery_id for p in _all_pages(store, LogFilter(date_field="created_at"), size)
               for r in p.rows]
    assert created == _expected(facts, lambda f: True, by="created_at")


def test_page_is_one_statement_with_each_last_attempt(store: Store, facts: list[Fact]) -> None:
    """A page of 50 costs one SQL statement, and each row carries its attempt count and its
    last attempt (number, outcome, code), or none before the first try."""
    statements: list[str] = []

    def remember(_c: Any, _cur: Any, sql: str, *_rest: Any) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            statements.append(sql)

    event.listen(store.engine, "before_cursor_execute", remember)
    try:
        with store.read() as session:
            found = logview.page(session, LogFilter())
    finally:
        event.remove(store.engine, "before_cursor_execute", remember)
    assert len(statements) == 1 and len(found.rows) == 50
    by_id = {f.delivery_id: f for f in facts}
    for row in found.rows:
        fact = by_id[row.delivery_id]
        assert row.attempts == fact.attempts and row.channel == fact.channel
        assert row.incident_key == fact.incident_key and row.release_key == fact.release_key
        if fact.attempts == 0:
            assert row.last_attempt is None
            continue
        last = row.last_attempt
        assert last is not None and last.number == fact.attempts
        assert last.duration_ms == 10 * fact.attempts
        if fact.state == "published":
            assert last.outcome == "published" and last.code is None
            assert row.url.endswith(f"/{fact.channel}.html")
        else:
            assert (last.outcome, last.code) == ("transient", f"E{fact.attempts}")


def test_one_row_and_bad_cursors(store: Store, facts: list[Fact]) -> None:
    """``row`` finds one delivery or None; a cursor not made here, or made for the other sort
    order, is refused, and naive dates are refused."""
    with store.read() as session:
        one = logview.row(session, facts[3].delivery_id)
        assert one is not None and one.delivery_id == facts[3].delivery_id
        assert logview.row(session, 10_000) is None
        first = logview.page(session, LogFilter(), size=5)
        assert first.next_cursor is not None
        for bad in ("", "x", "u12", "uzz-1", "c" + first.next_cursor[1:], "u1-2-3"):
            with pytest.raises(BadCursor):
                logview.page(session, LogFilter(), cursor=bad or "?")
        with pytest.raises(BadCursor):
            logview.page(session, LogFilter(date_field="created_at"), cursor=first.next_cursor)
    with pytest.raises(ValueError, match="aware"):
        LogFilter(since=datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="date_field"):
        LogFilter(date_field="published_at")


def test_csv_export_round_trips_and_neutralises_formulas(store: Store) -> None:
    """The export opens with a UTF-8 BOM and a zh/en header, round-trips Chinese text, streams
    the same rows in the same order as the pages, and prefixes a ' to every text cell that
    starts with = + - or @."""
    with store.write() as session:
        hostile = ["=HYPERLINK(\"http://evil\",\"点我\")", "+1+1", "-2+3", "@SUM(A1)", "\tx"]
        for number, title in enumerate(["食品安全监督抽检信息（第49周）", *hostile]):
            release = _release(session, number, "food-safety", T0 + timedelta(hours=number),
                               title=title)
            _delivery(session, release, "wechat-main", "failed", release.created_at,
                      release.created_at + timedelta(minutes=1), 1, error={
                          "explanation_zh": "=标题过长，渠道拒收"})
    chunks = list(logview.export_csv(store, LogFilter(channels=("wechat-main",)), zone=SHANGHAI,
                                     batch=2))
    assert len(chunks) == 1 + 3  # the header, then one chunk per batch of two rows
    data = "".join(chunks).encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(table[0]) == logview.CSV_HEADER and "投递编号 / delivery" in table[0]
    body = [dict(zip(table[0], line, strict=True)) for line in table[1:]]
    with store.read() as session:
        page = logview.page(session, LogFilter(channels=("wechat-main",)))
    assert [int(r["投递编号 / delivery"]) for r in body] == [r.delivery_id for r in page.rows]
    titles = [r["标题 / title"] for r in reversed(body)]
    assert titles == ["食品安全监督抽检信息（第49周）", *("'" + t for t in hostile)]
    assert {r["错误代码 / error code"] for r in body} == {"E1"}
    assert {r["说明 / detail"] for r in body} == {"'=标题过长，渠道拒收"}
    assert body[0]["更新时间 / updated"].endswith("+08:00")
    assert formula.neutralise("正常") == "正常" and formula.neutralise(-1) == -1


def test_csv_export_neutralises_formulas_after_a_semicolon(store: Store) -> None:
    """Read as a spreadsheet set to the ``;`` list separator reads it (much of the world's
    Excel), no cell of the export starts a formula: the text after each ``;`` in a title or
    an error gets its ' too; plain numbers and ordinary text stay as written."""
    titles = ["第49周;=HYPERLINK(\"http://evil\",\"点我\")", "通告; +1+1", "甲;@SUM(A1)",
              "乙;-2+3;=1", "数量;-2;3", "正常；全角分号"]
    with store.write() as session:
        for number, title in enumerate(titles):
            release = _release(session, number, "food-safety", T0 + timedelta(hours=number),
                               title=title)
            _delivery(session, release, "wechat-main", "failed", release.created_at,
                      release.created_at + timedelta(minutes=1), 1, error={
                          "explanation_zh": "拒收;=cmd|' /C calc'!A0"})
    text = "".join(logview.export_csv(store, zone=SHANGHAI)).removeprefix("\ufeff")
    for row in csv.reader(io.StringIO(text), delimiter=";"):
        for cell in row:
            assert not cell.lstrip(" ").startswith(("=", "+", "@")), cell
            assert not re.match(r"\s*-(?!\d+$)", cell), cell
    table = list(csv.reader(io.StringIO(text)))
    shown = {r[2] for r in table[1:]}
    assert shown == {"第49周;'=HYPERLINK(\"http://evil\",\"点我\")", "通告; '+1+1", "甲;'@SUM(A1)",
                     "乙;'-2+3;'=1", "数量;-2;3", "正常；全角分号"}
    assert {r[13] for r in table[1:]} == {"拒收;'=cmd|' /C calc'!A0"}


def test_migration_adds_the_log_indexes_and_takes_them_back(database_url: str) -> None:
    """Upgrading adds the log indexes in place of the plain release_id index; downgrading to
    0006 restores it."""
    store = Store(database_url)
    try:
        names = {i["name"] for i in inspect(store.engine).get_indexes("deliveries")}
        assert {"ix_deliveries_log", "ix_deliveries_channel_state_log", "ix_deliveries_release_log",
                "ix_deliveries_created_log", "ix_deliveries_counts"} <= names
        assert "ix_deliveries_release_id" not in names
        with store.engine.begin() as connection:
            cfg = AlembicConfig()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "0006")
        names = {i["name"] for i in inspect(store.engine).get_indexes("deliveries")}
        assert "ix_deliveries_release_id" in names and "ix_deliveries_log" not in names
    finally:
        store.dispose()


def test_export_reads_one_snapshot(store: Store, facts: list[Fact]) -> None:
    """A delivery that changes state while an export streams is written once, as it was when
    the export began, and every other row exactly once."""
    chunks = logview.export_csv(store, LogFilter(), zone=SHANGHAI, batch=10)
    text = next(chunks) + next(chunks)  # the header, then the ten newest rows
    expected = _expected(facts, lambda f: True)
    moved = expected[-1]  # not written yet: moving it to the top must not hide or repeat it
    with store.write() as session:
        row = session.get(Delivery, moved)
        assert row is not None
        row.state, row.updated_at = "retracted", T0 + timedelta(days=99)
    text += "".join(chunks)
    table = list(csv.reader(io.StringIO(text.removeprefix(logview.BOM))))[1:]
    assert [int(line[0]) for line in table] == expected
    assert table[-1][6] == next(f.state for f in facts if f.delivery_id == moved)
