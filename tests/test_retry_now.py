"""A delivery waiting in retry_wait can be retried now by hand (console and CLI), under the same
rules and audit as any retry, instead of waiting out the sweep's wait."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from channels.memory.adapter import MemoryStore
from channels.webhook.sandbox import Sink
from publisher import config as config_module
from publisher import intervention, release
from publisher.app import App
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.store import Store
from publisher.store.models import AuditEvent, Delivery
from publisher.web.api import create_app
from publisher.web.server import serve
from tests.support.cli import XLSX, db_rows, log_rows, publisher, with_webhook
from tests.support.console import Console


@pytest.fixture
def dispatcher(app: App) -> Iterator[Dispatcher]:
    """The dispatcher of the "daemon" the console runs in."""
    running = Dispatcher(app)
    yield running
    running.shutdown()


@pytest.fixture
def console(app: App, dispatcher: Dispatcher, cheap_hashing: None) -> Iterator[Console]:
    """The console over the test App, inside the daemon: it knows the daemon's dispatcher."""
    api = create_app(app, dispatcher=dispatcher)
    server = serve(api, "127.0.0.1", 0)
    try:
        yield Console(app, server, api)
    finally:
        server.stop()


def _waiting(app: App, dispatcher: Dispatcher) -> Delivery:
    """A weekly release whose mem-a delivery failed three transient tries and now waits."""
    MemoryStore.script("mem-a", ["transient", "transient", "transient"])
    outcome = release.create(app, "weekly", app.clock.now(), actor="staff:wang",
                             origin="manual")
    dispatcher.drain(outcome.release_id, until=app.clock.now())
    with app.store.read() as session:
        row = session.execute(select(Delivery).where(
            Delivery.release_id == outcome.release_id, Delivery.channel == "mem-a")).scalar_one()
    assert row.state == "retry_wait" and row.next_attempt_at is not None
    assert row.next_attempt_at > app.clock.now()
    return row


def test_console_retries_a_waiting_delivery_now(console: Console, dispatcher: Dispatcher,
                                                clock: ManualClock) -> None:
    """A delivery in retry_wait offers 立即重试 with its next try's time; pressing it makes it
    due now (audited as delivery.retry with the try it waited for), lets it through the
    channel's open circuit, and the dispatcher publishes it without waiting."""
    app = console.app
    waiting = _waiting(app, dispatcher)
    for _ in range(dispatcher.circuits.threshold):  # the channel kept failing: circuit open
        dispatcher.circuits.failed("mem-a", clock.now())
    assert not dispatcher.circuits.allows("mem-a", clock.now())
    editor = console.signed_in("editor", name="li.wei")
    page = editor.get(f"/deliveries/{waiting.id}").text
    assert 'data-form="retry"' in page and "立即重试" in page and "下次：" in page
    answer = editor.post_form(f"/deliveries/{waiting.id}/retry",
                              from_page=f"/deliveries/{waiting.id}")
    assert answer.status_code == 303
    with app.store.read() as session:
        row = session.get(Delivery, waiting.id)
        (event,) = session.execute(select(AuditEvent).where(
            AuditEvent.action == "delivery.retry")).scalars()
    assert row is not None and row.state == "retry_wait" and row.next_attempt_at == clock.now()
    assert (event.actor, event.details["previous_state"]) == ("console:li.wei", "retry_wait")
    assert waiting.next_attempt_at is not None
    assert event.details["was_due_at"] == waiting.next_attempt_at.isoformat()
    assert dispatcher.circuits.allows("mem-a", clock.now())
    assert dispatcher.due() == [waiting.id]
    dispatcher.drain(until=clock.now())  # nothing waits: it goes now
    with app.store.read() as session:
        done = session.get(Delivery, waiting.id)
    assert done is not None and done.state == "published"


def test_retry_now_after_a_lost_answer_still_looks_before_resending(
        app: App, dispatcher: Dispatcher) -> None:
    """A delivery waiting because its answer was lost (it may have landed) is retried now
    without forgetting that: the channel is asked first, finds it, and nothing is sent twice."""
    MemoryStore.script("mem-a", ["outcome_unknown"])  # it landed; the answer was lost
    outcome = release.create(app, "weekly", app.clock.now(), actor="staff:wang", origin="manual")
    with app.store.read() as session:
        delivery_id = session.execute(select(Delivery.id).where(
            Delivery.release_id == outcome.release_id, Delivery.channel == "mem-a")).scalar_one()
    assert dispatcher.deliver(delivery_id) == "retry_wait"
    intervention.retry(app, delivery_id, actor="staff:wang")
    with app.store.read() as session:
        row = session.get(Delivery, delivery_id)
    assert row is not None and row.unconfirmed_at is not None
    assert dispatcher.deliver(delivery_id) == "published"
    assert len(MemoryStore.published("mem-a")) == 1


def test_retry_still_refuses_deliveries_on_their_way_or_done(app: App,
                                                              dispatcher: Dispatcher) -> None:
    """Retry by hand takes failed, unknown and waiting deliveries; a pending or published one
    is refused naming the states it takes."""
    outcome = release.create(app, "weekly", app.clock.now(), actor="staff:wang", origin="manual")
    with app.store.read() as session:
        pending = session.execute(select(Delivery.id).where(
            Delivery.release_id == outcome.release_id)).scalars().first()
    assert pending is not None
    with pytest.raises(intervention.InterventionRefused,
                       match="only failed, unknown or retry_wait can be retried"):
        intervention.retry(app, pending, actor="staff:wang")
    dispatcher.drain(outcome.release_id, until=app.clock.now() + timedelta(minutes=1))
    with pytest.raises(intervention.InterventionRefused, match="is published"):
        intervention.retry(app, pending, actor="staff:wang")


@pytest.mark.slow
def test_cli_retries_a_waiting_webhook_now(shipped: Path, env: dict[str, str], sink: Sink,
                                           tmp_path: Path) -> None:
    """A failing webhook's attempts name its URL in the delivery log; `publisher retry` sends
    the delivery waiting in retry_wait at once once the webhook works again, under the same
    key, audited with the staff actor."""
    with_webhook(shipped, sink.url)
    created = publisher(shipped, env, "trigger", "food-safety-sampling", "--data", XLSX,
                        "--no-send")
    assert created.returncode == 0, created.stderr
    sink.state.faults.extend([503, 503, 503])  # every try of one claim
    config = config_module.load(shipped)
    app = App(loaded=config, store=Store(env["PUBLISHER_DATABASE_URL"]), environ=env)
    daemon = Dispatcher(app)
    try:
        daemon.drain(until=app.clock.now())
    finally:
        daemon.shutdown()
        app.close()
    (row,) = log_rows(shipped, env, "--channel", "hook-main")
    assert row["state"] == "retry_wait", row
    hook_id = row["delivery"]
    (key,) = db_rows(tmp_path, f"SELECT idempotency_key FROM deliveries WHERE id = {hook_id}")[0]

    history = json.loads(publisher(shipped, env, "log", "--delivery", str(hook_id),
                                   "--format", "json").stdout)
    assert f"POST {sink.url}/deliveries" in history["attempts"][0]["explanation_zh"]

    retried = publisher(shipped, env, "retry", str(hook_id))
    assert retried.returncode == 0, retried.stderr
    (row,) = log_rows(shipped, env, "--channel", "hook-main")
    assert row["state"] == "published" and key in sink.state.accepted
    assert sink.state.count(key) == 4  # three refused tries and the retry, one key
    events = [json.loads(line) for line in
              publisher(shipped, env, "audit", "export").stdout.splitlines()]
    (event,) = [e for e in events if e["action"] == "delivery.retry"]
    assert event["actor"] == "staff:wang" and event["details"]["previous_state"] == "retry_wait"
