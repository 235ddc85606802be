"""An incident's later steps: updates and corrections follow the first report, a withdrawal
retracts it; every step is recorded against the incident."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from channels.memory.adapter import MemoryStore
from publisher import config as config_module
from publisher.app import App
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.store.models import AuditEvent, Delivery, Incident, Release
from publisher.urgent import (
    IncidentNotFound,
    UrgentCancel,
    UrgentPost,
    UrgentRejected,
    UrgentUpdate,
    cancel_incident,
    open_incident,
    timeline,
    update_incident,
)
from tests.support.urgent import TEMPLATE, URGENT


@pytest.fixture
def urgent_app(app: App, project: Path) -> App:
    folder = project / "templates" / "_urgent"
    folder.mkdir()
    (folder / "memory.txt.j2").write_text(
        "{% if urgent.step == 'withdrawal' %}撤回：{{ urgent.reason }}{% else %}"
        "{% if urgent.correction %}更正：{{ urgent.correction }} {% endif %}" + TEMPLATE
        + "{% endif %}", encoding="utf-8")
    config = project / "schedules.yaml"
    config.write_text(config.read_text(encoding="utf-8") + URGENT, encoding="utf-8")
    app.loaded = config_module.load(config)
    return app


def _drain(app: App) -> None:
    dispatcher = Dispatcher(app)
    try:
        dispatcher.drain()
    finally:
        dispatcher.shutdown()


def _open(app: App) -> str:
    post = UrgentPost(title="某高架桥发生垮塌", facts="今日9时40分，某高架桥一段桥面垮塌。",
                      area="某区某高架桥", severity="较大")
    return open_incident(app, post, actor="staff:zhao").incident_key


def test_update_follows_up_the_first_report(urgent_app: App, clock: ManualClock) -> None:
    """An update is attached to each channel's first report (follow_up) and recorded against
    the incident with its actor."""
    key = _open(urgent_app)
    _drain(urgent_app)
    clock.advance(seconds=60)
    outcome = update_incident(urgent_app, key, UrgentUpdate(facts="现场已有3人送医。"),
                              actor="staff:qian")
    _drain(urgent_app)
    assert outcome.msg_type == "Update"
    follow_ups = MemoryStore.follow_ups("mem-a")
    assert len(follow_ups) == 1 and "现场已有3人送医" in str(follow_ups[0])
    _incident, steps = timeline(urgent_app, key)
    assert [(s.step, s.action, s.state) for s in steps if s.channel == "mem-a"] == [
        ("report", "send", "published"), ("update", "follow_up", "published")]
    assert {s.actor for s in steps if s.step == "update"} == {"staff:qian"}
    with urgent_app.store.read() as session:
        events = [e.action for e in session.execute(select(AuditEvent)).scalars()]
    assert "incident.updated" in events


def test_correction_says_what_changed(urgent_app: App, clock: ManualClock) -> None:
    """A correction carries what changed, in the text and in the audit chain."""
    key = _open(urgent_app)
    _drain(urgent_app)
    update_incident(urgent_app, key, UrgentUpdate(facts="伤亡人数以此为准：2人受伤。",
                                                  correction="此前“3人送医”有误，应为2人"),
                    actor="staff:qian")
    _drain(urgent_app)
    text = str(MemoryStore.follow_ups("mem-b")[-1])
    assert "更正：此前“3人送医”有误，应为2人" in text
    with urgent_app.store.read() as session:
        corrected = session.execute(select(AuditEvent).where(
            AuditEvent.action == "incident.corrected")).scalar_one()
        release = session.execute(select(Release).where(
            Release.details["step"].as_string() == "correction")).scalar_one()
    assert corrected.details["correction"] == "此前“3人送医”有误，应为2人"
    assert release.title == "【更正】某高架桥发生垮塌" and release.msg_type == "Update"


def test_withdrawal_retracts_and_closes(urgent_app: App, clock: ManualClock) -> None:
    """A withdrawal retracts every published post, marks it retracted, closes the incident,
    and refuses later updates."""
    key = _open(urgent_app)
    _drain(urgent_app)
    clock.advance(seconds=30)
    outcome = cancel_incident(urgent_app, key, UrgentCancel(reason="经核实，该信息有误"),
                              actor="staff:sun")
    _drain(urgent_app)
    assert outcome.msg_type == "Cancel"
    assert MemoryStore.retracted("mem-a") == ["mem-a-1"]
    with urgent_app.store.read() as session:
        incident = session.execute(select(Incident)).scalar_one()
        states = {(d.channel, d.action): d.state for d in session.execute(
            select(Delivery)).scalars()}
    assert incident.status == "withdrawn"
    assert states == {("mem-a", "send"): "retracted", ("mem-b", "send"): "retracted",
                      ("mem-a", "retract"): "published", ("mem-b", "retract"): "published"}
    with pytest.raises(UrgentRejected, match="已撤回"):
        update_incident(urgent_app, key, UrgentUpdate(facts="x"), actor="staff:sun")


def test_withdrawal_stops_what_has_not_left(urgent_app: App) -> None:
    """Deliveries still waiting when the incident is withdrawn are stopped and never sent;
    with nothing public there is nothing to retract, and the incident is closed."""
    key = _open(urgent_app)
    outcome = cancel_incident(urgent_app, key, UrgentCancel(reason="误报"), actor="staff:sun")
    _drain(urgent_app)
    assert outcome.channels == ()
    assert MemoryStore.published("mem-a") == [] and MemoryStore.published("mem-b") == []
    with urgent_app.store.read() as session:
        rows = list(session.execute(select(Delivery)).scalars())
        incident = session.execute(select(Incident)).scalar_one()
    assert {d.state for d in rows} == {"failed"} and len(rows) == 2
    assert all("withdrawn before" in (d.reason or "") for d in rows)
    assert incident.status == "withdrawn"


def test_unknown_incident_is_refused(urgent_app: App) -> None:
    """An update to an incident that does not exist names it and records nothing."""
    with pytest.raises(IncidentNotFound, match="incident-19990101-000000"):
        update_incident(urgent_app, "incident-19990101-000000", UrgentUpdate(facts="x"),
                        actor="staff:qian")


def test_two_posts_in_one_second_get_distinct_keys(urgent_app: App) -> None:
    """Two first reports in the same second open two incidents with distinct keys."""
    first = _open(urgent_app)
    second = _open(urgent_app)
    assert first != second and second == f"{first}-2"
    with urgent_app.store.read() as session:
        keys = sorted(r.key for r in session.execute(select(Release)).scalars())
    assert len(set(keys)) == 2 and keys[1].endswith("~2")


def test_urgent_section_problems_are_named(project: Path) -> None:
    """An urgent section naming an unknown channel for new-post updates is refused with the
    YAML path of the entry."""
    path = project / "schedules.yaml"
    path.write_text(path.read_text(encoding="utf-8") + URGENT
                    + "  update_new_post: [mem-a, weibo-x]\n", encoding="utf-8")
    (project / "templates" / "_urgent").mkdir()
    with pytest.raises(config_module.ConfigError) as info:
        config_module.load(path)
    assert [p.path for p in info.value.problems] == ["urgent.update_new_post.1"]
    assert "weibo-x" in str(info.value)


def test_update_can_also_be_a_new_post(urgent_app: App, project: Path) -> None:
    """A channel listed in update_new_post gets both a follow-up and a new post for an update;
    the others only the follow-up."""
    path = project / "schedules.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "  update_new_post: [mem-a]\n",
                    encoding="utf-8")
    urgent_app.loaded = config_module.load(path)
    key = _open(urgent_app)
    _drain(urgent_app)
    outcome = update_incident(urgent_app, key, UrgentUpdate(facts="交通已恢复。"),
                              actor="staff:qian")
    _drain(urgent_app)
    with urgent_app.store.read() as session:
        actions = sorted((d.channel, d.action, d.state) for d in session.execute(
            select(Delivery).where(Delivery.release_id == outcome.release_id)).scalars())
    assert actions == [("mem-a", "follow_up", "published"), ("mem-a", "send", "published"),
                       ("mem-b", "follow_up", "published")]
    assert "交通已恢复" in MemoryStore.published("mem-a")[-1]["body"]
