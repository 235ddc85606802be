"""The per-account hourly limit: the 31st post waits for the window or comes back, urgent first."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from channels.base import RateLimited
from channels.weibo.limiter import HourlyLimiter
from tests.support.weibo import Rig, message, start_rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from start_rig(tmp_path)


def _fill(rig: Rig, count: int) -> None:
    channel = rig.channel()
    for number in range(count):
        channel.send(channel.prepare(message(f"第{number}条", serial=number + 1)), f"k{number}")


def test_thirty_first_post_comes_back_when_the_window_reopens(rig: Rig) -> None:
    """31 posts in one hour: the 31st, 50 minutes from a slot, holds no thread: RateLimited
    with the seconds until the window reopens, nothing sent; it then goes at that time."""
    _fill(rig, 30)
    rig.clock.advance(minutes=10)
    channel = rig.channel()
    with pytest.raises(RateLimited) as caught:
        channel.send(channel.prepare(message("第31条", serial=31)), "k31")
    assert caught.value.code == "window_full" and caught.value.retry_after == 50 * 60.0
    assert rig.sleeper.waits == [] and len(rig.emulator.platform.posts) == 30
    rig.clock.advance(minutes=50)
    channel.send(channel.prepare(message("第31条", serial=31)), "k31")
    assert len(rig.emulator.platform.posts) == 31


def test_a_short_wait_for_the_window_is_slept(rig: Rig) -> None:
    """With a patience of an hour the 31st post sleeps until the window has a slot, none refused."""
    start = rig.clock()
    _fill(rig, 30)
    rig.clock.advance(minutes=10)
    channel = rig.channel(window_wait_seconds=3600)
    receipt = channel.send(channel.prepare(message("第31条", serial=31)), "k31")
    assert rig.sleeper.waits == [50 * 60.0]
    assert receipt.published_at == start + timedelta(hours=1)
    assert len(rig.emulator.platform.posts) == 31


def test_the_emulator_refuses_what_the_limiter_would_hold(tmp_path: Path) -> None:
    """Without the limiter's wait (a cap of 31 here) the emulator's 30-an-hour cap answers 10024."""
    for rig in start_rig(tmp_path):
        _fill(rig, 30)
        channel = rig.channel("weibo-loose", posts_per_hour=31)
        with pytest.raises(RateLimited) as caught:
            channel.send(channel.prepare(message("第31条", serial=31)), "k31")
        assert caught.value.code == "10024" and caught.value.retry_after == 3600.0


def test_urgent_post_jumps_the_queue(rig: Rig) -> None:
    """With a routine post already waiting for the window, a later urgent post is sent first."""
    start = rig.clock()
    channel = rig.channel()
    for number in range(30):  # one post a minute: the window reopens one slot a minute
        channel.send(channel.prepare(message(f"第{number}条", serial=number + 1)), f"k{number}")
        rig.clock.advance(minutes=1)
    asleep = threading.Semaphore(0)
    gate, urgent_done = threading.Event(), threading.Event()
    routine_sleeps: list[float] = []
    failures: list[BaseException] = []

    def sleep(seconds: float) -> None:
        if threading.current_thread().name == "routine":
            routine_sleeps.append(seconds)
            if len(routine_sleeps) > 1:  # its second wait: the slot after the urgent one
                urgent_done.wait(timeout=10)
                rig.clock.advance(seconds=seconds)
                return
        asleep.release()
        gate.wait(timeout=10)

    def post(text: str, urgent: bool) -> None:
        sender = rig.channel(window_wait_seconds=3600)
        sender.context.sleep = sleep
        try:
            sender.send(sender.prepare(message(text, serial=90 if urgent else 91,
                                               urgent=urgent)), text)
        except BaseException as exc:
            failures.append(exc)
        finally:
            if urgent:
                urgent_done.set()

    routine = threading.Thread(target=post, args=("例行发布", False), name="routine")
    routine.start()
    assert asleep.acquire(timeout=10)  # the routine post is waiting for the window
    urgent = threading.Thread(target=post, args=("紧急发布", True), name="urgent")
    urgent.start()
    assert asleep.acquire(timeout=10)  # so is the urgent one, now at the head of the queue
    rig.clock.now = start + timedelta(hours=1)  # the first post leaves the window: one slot
    gate.set()
    routine.join(timeout=10)
    urgent.join(timeout=10)
    assert failures == []
    late = rig.emulator.platform.posts[30:]
    assert [post["text"].split(" ")[0] for post in late] == ["紧急发布", "例行发布"]
    assert [post["at"] for post in late] == [start + timedelta(hours=1),
                                            start + timedelta(hours=1, minutes=1)]
    assert routine_sleeps == [30 * 60.0, 60.0]


def test_limiter_orders_waiters_urgent_first_then_by_arrival() -> None:
    """One slot an hour: queued routine A, routine B and urgent C leave as C, A, B."""
    now = [datetime(2026, 12, 2, 10, 0)]
    limiter = HourlyLimiter(1)
    limiter.acquire(urgent=False, clock=lambda: now[0], sleep=lambda s: None)
    order: list[str] = []
    ready = threading.Semaphore(0)
    gate = threading.Event()

    def sleep(seconds: float) -> None:
        ready.release()
        gate.wait(timeout=10)
        now[0] = max(now[0], datetime(2026, 12, 2, 11, 0))

    def take(name: str, urgent: bool) -> None:
        limiter.acquire(urgent=urgent, clock=lambda: now[0], sleep=sleep)
        order.append(name)
        now[0] += timedelta(hours=1)  # the next slot is an hour later

    threads = []
    for name, urgent in (("A", False), ("B", False), ("C", True)):
        thread = threading.Thread(target=take, args=(name, urgent))
        thread.start()
        threads.append(thread)
        while limiter.waiting() < len(threads):
            pass
    assert ready.acquire(timeout=10)
    gate.set()
    for thread in threads:
        thread.join(timeout=10)
    assert order == ["C", "A", "B"]
    assert limiter.waiting() == 0
