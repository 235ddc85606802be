"""Group commit: concurrent writers share one transaction and each gets its own result."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from publisher.groupcommit import GroupCommit
from publisher.store import Store


class Recorder:
    """A ``run`` that inserts each job's value, remembers the batch sizes, can hold the first
    batch open until told, and fails on the value -1."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.hold = threading.Event()
        self.entered = threading.Event()

    def __call__(self, session: Session, jobs: Sequence[int]) -> list[int]:
        self.batches.append(list(jobs))
        if len(self.batches) == 1:
            self.entered.set()
            assert self.hold.wait(10)
        for value in jobs:
            if value == -1:
                raise ValueError("this job is broken")
            session.execute(text("INSERT INTO jobs (v) VALUES (:v)"), {"v": value})
        return [value * 10 for value in jobs]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    made = Store(f"sqlite:///{tmp_path / 'db'}", migrate=False)
    with made.engine.begin() as connection:
        connection.execute(text("CREATE TABLE jobs (v INTEGER)"))
    return made


def _values(store: Store) -> list[int]:
    with store.engine.connect() as connection:
        return sorted(connection.execute(text("SELECT v FROM jobs")).scalars())


def test_jobs_arriving_during_a_commit_share_the_next_transaction(store: Store) -> None:
    """While one batch is being written, the jobs that arrive wait and are then written
    together in one transaction; each caller gets its own result once it is committed."""
    recorder = Recorder()
    commit = GroupCommit(store, recorder)
    with ThreadPoolExecutor(max_workers=6) as pool:
        first = pool.submit(commit.submit, 1)
        assert recorder.entered.wait(10)
        rest = [pool.submit(commit.submit, value) for value in range(2, 7)]
        while len(commit._waiting) < 5:  # all five queued behind the first
            threading.Event().wait(0.01)
        recorder.hold.set()
        results = [first.result(10)] + [f.result(10) for f in rest]
    store.dispose()
    assert results == [10, 20, 30, 40, 50, 60]
    assert recorder.batches[0] == [1] and sorted(recorder.batches[1]) == [2, 3, 4, 5, 6]
    assert len(recorder.batches) == 2


def test_a_failing_job_does_not_undo_the_others_in_its_batch(store: Store) -> None:
    """A batch whose run fails is written again job by job: the good jobs commit and return
    their results, and only the broken job's caller gets the error."""
    recorder = Recorder()
    commit = GroupCommit(store, recorder)
    with ThreadPoolExecutor(max_workers=4) as pool:
        first = pool.submit(commit.submit, 1)
        assert recorder.entered.wait(10)
        rest = {value: pool.submit(commit.submit, value) for value in (2, -1, 3)}
        while len(commit._waiting) < 3:
            threading.Event().wait(0.01)
        recorder.hold.set()
        assert first.result(10) == 10
        assert rest[2].result(10) == 20 and rest[3].result(10) == 30
        with pytest.raises(ValueError, match="broken"):
            rest[-1].result(10)
    assert _values(store) == [1, 2, 3]
    store.dispose()
