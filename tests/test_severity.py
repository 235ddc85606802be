"""Incidents are graded by the Emergency Response Law (特别重大, 重大, 较大, 一般, or 未定级); CAP's
severity follows from the configured mapping; old CAP words are migrated or refused clearly."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from alembic import command
from pydantic import ValidationError
from sqlalchemy import create_engine, select, text

from publisher import config as config_module
from publisher.app import App
from publisher.cap import NAMESPACE
from publisher.clock import ManualClock
from publisher.config import ConfigError
from publisher.store import Store
from publisher.store.models import Incident, Release
from publisher.urgent import UrgentPost, UrgentUpdate, open_incident, update_incident
from tests.support.migrations import alembic_config
from tests.support.urgent import TEMPLATE, URGENT

CAP = f"{{{NAMESPACE}}}"
FIELDS = {"title": "某化工厂发生火灾", "facts": "9时40分，某化工厂储罐区起火。", "area": "某区化工园区"}


def _urgent_app(app: App, project: Path, extra: str = "") -> App:
    folder = project / "templates" / "_urgent"
    folder.mkdir(exist_ok=True)
    (folder / "memory.txt.j2").write_text(TEMPLATE, encoding="utf-8")
    config = project / "schedules.yaml"
    config.write_text(config.read_text(encoding="utf-8") + URGENT + extra, encoding="utf-8")
    app.loaded = config_module.load(config)
    return app


def _cap_severity(app: App, release_id: int) -> str:
    with app.store.read() as session:
        release = session.get(Release, release_id)
        assert release is not None
        xml = release.details["cap"]["xml"]
    root = ElementTree.fromstring(xml)  # noqa: S314 - our own, schema-checked
    return root.findtext(f"{CAP}info/{CAP}severity") or ""


def test_grades_map_to_cap_severity_as_configured(app: App, project: Path) -> None:
    """The incident keeps its grade; its CAP documents carry the severity the configuration
    maps the grade to (较大 → Severe here, 特别重大 → the default Extreme for an update that
    raises the grade); the incident then holds the new grade."""
    _urgent_app(app, project, "  cap_severity: {较大: Severe}\n")
    opened = open_incident(app, UrgentPost(**FIELDS, severity="较大"), actor="staff:zhao")
    assert _cap_severity(app, opened.release_id) == "Severe"
    raised = update_incident(app, opened.incident_key,
                             UrgentUpdate(facts="火势蔓延至相邻厂区。", severity="特别重大"),
                             actor="staff:zhao")
    assert _cap_severity(app, raised.release_id) == "Extreme"
    with app.store.read() as session:
        assert session.execute(select(Incident.severity)).scalar_one() == "特别重大"


def test_not_graded_is_cap_unknown(app: App, project: Path) -> None:
    """An incident not (yet) graded, 未定级, is CAP severity Unknown by default."""
    _urgent_app(app, project)
    opened = open_incident(app, UrgentPost(**FIELDS, severity="未定级"), actor="staff:zhao")
    assert _cap_severity(app, opened.release_id) == "Unknown"


@pytest.mark.parametrize(("old", "grade"), [("Severe", "重大"), ("Extreme", "特别重大"),
                                            ("Minor", "一般")])
def test_old_cap_words_are_refused_saying_what_to_give(old: str, grade: str) -> None:
    """A step given an old CAP word as its severity is refused on that field, naming the grades
    and the one that word used to mean."""
    for make in (lambda: UrgentPost(**FIELDS, severity=old),
                 lambda: UrgentUpdate(facts="新情况", severity=old)):
        with pytest.raises(ValidationError) as info:
            make()
        (error,) = info.value.errors()
        assert error["loc"] == ("severity",)
        assert "特别重大、重大、较大、一般" in error["msg"] and f"e.g. {grade}" in error["msg"]


def test_first_report_needs_a_grade() -> None:
    """A first report without a grade is refused naming the field: there is no default."""
    with pytest.raises(ValidationError) as info:
        UrgentPost(**FIELDS)
    assert [e["loc"] for e in info.value.errors()] == [("severity",)]


@pytest.mark.parametrize(("mapping", "where"), [("{重要: Severe}", "cap_severity.重要"),
                                                ("{较大: Serious}", "cap_severity.较大")])
def test_mapping_problems_are_named(app: App, project: Path, mapping: str, where: str) -> None:
    """A mapping with a grade the law does not have, or a severity CAP does not have, is a
    configuration problem naming its path."""
    with pytest.raises(ConfigError, match=rf"urgent\.{where}"):
        _urgent_app(app, project, f"  cap_severity: {mapping}\n")


def test_old_incidents_are_migrated_and_keep_working(database_url: str, project: Path,
                                                     clock: ManualClock) -> None:
    """An incident recorded with the CAP word Severe (and its first report's details) becomes
    重大 when the database is upgraded; an update to it then goes out with CAP Severe as
    before."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0008")
        connection.execute(text(
            "INSERT INTO incidents (id, key, title, area, severity, status, drill, opened_at, "
            "opened_by) VALUES (1, 'incident-20261201-080000', '某桥垮塌', '某区', 'Severe', "
            "'open', false, '2026-12-01 00:00:00', 'staff:li')"))
        connection.execute(text(
            "INSERT INTO releases (id, key, definition_id, origin, state, due_at, created_at, "
            "deadline_at, urgent, details, actor, incident_id, msg_type) VALUES (1, "
            "'urgent@2026-12-01T08:00:00+08:00', 'urgent', 'urgent', 'active', "
            "'2026-12-01 00:00:00', '2026-12-01 00:00:00', '2026-12-01 02:00:00', true, "
            "'{\"step\": \"report\", \"severity\": \"Severe\", \"status\": \"Actual\", "
            "\"cap\": {\"identifier\": \"www.example.gov.cn.urgent-20261201-0800\", "
            "\"sent\": \"2026-12-01T08:00:00+08:00\"}}', 'staff:li', 1, 'Alert')"))
        connection.execute(text(
            "INSERT INTO deliveries (id, release_id, channel, kind, state, idempotency_key, "
            "urgent, payload, claims, attempts, created_at, updated_at) VALUES (1, 1, 'mem-a', "
            "'memory', 'published', 'k1', true, '{}', 1, 1, '2026-12-01 00:00:00', "
            "'2026-12-01 00:00:01')"))
    engine.dispose()
    store = Store(database_url)  # migrates to head at start
    try:
        old = _urgent_app(App(loaded=config_module.load(project / "schedules.yaml"),
                              store=store, clock=clock), project)
        with store.read() as session:
            incident = session.execute(select(Incident)).scalar_one()
            release = session.get(Release, 1)
        assert incident.severity == "重大"
        assert release is not None and release.details["severity"] == "重大"
        details: dict[str, Any] = dict(release.details)
        assert details["cap"]["identifier"].endswith("urgent-20261201-0800")
        update = update_incident(old, "incident-20261201-080000",
                                 UrgentUpdate(facts="桥面已清理。"), actor="staff:li")
        assert _cap_severity(old, update.release_id) == "Severe"
    finally:
        store.dispose()
