"""Sign-ins under load, over real HTTP on loopback: hashing off the event loop and bounded, and a
lock-out that parallel requests cannot outrun."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import pytest
import requests
from argon2 import PasswordHasher
from sqlalchemy import func, select

from publisher.app import App
from publisher.store.models import AuditEvent, SignInFailure
from publisher.web import account as accounts
from publisher.web import signin
from publisher.web.api import create_app
from publisher.web.server import WebServer, serve
from tests.support.console import PASSWORD, Browser, csrf_from, with_web

TIMEOUT_SECONDS = 60


class CountingHasher(PasswordHasher):
    """argon2id that counts its verifications (from any thread)."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.verified = 0
        self._lock = threading.Lock()

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        with self._lock:
            self.verified += 1
        return super().verify(hash, password)


def _audited(app: App, action: str) -> int:
    with app.store.read() as session:
        return int(session.execute(select(func.count()).select_from(AuditEvent)
                                   .where(AuditEvent.action == action)).scalar_one())


def _at_once(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Run every call in its own thread, all released together; their answers in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], requests.Response]) -> requests.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def _login_post(base: str, name: str) -> Callable[[], requests.Response]:
    """A browser that has opened the sign-in form; the returned call sends it for ``name``."""
    browser = Browser(base)
    token = csrf_from(browser.get("/login").text)
    return lambda: browser.post("/login", data={"csrf_token": token, "name": name,
                                                "password": "not the password at all"})


# --------------------------------------------------------------------------- item 8


def test_parallel_wrong_current_passwords_check_no_more_than_the_limit(
        app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """Forty parallel password changes with a wrong current password, from one signed-in
    session: at most NAME_FAILURES of them get their password checked (argon2 verifications
    counted) and recorded; every other one is answered 429, and the lock is audited once."""
    # many at once, every other request waiting for a slot: none is refused
    with_web(app, password_checks=16, password_queue=64)
    # the account's hash takes tens of milliseconds to verify, as a real one does
    hasher = CountingHasher(time_cost=2, memory_cost=16 * 1024, parallelism=1)
    monkeypatch.setattr(accounts, "HASHER", hasher)
    accounts.create(app, "li.wei", PASSWORD, ["viewer"], actor="staff:test")
    server = serve(create_app(app), "127.0.0.1", 0)
    try:
        owner = Browser(server.url)
        form = owner.get("/login")
        assert owner.post("/login", data={"csrf_token": csrf_from(form.text), "name": "li.wei",
                                          "password": PASSWORD}).status_code == 303
        hasher.verified = 0
        token = owner.csrf()
        change = {"csrf_token": token, "current_password": "a wrong current password",
                  "new_password": "whatever comes next 1",
                  "repeat_password": "whatever comes next 1"}
        answers = _at_once([lambda: owner.post("/account", data=change) for _ in range(40)])
    finally:
        server.stop()
    codes = sorted(answer.status_code for answer in answers)
    assert hasher.verified <= signin.NAME_FAILURES, hasher.verified
    assert codes.count(422) == hasher.verified and codes.count(429) == 40 - hasher.verified
    assert _audited(app, "account.sign_in_failed") == hasher.verified
    assert _audited(app, "account.sign_in_locked") == 1
    with app.store.read() as session:
        assert session.execute(select(func.count()).select_from(SignInFailure)).scalar_one() \
            == signin.NAME_FAILURES


def test_parallel_wrong_sign_ins_for_one_name_check_no_more_than_the_limit(
        app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """Forty parallel sign-ins of one name with wrong passwords, each from its own browser: at
    most NAME_FAILURES passwords are checked and recorded, the rest answered 429."""
    with_web(app, password_checks=16, password_queue=64)
    hasher = CountingHasher(time_cost=2, memory_cost=16 * 1024, parallelism=1)
    monkeypatch.setattr(accounts, "HASHER", hasher)
    accounts.create(app, "li.wei", PASSWORD, ["viewer"], actor="staff:test")
    server = serve(create_app(app), "127.0.0.1", 0)
    try:
        answers = _at_once([_login_post(server.url.rstrip("/"), "li.wei") for _ in range(40)])
    finally:
        server.stop()
    codes = [answer.status_code for answer in answers]
    assert hasher.verified <= signin.NAME_FAILURES, hasher.verified
    assert codes.count(401) == hasher.verified and codes.count(429) == 40 - hasher.verified
    assert _audited(app, "account.sign_in_failed") == hasher.verified


# --------------------------------------------------------------------------- item 7


def test_healthz_answers_promptly_during_a_flood_of_sign_ins(app: App) -> None:
    """A bounded flood of sign-ins with fresh names, each costing a real argon2id verification
    (64 MiB, 3 passes) and database writes, does not stall the server: /healthz, asked over
    and over during the flood, answers while the flood is still running and each time within a
    small part of the flood's duration (a ratio, no absolute time)."""
    web = with_web(app, password_checks=2, password_queue=6).loaded.config.web
    flood = web.password_checks + web.password_queue  # all admitted: none refused with 503
    server = serve(create_app(app), "127.0.0.1", 0)
    try:
        posts = [_login_post(server.url.rstrip("/"), f"fresh-name-{n}") for n in range(flood)]
        done = threading.Event()
        latencies: list[tuple[float, float]] = []  # (answered at, seconds taken)

        def poll_health() -> requests.Response:
            with requests.Session() as health:
                while not done.is_set():
                    asked = time.monotonic()
                    answer = health.get(server.url + "healthz", timeout=TIMEOUT_SECONDS)
                    assert answer.status_code == 200
                    latencies.append((time.monotonic(), time.monotonic() - asked))
            return answer

        def flood_all() -> requests.Response:
            try:
                answers = _at_once(posts)
            finally:
                done.set()
            assert [a.status_code for a in answers] == [401] * flood
            return answers[-1]

        started = time.monotonic()
        _at_once([flood_all, poll_health])
        ended = time.monotonic()
    finally:
        server.stop()
    duration = ended - started
    during = [taken for at, taken in latencies if at < ended]
    assert len(during) >= 3, (latencies, duration)
    assert max(taken for _at, taken in latencies) < duration / 4, (latencies, duration)
    assert _audited(app, "account.sign_in_failed") == flood


def test_sign_ins_beyond_the_queue_are_answered_503_at_once(app: App,
                                                             cheap_hashing: None) -> None:
    """With one hashing slot and one place in the queue, of eight simultaneous sign-ins the
    excess is answered 503 with Retry-After, records nothing, and the rest are checked (401)."""
    with_web(app, password_checks=1, password_queue=1)
    server: WebServer = serve(create_app(app), "127.0.0.1", 0)
    try:
        posts = [_login_post(server.url.rstrip("/"), f"fresh-name-{n}") for n in range(8)]
        answers = _at_once(posts)
    finally:
        server.stop()
    codes = [answer.status_code for answer in answers]
    assert set(codes) <= {401, 503} and 503 in codes and 401 in codes, codes
    busy = [answer for answer in answers if answer.status_code == 503]
    assert all(answer.headers["Retry-After"] == "2" and "服务器正忙" in answer.text
               for answer in busy)
    assert _audited(app, "account.sign_in_failed") == codes.count(401)
