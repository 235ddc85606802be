"""Reading a delivery's rows back in tests: the delivery itself and its attempts' outcomes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from publisher.app import App
from publisher.store.models import Attempt, Delivery


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
    from publisher import release

    outcome = release.create(app, definition_id, due, actor="staff:li", origin="manual")
    assert outcome.state == "active", outcome.problems
    with app.store.read() as session:
        return session.execute(select(Delivery.id).where(
            Delivery.release_id == outcome.release_id)).scalar_one()
