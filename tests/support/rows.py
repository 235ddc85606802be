"""Rows in tests: a delivery made, driven claim after claim to its end, read back; every cell."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, text

from publisher import release
from publisher.app import App
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.store.models import Attempt, Base, Delivery


def delivery(app: App, delivery_id: int) -> Delivery:
    """The delivery row as stored now."""
    with app.store.read() as session:
        row = session.get(Delivery, delivery_id)
    assert row is not None
    return row


def outcomes(app: App, delivery_id: int) -> list[str]:
    """Its attempts' outcomes, in order."""
    with app.store.read() as session:
        return [a.outcome for a in session.execute(select(Attempt).where(
            Attempt.delivery_id == delivery_id).order_by(Attempt.number)).scalars()]


def release_delivery(app: App, definition_id: str, due: datetime) -> int:
    """Create the definition's release due at ``due`` (active) and return its one delivery."""

    outcome = release.create(app, definition_id, due, actor="staff:li", origin="manual")
    assert outcome.state == "active", outcome.problems
    with app.store.read() as session:
        return session.execute(select(Delivery.id).where(
            Delivery.release_id == outcome.release_id)).scalar_one()


def wait_until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    """Wait for an emulator's own thread to finish what it was doing (real time)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the emulator never got there"
        time.sleep(0.02)


def run_delivery(app: App, dispatcher: Dispatcher, delivery_id: int, clock: ManualClock,
                 between: Callable[[], None] = lambda: None, claims: int = 10) -> str:
    """Claim the delivery whenever it is due (moving the clock there) until it settles;
    ``between`` runs after each claim that ended waiting."""
    state = "pending"
    for _ in range(claims):
        state = dispatcher.deliver(delivery_id) or delivery(app, delivery_id).state
        if state != "retry_wait":
            return state
        between()
        due = delivery(app, delivery_id).next_attempt_at
        assert due is not None
        clock.set(max(due, clock.now()))
    return state


def every_cell(app: App) -> str:
    """Every value of every row of every table, as text."""
    cells: list[str] = []
    with app.store.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(text(f'SELECT * FROM "{table.name}"')):
                cells += [str(value) for value in row]
    return "\n".join(cells)
