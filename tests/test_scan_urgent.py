"""The content checks of urgent posts: a ``block`` finding stops the step and nothing is recorded
or sent, unless a second person with the approver role overrides exactly that preview; both the
override and its use are audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from channels.memory.adapter import MemoryStore
from publisher.app import App
from publisher.dispatch import Dispatcher
from publisher.store.models import AuditEvent, Delivery, Incident, Release
from publisher.urgent import (
    UrgentUpdate,
    draft_of,
    open_incident,
    prepare,
    preview_step,
    update_incident,
)
from publisher.urgent.screen import ContentBlocked, OverrideRefused, override
from publisher.web import account
from tests.support.urgent import TEMPLATE as URGENT_TEMPLATE
from tests.support.urgent import URGENT, urgent_post

ID_NUMBER = "310101199001011234"
PASSWORD = "correct horse battery staple 9"


@pytest.fixture
def urgent_app(app: App, project: Path) -> App:
    """The small project with an urgent section, and three console accounts: an urgent poster,
    an approver, and an editor."""
    from publisher import config as config_module

    (project / "templates" / "_urgent").mkdir()
    (project / "templates" / "_urgent" / "memory.txt.j2").write_text(URGENT_TEMPLATE,
                                                                      encoding="utf-8")
    config = project / "schedules.yaml"
    config.write_text(config.read_text(encoding="utf-8") + URGENT, encoding="utf-8")
    app.loaded = config_module.load(config)
    for name, roles in (("zhao", ["urgent"]), ("li", ["approver"]), ("qian", ["editor"])):
        account.create(app, name, PASSWORD, roles, actor="test")
    return app


def _counts(app: App) -> tuple[int, int, int]:
    with app.store.read() as session:
        return (len(session.execute(select(Incident)).all()),
                len(session.execute(select(Delivery)).all()),
                len(MemoryStore.published("mem-a")) + len(MemoryStore.published("mem-b")))


def _drain(app: App) -> None:
    dispatcher = Dispatcher(app)
    try:
        dispatcher.drain()
    finally:
        dispatcher.shutdown()


def _actions(app: App, action: str) -> list[AuditEvent]:
    with app.store.read() as session:
        return list(session.execute(select(AuditEvent).where(
            AuditEvent.action == action)).scalars())


def test_id_number_in_a_post_stops_it(urgent_app: App) -> None:
    """An ID number in the facts stops the first report on every channel, naming channel and
    field and offering the masked form; nothing is recorded or sent."""
    post = urgent_post(facts=f"伤者张某（身份证{ID_NUMBER}）已送医。")
    with pytest.raises(ContentBlocked) as info:
        open_incident(urgent_app, post, actor="console:zhao")
    assert {(f.channel, f.field, f.found) for f in info.value.findings} >= {
        ("mem-a", "body", "3101**********1234"), ("mem-b", "body", "3101**********1234")}
    assert ID_NUMBER not in str(info.value)
    _drain(urgent_app)
    assert _counts(urgent_app) == (0, 0, 0)


def test_override_needs_a_second_approver_and_is_audited(urgent_app: App) -> None:
    """The preview's findings can be overridden only by an account with the approver role that
    is not the person confirming; then the step goes out as previewed, both steps audited."""
    post = urgent_post(facts="深入开展扫黑险恶专项斗争期间，某高架桥一段桥面垮塌。")
    now = urgent_app.clock.now()
    context, payloads, _skipped = prepare(urgent_app, post, now)
    preview = draft_of(context, payloads, now)
    with pytest.raises(ContentBlocked) as info:
        open_incident(urgent_app, post, actor="console:zhao", preview=preview)
    assert info.value.fingerprint == preview.fingerprint
    with pytest.raises(OverrideRefused):  # an editor is no approver
        override(urgent_app, preview.fingerprint, actor="console:qian", reason="误报")
    with pytest.raises(OverrideRefused):  # nor is an unknown name
        override(urgent_app, preview.fingerprint, actor="staff:nobody", reason="误报")
    override(urgent_app, preview.fingerprint, actor="console:li", reason="原文引用，确认无误")
    with pytest.raises(ContentBlocked):  # the approver cannot confirm their own override
        open_incident(urgent_app, post, actor="console:li", preview=preview)
    assert _counts(urgent_app) == (0, 0, 0)
    outcome = open_incident(urgent_app, post, actor="console:zhao", preview=preview)
    _drain(urgent_app)
    assert _counts(urgent_app) == (1, 2, 2)
    [given] = _actions(urgent_app, "checks.overridden")
    [used] = _actions(urgent_app, "checks.override_used")
    assert (given.actor, given.subject) == ("console:li", f"draft:{preview.fingerprint}")
    assert (used.actor, used.details["approver"], used.subject) == (
        "console:zhao", "console:li", f"release:{outcome.release_key}")
    with urgent_app.store.read() as session:
        row = session.get(Release, outcome.release_id)
        assert row is not None and row.details["findings_summary"]["block"] == 2


def test_an_update_is_checked_too(urgent_app: App) -> None:
    """An update's preview lists its findings, and the update itself is stopped by them."""
    first = open_incident(urgent_app, urgent_post(), actor="console:zhao")
    update = UrgentUpdate(facts=f"联系人电话13812345678，身份证{ID_NUMBER}。")
    shown = preview_step(urgent_app, first.incident_key, update)
    assert {f.rule for f in shown.findings} == {"mobile", "id_number"}
    with pytest.raises(ContentBlocked):
        update_incident(urgent_app, first.incident_key, update, actor="console:zhao")
    with urgent_app.store.read() as session:
        assert len(session.execute(select(Release)).all()) == 1
