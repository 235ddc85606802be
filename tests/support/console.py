"""Fixtures for console tests: a running console on loopback and signed-in browsers of any roles.

The fixtures are a plugin of tests/conftest.py; a test module imports only the helpers::

    from tests.support.console import Console

    def test_something(console: Console) -> None:
        editor = console.signed_in("editor")
        page = editor.get("/deliveries")
        editor.post_form("/releases/x/retry", {"delivery": "3"})  # CSRF token added

Override ``console_app`` in a module to serve another App (e.g. one with an urgent section).
"""

from __future__ import annotations

import dataclasses
import html
import itertools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
import requests
from argon2 import PasswordHasher
from fastapi import FastAPI

from publisher.app import App
from publisher.web import account as accounts
from publisher.web.api import create_app
from publisher.web.server import WebServer, serve

TIMEOUT_SECONDS = 30
PASSWORD = "correct horse battery staple"  # every test account's, unless given
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')
_NAV = re.compile(r'data-nav="([a-z_-]+)"')


def csrf_from(page: str) -> str:
    """The CSRF token of the first form on a page (AssertionError if it has none)."""
    found = _CSRF.search(page)
    assert found, "the page has no form with a csrf_token"
    return html.unescape(found.group(1))


def nav_keys(page: str) -> list[str]:
    """The navigation entries a page shows (``data-nav`` keys), in order."""
    return _NAV.findall(page)


class Browser(requests.Session):
    """A requests session on the console: paths are relative to it, redirects are not followed
    unless asked (``follow=True``), and forms get the CSRF token of the page they are on."""

    def __init__(self, base: str, account: accounts.Account | None = None) -> None:
        super().__init__()
        self.base = base.rstrip("/")
        self.account = account
        self.headers["User-Agent"] = "console-test/1.0"

    def get(self, url: str | bytes, **kwargs: Any) -> requests.Response:
        """GET ``url``; ``follow=True`` follows redirects."""
        return self.request("GET", url, **kwargs)

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        target = url.decode() if isinstance(url, bytes) else url
        if target.startswith("/"):
            target = self.base + target
        kwargs.setdefault("timeout", TIMEOUT_SECONDS)
        kwargs["allow_redirects"] = bool(kwargs.pop("follow", False))  # get() passes True
        return super().request(method, target, *args, **kwargs)

    def csrf(self, page_path: str = "/account") -> str:
        """The CSRF token from a page (its first form; default the account page, which any
        signed-in account may open)."""
        page = self.get(page_path)
        assert page.status_code == 200, (page_path, page.status_code)
        return csrf_from(page.text)

    def post_form(self, path: str, data: Mapping[str, str] | None = None, *,
                  csrf: str | None = None, from_page: str = "/account") -> requests.Response:
        """POST a form to ``path`` with the session's CSRF token (or ``csrf``, "" for none)."""
        fields = dict(data or {})
        token = self.csrf(from_page) if csrf is None else csrf
        if token:
            fields["csrf_token"] = token
        return self.post(path, data=fields)


@dataclass
class Console:
    """A console server over ``app`` on a free loopback port, and its FastAPI application."""

    app: App
    server: WebServer
    api: FastAPI
    _serial: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def base(self) -> str:
        return self.server.url.rstrip("/")

    def url(self, path: str) -> str:
        return self.base + path

    def browser(self) -> Browser:
        """A browser that has not signed in."""
        return Browser(self.base)

    def account(self, *roles: str, name: str | None = None, password: str = PASSWORD,
                display_name: str | None = None, definitions: tuple[str, ...] | None = None
                ) -> accounts.Account:
        """Create an account with ``roles`` (named after them unless ``name`` is given); a
        supplier is named for ``definitions`` (default: the test project's ``weekly``)."""
        chosen = name or f"{'-'.join(roles) or 'nobody'}-{next(self._serial)}"
        if definitions is None:
            definitions = ("weekly",) if "supplier" in roles else ()
        return accounts.create(self.app, chosen, password, roles, actor="staff:test",
                               display_name=display_name, definitions=definitions)

    def sign_in(self, name: str, password: str = PASSWORD, *,
                browser: Browser | None = None, next_path: str | None = None
                ) -> requests.Response:
        """Fill in and send the sign-in form (as a browser does); the answer, not followed."""
        browser = browser or self.browser()
        path = "/login" + (f"?next={quote(next_path)}" if next_path else "")
        form = browser.get(path)
        assert form.status_code == 200, form.status_code
        fields = {"csrf_token": csrf_from(form.text), "name": name, "password": password}
        if next_path is not None:
            fields["next"] = next_path
        return browser.post("/login", data=fields)

    def signed_in(self, *roles: str, name: str | None = None,
                  display_name: str | None = None, definitions: tuple[str, ...] | None = None
                  ) -> Browser:
        """A browser signed in as a new account holding ``roles``."""
        made = self.account(*roles, name=name, display_name=display_name,
                            definitions=definitions)
        browser = Browser(self.base, made)
        answer = self.sign_in(made.name, browser=browser)
        assert answer.status_code == 303, (answer.status_code, answer.text[:500])
        return browser


def with_web(app: App, **changes: Any) -> App:
    """``app`` with its config's ``web`` section changed (``trusted_proxies=[...]``, …); for an
    API created after the call."""
    config = app.loaded.config
    app.loaded = dataclasses.replace(app.loaded, config=config.model_copy(
        update={"web": config.web.model_copy(update=changes)}))
    return app


@pytest.fixture
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with the least work (1 pass, 1 MiB) instead of 3 passes over 64 MiB, so that
    signing in dozens of test accounts takes milliseconds; the hashes are still argon2id."""
    monkeypatch.setattr(accounts, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024,
                                                           parallelism=1))


@pytest.fixture
def console_app(app: App) -> App:
    """The App the console serves: the test App (memory channels, manual clock); override it."""
    return app


@pytest.fixture
def console(console_app: App, cheap_hashing: None) -> Iterator[Console]:
    """The API and console on 127.0.0.1 (a free port) in a thread; stopped after the test."""
    api = create_app(console_app)
    server = serve(api, "127.0.0.1", 0)
    try:
        yield Console(console_app, server, api)
    finally:
        server.stop()


