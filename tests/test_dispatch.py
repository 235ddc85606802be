"""Release creation and the dispatcher: states, retries, claims, holds and crash recovery."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from channels.base import Channel, ChannelSettings, Message, OutcomeUnknown, Payload, Receipt
from channels.memory.adapter import MemoryStore
from publisher import audit, release
from publisher.app import App
from publisher.circuit import Circuits
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.store.models import Attempt, AuditEvent, Delivery, Release
from tests.support.project import SHANGHAI

DUE = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)


def _create(app: App) -> int:
    outcome = release.create(app, "weekly", DUE, actor="staff:li", origin="manual")
    assert outcome.state == "active", outcome.problems
    return outcome.release_id


def _deliveries(app: App, release_id: int) -> dict[str, Delivery]:
    with app.store.read() as session:
        return {d.channel: d for d in session.execute(
            select(Delivery).where(Delivery.release_id == release_id)).scalars()}


def _attempts(app: App, delivery_id: int) -> list[Attempt]:
    with app.store.read() as session:
        return list(session.execute(select(Attempt).where(Attempt.delivery_id == delivery_id)
                                    .order_by(Attempt.number)).scalars())


def _drain(app: App, release_id: int) -> None:
    dispatcher = Dispatcher(app)
    try:
        dispatcher.drain(release_id, until=app.clock.now() + timedelta(seconds=1))
    finally:
        dispatcher.shutdown()


def test_release_publishes_on_every_channel(app: App) -> None:
    """A release goes out once on each channel; its key and receipts are recorded and audited."""
    release_id = _create(app)
    _drain(app, release_id)
    rows = _deliveries(app, release_id)
    assert {c: d.state for c, d in rows.items()} == {"mem-a": "published", "mem-b": "published"}
    assert len(MemoryStore.published("mem-a")) == 1
    assert len(MemoryStore.published("mem-b")) == 1
    assert "苹果：3" in MemoryStore.published("mem-a")[0]["body"]
    with app.store.read() as session:
        assert audit.verify(session).ok
        actions = [e.action for e in session.execute(select(AuditEvent)).scalars()]
    assert actions.count("delivery.published") == 2 and "release.created" in actions


def test_same_occurrence_is_created_once(app: App) -> None:
    """Creating the same occurrence twice returns the first release and adds no deliveries."""
    first = _create(app)
    again = release.create(app, "weekly", DUE, actor="scheduler", origin="scheduled")
    assert again.release_id == first and not again.created
    assert len(_deliveries(app, first)) == 2


def test_transient_error_retries_within_the_claim(app: App, clock: ManualClock) -> None:
    """A transient error is retried in the same claim after a jittered wait no longer than the cap."""
    MemoryStore.script("mem-a", ["transient", "ok"])
    release_id = _create(app)
    _drain(app, release_id)
    row = _deliveries(app, release_id)["mem-a"]
    assert row.state == "published" and row.claims == 1
    assert [a.outcome for a in _attempts(app, row.id)] == ["transient", "published"]
    assert clock.sleeps and all(0 <= s <= 10 for s in clock.sleeps)


def test_long_rate_limit_waits_in_retry_wait(app: App, clock: ManualClock) -> None:
    """A rate limit longer than the in-claim cap parks the delivery until the window reopens."""
    MemoryStore.script("mem-a", ["rate_limited:300"])
    release_id = _create(app)
    dispatcher = Dispatcher(app)
    for future in dispatcher.run_once(release_id):
        future.result()
    row = _deliveries(app, release_id)["mem-a"]
    assert row.state == "retry_wait"
    assert row.next_attempt_at is not None
    assert row.next_attempt_at >= clock.now() + timedelta(seconds=300)
    assert row.last_error and row.last_error["error"] == "RateLimited"
    clock.advance(seconds=301)
    for future in dispatcher.run_once(release_id):
        future.result()
    dispatcher.shutdown()
    assert _deliveries(app, release_id)["mem-a"].state == "published"
    assert len(MemoryStore.published("mem-a")) == 1


def test_permanent_error_fails_without_retry(app: App) -> None:
    """A permanent error fails the delivery at once and keeps the channel's code and explanation."""
    MemoryStore.script("mem-b", ["permanent"])
    release_id = _create(app)
    _drain(app, release_id)
    row = _deliveries(app, release_id)["mem-b"]
    assert row.state == "failed"
    assert len(_attempts(app, row.id)) == 1
    assert row.last_error and row.last_error["explanation_zh"] and row.last_error["code"]
    assert _deliveries(app, release_id)["mem-a"].state == "published"


def test_already_published_counts_as_published(app: App) -> None:
    """A duplicate reported by the remote ends published with the remote's receipt."""
    MemoryStore.script("mem-a", ["already_published"])
    release_id = _create(app)
    _drain(app, release_id)
    row = _deliveries(app, release_id)["mem-a"]
    assert row.state == "published" and row.receipt is not None
    assert "already" in (row.reason or "")


def test_outcome_unknown_is_reconciled_not_resent(app: App) -> None:
    """A timeout after the request left is not resent: the next claim asks the channel, which
    finds it landed, and the delivery is published with one publication (tests/test_reconcile.py
    covers the rest of the mechanism)."""
    MemoryStore.script("mem-a", ["outcome_unknown"])
    release_id = _create(app)
    _drain(app, release_id)
    row = _deliveries(app, release_id)["mem-a"]
    assert row.state == "published" and row.reason and "landed" in row.reason
    assert [a.outcome for a in _attempts(app, row.id)] == ["unknown"]
    assert len(MemoryStore.published("mem-a")) == 1


def test_expired_credentials_are_retried_once(app: App) -> None:
    """AuthExpired is retried once in the claim; a second AuthExpired ends the claim."""
    MemoryStore.script("mem-a", ["auth_expired", "ok"])
    MemoryStore.script("mem-b", ["auth_expired", "auth_expired", "ok"])
    release_id = _create(app)
    dispatcher = Dispatcher(app)
    for future in dispatcher.run_once(release_id):
        future.result()
    dispatcher.shutdown()
    rows = _deliveries(app, release_id)
    assert rows["mem-a"].state == "published"
    assert rows["mem-b"].state == "retry_wait"
    assert len(_attempts(app, rows["mem-b"].id)) == 2


def test_retries_stop_at_the_deadline(app: App, clock: ManualClock) -> None:
    """A channel that keeps failing transiently is marked failed once the release deadline passes."""
    MemoryStore.script("mem-a", ["transient"] * 1000)
    release_id = _create(app)
    dispatcher = Dispatcher(app)
    dispatcher.circuits = Circuits(threshold=10**6)  # this test is about the deadline alone
    try:
        for _ in range(300):
            for future in dispatcher.run_once(release_id):
                future.result()
            row = _deliveries(app, release_id)["mem-a"]
            if row.state != "retry_wait":
                break
            assert row.next_attempt_at is not None
            clock.set(row.next_attempt_at)
    finally:
        dispatcher.shutdown()
    row = _deliveries(app, release_id)["mem-a"]
    assert row.state == "failed"
    with app.store.read() as session:
        deadline = session.get(Release, release_id).deadline_at  # type: ignore[union-attr]
    assert clock.now() <= deadline + timedelta(hours=1)
    assert MemoryStore.published("mem-a") == []


def test_only_one_claim_wins(app: App) -> None:
    """Two dispatchers claiming the same delivery: exactly one gets it."""
    release_id = _create(app)
    delivery_id = _deliveries(app, release_id)["mem-a"].id
    first, second = Dispatcher(app), Dispatcher(app)
    try:
        wins = [d.claim(delivery_id) is not None for d in (first, second)]
    finally:
        first.shutdown()
        second.shutdown()
    assert wins == [True, False]


def test_one_transaction_claims_a_batch_and_audits_each_claim(app: App, clock: ManualClock,
                                                              project: Path) -> None:
    """claim_many moves every due delivery asked for to sending in one transaction, each with
    its own delivery.sending event in a chain that verifies; one already claimed is not taken
    again, and one past its release's deadline ends failed instead of being claimed."""
    first = _create(app)
    weekly = project / "inbox" / "weekly"
    (weekly / "2026-W50.csv").write_bytes((weekly / "2026-W49.csv").read_bytes())
    later = release.create(app, "weekly", DUE + timedelta(days=7), actor="staff:li",
                           origin="manual")
    assert later.created and later.state == "active", later
    second = later.release_id
    ids = [d.id for r in (first, second) for d in _deliveries(app, r).values()]
    with app.store.write() as session:
        session.execute(update(Release).where(Release.id == second)
                        .values(deadline_at=clock.now() - timedelta(seconds=1)))
    dispatcher = Dispatcher(app)
    try:
        assert dispatcher.claim(ids[0]) is not None
        claimed = dispatcher.claim_many(ids)
    finally:
        dispatcher.shutdown()
    assert [d.id for d in claimed] == ids[1:2]
    with app.store.read() as session:
        states = {row.id: row.state for row in session.execute(
            select(Delivery.id, Delivery.state).where(Delivery.id.in_(ids)))}
        events = list(session.execute(select(AuditEvent).where(
            AuditEvent.subject.in_([f"delivery:{i}" for i in ids]),
            AuditEvent.action.in_(["delivery.sending", "delivery.failed"]))
            .order_by(AuditEvent.seq)).scalars())
        assert audit.verify(session).ok
    assert states == {ids[0]: "sending", ids[1]: "sending", ids[2]: "failed", ids[3]: "failed"}
    assert [(e.action, e.subject) for e in events] == [
        ("delivery.sending", f"delivery:{ids[0]}"), ("delivery.sending", f"delivery:{ids[1]}"),
        ("delivery.failed", f"delivery:{ids[2]}"), ("delivery.failed", f"delivery:{ids[3]}")]


def test_a_published_delivery_commits_its_attempt_with_its_state(app: App) -> None:
    """The attempt that published a delivery is recorded by the transaction that settles it:
    the delivery is published with attempts = 1, one attempt row says published with the
    receipt, and the chain holds one sending and one published event for it."""
    release_id = _create(app)
    _drain(app, release_id)
    row = _deliveries(app, release_id)["mem-a"]
    assert (row.state, row.attempts, row.claims) == ("published", 1, 1)
    tries = _attempts(app, row.id)
    assert [(t.number, t.outcome) for t in tries] == [(1, "published")]
    assert tries[0].receipt is not None and tries[0].receipt["remote_id"]
    with app.store.read() as session:
        actions = list(session.execute(select(AuditEvent.action).where(
            AuditEvent.subject == f"delivery:{row.id}").order_by(AuditEvent.seq)).scalars())
    assert actions == ["delivery.pending", "delivery.sending", "delivery.published"]


def test_content_error_on_one_channel_holds_the_whole_release(app: App, project: Path) -> None:
    """A title over one channel's limit holds the release: no delivery exists on any channel."""
    text = (project / "schedules.yaml").read_text(encoding="utf-8")
    (project / "schedules.yaml").write_text(
        text.replace("{max_title_chars: 64}", "{max_title_chars: 5}"), encoding="utf-8")
    from publisher import config as config_module

    app.loaded = config_module.load(project / "schedules.yaml")
    outcome = release.create(app, "weekly", DUE, actor="staff:li", origin="manual")
    assert outcome.state == "held"
    assert any("mem-b" in p and "title" in p for p in outcome.problems)
    assert _deliveries(app, outcome.release_id) == {}
    assert MemoryStore.published("mem-a") == []


def test_missing_data_holds_and_later_data_releases(app: App, project: Path) -> None:
    """Data missing at the due time holds the release; once the file arrives it goes out."""
    data = project / "inbox" / "weekly" / "2026-W49.csv"
    content = data.read_bytes()
    data.unlink()
    held = release.create(app, "weekly", DUE, actor="scheduler", origin="scheduled")
    assert held.state == "held" and "2026-W49" in " ".join(held.problems)
    data.write_bytes(content)
    again = release.create(app, "weekly", DUE, actor="staff:li", origin="manual")
    assert again.state == "active" and again.release_id == held.release_id


def test_orphaned_sending_row_is_reconciled(app: App) -> None:
    """After a crash, a delivery that had landed is marked published and is not sent again."""
    release_id = _create(app)
    rows = _deliveries(app, release_id)
    channel = app.channel("mem-a")
    channel.send(Payload.from_json(rows["mem-a"].payload), rows["mem-a"].idempotency_key)
    with app.store.write() as session:  # as a process killed after the send left it
        session.execute(update(Delivery).where(Delivery.release_id == release_id).values(
            state="sending", claimed_by="gone-host:1:dead", claimed_at=app.clock.now()
            - timedelta(hours=1)))
    dispatcher = Dispatcher(app)
    try:
        assert dispatcher.recover() == 2
        dispatcher.drain(release_id, until=app.clock.now())
    finally:
        dispatcher.shutdown()
    rows = _deliveries(app, release_id)
    assert rows["mem-a"].state == "published" and rows["mem-b"].state == "published"
    assert len(MemoryStore.published("mem-a")) == 1
    assert len(MemoryStore.published("mem-b")) == 1


class _AsyncJob(Channel[ChannelSettings]):
    """A channel whose publish job finishes after ``polls`` status calls."""

    kind = "async-test"

    def __init__(self, polls: int) -> None:
        self.polls = polls

    def prepare(self, message: Message) -> Payload:
        return Payload(kind=self.kind, data={})

    def send(self, payload: Payload, key: str) -> Receipt:
        return Receipt(remote_id="job-1", pending=True)

    def status(self, receipt: Receipt) -> Receipt:
        self.polls -= 1
        return Receipt(remote_id="job-1", url="https://example.invalid/a/1", pending=self.polls > 0)


def test_pending_receipt_is_followed_with_growing_waits(app: App, clock: ManualClock) -> None:
    """An accepted asynchronous job is polled with doubling waits until it finishes."""
    dispatcher = Dispatcher(app)
    try:
        receipt = dispatcher._follow(_AsyncJob(polls=4), Receipt(remote_id="job-1", pending=True))
    finally:
        dispatcher.shutdown()
    assert not receipt.pending and receipt.url
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0]


def test_urgent_pending_receipt_is_polled_sooner(app: App, clock: ManualClock) -> None:
    """An urgent post's asynchronous job is looked at once, then after 0.05 s, doubling to at
    most every 2 s."""
    dispatcher = Dispatcher(app)
    try:
        receipt = dispatcher._follow(_AsyncJob(polls=8), Receipt(remote_id="job-1", pending=True),
                                     urgent=True)
    finally:
        dispatcher.shutdown()
    assert not receipt.pending
    assert clock.sleeps == [0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 2.0]


def test_pending_receipt_gives_up_as_unknown(app: App, clock: ManualClock) -> None:
    """A job still pending after the budget is reported unknown, never resent."""
    dispatcher = Dispatcher(app)
    try:
        with pytest.raises(OutcomeUnknown) as info:
            dispatcher._follow(_AsyncJob(polls=10**6), Receipt(remote_id="job-1", pending=True))
    finally:
        dispatcher.shutdown()
    assert info.value.code == "still_pending"
    assert 300 <= sum(clock.sleeps) <= 300 + 30


def test_crash_after_a_publish_job_was_accepted_follows_the_job(
        tmp_path: Path, clock: ManualClock) -> None:
    """Killed while WeChat's publish job ran: the stored job is followed after restart and the
    delivery ends published with one article at the emulator."""
    import shutil

    from channels.wechat.sandbox import Account, serve
    from publisher import config as config_module
    from publisher.store import Store
    from tests.support.project import ROOT

    emulator = serve(account=Account(app_secret="wx-secret-for-test", publish_polls=1))
    try:
        shutil.copytree(ROOT / "templates", tmp_path / "templates")
        shutil.copytree(ROOT / "samples", tmp_path / "samples")
        text = (ROOT / "schedules.yaml").read_text(encoding="utf-8")
        text = text.replace("app_id: wx0000000000000000",
                            f"app_id: wx0000000000000000\n      base_url: {emulator.url}")
        (tmp_path / "schedules.yaml").write_text(text, encoding="utf-8")
        loaded = config_module.load(tmp_path / "schedules.yaml")
        store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
        app = App(loaded=loaded, store=store, clock=clock,
                  environ={"WECHAT_APP_SECRET": "wx-secret-for-test",
                           "WEIBO_APP_SECRET": "unused-here"})
        samples = tmp_path / "samples" / "food-safety-sampling"
        outcome = release.create(app, "food-safety-sampling", DUE, actor="t", origin="manual",
                                 data={"unqualified": samples / "unqualified.csv",
                                       "qualified": samples / "qualified.csv"})
        assert outcome.state == "active", outcome.problems
        with store.read() as session:
            row = session.execute(select(Delivery).where(
                Delivery.channel == "wechat-main")).scalar_one()
        crashed = Dispatcher(app)
        assert crashed.claim(row.id) is not None
        receipt = app.channel("wechat-main").send(Payload.from_json(row.payload),
                                                  row.idempotency_key)
        assert receipt.pending  # the job runs; the process dies before polling
        crashed._store_pending(row.id, receipt)
        crashed.shutdown()
        with store.write() as session:
            session.execute(update(Delivery).where(Delivery.id == row.id).values(
                claimed_by="gone-host:1:dead", claimed_at=clock.now() - timedelta(hours=1)))
        restarted = Dispatcher(app)
        try:
            assert restarted.recover() == 1  # the job still runs: left for the next pass
            with store.read() as session:
                assert session.get(Delivery, row.id).state == "sending"  # type: ignore[union-attr]
            assert restarted.recover() == 1  # now it has finished
        finally:
            restarted.shutdown()
        with store.read() as session:
            final = session.get(Delivery, row.id)
        assert final is not None and final.state == "published", final.reason if final else None
        assert final.receipt and not final.receipt["pending"]
        assert len(emulator.account.articles) == 1
        app.close()
    finally:
        emulator.stop()


def test_a_title_with_a_hidden_character_holds_the_release(app: App, project: Path) -> None:
    """A release title that renders with a right-to-left override taken from the data (it
    would read differently from what was approved) holds the release with a problem naming
    the title and the character's position; no channel gets a delivery."""
    text = (project / "schedules.yaml").read_text(encoding="utf-8")
    (project / "schedules.yaml").write_text(text.replace(
        'title: "{{ period.label }}测试发布"',
        "title: \"{{ tables['items'][0].item }}测试发布\""), encoding="utf-8")
    (project / "inbox" / "weekly" / "2026-W49.csv").write_text(
        "项目,数量\n苹果\u202e梨,3\n梨,5\n", encoding="utf-8")
    from publisher import config as config_module

    app.loaded = config_module.load(project / "schedules.yaml")
    outcome = release.create(app, "weekly", DUE, actor="staff:li", origin="manual")
    assert outcome.state == "held"
    (problem,) = outcome.problems
    assert problem.startswith("releases.weekly.title: ")
    assert "character 3 is U+202E" in problem and "第 3 个字符" in problem
    assert _deliveries(app, outcome.release_id) == {}
    assert MemoryStore.published("mem-a") == []
