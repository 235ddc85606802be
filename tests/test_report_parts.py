"""The parts the annual report stands on: the working-day calendar, periods, the config it reads,
the fields it records (成文日期, document type, an incident's event time) and migration 0008."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import requests
from alembic import command
from sqlalchemy import create_engine, inspect, select, text

from publisher import config as config_module
from publisher import release
from publisher.app import App
from publisher.clock import ManualClock
from publisher.report.build import build_report
from publisher.report.calendar import WorkCalendar
from publisher.report.period import PeriodError, ReportPeriod, parse
from publisher.report.settings import CalendarConfig
from publisher.store import Store
from publisher.store.models import Incident, Release
from publisher.urgent import UrgentPost, UrgentRejected, open_incident
from publisher.web import token as tokens
from publisher.web.api import create_app
from publisher.web.server import serve
from tests.support.migrations import alembic_config
from tests.support.project import SHANGHAI
from tests.support.urgent import TEMPLATE, URGENT

PUBLISHER = str(Path(sys.executable).parent / "publisher")


# --------------------------------------------------------------------------- calendar, period


def test_working_days_follow_holidays_and_make_up_days() -> None:
    """A week with a holiday and a make-up Saturday: the holiday does not count, the Saturday
    does, ordinary weekends do not."""
    calendar = WorkCalendar.from_config(CalendarConfig(
        holidays=["2026-10-01..2026-10-07"], workdays=["2026-10-10"]))
    assert calendar.working_days_after(date(2026, 9, 30), date(2026, 10, 12)) == 4  # 8,9,10,12
    assert calendar.working_days_after(date(2026, 10, 9), date(2026, 10, 9)) == 0
    plain = WorkCalendar()
    assert plain.working_days_after(date(2026, 9, 30), date(2026, 10, 12)) == 8
    assert calendar.missing_years(date(2026, 1, 1), date(2027, 3, 1)) == [2027]


def test_bad_calendar_entries_are_named_with_their_line(tmp_path: Path, project: Path) -> None:
    """A holiday that is no date, or a range that runs backwards, is a config error naming the
    YAML path and line."""
    config = project / "schedules.yaml"
    config.write_text(config.read_text(encoding="utf-8") + (
        "report:\n  calendar:\n    holidays: [\"2026-10-01..2026-09-01\"]\n"
        "    workdays: [\"10/10\"]\n"), encoding="utf-8")
    with pytest.raises(config_module.ConfigError) as caught:
        config_module.load(config)
    message = str(caught.value)
    assert "report.calendar.holidays" in message and "report.calendar.workdays" in message
    assert "schedules.yaml:" in message


def test_periods_parse_and_name_the_bad_option() -> None:
    """A year, a run of days, this year by default; each bad value names its option."""
    zone = SHANGHAI
    assert parse(zone, year=2026).label_zh == "2026年"
    days = parse(zone, first="2026-07-01", last="2026-12-31")
    assert days.previous() == ReportPeriod(date(2026, 1, 1), date(2026, 6, 30), zone)
    odd = parse(zone, first="2026-03-05", last="2026-03-14")
    assert odd.previous() == ReportPeriod(date(2026, 2, 23), date(2026, 3, 4), zone)
    assert parse(zone, today=date(2026, 12, 2)).first == date(2026, 1, 1)
    assert ReportPeriod.year(2026, zone).start == datetime(2026, 1, 1, tzinfo=zone)
    for kwargs, named in (({"first": "2026-02-30", "last": "2026-03-01"}, "--from"),
                          ({"first": "2026-03-01"}, "--to"), ({"year": 1999}, "--year"),
                          ({"first": "2026-03-02", "last": "2026-03-01"}, "--to")):
        with pytest.raises(PeriodError, match=named):
            parse(zone, **kwargs)


# --------------------------------------------------------------------------- recorded fields


SIGNED = '''    channels: [mem-a, mem-b]
    document_type: normative
    signed_date: "{{ tables['items'][0].item }}"
'''


def _signed(app: App, project: Path, first_item: str) -> None:
    config = project / "schedules.yaml"
    text_ = config.read_text(encoding="utf-8").replace("    channels: [mem-a, mem-b]\n", SIGNED)
    config.write_text(text_, encoding="utf-8")
    (project / "inbox" / "weekly" / "2026-W49.csv").write_text(
        f"项目,数量\n{first_item},3\n梨,5\n", encoding="utf-8")
    app.loaded = config_module.load(config)


def test_release_records_its_catalogue_facts_and_signed_date(app: App, project: Path) -> None:
    """A release keeps its organ, category, column, document type and the 成文日期 its template
    gives, which the channels also carry as signed_date."""
    _signed(app, project, "2026-11-20")
    outcome = release.create(app, "weekly", datetime(2026, 12, 2, 10, tzinfo=SHANGHAI),
                             actor="staff:li", origin="manual")
    assert outcome.state == "active", outcome.problems
    with app.store.read() as session:
        row = session.get(Release, outcome.release_id)
        assert row is not None
        payload = session.execute(text("SELECT payload FROM deliveries LIMIT 1")).scalar_one()
    assert (row.issuing_organ, row.subject_category, row.column_id, row.document_type,
            row.signed_date) == ("测试局", "综合政务", "news", "normative", date(2026, 11, 20))
    assert "2026-11-20" in str(payload)


def test_a_signed_date_that_is_no_date_holds_the_release(app: App, project: Path) -> None:
    """A 成文日期 template that renders something other than a date holds the release, naming
    the YAML path; nothing is recorded to send."""
    _signed(app, project, "苹果")
    outcome = release.create(app, "weekly", datetime(2026, 12, 2, 10, tzinfo=SHANGHAI),
                             actor="staff:li", origin="manual")
    assert outcome.state == "held"
    assert any("releases.weekly.signed_date" in p and "YYYY-MM-DD" in p
               for p in outcome.problems), outcome.problems


def _urgent(app: App, project: Path) -> App:
    (project / "templates" / "_urgent").mkdir(exist_ok=True)
    (project / "templates" / "_urgent" / "memory.txt.j2").write_text(TEMPLATE, encoding="utf-8")
    config = project / "schedules.yaml"
    config.write_text(config.read_text(encoding="utf-8") + URGENT, encoding="utf-8")
    app.loaded = config_module.load(config)
    return app


def test_incident_keeps_its_event_time_and_refuses_one_in_the_future(
        app: App, project: Path, clock: ManualClock) -> None:
    """The first report's event time is kept on the incident and audited; one later than now
    is refused and records nothing."""
    _urgent(app, project)
    post = {"title": "某高架桥发生垮塌", "facts": "桥面垮塌。", "area": "某区", "severity": "较大"}
    with pytest.raises(UrgentRejected, match="event_at"):
        open_incident(app, UrgentPost(**post, event_at=clock.now() + timedelta(hours=1)),
                      actor="staff:zhao")
    event = clock.now() - timedelta(minutes=25)
    key = open_incident(app, UrgentPost(**post, event_at=event), actor="staff:zhao").incident_key
    with app.store.read() as session:
        incidents = list(session.execute(select(Incident)).scalars())
    assert [(i.key, i.event_at) for i in incidents] == [(key, event)]


def test_api_takes_the_event_time_with_its_offset(app: App, project: Path,
                                                  clock: ManualClock) -> None:
    """POST /api/urgent with ``event_at`` (ISO 8601 with an offset) keeps it; one without an
    offset is refused 422 naming the field."""
    _urgent(app, project)
    token = tokens.create(app, "desk", "urgent", actor="staff:li")
    server = serve(create_app(app), "127.0.0.1", 0)
    try:
        url = server.url.rstrip("/") + "/api/urgent"
        auth = {"Authorization": f"Bearer {token}"}
        body = {"title": "某化工厂火灾", "facts": "起火。", "area": "某园区", "severity": "重大"}
        naive = requests.post(url, json={**body, "event_at": "2026-12-02T09:00"}, headers=auth,
                              timeout=30)
        assert naive.status_code == 422 and "event_at" in naive.text
        answer = requests.post(url, json={**body, "event_at": "2026-12-02T09:30:00+08:00"},
                               headers=auth, timeout=30)
        assert answer.status_code == 201, answer.text
    finally:
        server.stop()
    with app.store.read() as session:
        incident = session.execute(select(Incident)).scalar_one()
    assert incident.event_at == datetime(2026, 12, 2, 9, 30, tzinfo=SHANGHAI)


@pytest.mark.slow
def test_cli_event_time_is_local_time(tmp_path: Path, project: Path) -> None:
    """``publisher urgent --event-time "2026-03-14 09:40"`` records 09:40 in the configured
    zone; a time that is no time exits 2 naming the option."""
    app = App(loaded=config_module.load(project / "schedules.yaml"),
              store=Store(f"sqlite:///{tmp_path / 'cli.db'}"))
    _urgent(app, project)
    app.store.dispose()
    env = {**os.environ, "PUBLISHER_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
           "PUBLISHER_ACTOR": "staff:zhao"}
    base = [PUBLISHER, "urgent", "--config", str(project / "schedules.yaml"), "--title", "垮塌",
            "--facts", "桥面垮塌。", "--area", "某区", "--severity", "较大", "--yes", "--no-send"]
    bad = subprocess.run([*base, "--event-time", "昨天"], env=env, capture_output=True,
                         text=True, timeout=120, check=False)
    assert bad.returncode == 2 and "--event-time" in bad.stderr
    good = subprocess.run([*base, "--event-time", "2026-03-14 09:40"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert good.returncode == 0, good.stderr
    store = Store(f"sqlite:///{tmp_path / 'cli.db'}")
    try:
        with store.read() as session:
            incident = session.execute(select(Incident)).scalar_one()
    finally:
        store.dispose()
    assert incident.event_at == datetime(2026, 3, 14, 9, 40, tzinfo=SHANGHAI)


# --------------------------------------------------------------------------- migration 0008


def test_migration_0008_keeps_old_rows_and_the_report_says_not_recorded(
        database_url: str, project: Path) -> None:
    """A database at 0007 with a published release and an incident upgrades keeping both; the
    new fields are NULL, and the report shows them as 未记录 rows, never as zero; 0008 also
    downgrades."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0007")
        connection.execute(text(
            "INSERT INTO releases (id, key, definition_id, origin, state, due_at, created_at, "
            "deadline_at, urgent, details, actor) VALUES (1, 'weekly@2026-03-04T10:00+08:00', "
            "'weekly', 'scheduled', 'active', '2026-03-04 02:00:00', '2026-03-04 02:00:00', "
            "'2026-03-05 02:00:00', false, '{}', 'scheduler')"))
        connection.execute(text(
            "INSERT INTO deliveries (id, release_id, channel, kind, action, state, "
            "idempotency_key, urgent, payload, claims, attempts, created_at, updated_at, "
            "published_at) VALUES (1, 1, 'mem-a', 'memory', 'send', 'published', 'k1', false, "
            "'{}', 1, 1, '2026-03-04 02:00:00', '2026-03-04 02:00:05', '2026-03-04 02:00:05')"))
        connection.execute(text(
            "INSERT INTO incidents (id, key, title, area, severity, status, drill, opened_at, "
            "opened_by) VALUES (1, 'incident-1', '事件', '某区', 'Severe', 'open', false, "
            "'2026-03-05 02:00:00', 'staff:li')"))
    engine.dispose()
    store = Store(database_url)
    try:
        app = App(loaded=config_module.load(project / "schedules.yaml"), store=store,
                  clock=ManualClock(datetime(2027, 1, 5, tzinfo=SHANGHAI)))
        report = build_report(app, ReportPeriod.year(2026, SHANGHAI), verify=False)
        category = report.table("by_category")
        assert [(r.key, r.zh) for r in category.rows] == [("_none", "未记录")]
        assert list(report.figures["publications/by_category/_none/items"].rows) == [1]
        assert report.figures["timeliness/timeliness/not_recorded/value"].value == 1
        assert report.figures["emergency/first_reports/incident-1/event_at"].shown() == "未记录"
        assert report.figures["emergency/incidents/event_not_recorded/value"].value == 1
    finally:
        store.dispose()
    engine = create_engine(database_url)  # SQLite: foreign keys off, as Store.migrate does
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0007")
    columns = {c["name"] for c in inspect(engine).get_columns("releases")}
    engine.dispose()
    assert "signed_date" not in columns and "key" in columns
