"""What the web server believes and shows: forwarded headers only from configured proxies, the Host
header checked, /docs without any other origin; over real HTTP against uvicorn on loopback."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
import requests
from playwright.sync_api import Page
from pydantic import ValidationError
from sqlalchemy import select

from bench.signin_flood import FromAddress
from publisher import config as config_module
from publisher.app import App
from publisher.config import ConfigError
from publisher.config.models import WebConfig
from publisher.store.models import AuditEvent, SignInFailure
from publisher.web import account as accounts
from publisher.web import signin
from publisher.web.api import create_app
from publisher.web.server import WebServer, serve
from tests.support.console import PASSWORD, Browser, Console, csrf_from, with_web

TIMEOUT_SECONDS = 30
VICTIM = "127.0.0.2"  # another loopback address: a second machine, as the server sees it


def _browser(base: str, source: str | None = None) -> Browser:
    browser = Browser(base)
    if source is not None:
        browser.mount("http://", FromAddress(source))
    return browser


def _sign_in(browser: Browser, name: str, password: str, **headers: str) -> requests.Response:
    """The sign-in form filled in and sent by ``browser``, with extra ``headers`` on the post."""
    form = browser.get("/login")
    assert form.status_code == 200, form.status_code
    return browser.post("/login", data={"csrf_token": csrf_from(form.text), "name": name,
                                        "password": password}, headers=headers)


def _recorded_clients(app: App) -> set[str]:
    """Every client address in the failure table and in the audit chain's details."""
    with app.store.read() as session:
        failures = set(session.execute(select(SignInFailure.client)).scalars())
        audited = {event.details.get("client") for event in
                   session.execute(select(AuditEvent)).scalars()} - {None}
    return failures | {str(client) for client in audited}


@pytest.fixture
def served(app: App, cheap_hashing: None) -> Iterator[tuple[App, WebServer]]:
    """The API and console over the test App with account li.wei, served as ``publisher run``
    serves them by default (no trusted proxy)."""
    accounts.create(app, "li.wei", PASSWORD, ["viewer"], actor="staff:test")
    server = serve(create_app(app), "127.0.0.1", 0, trusted_proxies=app.loaded.config.web
                   .trusted_proxies)
    try:
        yield app, server
    finally:
        server.stop()


# --------------------------------------------------------------------------- X-Forwarded-For


def test_forged_forwarded_for_neither_locks_out_another_address_nor_dodges_the_lock(
        served: tuple[App, WebServer]) -> None:
    """Without a configured proxy, a local caller's X-Forwarded-For is ignored: twenty failures
    naming 127.0.0.2 lock the caller's own address, not 127.0.0.2 (whose staff still sign in);
    a fresh forged address then does not get the caller past its lock; and the audit chain
    and failure table record only the real peer."""
    app, server = served
    attacker = _browser(server.url)
    for n in range(signin.CLIENT_FAILURES):
        answer = _sign_in(attacker, f"guess-{n}", "not the password", **{"X-Forwarded-For": VICTIM})
        assert answer.status_code == 401, (n, answer.status_code)
    victim = _browser(server.url, VICTIM)
    assert _sign_in(victim, "li.wei", PASSWORD).status_code == 303
    dodging = _sign_in(attacker, "li.wei", PASSWORD, **{"X-Forwarded-For": "198.51.100.7"})
    assert dodging.status_code == 429
    assert _recorded_clients(app) == {"127.0.0.1", VICTIM}  # the victim's own sign-in only
    with app.store.read() as session:
        failed = [e.details["client"] for e in session.execute(
            select(AuditEvent).where(AuditEvent.action == "account.sign_in_failed")).scalars()]
    assert failed == ["127.0.0.1"] * signin.CLIENT_FAILURES


def test_forwarded_for_is_believed_from_a_configured_proxy_only(app: App,
                                                                  cheap_hashing: None) -> None:
    """With web.trusted_proxies naming 127.0.0.1, the client it forwards for is the one recorded
    and locked out (another forwarded client still signs in), while a caller at 127.0.0.2, not
    a configured proxy, is recorded as itself whatever it forwards."""
    with_web(app, trusted_proxies=["127.0.0.1"])
    accounts.create(app, "li.wei", PASSWORD, ["viewer"], actor="staff:test")
    server = serve(create_app(app), "127.0.0.1", 0,
                   trusted_proxies=app.loaded.config.web.trusted_proxies)
    try:
        proxy = _browser(server.url)
        for n in range(signin.CLIENT_FAILURES):
            answer = _sign_in(proxy, f"guess-{n}", "not the password",
                              **{"X-Forwarded-For": "203.0.113.7"})
            assert answer.status_code == 401
        assert _sign_in(proxy, "li.wei", PASSWORD,
                        **{"X-Forwarded-For": "203.0.113.7"}).status_code == 429
        assert _sign_in(proxy, "li.wei", PASSWORD,
                        **{"X-Forwarded-For": "203.0.113.9"}).status_code == 303
        stranger = _browser(server.url, VICTIM)
        assert _sign_in(stranger, "nobody-here", "not the password",
                        **{"X-Forwarded-For": "203.0.113.8"}).status_code == 401
    finally:
        server.stop()
    assert _recorded_clients(app) == {"203.0.113.7", "203.0.113.9", VICTIM}


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    """web.trusted_proxies takes addresses and networks; a name is refused, naming it."""
    assert WebConfig(trusted_proxies=["10.0.0.5", "10.1.0.0/16", "::1"]).trusted_proxies
    with pytest.raises(ValidationError, match=r"proxy\.example\.gov\.cn"):
        WebConfig(trusted_proxies=["proxy.example.gov.cn"])


def test_bad_web_addresses_in_the_config_name_file_line_and_key(tmp_path: Path) -> None:
    """A name in web.trusted_proxies and a URL in web.allowed_hosts are refused when the config
    loads, each with its file, line and key, Chinese first."""
    path = tmp_path / "schedules.yaml"
    path.write_text("channels: {memory-main: {kind: memory}}\nreleases: {}\nweb:\n"
                    "  trusted_proxies: [proxy.example]\n  allowed_hosts: ['http://x/']\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        config_module.load(path)
    text = str(refused.value)
    assert "schedules.yaml:4: web.trusted_proxies" in text and "不是 IP 地址或网段" in text
    assert "schedules.yaml:5: web.allowed_hosts" in text and "不是主机名" in text


# --------------------------------------------------------------------------- Host


def _healthz(server: WebServer, host: str) -> int:
    return requests.get(server.url + "healthz", headers={"Host": host},
                        timeout=TIMEOUT_SECONDS).status_code


def test_host_header_must_name_the_server(served: tuple[App, WebServer]) -> None:
    """By default the server answers to its loopback names only: another Host (a rebinding
    DNS name, a forged one) gets 400 on the API, the console and /healthz alike."""
    _app, server = served
    port = server.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}"):
        assert _healthz(server, host) == 200, host
    for host in ("attacker.example", f"attacker.example:{port}", "127.0.0.1.attacker.example"):
        assert _healthz(server, host) == 400, host
        for path in ("login", "api/incidents/x"):
            answer = requests.get(server.url + path, headers={"Host": host},
                                  timeout=TIMEOUT_SECONDS)
            assert answer.status_code == 400, (host, path)


def test_allowed_hosts_config_names_the_hosts(app: App) -> None:
    """web.allowed_hosts replaces the loopback names: its names and sub-domain patterns answer,
    anything else (loopback included) gets 400."""
    with_web(app, allowed_hosts=["console.example.gov.cn", "*.intra.example.gov.cn"])
    server = serve(create_app(app), "127.0.0.1", 0)
    try:
        assert _healthz(server, "console.example.gov.cn") == 200
        assert _healthz(server, "a.intra.example.gov.cn:8443") == 200
        assert _healthz(server, "example.gov.cn") == 400
        assert _healthz(server, f"127.0.0.1:{server.port}") == 400
    finally:
        server.stop()
    with pytest.raises(ValidationError, match="allowed_hosts"):
        WebConfig(allowed_hosts=["https://console.example.gov.cn/"])


# --------------------------------------------------------------------------- /docs

_REFERENCE = re.compile(r"""(?:src|href|action)\s*=\s*["']([^"']+)["']|url\(\s*['"]?([^'")]+)""",
                        re.IGNORECASE)
_OPENING_URL = re.compile(r"""(?:url|[a-z]+_url)\s*:\s*['"]([^'"]+)['"]""", re.IGNORECASE)


def _references(page: str) -> list[str]:
    """Every address a page loads or links: src, href, action, CSS url(), and the ``url:``
    settings of an inline script (Swagger UI's schema and validator addresses)."""
    found = [a or b for a, b in _REFERENCE.findall(page)]
    return found + _OPENING_URL.findall(page)


def _external(base: str, page: str) -> list[str]:
    origin = urlparse(base)
    return [ref for ref in _references(page)
            if urlparse(urljoin(base, ref)).netloc not in ("", origin.netloc)
            or urlparse(urljoin(base, ref)).scheme not in ("http", "https", "")]


def test_no_page_refers_to_another_origin(console: Console) -> None:
    """/docs (Swagger UI), the sign-in page and every console page an admin sees load and link
    nothing from another origin; /docs's script and style come from the bot itself."""
    admin = console.signed_in("admin")
    pages = {"/docs": requests.get(console.url("/docs"), timeout=TIMEOUT_SECONDS),
             "/login": requests.get(console.url("/login"), timeout=TIMEOUT_SECONDS)}
    for path in ("/", "/deliveries", "/urgent", "/incidents", "/audit", "/reports", "/account"):
        pages[path] = admin.get(path)
    for path, answer in pages.items():
        assert answer.status_code == 200, (path, answer.status_code)
        assert _external(console.base + "/", answer.text) == [], path
    docs = pages["/docs"].text
    assert "/docs/assets/swagger-ui-bundle.js" in docs and "validatorUrl" in docs
    script = requests.get(console.url("/docs/assets/swagger-ui-bundle.js"), timeout=TIMEOUT_SECONDS)
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text[:2000]
    style = requests.get(console.url("/docs/assets/swagger-ui.css"), timeout=TIMEOUT_SECONDS)
    assert style.status_code == 200 and "swagger-ui" in style.text
    assert requests.get(console.url("/redoc"), timeout=TIMEOUT_SECONDS).status_code == 404


def test_docs_render_in_a_browser_without_leaving_the_server(console: Console, page: Page) -> None:
    """Chromium opens /docs, Swagger UI shows the urgent-post operation, and every request the
    page made went to the bot's own origin (no CDN, no online validator)."""
    origins: list[str] = []
    page.on("request", lambda request: origins.append(request.url))
    page.goto(console.url("/docs"))
    page.wait_for_selector('[data-path="/api/urgent"]')
    own = urlparse(console.base).netloc
    fetched = [url for url in origins if not url.startswith(("data:", "blob:"))]
    assert any(url.endswith("/openapi.json") for url in fetched)
    assert [url for url in fetched if urlparse(url).netloc != own] == []


def test_docs_can_be_turned_off(app: App) -> None:
    """web.api_docs: false serves neither /docs nor its assets; /openapi.json stays."""
    with_web(app, api_docs=False)
    server = serve(create_app(app), "127.0.0.1", 0)
    try:
        for path in ("docs", "docs/assets/swagger-ui-bundle.js"):
            assert requests.get(server.url + path, timeout=TIMEOUT_SECONDS).status_code == 404
        assert requests.get(server.url + "openapi.json", timeout=TIMEOUT_SECONDS).status_code == 200
    finally:
        server.stop()
