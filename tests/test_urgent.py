"""Urgent posts: an incident opens, its first report goes to every channel on the priority lane."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from channels.memory.adapter import MemoryStore
from publisher import config as config_module
from publisher.app import App
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.store.models import AuditEvent, Delivery, Incident, Release
from publisher.urgent import UrgentRejected, open_incident, timeline
from tests.support.urgent import TEMPLATE, URGENT, urgent_post


@pytest.fixture
def urgent_app(app: App, project: Path) -> App:
    (project / "templates" / "_urgent").mkdir()
    (project / "templates" / "_urgent" / "memory.txt.j2").write_text(TEMPLATE, encoding="utf-8")
    config = project / "schedules.yaml"
    config.write_text(config.read_text(encoding="utf-8") + URGENT, encoding="utf-8")
    app.loaded = config_module.load(config)
    return app


def test_first_report_reaches_every_channel(urgent_app: App, clock: ManualClock) -> None:
    """The first report opens an incident, goes on the priority lane to every urgent channel,
    and the timeline gives each channel's time to its URL; the actor is audited."""
    outcome = open_incident(urgent_app, urgent_post(), actor="staff:zhao")
    assert outcome.channels == ("mem-a", "mem-b")
    dispatcher = Dispatcher(urgent_app)
    try:
        dispatcher.drain(outcome.release_id)
    finally:
        dispatcher.shutdown()
    with urgent_app.store.read() as session:
        deliveries = list(session.execute(select(Delivery)).scalars())
        release = session.get(Release, outcome.release_id)
        events = list(session.execute(select(AuditEvent)).scalars())
    assert all(d.urgent and d.state == "published" for d in deliveries)
    assert release is not None and release.urgent and release.msg_type == "Alert"
    assert "【某区某高架桥】今日9时40分" in MemoryStore.published("mem-a")[0]["body"]
    incident, steps = timeline(urgent_app, outcome.incident_key)
    assert incident.opened_by == "staff:zhao" and incident.status == "open"
    assert [(s.channel, s.state) for s in steps] == [("mem-a", "published"), ("mem-b", "published")]
    assert all(s.to_public_seconds is not None and s.to_public_seconds >= 0 for s in steps)
    opened = [e for e in events if e.action == "incident.opened"]
    assert [e.actor for e in opened] == ["staff:zhao"]


def test_drill_is_marked(urgent_app: App) -> None:
    """An Exercise is recorded as a drill and marked as one in the title and text."""
    outcome = open_incident(urgent_app, urgent_post(status="Exercise"), actor="staff:zhao")
    with urgent_app.store.read() as session:
        incident = session.execute(select(Incident)).scalar_one()
        release = session.get(Release, outcome.release_id)
    assert incident.drill and release is not None and release.title == "【演练】某高架桥发生垮塌"


def test_content_problem_records_nothing(urgent_app: App, project: Path) -> None:
    """A post that breaks a channel's limit is refused naming the channel; nothing is recorded."""
    with pytest.raises(UrgentRejected) as info:
        open_incident(urgent_app, urgent_post(title="某" * 80), actor="staff:zhao")  # memory: 64 chars
    assert any("mem-a" in p and "title" in p for p in info.value.problems)
    with urgent_app.store.read() as session:
        assert session.execute(select(Incident)).first() is None
        assert session.execute(select(Delivery)).first() is None


def test_unknown_channel_is_refused(urgent_app: App) -> None:
    """Asking for a channel that does not exist is refused before anything is recorded."""
    with pytest.raises(UrgentRejected, match="nope"):
        open_incident(urgent_app, urgent_post(channels=["mem-a", "nope"]), actor="staff:zhao")


@pytest.mark.parametrize("bad", [{"title": ""}, {"facts": " "}, {"severity": "Bad"},
                                 {"status": "Draft"}, {"channels": []}, {"extra": 1}])
def test_malformed_posts_are_refused(bad: dict[str, object]) -> None:
    """Missing or malformed fields fail validation naming the field."""
    with pytest.raises(ValidationError) as info:
        urgent_post(**bad)
    assert next(iter(bad)) in str(info.value)
