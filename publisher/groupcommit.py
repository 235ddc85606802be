"""Group commit: small write transactions of concurrent threads run as one, each caller
returning only once that shared transaction has committed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar, cast

from sqlalchemy.orm import Session

from publisher.logs import get_logger
from publisher.store import Store

J = TypeVar("J")
R = TypeVar("R")

log = get_logger(__name__)


class _Slot(Generic[J, R]):
    __slots__ = ("done", "error", "job", "value")

    def __init__(self, job: J) -> None:
        self.job = job
        self.done = False
        self.value: R | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[J, R]):
    """Runs ``run(session, jobs)`` for the jobs that arrived together, in one write
    transaction, and hands each caller its own result after the commit.

    One caller at a time leads: it takes every job waiting, runs them and commits; jobs that
    arrive meanwhile wait and go together in the next transaction. So while one commit (and
    its fsync) is under way the next batch gathers, and the write lock, the audit chain's head
    and the fsync are paid once per batch rather than once per job. Nothing is faster for a
    lone caller: it leads a batch of one at once.

    If a batch fails, each of its jobs is run again alone, so one job's error never undoes
    another's write. ``run`` must return one result per job, in order, and leave side effects
    outside the database to the callers (a job may be run twice)."""

    def __init__(self, store: Store, run: Callable[[Session, Sequence[J]], Sequence[R]]) -> None:
        self._store = store
        self._run = run
        self._cond = threading.Condition()
        self._waiting: list[_Slot[J, R]] = []
        self._leading = False

    def submit(self, job: J) -> R:
        """Run ``job`` in the next shared transaction; its result once committed."""
        slot: _Slot[J, R] = _Slot(job)
        with self._cond:
            self._waiting.append(slot)
            while True:
                if slot.done:
                    return self._result(slot)
                if not self._leading:
                    self._leading = True
                    batch, self._waiting = self._waiting, []
                    break
                self._cond.wait()
        try:
            self._commit(batch)
        finally:
            with self._cond:
                for each in batch:
                    each.done = True
                self._leading = False
                self._cond.notify_all()
        return self._result(slot)

    def _commit(self, batch: list[_Slot[J, R]]) -> None:
        try:
            with self._store.write() as session:
                values = self._run(session, [slot.job for slot in batch])
            for slot, value in zip(batch, values, strict=True):
                slot.value = value
            return
        except BaseException as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
            log.warning("group_commit.batch_failed", jobs=len(batch), error=type(exc).__name__)
        for slot in batch:  # isolate the failure: each job in a transaction of its own
            try:
                with self._store.write() as session:
                    slot.value = self._run(session, [slot.job])[0]
            except BaseException as exc:
                slot.error = exc

    @staticmethod
    def _result(slot: _Slot[J, R]) -> R:
        if slot.error is not None:
            raise slot.error
        return cast(R, slot.value)
