"""Each attempt's retry decision (again at once, the next try's time, final), read from the audit events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from publisher.dispatch import STATES
from publisher.store.models import Attempt, AuditEvent

END_ACTIONS = {f"delivery.{state}" for state in STATES if state not in ("pending", "sending")}


@dataclass(frozen=True)
class Decision:
    """What the dispatcher decided after one attempt: a message key and its parameters."""

    key: str
    at: datetime | None = None


def decisions(attempts: list[Attempt], events: list[AuditEvent]) -> dict[int, Decision]:
    """Each attempt's retry decision, read from the audit events of its delivery.

    Every claim opens with ``delivery.sending`` and ends with the state it left the delivery
    in; attempts inside one claim but its last were retried at once, the last one gets the
    claim's ending (the next try's time, or final).
    """
    claims: list[tuple[AuditEvent, AuditEvent | None]] = []
    for event in events:
        if event.action == "delivery.sending":
            claims.append((event, None))
        elif event.action in END_ACTIONS and claims and claims[-1][1] is None:
            claims[-1] = (claims[-1][0], event)
    by_claim: dict[int, list[Attempt]] = {}
    index, taken = 0, 0
    for attempt in sorted(attempts, key=lambda a: a.number) if claims else ():
        while index + 1 < len(claims):
            ending = claims[index][1]
            if ending is None or ending.at > attempt.started_at \
                    or claims[index + 1][0].at > attempt.started_at:
                break  # the attempt falls inside this claim
            if taken == 0 and _tried(ending):
                break  # this claim's one try is this attempt
            index, taken = index + 1, 0
        by_claim.setdefault(index, []).append(attempt)
        taken += 1
    found: dict[int, Decision] = {}
    for number, members in by_claim.items():
        ending = claims[number][1]
        for attempt in members[:-1]:
            found[attempt.number] = Decision("decision.again")
        found[members[-1].number] = _ending(ending)
    return found


def _tried(ending: AuditEvent) -> bool:
    """Whether a claim ended after trying the channel (a claim may end without a try: a
    follow-up whose earlier post has not landed yet)."""
    return bool({"error", "receipt"} & set(ending.details or {}))


def _ending(event: AuditEvent | None) -> Decision:
    if event is None:
        return Decision("decision.running")
    state = event.action.removeprefix("delivery.")
    if state == "retry_wait":
        text = (event.details or {}).get("next_attempt_at")
        try:
            at = datetime.fromisoformat(str(text)) if text else None
        except ValueError:
            at = None
        return Decision("decision.retry_at", at) if at else Decision("decision.none")
    key = f"decision.{state}"
    return Decision(key if state in ("published", "queued", "failed", "unknown", "retracted")
                    else "decision.none")
