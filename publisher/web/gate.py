"""Password hashing in the web server: in worker threads, a few at once, a short queue, more refused."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Request

from publisher.logs import get_logger

log = get_logger("publisher.web")
T = TypeVar("T")
RETRY_AFTER_SECONDS = 2


class Busy(Exception):
    """Every hashing slot is taken and the queue is full: answer 503 with Retry-After."""


class PasswordGate:
    """Runs blocking work that hashes a password (argon2id: 64 MiB, tens of milliseconds of CPU)
    and the database work around it in worker threads, never on the event loop, so /healthz and
    the API keep answering during a flood of sign-ins. At most ``workers`` run at once (their
    own limiter: they take no thread from the pages' pool); ``queue`` more may wait; beyond
    that ``Busy`` is raised at once."""

    def __init__(self, workers: int, queue: int) -> None:
        self.workers, self.queue = workers, queue
        self.admitted = 0  # running or waiting; only touched on the event loop
        self.refused = 0
        self._limiter: anyio.CapacityLimiter | None = None

    async def run(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``work(*args, **kwargs)`` in a worker thread once a slot is free; Busy if too many
        wait already."""
        if self.admitted >= self.workers + self.queue:
            self.refused += 1
            log.warning("web.password_gate_full", workers=self.workers, queue=self.queue)
            raise Busy
        if self._limiter is None:  # made inside the running loop, which it belongs to
            self._limiter = anyio.CapacityLimiter(self.workers)
        self.admitted += 1
        try:
            return await anyio.to_thread.run_sync(partial(work, *args, **kwargs),
                                                  limiter=self._limiter)
        finally:
            self.admitted -= 1


def password_gate(request: Request) -> PasswordGate:
    """The gate of the server answering ``request`` (made by ``api.create_app``)."""
    gate: PasswordGate = request.app.state.password_gate
    return gate
