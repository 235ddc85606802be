"""Pre-flight: ``data_due_hours`` before a run its data is checked; missing data alerts the office
and the bureau's contacts once, shows on the overview, and clears when the file arrives. Files
dropped into the inbox by other means are checked as they arrive, with the same report."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from channels.loopback import Loopback
from publisher import overview
from publisher.clock import ManualClock
from publisher.intake import preflight, watch
from publisher.intake import slot as slots
from publisher.intake import store as intake
from publisher.scheduler import Scheduler
from publisher.store import Store
from publisher.store.models import AuditEvent
from tests.support.alerts import AlertServer, Inbox, make_app, receiver
from tests.support.project import PROJECT_YAML, SHANGHAI

__all__ = ["receiver"]  # a fixture, used by name

CHECK_AT = datetime(2026, 12, 8, 16, 0, tzinfo=SHANGHAI)  # 18 h before Wednesday 10:00 (W50)


def _yaml(contact: str) -> str:
    return PROJECT_YAML.replace(
        "    channels: [mem-a, mem-b]\n",
        f"    channels: [mem-a, mem-b]\n    data_due_hours: 18\n"
        f"    data_contacts: [\"{contact}\"]\n")


def test_missing_data_alerts_at_the_configured_lead_once(
        project: Path, store: Store, clock: ManualClock,
        receiver: tuple[Loopback[AlertServer], Inbox]) -> None:
    """A minute before the check time nothing is checked; at it, the run whose file is missing is
    alerted once to the office and the data contact, audited and shown on the overview; later
    sweeps do not alert again, and a valid upload clears it."""
    server, inbox = receiver
    app = make_app(project, store, clock, [f"json://127.0.0.1:{server.port}/office"],
                   base=_yaml(f"json://127.0.0.1:{server.port}/bureau"))
    scheduler = Scheduler(app)
    try:
        clock.set(datetime(2026, 12, 8, 15, 59, tzinfo=SHANGHAI))
        assert scheduler.preflight() == []
        clock.set(CHECK_AT)
        [checked] = scheduler.preflight()
        assert checked.key == "weekly@2026-12-09T10:00+08:00"
        assert not checked.ready and checked.alerted
        assert any("weekly/2026-W50.csv" in p for p in checked.problems)
        assert app.alerts.flush(10)
        posts = inbox.wait_for(2)
        assert sorted(p["path"] for p in posts) == ["/bureau", "/office"]
        assert all("数据未就绪" in p["body"]["title"] for p in posts)
        [shown] = overview_not_ready = preflight.not_ready(app, clock.now())
        assert shown.key == checked.key and overview_not_ready
        clock.set(datetime(2026, 12, 8, 16, 5, tzinfo=SHANGHAI))
        [again] = scheduler.preflight()
        assert not again.ready and not again.alerted
        assert app.alerts.flush(10)
        assert len(inbox.wait_for(3, seconds=0.5)) == 2
        slot = slots.slot(app, "weekly", "2026-W50", "items")
        intake.put(app, slot, "项目,数量\n苹果,1\n".encode(), "csv", actor="console:li")
        [ready] = scheduler.preflight()
        assert ready.ready and preflight.not_ready(app, clock.now()) == []
    finally:
        app.close()
    with app.store.read() as session:
        events = list(session.execute(select(AuditEvent).where(
            AuditEvent.action == "data.preflight")).scalars())
    assert [e.details["ready"] for e in events] == [False]
    assert overview.upcoming(app, CHECK_AT)[0].definition_id == "weekly"


def test_no_lead_configured_means_no_check(project: Path, store: Store, clock: ManualClock,
                                           receiver: tuple[Loopback[AlertServer], Inbox]) -> None:
    """A definition without ``data_due_hours`` is never checked ahead."""
    server, _inbox = receiver
    app = make_app(project, store, clock, [f"json://127.0.0.1:{server.port}/office"])
    try:
        clock.set(datetime(2026, 12, 9, 9, 59, tzinfo=SHANGHAI))
        assert preflight.sweep(app) == []
    finally:
        app.close()


def test_a_file_dropped_in_the_inbox_is_checked_once_it_stops_changing(
        project: Path, store: Store, clock: ManualClock,
        receiver: tuple[Loopback[AlertServer], Inbox]) -> None:
    """A file put into the inbox by other means is checked on the scan after it stops changing:
    a bad cell alerts the office and the contact and is audited as from ``inbox`` with the
    cell named; files there at start and files uploaded through the intake are not re-reported."""
    server, inbox = receiver
    app = make_app(project, store, clock, [f"json://127.0.0.1:{server.port}/office"],
                   base=_yaml(f"json://127.0.0.1:{server.port}/bureau"))
    watcher = watch.InboxWatch(app)
    try:
        assert watcher.prime() == 1  # W49's file, there at start
        assert watcher.scan() == []
        dropped = app.data_dir / "weekly" / "2026-W50.csv"
        dropped.write_bytes("项目,数量\n苹果,三个\n".encode("gb18030"))
        assert watcher.scan() == []  # seen once: it may still be being copied
        [arrival] = watcher.scan()
        assert arrival.path == "weekly/2026-W50.csv" and arrival.table == "items"
        [problem] = arrival.problems
        assert (problem.row, problem.column, problem.value) == (2, "数量", "三个")
        assert watcher.scan() == []  # unchanged: reported once
        assert app.alerts.flush(60)  # a bound, not a timing: Apprise loads its plugins on first use
        assert sorted(p["path"] for p in inbox.wait_for(2)) == ["/bureau", "/office"]
        slot = slots.slot(app, "weekly", "2026-W50", "items")
        intake.put(app, slot, "项目,数量\n苹果,3\n".encode(), "csv", actor="api:bureau")
        assert watcher.scan() == [] and watcher.scan() == []  # handed in: audited there
    finally:
        app.close()
    with app.store.read() as session:
        events = [(e.action, e.actor) for e in session.execute(
            select(AuditEvent).where(AuditEvent.action.like("data.%"))
            .order_by(AuditEvent.seq)).scalars()]
    assert events == [("data.arrived", "inbox"), ("data.replaced", "api:bureau")]
