"""The dispatcher: claim due deliveries, send them with retries, record every attempt and state."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    bindparam,
    exists,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from channels.base import (
    AlreadyPublished,
    AuthExpired,
    Channel,
    ChannelError,
    NotSupported,
    OutcomeUnknown,
    Payload,
    RateLimited,
    Receipt,
    TransientChannelError,
    is_queued,
)
from publisher import audit, reconcile
from publisher.alert import alert
from publisher.app import App
from publisher.circuit import Circuits
from publisher.cluster import silent_nodes
from publisher.groupcommit import GroupCommit
from publisher.logs import bound, get_logger, redact
from publisher.metrics import observe_attempt
from publisher.process import holder_dead, holder_id
from publisher.retry import in_claim, next_attempt_at
from publisher.states import DUE_STATES, OUTSTANDING, STATES
from publisher.store.models import Attempt, Delivery, Release

log = get_logger(__name__)
__all__ = ["DUE_STATES", "OUTSTANDING", "STATES", "Dispatcher", "due_query"]

STALE_CLAIM = timedelta(minutes=30)  # a claim from another host this old is presumed dead
PENDING_BUDGET_SECONDS = 300.0  # how long one claim follows an asynchronous channel's job
POLL_FIRST_WAIT_SECONDS = {False: 1.0, True: 0.0}  # keyed by urgent: look at once
POLL_MIN_STEP_SECONDS = 0.05
POLL_MAX_WAIT_SECONDS = {False: 30.0, True: 2.0}


def classify(exc: BaseException) -> str:
    """The attempt outcome recorded for an exception."""
    if isinstance(exc, AlreadyPublished):
        return "already_published"
    if isinstance(exc, RateLimited):
        return "rate_limited"
    if isinstance(exc, TransientChannelError):
        return "transient"
    if isinstance(exc, AuthExpired):
        return "auth_expired"
    if isinstance(exc, OutcomeUnknown):
        return "unknown"
    if isinstance(exc, ChannelError):
        return "permanent"
    return "error"


def _describe(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, ChannelError):
        described = exc.describe()
    else:
        described = {"error": type(exc).__name__, "message": str(exc),
                     "explanation_zh": "程序内部错误，请联系技术人员",
                     "explanation_en": "internal error; tell the technical staff"}
    result = redact(described)
    assert isinstance(result, dict)
    return result


def _urgent_gate() -> ColumnElement[bool]:
    """A routine delivery may be claimed only while no urgent one is outstanding on its
    channel: an urgent post reaches each channel before any further routine delivery does
    (drills go to the emulators and hold nothing back). Part of the conditional claim, so two
    workers cannot race past it.

    The held channels are one uncorrelated subquery, read once per statement through
    ``ix_deliveries_urgent_gate`` (migration 0015): a correlated ``EXISTS`` walked every
    outstanding row of the channel for each due row, quadratic in the backlog."""
    blocking = aliased(Delivery, name="blocking")
    held = select(blocking.channel).where(blocking.urgent.is_(True), blocking.drill.is_(False),
                                          blocking.state.in_(OUTSTANDING))
    return or_(Delivery.urgent.is_(True), Delivery.channel.not_in(held))


URGENT_FIRST = _urgent_gate()  # built once: aliased() and the subquery cost ~1 ms a call


def _urgent_first() -> ColumnElement[bool]:
    """The urgent-first condition (``URGENT_FIRST``), kept as a function for callers."""
    return URGENT_FIRST


def _release_active() -> ColumnElement[bool]:
    """A delivery may be claimed only while its release is active: one awaiting approval,
    rejected or held never sends. Part of the conditional claim, so an approval, a rejection
    or a hold cannot be raced past."""
    return RELEASE_ACTIVE


RELEASE_ACTIVE: ColumnElement[bool] = exists().where(Release.id == Delivery.release_id,
                                                     Release.state == "active")


_D = cast(Table, Delivery.__table__)
_A = cast(Table, Attempt.__table__)
_R = cast(Table, Release.__table__)
_NOW = bindparam("now", type_=_D.c.updated_at.type)
# The claim, built once (SQLAlchemy then reuses its compiled form): every due delivery of a
# batch moves to ``sending`` in one conditional UPDATE and comes back through RETURNING.
_CLAIM = (
    update(_D)
    .where(_D.c.id.in_(bindparam("ids", expanding=True)), _D.c.state.in_(DUE_STATES),
           or_(_D.c.next_attempt_at.is_(None), _D.c.next_attempt_at <= _NOW),
           URGENT_FIRST, RELEASE_ACTIVE)
    .values(state="sending", claims=_D.c.claims + 1, claimed_by=bindparam("worker"),
            claimed_at=_NOW, updated_at=_NOW)
    .returning(*_D.c)
)
_DEADLINES = select(_R.c.id, _R.c.deadline_at).where(
    _R.c.id.in_(bindparam("release_ids", expanding=True)))
_DEADLINE = select(_R.c.deadline_at).where(_R.c.id == bindparam("release_id"))
# the end of a claim: only while this worker still holds it (the SET columns vary with the
# ending; SQLAlchemy caches one compiled form per set)
_END = update(_D).where(_D.c.id == bindparam("delivery_id"), _D.c.state == "sending",
                        _D.c.claimed_by == bindparam("holder"))
_STATE = select(_D.c.state, _D.c.claimed_by).where(_D.c.id == bindparam("delivery_id"))
_ADD_ATTEMPT = insert(_A)
_COUNT_ATTEMPT = update(_D).where(_D.c.id == bindparam("delivery_id"))


def due_query(now: datetime, limit: int,
              release_id: int | None = None) -> Select[int, str, bool]:
    """The due query: ids, channels and urgency of deliveries ready at ``now``, urgent first,
    then oldest first (bench/due_query.py times it over a large backlog)."""
    query = (
        select(Delivery.id, Delivery.channel, Delivery.urgent)
        .where(Delivery.state.in_(DUE_STATES),
               or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
               URGENT_FIRST, RELEASE_ACTIVE)
        .order_by(Delivery.urgent.desc(), Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
    )
    if release_id is not None:
        query = query.where(Delivery.release_id == release_id)
    return query


@dataclass(frozen=True)
class _Claim:
    """Claim these deliveries (a job of the dispatcher's group commit)."""

    ids: tuple[int, ...]


@dataclass
class _End:
    """End a claim (a job of the dispatcher's group commit); see ``Dispatcher._finish``."""

    delivery: Delivery
    state: str
    receipt: Receipt | None
    error: BaseException | None
    reason: str | None
    next_at: datetime | None
    accepted_at: datetime | None
    unconfirmed_at: datetime | None
    confirmed: bool
    attempt: tuple[dict[str, Any], ...]
    settled_reason: str | None = None  # the reason it ended with (a deadline may change it)


class Dispatcher:
    """Moves deliveries from due to a final state; safe to run beside other dispatchers."""

    def __init__(self, app: App, *, workers: int | None = None) -> None:
        self.app = app
        self.worker = holder_id()
        defaults = app.loaded.config.defaults
        self._workers = workers or defaults.workers
        self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="deliver")
        # the priority lane: urgent deliveries have workers of their own, never queued behind
        # routine work
        self._urgent_workers = defaults.urgent_workers
        self._urgent_pool = ThreadPoolExecutor(max_workers=defaults.urgent_workers,
                                               thread_name_prefix="urgent")
        self._inflight: dict[int, Future[str | None]] = {}
        self._routine: set[int] = set()  # the routine deliveries among those in flight
        self._lock = threading.Lock()
        self.circuits = Circuits()
        self._writes: GroupCommit[_Claim | _End, Any] = GroupCommit(app.store, self._write)

    # ------------------------------------------------------------------ the loop

    def due(self, limit: int = 100, release_id: int | None = None) -> list[int]:
        """Ids of deliveries ready to send, urgent first, oldest first; open circuits skipped."""
        return [delivery_id for delivery_id, _urgent in self._due(limit, release_id)]

    def _due(self, limit: int, release_id: int | None) -> list[tuple[int, bool]]:
        now = self.app.clock.now()
        query = due_query(now, limit, release_id)
        with self.app.store.read() as session:
            rows = session.execute(query).all()
        return [(row.id, row.urgent) for row in rows if self.circuits.allows(row.channel, now)]

    def run_once(self, release_id: int | None = None) -> list[Future[str | None]]:
        """Start every due delivery not already in flight here; returns their futures.

        As many as there are free workers in each lane (urgent deliveries have a lane of their
        own) are claimed together, in one transaction, and start at once; the rest wait in the
        lane's queue and each is claimed when a worker starts it. A claim is when its send
        starts, so a routine delivery cannot be claimed ahead and then slip past an urgent post
        made while it waited."""
        started: list[Future[str | None]] = []
        with self._lock:
            self._inflight = {k: f for k, f in self._inflight.items() if not f.done()}
            self._routine &= set(self._inflight)
            room = {False: self._workers - len(self._routine),
                    True: self._urgent_workers - (len(self._inflight) - len(self._routine))}
            fresh = [(delivery_id, urgent) for delivery_id, urgent in self._due(100, release_id)
                     if delivery_id not in self._inflight]
            now: list[int] = []
            for delivery_id, urgent in fresh:
                if room[urgent] > 0:
                    room[urgent] -= 1
                    now.append(delivery_id)
            claimed = {delivery.id: delivery for delivery in self.claim_many(now)}
            asked = set(now)
            for delivery_id, urgent in fresh:
                pool = self._urgent_pool if urgent else self._pool
                if delivery_id in claimed:
                    future = pool.submit(self._deliver_claimed, claimed[delivery_id])
                elif delivery_id in asked:
                    continue  # another worker or process won it
                else:
                    future = pool.submit(self.deliver, delivery_id)
                self._inflight[delivery_id] = future
                if not urgent:
                    self._routine.add(delivery_id)
                started.append(future)
        return started

    def drain(self, release_id: int | None = None, *, until: datetime | None = None,
              on_progress: Callable[[], None] | None = None) -> None:
        """Dispatch until nothing is due or in flight (waiting out short retry waits)."""
        while True:
            futures = self.run_once(release_id)
            for future in futures:
                future.result()
                if on_progress:
                    on_progress()
            if futures:
                continue
            waiting = self._next_wait(release_id)
            if waiting is None or (until is not None and waiting > until):
                return
            self.app.clock.sleep(max((waiting - self.app.clock.now()).total_seconds(), 0.05))

    def _next_wait(self, release_id: int | None) -> datetime | None:
        query = select(Delivery.next_attempt_at).where(Delivery.state.in_(DUE_STATES),
                                                       _release_active())
        if release_id is not None:
            query = query.where(Delivery.release_id == release_id)
        with self.app.store.read() as session:
            times = [t for t in session.execute(query).scalars() if t is not None]
        return min(times) if times else None

    def shutdown(self, wait: bool = True) -> None:
        self._urgent_pool.shutdown(wait=wait, cancel_futures=True)
        self._pool.shutdown(wait=wait, cancel_futures=True)

    # ------------------------------------------------------------------ one delivery

    def claim(self, delivery_id: int) -> Delivery | None:
        """Conditionally move a due delivery to ``sending`` (durably); None if someone else won."""
        claimed = self.claim_many([delivery_id])
        return claimed[0] if claimed else None

    def claim_many(self, delivery_ids: Sequence[int]) -> list[Delivery]:
        """Conditionally move due deliveries to ``sending`` durably; returns those this worker
        won, in the order asked. One past its release's deadline ends at once (failed, or
        unknown if a request of it may have landed) instead of being claimed.

        The claim is one UPDATE … RETURNING with a ``delivery.sending`` event each, in a
        transaction shared with the claims and endings other workers of this dispatcher make at
        the same moment (``GroupCommit``); it returns once that has committed."""
        if not delivery_ids:
            return []
        claimed: list[Delivery]
        ended: list[tuple[Delivery, str, str]]
        claimed, ended = self._writes.submit(_Claim(tuple(delivery_ids)))
        for delivery, state, reason in ended:
            if state == "unknown":
                self._alert_unknown(delivery, reason)
            else:
                alert(self.app, "delivery.failed", f"投递失败：{delivery.channel}",
                      f"delivery failed: {delivery.channel}", delivery_id=delivery.id,
                      reason="deadline")
        return claimed

    def _write(self, session: Session, jobs: Sequence[_Claim | _End]) -> list[Any]:
        """The claims and endings that arrived together, in one transaction: every claim in
        one UPDATE, each ending in its own conditional UPDATE, their audit events appended
        last (the chain's head is then locked only until the commit that follows)."""
        now = self.app.clock.now()
        events: list[audit.Event] = []
        wanted = list(dict.fromkeys(i for job in jobs if isinstance(job, _Claim)
                                    for i in job.ids))
        won: dict[int, Delivery] = {}
        lapsed: dict[int, tuple[Delivery, str, str]] = {}
        if wanted and not self.app.store.is_sqlite:  # rows another node is claiming or
            # finishing now are skipped, not waited for (SQLite's writers are serialised)
            wanted = list(session.execute(select(_D.c.id).where(_D.c.id.in_(wanted))
                                          .with_for_update(skip_locked=True)).scalars())
        if wanted:
            rows = session.execute(_CLAIM, {"ids": wanted, "now": now,
                                            "worker": self.worker}).all()
            deadlines = dict(session.execute(_DEADLINES, {
                "release_ids": sorted({row.release_id for row in rows})}).all()) if rows else {}
            for row in rows:
                delivery = Delivery(**row._asdict())  # transient: never added to a session
                if now > deadlines[delivery.release_id]:
                    state, reason = ("unknown", reconcile.PAST_DEADLINE) \
                        if delivery.unconfirmed_at is not None \
                        else ("failed", "超过发布截止时间 / retry deadline passed")
                    values, event = self._ending(delivery, state, now, reason=reason)
                    session.execute(_END, {"delivery_id": delivery.id, "holder": self.worker,
                                           **values})
                    events.append(event)
                    lapsed[delivery.id] = (delivery, state, reason)
                    continue
                events.append(audit.Event(now, self.worker, "delivery.sending",
                                          f"delivery:{delivery.id}",
                                          {"channel": delivery.channel, "claim": delivery.claims}))
                won[delivery.id] = delivery
        results: list[Any] = []
        for job in jobs:
            if isinstance(job, _End):
                results.append(self._end_in(session, job, now, events))
                continue
            # each claimed row goes to the first job that asked for it
            mine = [won.pop(i) for i in job.ids if i in won]
            results.append((mine, [lapsed.pop(i) for i in job.ids if i in lapsed]))
        audit.append_many(session, events)
        return results

    def deliver(self, delivery_id: int) -> str | None:
        """Claim and send one delivery; returns the state it ended this claim in."""
        delivery = self.claim(delivery_id)
        if delivery is None:
            return None
        return self._deliver_claimed(delivery)

    def _deliver_claimed(self, delivery: Delivery) -> str | None:
        with bound(delivery_id=delivery.id, channel=delivery.channel,
                   release_id=delivery.release_id):
            return self._send(delivery)

    def _send(self, delivery: Delivery) -> str:
        app = self.app
        defaults = app.loaded.config.defaults
        policy = defaults.urgent_retry if delivery.urgent else defaults.retry
        payload = Payload.from_json(delivery.payload)
        counter = {"n": delivery.attempts}
        accepted: list[datetime | None] = [None]  # when the channel took it, for the timings
        # the attempt that succeeded: recorded by the transaction that ends the claim
        done: list[dict[str, Any]] = []
        target: Receipt | None = None
        if delivery.action != "send":
            waiting = self._target(delivery)
            if isinstance(waiting, str):
                return waiting
            target = waiting
        try:
            channel = app.channel(delivery.channel, drill=delivery.drill)
            if delivery.unconfirmed_at is not None:  # an earlier request may have landed
                ended = self._settle(delivery, channel)
                if ended is not None:
                    return ended
            receipt = in_claim(policy, app.clock.sleep)(
                self._attempt, delivery, channel, payload, counter, accepted, target, done)
        except AlreadyPublished as exc:
            return self._finish(delivery, "published", receipt=exc.receipt,
                                reason="渠道确认此前已发布 / the channel says it was already published")
        except (TransientChannelError, AuthExpired) as exc:
            now = app.clock.now()
            when = next_attempt_at(policy, delivery.claims, now, getattr(exc, "retry_after", None))
            return self._finish(delivery, "retry_wait", error=exc, next_at=when)
        except OutcomeUnknown as exc:  # never resent blind: the next claim asks the channel
            now = app.clock.now()
            return self._finish(delivery, "retry_wait", error=exc, unconfirmed_at=now,
                                next_at=reconcile.first_look(channel, delivery, now),
                                reason=reconcile.LOST_ANSWER)
        except ChannelError as exc:
            return self._finish(delivery, "failed", error=exc)
        except Exception as exc:  # a bug or an unmapped library error: the send may have left
            log.exception("delivery.unexpected_error")
            return self._finish(delivery, "unknown", error=exc,
                                reason="发送时出现意外错误，结果不明 / unexpected error while sending")
        if is_queued(receipt):
            return self._finish(delivery, "queued", receipt=receipt,
                                reason=_queued_reason(receipt), attempt=done)
        # sent again after a lost answer: look once more later for a late copy (recheck)
        again = app.clock.now() if delivery.unconfirmed_at is not None else None
        return self._finish(delivery, "published", receipt=receipt, accepted_at=accepted[0],
                            unconfirmed_at=again, attempt=done)

    def _settle(self, delivery: Delivery, channel: Channel[Any]) -> str | None:
        """An earlier request of this delivery may have landed unseen: ask the channel before
        sending. Returns the state this claim ends in, or None when it did not land and the
        channel's settle time has passed, so the claim sends."""
        verdict = reconcile.look(channel, delivery)
        now = self.app.clock.now()
        if verdict.outcome == "landed" and verdict.receipt is not None and \
                is_queued(verdict.receipt):  # found waiting in the channel's own queue
            return self._finish(delivery, "queued", receipt=verdict.receipt,
                                reason=_queued_reason(verdict.receipt, "核实：已",
                                                      "confirmed: "), confirmed=True)
        if verdict.outcome == "landed":
            return self._finish(delivery, "published", receipt=verdict.receipt,
                                reason=reconcile.LANDED, confirmed=True)
        if verdict.outcome == "unknowable":
            return self._finish(delivery, "unknown", reason=reconcile.UNKNOWABLE.format(
                error=verdict.error))
        if verdict.outcome == "later":
            defaults = self.app.loaded.config.defaults
            policy = defaults.urgent_retry if delivery.urgent else defaults.retry
            when = next_attempt_at(policy, delivery.claims, now,
                                   getattr(verdict.error, "retry_after", None))
            return self._finish(delivery, "retry_wait", error=verdict.error, next_at=when,
                                reason=reconcile.LOOKING)
        settled = reconcile.settled_at(channel, delivery)
        if now < settled:
            return self._finish(delivery, "retry_wait", next_at=settled,
                                reason=reconcile.NOT_YET.format(at=settled.isoformat()))
        log.info("delivery.not_landed", unconfirmed_at=delivery.unconfirmed_at.isoformat()
                 if delivery.unconfirmed_at else None)
        return None

    def _target(self, delivery: Delivery) -> Receipt | str:
        """The earlier delivery's receipt a follow-up or retraction acts on; or, when it cannot
        act yet (or at all), the state this claim ends in."""
        with self.app.store.read() as session:
            target = session.get(Delivery, delivery.target_id) if delivery.target_id else None
        if target is None:
            return self._finish(delivery, "failed", reason="找不到原信息 / the earlier post "
                                "this acts on is missing")
        if target.state in ("published", "queued") and target.receipt:
            return Receipt.from_json(target.receipt)
        if target.state in ("pending", "sending", "retry_wait"):
            wait = 0.5 if delivery.urgent else 5.0
            return self._finish(delivery, "retry_wait",
                                next_at=self.app.clock.now() + timedelta(seconds=wait),
                                reason="等待原信息发布 / waiting for the earlier post to land")
        if delivery.action == "retract" and target.state in ("retracted", "failed"):
            return self._finish(delivery, "published", receipt=Receipt(
                remote_id=str((target.receipt or {}).get("remote_id") or ""),
                details={"retracted": False, "target": target.id}),
                reason="原信息未公开，无需撤回 / the earlier post is not public; nothing to "
                       "withdraw")
        return self._finish(delivery, "failed", reason=(
            f"原信息状态为 {target.state}，无法{'撤回' if delivery.action == 'retract' else '追加'}"
            f"，请人工处理 / the earlier post is {target.state}; a person must decide"))

    def _act(self, delivery: Delivery, channel: Channel[Any], payload: Payload,
             target: Receipt | None) -> Receipt:
        """The one remote operation of this delivery: send, follow up, or retract (a
        withdrawal notice instead where the channel cannot retract)."""
        if delivery.action == "follow_up":
            assert target is not None
            return channel.follow_up(target, payload)
        if delivery.action == "retract":
            assert target is not None
            try:
                channel.retract(target, payload)
            except NotSupported:
                notice = channel.send(payload, delivery.idempotency_key)
                return replace(notice, details={**notice.details, "retracted": False,
                                                "notice": True, "target": delivery.target_id})
            return Receipt(remote_id=target.remote_id, url=target.url,
                           published_at=self.app.clock.now(),
                           details={"retracted": True, "target": delivery.target_id})
        return channel.send(payload, delivery.idempotency_key)

    def _attempt(self, delivery: Delivery, channel: Channel[Any], payload: Payload,
                 counter: dict[str, int], accepted: list[datetime | None],
                 target: Receipt | None = None,
                 done: list[dict[str, Any]] | None = None) -> Receipt:
        """One try. A failed try is recorded at once, in a transaction of its own; a try that
        succeeded is handed (``done``) to the transaction that ends the claim, so the happy
        path commits once after the send."""
        counter["n"] += 1
        number = counter["n"]
        started = self.app.clock.now()
        t0 = time.perf_counter()
        outcome, error, receipt = "published", None, None
        try:
            with bound(attempt=number):
                receipt = self._act(delivery, channel, payload, target)
                accepted[0] = self.app.clock.now()
                if is_queued(receipt):  # finishes on the channel's own cycle: no polling
                    return receipt
                if receipt.pending:  # keep the job id before polling: a crash can then find it
                    self._store_pending(delivery.id, receipt)
                receipt = self._follow(channel, receipt, urgent=delivery.urgent)
            return receipt
        except BaseException as exc:
            outcome, error = classify(exc), _describe(exc)
            if isinstance(exc, AlreadyPublished):
                receipt = exc.receipt
            raise
        finally:
            duration_ms = int((time.perf_counter() - t0) * 1000)
            observe_attempt(delivery, outcome, time.perf_counter() - t0, self.app.clock.now())
            row = {"delivery_id": delivery.id, "number": number, "started_at": started,
                   "duration_ms": duration_ms, "outcome": outcome, "error": error,
                   "receipt": receipt.to_json() if receipt else None}
            if outcome == "published" and done is not None:
                done.append(row)
            else:
                with self.app.store.write() as session:
                    session.execute(_ADD_ATTEMPT, row)
                    session.execute(_COUNT_ATTEMPT, {"delivery_id": delivery.id,
                                                     "attempts": number})
            log.info("attempt", attempt=number, outcome=outcome, duration_ms=duration_ms,
                     error=error["error"] if error else None)

    def _store_pending(self, delivery_id: int, receipt: Receipt) -> None:
        with self.app.store.write() as session:
            session.execute(update(Delivery).where(Delivery.id == delivery_id)
                            .values(receipt=receipt.to_json()))

    def _follow(self, channel: Channel[Any], receipt: Receipt, *, urgent: bool = False
                ) -> Receipt:
        """Poll an asynchronous channel's receipt until final, with growing, bounded waits
        (urgent posts look sooner and more often: their public URL is the figure that counts)."""
        wait, waited = POLL_FIRST_WAIT_SECONDS[urgent], 0.0
        ceiling = POLL_MAX_WAIT_SECONDS[urgent]
        while receipt.pending:
            if waited >= PENDING_BUDGET_SECONDS:
                raise OutcomeUnknown(
                    f"accepted but still processing after {waited:.0f} s",
                    code="still_pending",
                    explanation_zh="渠道已受理但仍在处理，请稍后在渠道后台核实",
                    explanation_en="the channel accepted it but is still processing; check later")
            if wait > 0:
                self.app.clock.sleep(wait)
            waited += wait
            wait = min(max(wait * 2, POLL_MIN_STEP_SECONDS), ceiling)
            receipt = channel.status(receipt)
        return receipt

    def _finish(self, delivery: Delivery, state: str, *, receipt: Receipt | None = None,
                error: BaseException | None = None, reason: str | None = None,
                next_at: datetime | None = None, accepted_at: datetime | None = None,
                unconfirmed_at: datetime | None = None, confirmed: bool = False,
                attempt: Sequence[dict[str, Any]] = ()) -> str:
        """End this claim in ``state`` durably before returning: the attempt that succeeded
        (if any), the delivery's new state (only while this worker still holds the claim) and
        its audit event, in one transaction shared with what other workers write at the same
        moment. ``unconfirmed_at`` marks since when a request may have landed unseen,
        ``confirmed`` (the channel found it) clears that mark."""
        job = _End(delivery, state, receipt, error, reason, next_at, accepted_at,
                   unconfirmed_at, confirmed, tuple(attempt))
        if receipt is not None and receipt.details.get("retracted"):
            with self.app.store.write() as session:  # a retraction also ends its target
                state, settled = self._write(session, [job])[0]
                if settled and state == "published":
                    now = self.app.clock.now()
                    target = session.get(Delivery, delivery.target_id)
                    if target is not None and target.state != "retracted":
                        self._finish_in(session, target, "retracted", now, reason=(
                            f"已由投递 {delivery.id} 撤回 / withdrawn by delivery {delivery.id}"))
        else:
            state, settled = self._writes.submit(job)
        if not settled:  # another worker holds the claim now: its state, nothing else
            return state
        self._track_health(delivery.channel, state, error)
        if state == "failed":
            alert(self.app, "delivery.failed", f"投递失败：{delivery.channel}",
                  f"delivery failed: {delivery.channel}", delivery_id=delivery.id,
                  error=_describe(error) if error else job.settled_reason)
        elif state == "unknown":
            self._alert_unknown(delivery, job.settled_reason)
        elif state == "published":
            reconcile.alert_duplicates(self.app, delivery, receipt)
        return state

    def _end_in(self, session: Session, job: _End, now: datetime,
                events: list[audit.Event]) -> tuple[str, bool]:
        """One ending inside a shared transaction: (the state it ended in, True), or (the
        state someone else left it in, False) when this worker no longer holds the claim."""
        delivery, state, reason = job.delivery, job.state, job.reason
        for row in job.attempt:  # it happened, whoever holds the claim now
            session.execute(_ADD_ATTEMPT, row)
        values: dict[str, Any] = {}
        if job.attempt:
            values["attempts"] = job.attempt[-1]["number"]
        unconfirmed = delivery.unconfirmed_at
        if job.unconfirmed_at is not None or job.confirmed:
            values["unconfirmed_at"] = unconfirmed = job.unconfirmed_at
        if state == "retry_wait" and job.next_at is not None and job.next_at > session.execute(
                _DEADLINE, {"release_id": delivery.release_id}).scalar_one():
            state, reason = ("unknown", reconcile.PAST_DEADLINE) if unconfirmed \
                else ("failed", "重试已到截止时间 / retries ran past the deadline")
        if state == "published":
            values["accepted_at"], values["published_at"] = job.accepted_at or now, now
        ending, event = self._ending(delivery, state, now, receipt=job.receipt,
                                     error=job.error, reason=reason, next_at=job.next_at)
        changed = session.execute(_END, {"delivery_id": delivery.id, "holder": self.worker,
                                         **values, **ending})
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            current = session.execute(_STATE, {"delivery_id": delivery.id}).one()
            log.warning("delivery.claim_lost", state=current.state, holder=current.claimed_by)
            return str(current.state), False
        job.settled_reason = reason
        events.append(event)
        return state, True

    def _ending(self, delivery: Delivery, state: str, now: datetime, *,
                receipt: Receipt | None = None, error: BaseException | None = None,
                reason: str | None = None, next_at: datetime | None = None,
                actor: str | None = None) -> tuple[dict[str, Any], audit.Event]:
        """The columns that end a claim in ``state`` and the audit event recording it."""
        values: dict[str, Any] = {
            "state": state, "updated_at": now,
            "next_attempt_at": next_at if state == "retry_wait" else None,
            # the error and reason of this ending only: earlier ones are in attempts and audit
            "last_error": _describe(error) if error is not None else None,
        }
        if receipt is not None:
            values["receipt"] = receipt.to_json()
        note = reconcile.duplicates_note(receipt)
        reason = f"{reason}；{note}" if reason and note else (reason or note)
        values["reason"] = reason
        details: dict[str, Any] = {"channel": delivery.channel, "claim": delivery.claims}
        if receipt is not None:
            details["receipt"] = {"remote_id": receipt.remote_id, "url": receipt.url}
        if note is not None:  # both copies, for the audit chain: the kept one and the removed
            details["duplicates"] = reconcile.duplicates(receipt)
        if error is not None:
            details["error"] = values["last_error"]
        if reason:
            details["reason"] = reason
        if next_at is not None and state == "retry_wait":
            details["next_attempt_at"] = next_at.isoformat()
        log.info(f"delivery.{state}", delivery_id=delivery.id, channel=delivery.channel,
                 url=receipt.url if receipt else None, reason=reason)
        return values, audit.Event(now, actor or self.worker, f"delivery.{state}",
                                   f"delivery:{delivery.id}", details)

    def _alert_unknown(self, delivery: Delivery, reason: str | None) -> None:
        alert(self.app, "delivery.unknown", f"投递结果不明，需人工确认：{delivery.channel}",
              f"delivery outcome unknown, a person must decide: {delivery.channel}",
              delivery_id=delivery.id, reason=reason)

    def _track_health(self, channel: str, state: str, error: BaseException | None) -> None:
        """Feed the channel's circuit: transient trouble counts, content problems do not."""
        now = self.app.clock.now()
        if state == "published":
            if self.circuits.succeeded(channel):
                log.info("channel.circuit_closed", channel=channel)
        elif isinstance(error, TransientChannelError | AuthExpired | OutcomeUnknown) and \
                self.circuits.failed(channel, now):
            until = self.circuits.open_channels(now).get(channel)
            alert(self.app, "channel.circuit_open", f"渠道 {channel} 持续故障，暂停投递至 {until}",
                  f"channel {channel} keeps failing; deliveries paused until {until}",
                  channel=channel)

    def _finish_in(self, session: Any, row: Delivery, state: str, now: datetime, *,
                   receipt: Receipt | None = None, error: BaseException | None = None,
                   reason: str | None = None, next_at: datetime | None = None,
                   actor: str | None = None) -> None:
        """End a claim on an ORM row in the caller's session (recovery, the gazette, a
        retraction's target): the same columns and audit event as ``_ending``."""
        values, event = self._ending(row, state, now, receipt=receipt, error=error,
                                     reason=reason, next_at=next_at, actor=actor)
        for name, value in values.items():
            setattr(row, name, value)
        audit.append(session, at=event.at, actor=event.actor, action=event.action,
                     subject=event.subject, details=event.details)

    def settle_queued(self, channel_name: str, *, actor: str) -> int:
        """Mark ``queued`` deliveries of a channel published once the channel says they are
        (a gazette after compiling an issue); returns how many were settled."""
        channel = self.app.channel(channel_name)
        with self.app.store.read() as session:
            rows = list(session.execute(select(Delivery).where(
                Delivery.channel == channel_name, Delivery.state == "queued")).scalars())
        settled = 0
        for row in rows:
            receipt = channel.status(Receipt.from_json(row.receipt or {"remote_id": ""}))
            if receipt.pending:
                continue
            now = self.app.clock.now()
            with self.app.store.write() as session:
                current = session.get(Delivery, row.id)
                if current is None or current.state != "queued":
                    continue
                current.accepted_at = current.accepted_at or current.updated_at
                current.published_at = now
                self._finish_in(session, current, "published", now, receipt=receipt,
                                actor=actor)
            settled += 1
        return settled

    # ------------------------------------------------------------------ after a crash

    def recover(self) -> int:
        """Reconcile deliveries left in ``sending`` by a dead process; returns how many.

        The channel is asked whether the delivery landed (``find``): if so it is published;
        if the channel says it did not, it is sent again under the same key; if the channel
        cannot tell, the delivery becomes ``unknown`` for a person to decide.
        """
        now = self.app.clock.now()
        silent = silent_nodes(self.app, now)  # a cluster node that stopped beating
        with self.app.store.read() as session:
            orphans = [d for d in session.execute(
                select(Delivery).where(Delivery.state == "sending")).scalars()
                if d.claimed_by is None or holder_dead(d.claimed_by)
                or (d.claimed_by in silent and d.claimed_by != self.worker)
                or (d.claimed_at is not None and now - d.claimed_at > STALE_CLAIM)]
        for delivery in orphans:
            with bound(delivery_id=delivery.id, channel=delivery.channel):
                self._reconcile(delivery)
        return len(orphans)

    def _reconcile(self, delivery: Delivery) -> None:
        """Settle an orphan ``sending`` row: published if it landed, ``unknown`` if the channel
        cannot tell, else due again once the channel's settle time has passed (a request the
        dead process had in flight may still land; the claim then asks again first)."""
        previous = delivery.claimed_by
        try:
            channel = self.app.channel(delivery.channel, drill=delivery.drill)
        except ChannelError as exc:
            log.warning("delivery.reconcile_later", error=_describe(exc))
            return
        verdict = reconcile.look(channel, delivery)
        if verdict.outcome == "later":
            log.info("delivery.reconcile_later", error=_describe(verdict.error)
                     if verdict.error else "job still running")
            return
        now = self.app.clock.now()
        with self.app.store.write() as session:
            row = session.get(Delivery, delivery.id)
            if row is None or row.state != "sending" or row.claimed_by != previous:
                return
            row.claimed_by = self.worker
            if verdict.outcome == "landed" and verdict.receipt is not None and \
                    is_queued(verdict.receipt):  # waiting in the channel's queue: not out yet
                row.accepted_at, row.unconfirmed_at = now, None
                self._finish_in(session, row, "queued", now, receipt=verdict.receipt,
                                reason=_queued_reason(verdict.receipt, "重启后核实：已",
                                                      "confirmed after restart: "))
            elif verdict.outcome == "landed":
                row.accepted_at = row.published_at = now  # the earliest we know it was there
                row.unconfirmed_at = None
                self._finish_in(session, row, "published", now, receipt=verdict.receipt,
                                reason="重启后核实：已发布 / confirmed after restart: it had landed")
            elif verdict.outcome == "unknowable":
                self._finish_in(session, row, "unknown", now, reason=(
                    "进程在发送中途停止，渠道无法确认是否已发布 / the process stopped mid-send "
                    f"and the channel cannot confirm the outcome ({verdict.error})"))
            else:
                settle = reconcile.settle_seconds(channel, row) > 0
                row.unconfirmed_at = now if settle else None
                self._finish_in(session, row, "retry_wait", now, next_at=reconcile.first_look(
                    channel, row, now), reason=(
                    "重启后核实：未发布，核实后重发 / confirmed after restart: not landed; it is sent "
                    "again after the channel's settle time" if settle else
                    "重启后核实：未发布，将重发 / confirmed after restart: not landed, will resend"))
        if verdict.outcome == "landed":
            reconcile.alert_duplicates(self.app, delivery, verdict.receipt)

    # ------------------------------------------------------------------ a late copy

    def recheck(self) -> int:
        """Look once more at deliveries published by a resend after a lost answer (see
        ``reconcile.recheck``); returns how many were looked at."""
        return reconcile.recheck(self.app, actor=self.worker)


def _queued_reason(receipt: Receipt, zh: str = "", en: str = "") -> str:
    """排入2026年第1期 / queued for 2026 No. 1: where a queued item waits (after ``zh``/``en``)."""
    issue = str(receipt.details.get("queued_for") or "")
    issue_en = str(receipt.details.get("queued_for_en") or issue)
    return f"{zh}排入{issue} / {en}queued for {issue_en}"
