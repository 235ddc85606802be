"""Retry policies as values: tenacity inside one claim, then the sweep's wait until the deadline."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception
from tenacity.wait import wait_random_exponential

from channels.base import AuthExpired, TransientChannelError
from publisher.config import RetryPolicy

T = TypeVar("T")


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, TransientChannelError | AuthExpired)


def _retry_after(state: RetryCallState) -> float | None:
    exc = state.outcome.exception() if state.outcome else None
    value = getattr(exc, "retry_after", None)
    return float(value) if value is not None else None


def in_claim(policy: RetryPolicy, sleep: Callable[[float], None]) -> Retrying:
    """Retries of transient errors within one claim.

    Full-jitter exponential waits capped at ``max_wait_seconds``; a remote's Retry-After is
    honoured as a floor; an expired credential is retried once (the channel refreshes it);
    a Retry-After longer than ``max_wait_seconds`` ends the claim so the sweep waits instead
    of a worker thread.
    """
    jitter = wait_random_exponential(multiplier=policy.initial_wait_seconds,
                                     max=policy.max_wait_seconds)

    def wait(state: RetryCallState) -> float:
        base = float(jitter(state))
        after = _retry_after(state)
        return max(base, after) if after is not None else base

    def stop(state: RetryCallState) -> bool:
        if state.attempt_number >= policy.attempts_per_claim:
            return True
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, AuthExpired) and state.attempt_number >= 2:
            return True
        after = _retry_after(state)
        return after is not None and after > policy.max_wait_seconds

    return Retrying(stop=stop, wait=wait, retry=retry_if_exception(_retryable), sleep=sleep,
                    reraise=True)


def next_attempt_at(policy: RetryPolicy, claims: int, now: datetime,
                    retry_after: float | None = None,
                    rng: Callable[[float, float], float] = random.uniform) -> datetime:
    """When the sweep should try again after ``claims`` claims failed transiently."""
    base = min(policy.sweep_wait_seconds * 2 ** max(claims - 1, 0), policy.max_sweep_wait_seconds)
    delay = rng(base / 2, base)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return now + timedelta(seconds=delay)
