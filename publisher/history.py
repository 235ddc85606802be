"""One delivery's whole story, told alike by ``publisher log --delivery`` and the console's delivery page.

Its state now (the log's row), each try with what the dispatcher decided after it, each claim
that ended without a try (a retry refused by the deadline, a follow-up whose earlier post is
gone) with its reason, and every audit event with what it says. Read from the delivery's
attempt rows and audit events only, so both views show the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher import logview
from publisher.dispatch import STATES
from publisher.store.models import Attempt, AuditEvent, Delivery

END_ACTIONS = {f"delivery.{state}" for state in STATES if state not in ("pending", "sending")}
# a claim's ending that holds a delivery back without any try (deadline, missing earlier post)
UNTRIED_ENDINGS = ("delivery.failed", "delivery.unknown", "delivery.retry_wait")
NO_TRY = "no_try"  # the outcome of a claim that ended without trying the channel
SENDING = "sending"  # the outcome of a claim still running that has not tried yet
# the outcome of a claim whose process died (another worker ended it): it may have sent, but
# no try was recorded; its ending says what reconciling found
INTERRUPTED = "interrupted"

# decision -> (zh-CN, English); ``{at}`` is the next try's local time
DECISION_WORDS: dict[str, tuple[str, str]] = {
    "again": ("同一轮内立即重试", "tried again at once, same claim"),
    "retry_at": ("{at} 再试", "next try at {at}"),
    "published": ("完成：已发布", "final: published"),
    "queued": ("排队待刊", "queued for the issue"),
    "failed": ("最终：失败，不再重试", "final: failed, not retried"),
    "unknown": ("最终：结果不明，需人工判定", "final: unknown, a person decides"),
    "retracted": ("已撤回", "retracted"),
    "running": ("进行中", "in progress"),
    "none": ("-", "-"),
}
# an attempt's outcome (dispatch.classify), and a claim without one -> (zh-CN, English)
OUTCOME_WORDS: dict[str, tuple[str, str]] = {
    "published": ("成功", "published"),
    "already_published": ("此前已发布", "already published"),
    "transient": ("临时故障", "transient error"),
    "rate_limited": ("频率受限", "rate limited"),
    "auth_expired": ("凭据过期", "credentials expired"),
    "unknown": ("结果不明", "outcome unknown"),
    "permanent": ("永久错误", "permanent error"),
    "error": ("程序错误", "internal error"),
    NO_TRY: ("本轮未尝试发送", "no try in this claim"),
    SENDING: ("发送中", "sending"),
    INTERRUPTED: ("进程中断，未记录尝试", "process stopped, no try recorded"),
}
AT_FORMAT = "%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Decision:
    """What the dispatcher decided after a try: ``name`` (a DECISION_WORDS key), and for
    ``retry_at`` the next try's time."""

    name: str
    at: datetime | None = None

    @property
    def key(self) -> str:
        """The console's message key (``decision.<name>``)."""
        return f"decision.{self.name}"

    def words(self, zone: tzinfo, lang: str = "zh") -> str:
        zh, en = DECISION_WORDS[self.name]
        text = en if lang == "en" else zh
        return text.format(at=self.at.astimezone(zone).strftime(AT_FORMAT)) if self.at else text


@dataclass(frozen=True)
class Try:
    """One try of the delivery, or a claim that ended without one (``number`` None)."""

    number: int | None
    started_at: datetime
    duration_ms: int | None
    outcome: str  # the attempt's classification; NO_TRY or SENDING without a try
    code: str | None = None
    message: str | None = None  # the channel's own words
    explanation_zh: str | None = None
    explanation_en: str | None = None
    url: str | None = None
    decision: Decision | None = None

    def why(self) -> str:
        """The try's result in one line: its URL, or its code and explanation."""
        if self.url:
            return self.url
        code = f"[{self.code}] " if self.code else ""
        words = " / ".join(w for w in (self.explanation_zh, self.explanation_en) if w)
        return f"{code}{words or self.message or ''}".strip()


@dataclass(frozen=True)
class Event:
    """One audit event of the delivery."""

    seq: int
    at: datetime
    actor: str
    action: str
    details: dict[str, Any] = field(default_factory=dict)

    def note(self, zone: tzinfo) -> str:
        """What the event says, in one line: reason, error, URL, next try, hand decision."""
        details = self.details
        parts: list[str] = []
        if details.get("claim") and self.action == "delivery.sending":
            parts.append(f"第 {details['claim']} 轮 / claim {details['claim']}")
        if details.get("reason"):
            parts.append(str(details["reason"]))
        error = details.get("error")
        if isinstance(error, dict) and error:
            code = f"[{error.get('code')}] " if error.get("code") else ""
            words = " / ".join(str(error[k]) for k in ("explanation_zh", "explanation_en")
                               if error.get(k))
            parts.append(f"{code}{words or error.get('message') or ''}".strip())
        receipt = details.get("receipt")
        if isinstance(receipt, dict) and receipt.get("url"):
            parts.append(str(receipt["url"]))
        elif details.get("url"):
            parts.append(str(details["url"]))
        when = _moment(details.get("next_attempt_at"))
        if when is not None:
            parts.append(f"下次 {when.astimezone(zone):{AT_FORMAT}} / next try")
        if details.get("previous_state"):
            parts.append(f"原状态 / was {details['previous_state']}")
        if details.get("decision"):
            parts.append(f"判定 / decision: {details['decision']}")
        return "；".join(parts)


@dataclass(frozen=True)
class History:
    """A delivery as the log shows it, its row, its tries and its audit events."""

    shown: logview.LogRow
    row: Delivery
    tries: list[Try]
    events: list[Event]


def load(session: Session, delivery_id: int) -> History | None:
    """The history of one delivery, or None when there is no such delivery."""
    row = session.get(Delivery, delivery_id)
    shown = logview.row(session, delivery_id) if row is not None else None
    if row is None or shown is None:
        return None
    attempts = list(session.execute(select(Attempt).where(Attempt.delivery_id == delivery_id)
                                    .order_by(Attempt.number)).scalars())
    audit_rows = list(session.execute(select(AuditEvent).where(
        AuditEvent.subject == f"delivery:{delivery_id}").order_by(AuditEvent.seq)).scalars())
    events = [Event(e.seq, e.at, e.actor, e.action, dict(e.details or {})) for e in audit_rows]
    return History(shown=shown, row=row, tries=tries(attempts, events), events=events)


# --------------------------------------------------------------------------- claims and tries


@dataclass
class _Round:
    """One claim (from its ``delivery.sending`` to the state it ended in), or a hold-back
    without a claim event (``start`` None: the deadline refused the claim)."""

    start: Event | None
    ending: Event | None
    attempts: list[Attempt] = field(default_factory=list)


def _rounds(attempts: Sequence[Attempt], events: Sequence[Event]) -> list[_Round]:
    """The delivery's claims in order, each with the attempts made inside it.

    Attempts carry no claim number: each is matched to the claim whose time span holds it.
    When times tie (a manual clock, a retry at the very same instant), a claim that ended after
    trying (its ending has an error or a receipt) takes at least one attempt, and one that ended
    without trying takes none.
    """
    rounds: list[_Round] = []
    for event in events:
        if event.action == "delivery.sending":
            rounds.append(_Round(event, None))
        elif event.action in END_ACTIONS:
            if rounds and rounds[-1].start is not None and rounds[-1].ending is None:
                rounds[-1].ending = event
            elif event.action in UNTRIED_ENDINGS and "reason" in event.details:
                rounds.append(_Round(None, event))
    claims = [r for r in rounds if r.start is not None]
    index = 0
    for attempt in sorted(attempts, key=lambda a: a.number) if claims else ():
        while index + 1 < len(claims):
            current, following = claims[index], claims[index + 1]
            assert following.start is not None
            if current.ending is None or current.ending.at > attempt.started_at \
                    or following.start.at > attempt.started_at:
                break  # the attempt falls inside this claim
            if not current.attempts and _tried(current.ending):
                break  # this claim's one try is this attempt
            index += 1
        claims[index].attempts.append(attempt)
    return rounds


def _tried(ending: Event) -> bool:
    """Whether a claim ended after trying the channel (a claim may end without a try: a
    follow-up whose earlier post has not landed yet)."""
    return bool({"error", "receipt"} & set(ending.details))


def decisions(attempts: Sequence[Attempt], events: Sequence[Event | AuditEvent]
              ) -> dict[int, Decision]:
    """Each attempt's retry decision (by attempt number), read from the delivery's audit events:
    attempts inside one claim but its last were retried at once; the last gets the claim's
    ending (the next try's time, or final)."""
    found: dict[int, Decision] = {}
    for one in _rounds(attempts, [_event(e) for e in events]):
        for attempt in one.attempts[:-1]:
            found[attempt.number] = Decision("again")
        if one.attempts:
            found[one.attempts[-1].number] = _decision(one.ending)
    return found


def tries(attempts: Sequence[Attempt], events: Sequence[Event]) -> list[Try]:
    """Every try in order, each with its decision, and a row for each claim that ended (or is
    running) without a try, with the reason its ending gave."""
    found: list[Try] = []
    claimed = False
    for one in _rounds(attempts, events):
        claimed = claimed or one.start is not None
        if one.attempts:
            for attempt in one.attempts[:-1]:
                found.append(_try(attempt, Decision("again")))
            found.append(_try(one.attempts[-1], _decision(one.ending)))
            continue
        moment = one.start or one.ending
        assert moment is not None
        if one.ending is None:
            found.append(Try(None, moment.at, None, SENDING, decision=Decision("running")))
            continue
        details = one.ending.details
        error = details.get("error") if isinstance(details.get("error"), dict) else {}
        reason = str(details.get("reason") or "")
        zh, _, en = reason.partition(" / ")
        died = one.start is not None and one.start.actor != one.ending.actor
        found.append(Try(
            None, moment.at, None, INTERRUPTED if died else NO_TRY,
            code=(error or {}).get("code"),
            message=(error or {}).get("remote_message") or (error or {}).get("message"),
            explanation_zh=(error or {}).get("explanation_zh") or zh or None,
            explanation_en=(error or {}).get("explanation_en") or en or None,
            decision=_decision(one.ending)))
    if not claimed:  # attempts recorded without claim events (older rows): no decisions known
        return [_try(a, None) for a in sorted(attempts, key=lambda a: a.number)]
    return found


def _try(attempt: Attempt, decision: Decision | None) -> Try:
    error = attempt.error or {}
    return Try(attempt.number, attempt.started_at, attempt.duration_ms, attempt.outcome,
               code=error.get("code"), message=error.get("remote_message") or error.get("message"),
               explanation_zh=error.get("explanation_zh"), explanation_en=error.get("explanation_en"),
               url=(attempt.receipt or {}).get("url"),
               decision=decision)


def _decision(ending: Event | None) -> Decision:
    if ending is None:
        return Decision("running")
    state = ending.action.removeprefix("delivery.")
    if state == "retry_wait":
        at = _moment(ending.details.get("next_attempt_at"))
        return Decision("retry_at", at) if at else Decision("none")
    return Decision(state if state in ("published", "queued", "failed", "unknown", "retracted")
                    else "none")


def _event(event: Event | AuditEvent) -> Event:
    if isinstance(event, Event):
        return event
    return Event(event.seq, event.at, event.actor, event.action, dict(event.details or {}))


def _moment(text: object) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None
