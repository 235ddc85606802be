"""Review before publishing: rendered ahead, sent only once another person approves it, held if not."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from channels.memory.adapter import MemoryStore
from publisher import config as config_module
from publisher import release, review
from publisher.app import App
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.scheduler import LeadTrigger, Scheduler, fire_times
from publisher.store import Store
from publisher.store.models import AuditEvent, BotState, Delivery, Release
from tests.support.cli import XLSX, db_rows, edit, log_rows, publisher
from tests.support.logs import Events, named
from tests.support.project import SHANGHAI

DUE = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)  # a Wednesday: "0 10 * * wed"
LEAD = timedelta(minutes=120)
KEY = "weekly@2026-12-02T10:00+08:00"
REVIEWED = '    channels: [mem-a, mem-b]\n'


@pytest.fixture
def reviewed(project: Path, store: Store, clock: ManualClock) -> Iterator[App]:
    """The small project's weekly definition with ``review: required`` (lead 120 minutes), on
    the parametrised store, the clock at the time it is rendered for review (08:00)."""
    path = project / "schedules.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(REVIEWED) == 1
    path.write_text(text.replace(REVIEWED, REVIEWED + "    review: required\n"
                                 "    review_lead_minutes: 120\n"), encoding="utf-8")
    MemoryStore.reset()
    clock.set(DUE - LEAD)
    yield App(loaded=config_module.load(path), store=store, clock=clock)
    MemoryStore.reset()


def _alerts(events: Events) -> Events:
    return named(events, "alert")


def _scheduled(app: App) -> int:
    """The scheduler's job at due − lead renders the release; returns its id."""
    assert Scheduler(app).fire_review("weekly") == [DUE]
    with app.store.read() as session:
        row = session.execute(select(Release).where(Release.key == KEY)).scalar_one()
        return row.id


def _release(app: App, release_id: int) -> Release:
    with app.store.read() as session:
        row = session.get(Release, release_id)
        assert row is not None
        return row


def _deliveries(app: App, release_id: int) -> dict[str, Delivery]:
    with app.store.read() as session:
        return {d.channel: d for d in session.execute(
            select(Delivery).where(Delivery.release_id == release_id)).scalars()}


def _drain(app: App, minutes: float = 1) -> Dispatcher:
    dispatcher = Dispatcher(app)
    try:
        dispatcher.drain(until=app.clock.now() + timedelta(minutes=minutes))
    finally:
        dispatcher.shutdown()
    return dispatcher


def _sent() -> int:
    return len(MemoryStore.published("mem-a")) + len(MemoryStore.published("mem-b"))


def _actions(app: App, action: str) -> list[AuditEvent]:
    with app.store.read() as session:
        return list(session.execute(select(AuditEvent).where(AuditEvent.action == action)
                                    .order_by(AuditEvent.seq)).scalars())


# --------------------------------------------------------------------------- the core


def test_rendered_ahead_awaits_approval_with_deliveries_for_the_due_time(reviewed: App) -> None:
    """At due − lead the release is rendered and prepared for every channel, awaiting approval,
    each delivery pending for its due time, and nothing is sent."""
    release_id = _scheduled(reviewed)
    row = _release(reviewed, release_id)
    assert (row.state, row.due_at, row.actor) == (review.AWAITING, DUE, "scheduler")
    deliveries = _deliveries(reviewed, release_id)
    assert set(deliveries) == {"mem-a", "mem-b"}
    assert {(d.state, d.next_attempt_at) for d in deliveries.values()} == {("pending", DUE)}
    assert all("awaiting approval" in (d.reason or "") for d in deliveries.values())
    assert [e.subject for e in _actions(reviewed, "release.awaiting_approval")] == [
        f"release:{KEY}"]
    _drain(reviewed)
    assert _sent() == 0
    [item] = review.awaiting(reviewed)
    assert (item.key, item.due_at, item.channels, item.overdue) == (
        KEY, DUE, ("mem-a", "mem-b"), False)


def test_not_sent_before_approval_even_when_due(reviewed: App, clock: ManualClock) -> None:
    """At and after its due time, a release still awaiting approval (before any due-time check
    ran) is neither listed as due nor claimable: the conditional claim refuses it."""
    release_id = _scheduled(reviewed)
    clock.set(DUE + timedelta(seconds=5))
    dispatcher = Dispatcher(reviewed)
    try:
        assert dispatcher.due() == []
        assert all(dispatcher.claim(d.id) is None
                   for d in _deliveries(reviewed, release_id).values())
        assert dispatcher.run_once() == []
        dispatcher.drain(until=clock.now() + timedelta(minutes=5))
    finally:
        dispatcher.shutdown()
    assert clock.sleeps == []  # the dispatcher does not even wait for those deliveries
    assert {d.state for d in _deliveries(reviewed, release_id).values()} == {"pending"}
    assert _sent() == 0


def test_approved_release_is_sent_at_its_due_time(reviewed: App, clock: ManualClock) -> None:
    """Approved by another person, the release becomes active, records who approved it and
    when, and its deliveries go out at the due time, not before."""
    release_id = _scheduled(reviewed)
    clock.advance(minutes=30)
    decision = review.approve(reviewed, KEY, actor="staff:li")
    assert (decision.release_id, decision.state, decision.due_at) == (release_id, "active", DUE)
    row = _release(reviewed, release_id)
    assert row.state == "active"
    assert row.details["approved_by"] == "staff:li"
    assert row.details["approved_at"] == clock.now().isoformat()
    [event] = _actions(reviewed, "release.approved")
    assert (event.actor, event.subject) == ("staff:li", f"release:{KEY}")
    assert review.awaiting(reviewed) == []
    _drain(reviewed, minutes=10)  # 08:30 → 08:40: not yet due
    assert _sent() == 0
    clock.set(DUE)
    _drain(reviewed)
    assert {d.state for d in _deliveries(reviewed, release_id).values()} == {"published"}
    assert len(MemoryStore.published("mem-a")) == len(MemoryStore.published("mem-b")) == 1


def test_an_approver_cannot_approve_their_own_release(reviewed: App) -> None:
    """The staff member who triggered a release cannot approve it, under any way in; another
    person can, and a refused approval changes nothing."""
    outcome = release.create(reviewed, "weekly", DUE, actor="staff:wang", origin="manual")
    assert outcome.state == review.AWAITING
    for same in ("staff:wang", "console:wang", "WANG"):
        with pytest.raises(review.ReviewRefused) as info:
            review.approve(reviewed, outcome.release_id, actor=same)
        assert info.value.code == "own_release"
        assert "不能审核自己创建的发布" in str(info.value)
        assert "cannot approve their own release" in str(info.value)
    assert _release(reviewed, outcome.release_id).state == review.AWAITING
    assert _actions(reviewed, "release.approved") == []
    assert review.approve(reviewed, str(outcome.release_id), actor="staff:li").state == "active"


def test_unapproved_by_its_due_time_is_held_alerted_and_never_sent(
        reviewed: App, clock: ManualClock, log_events: Events) -> None:
    """Not approved by the due time, the release is held with the reason, alerted, its
    deliveries failed; a later approval is refused and nothing is ever sent."""
    release_id = _scheduled(reviewed)
    clock.set(DUE)
    assert Scheduler(reviewed).hold_unapproved() == [KEY]
    row = _release(reviewed, release_id)
    assert row.state == "held"
    assert row.hold_reason is not None and row.hold_reason["problems"] == [review.UNAPPROVED]
    assert {(d.state, d.reason) for d in _deliveries(reviewed, release_id).values()} == {
        ("failed", review.UNAPPROVED)}
    [alerted] = _alerts(log_events)
    assert alerted["alert"] == "release.unapproved"
    assert "截至发布时间未获审核" in alerted["text_zh"] and KEY in alerted["text_en"]
    assert review.hold_unapproved(reviewed) == []  # held once
    with pytest.raises(review.ReviewRefused) as info:
        review.approve(reviewed, KEY, actor="staff:li")
    assert info.value.code == "not_awaiting" and "trigger it again" in str(info.value)
    clock.advance(hours=1)
    Scheduler(reviewed).fire("weekly", DUE)  # the same run again: the held release stands
    assert _release(reviewed, release_id).state == "held"
    assert len(_deliveries(reviewed, release_id)) == 2
    _drain(reviewed)
    assert _sent() == 0


def test_a_late_approval_is_refused_and_holds_the_release(reviewed: App,
                                                          clock: ManualClock) -> None:
    """An approval after the due time (before any due-time check ran) is refused, and the
    release is held as the check would have held it."""
    release_id = _scheduled(reviewed)
    clock.set(DUE + timedelta(minutes=1))
    with pytest.raises(review.ReviewRefused) as info:
        review.approve(reviewed, KEY, actor="staff:li")
    assert info.value.code == "past_due"
    assert _release(reviewed, release_id).state == "held"
    assert {d.state for d in _deliveries(reviewed, release_id).values()} == {"failed"}
    _drain(reviewed)
    assert _sent() == 0


def test_rejecting_fails_every_delivery_with_the_reason(reviewed: App) -> None:
    """A rejected release is never published: its deliveries fail with the reason, it is
    audited, and it can no longer be approved; a rejection needs a reason."""
    release_id = _scheduled(reviewed)
    with pytest.raises(review.ReviewRefused) as info:
        review.reject(reviewed, KEY, actor="staff:li", reason="  ")
    assert info.value.code == "no_reason"
    decision = review.reject(reviewed, KEY, actor="staff:li", reason="数据有误")
    assert decision.state == review.REJECTED
    row = _release(reviewed, release_id)
    assert (row.state, row.details["rejected_by"], row.details["rejected_reason"]) == (
        "rejected", "staff:li", "数据有误")
    reasons = {(d.state, d.reason) for d in _deliveries(reviewed, release_id).values()}
    assert reasons == {("failed", "审核未通过 / rejected by staff:li: 数据有误")}
    [event] = _actions(reviewed, "release.rejected")
    assert event.details["reason"] == "数据有误"
    with pytest.raises(review.ReviewRefused):
        review.approve(reviewed, KEY, actor="staff:zhao")
    with pytest.raises(review.ReviewRefused) as missing:
        review.approve(reviewed, "weekly@2030-01-01T10:00+08:00", actor="staff:zhao")
    assert missing.value.code == "not_found"
    _drain(reviewed)
    assert _sent() == 0


def test_a_document_and_its_interpretation_are_reviewed_together(
        reviewed: App, project: Path, clock: ManualClock) -> None:
    """A document and its 解读 wait together, are listed as one, and one approval (of either)
    approves both, so they still go out together (同步发布)."""
    (project / "templates" / "weekly-jd").mkdir()
    (project / "templates" / "weekly-jd" / "memory.txt.j2").write_text("解读", encoding="utf-8")
    path = reviewed.loaded.file
    path.write_text(path.read_text(encoding="utf-8").replace(
        REVIEWED, REVIEWED + "    interpretation:\n      title: 政策解读\n"
        "      templates: weekly-jd\n"), encoding="utf-8")
    reviewed.loaded = config_module.load(path)
    _scheduled(reviewed)
    [item] = review.awaiting(reviewed)
    assert item.parts == (KEY, f"{KEY}~interpretation")
    decision = review.approve(reviewed, f"{KEY}~interpretation", actor="staff:li")
    assert decision.parts == (KEY, f"{KEY}~interpretation")
    clock.set(DUE)
    _drain(reviewed)
    assert len(MemoryStore.published("mem-a")) == len(MemoryStore.published("mem-b")) == 2


def test_a_definition_without_review_is_active_at_once(app: App) -> None:
    """Definitions without ``review`` publish as before: active, deliveries due now."""
    outcome = release.create(app, "weekly", DUE, actor="staff:wang", origin="manual")
    assert outcome.state == "active"
    assert review.manual_due(app, "weekly", DUE) == DUE


# --------------------------------------------------------------------------- the scheduler


def test_lead_trigger_fires_the_lead_before_each_due_time(reviewed: App) -> None:
    """The job that renders for review fires review_lead_minutes before each cron due time."""
    trigger = Scheduler(reviewed).triggers()["weekly"]
    lead = LeadTrigger(trigger, LEAD)
    first = lead.get_next_fire_time(None, DUE - timedelta(days=1))
    assert first == DUE - LEAD
    second = lead.get_next_fire_time(first, first + timedelta(seconds=1))
    assert second == DUE - LEAD + timedelta(days=7)
    assert lead.get_next_fire_time(None, DUE - LEAD + timedelta(minutes=1)) == second


def test_catch_up_renders_for_review_inside_the_lead(reviewed: App, clock: ManualClock) -> None:
    """A scheduler starting between due − lead and the due time renders the release at once,
    awaiting approval, even when staff triggered one due later; a second catch-up does
    nothing more."""
    start = datetime(2026, 11, 30, 9, 0, tzinfo=SHANGHAI)
    clock.set(DUE - timedelta(minutes=40))
    manual = release.create(reviewed, "weekly", review.manual_due(reviewed, "weekly", clock.now()),
                            actor="staff:wang", origin="manual")
    assert manual.key == "weekly@2026-12-02T11:20+08:00"
    scheduler = Scheduler(reviewed)
    assert scheduler.catch_up(start) == [
        "rendered for review weekly 2026-12-02T10:00:00+08:00"]
    assert [(i.key, i.origin) for i in review.awaiting(reviewed)] == [
        (KEY, "catch-up"), (manual.key, "manual")]
    assert scheduler.catch_up(start) == []


def test_catch_up_after_the_due_time_records_the_run_missed(reviewed: App,
                                                            clock: ManualClock) -> None:
    """A run whose due time passed before it was rendered for review is missed, never
    published late; one left awaiting approval while down is held."""
    with reviewed.store.write() as session:
        session.add(BotState(name="scheduler_first_started",
                             value=datetime(2026, 11, 30, 9, 0, tzinfo=SHANGHAI).isoformat()))
    manual = release.create(reviewed, "weekly", DUE - timedelta(minutes=30),
                            actor="staff:wang", origin="manual")
    clock.set(DUE + timedelta(minutes=10))
    scheduler = Scheduler(reviewed)
    actions = scheduler.catch_up(scheduler._first_started())
    assert actions == ["missed weekly 2026-12-02T10:00:00+08:00",
                       f"held unapproved {manual.key}"]
    with reviewed.store.read() as session:
        states = dict(session.execute(select(Release.key, Release.state)).all())
    assert states == {KEY: "missed", manual.key: "held"}
    assert "not rendered for review" in (
        _release(reviewed, _id(reviewed, KEY)).hold_reason or {})["problems"][0]


def _id(app: App, key: str) -> int:
    with app.store.read() as session:
        return session.execute(select(Release.id).where(Release.key == key)).scalar_one()


def test_fire_renders_the_run_due_within_the_lead(reviewed: App, clock: ManualClock) -> None:
    """Fired a few seconds late at due − lead, the definition's job renders the run due
    within the lead (awaiting approval), never the one just past, and never twice."""
    clock.advance(seconds=7)
    created: list[int] = []
    scheduler = Scheduler(reviewed, on_release=created.append)
    scheduler.fire("weekly")
    scheduler.fire("weekly")
    with reviewed.store.read() as session:
        states = dict(session.execute(select(Release.key, Release.state)).all())
    assert states == {KEY: review.AWAITING}
    assert created == []  # nothing to wake the dispatcher for
    assert fire_times(scheduler.triggers()["weekly"], clock.now(), clock.now() + LEAD) == [DUE]


# --------------------------------------------------------------------------- config


def test_check_refuses_a_lead_longer_than_the_time_between_runs(reviewed: App) -> None:
    """``publisher check`` names review_lead_minutes when it is not shorter than the time
    between two runs, or set without ``review: required``."""
    path = reviewed.loaded.file
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("review_lead_minutes: 120", "review_lead_minutes: 10080"),
                    encoding="utf-8")
    with pytest.raises(config_module.ConfigError) as info:
        config_module.load(path)
    assert [p.path for p in info.value.problems] == ["releases.weekly.review_lead_minutes"]
    path.write_text(text.replace("review: required", "review: none"), encoding="utf-8")
    with pytest.raises(config_module.ConfigError) as info:
        config_module.load(path)
    assert "only applies with review: required" in str(info.value)
    path.write_text(text.replace("review: required", "review: maybe"), encoding="utf-8")
    with pytest.raises(config_module.ConfigError) as info:
        config_module.load(path)
    assert "releases.weekly.review" in [p.path for p in info.value.problems]


# --------------------------------------------------------------------------- the CLI


@pytest.mark.slow
def test_review_through_the_command_line(shipped: Path, env: dict[str, str],
                                         tmp_path: Path) -> None:
    """`publisher trigger` of a definition needing review only creates it awaiting approval;
    `review list` shows it, its author's `review approve` is refused with exit 2, another
    person's `review reject` and `review approve` work, and `log` shows each state."""
    edit(shipped, "    channels: [portal-main, wechat-main, weibo-main, gazette-main]\n",
         "    channels: [portal-main, wechat-main, weibo-main, gazette-main]\n"
         "    review: required\n    review_lead_minutes: 60\n")
    first = publisher(shipped, env, "trigger", "food-safety-sampling", "--data", XLSX)
    assert first.returncode == 0, first.stderr
    key = re.search(r"(food-safety-sampling@\S+): awaiting_approval", first.stdout)
    assert key, first.stdout
    assert "publisher review approve" in first.stdout
    assert not list((shipped.parent / "var").rglob("*.html"))  # nothing published

    listed = publisher(shipped, env, "review", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    [item] = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    assert (item["key"], item["author"], item["channels"]) == (
        key.group(1), "staff:wang", ["portal-main"])
    table = publisher(shipped, env, "review", "list")
    assert key.group(1) in table.stdout and "staff:wang" in table.stdout

    own = publisher(shipped, env, "review", "approve", key.group(1))
    assert own.returncode == 2
    assert "不能审核自己创建的发布" in own.stderr and "cannot approve their own" in own.stderr
    awaiting = log_rows(shipped, env, "--status", "awaiting_approval")
    assert [(r["release"], r["state"]) for r in awaiting] == [(key.group(1), "awaiting_approval")]

    other = {**env, "PUBLISHER_ACTOR": "staff:li"}
    rejected = publisher(shipped, other, "review", "reject", key.group(1), "--reason", "数据待核")
    assert rejected.returncode == 0, rejected.stderr
    assert f"{key.group(1)}: rejected" in rejected.stdout
    rows = log_rows(shipped, env, "--release", key.group(1))
    assert {(r["channel"], r["state"]) for r in rows} == {("portal-main", "failed"),
                                                          ("", "rejected")}
    assert all("数据待核" in r["detail"] for r in rows)
    retried = publisher(shipped, env, "retry", str(rows[0]["delivery"] or rows[1]["delivery"]),
                        "--no-send")
    assert retried.returncode == 2 and "rejected" in retried.stderr

    second = publisher(shipped, env, "trigger", "food-safety-sampling", "--data", XLSX)
    again = re.search(r"(food-safety-sampling@\S+): awaiting_approval", second.stdout)
    assert again and again.group(1) != key.group(1), second.stdout
    approved = publisher(shipped, other, "review", "approve", again.group(1))
    assert approved.returncode == 0, approved.stderr
    assert f"{again.group(1)}: active" in approved.stdout
    assert db_rows(tmp_path, "SELECT state, COUNT(*) FROM releases GROUP BY state "
                             "ORDER BY state") == [("active", 1), ("rejected", 1)]
    assert db_rows(tmp_path, "SELECT state FROM deliveries WHERE release_id = "
                             f"(SELECT id FROM releases WHERE key = '{again.group(1)}')") == [
        ("pending",)]
