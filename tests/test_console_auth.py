"""The staff console's access control: accounts, sessions, CSRF, roles, over real HTTP on loopback."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from alembic import command
from alembic.config import Config as AlembicConfig
from argon2 import PasswordHasher
from fastapi import Depends
from sqlalchemy import create_engine, func, inspect, select, update

from publisher.app import App
from publisher.clock import ManualClock
from publisher.store import MIGRATIONS
from publisher.store.models import Account as AccountRow
from publisher.store.models import AuditEvent, ConsoleSession, SignInFailure
from publisher.web import account as accounts
from publisher.web import role, signin
from publisher.web import session as sessions
from publisher.web.api import create_app
from publisher.web.console import is_console_path
from publisher.web.console.deps import page_router, require_page
from publisher.web.server import serve
from tests.support.api import api_routes
from tests.support.console import PASSWORD, Browser, Console, csrf_from, nav_keys
from tests.support.rows import every_cell

PUBLISHER = str(Path(sys.executable).parent / "publisher")
NEW_PASSWORD = "a new and longer passphrase 42"


# --------------------------------------------------------------------------- helpers


def _audit(app: App, action: str | None = None) -> list[AuditEvent]:
    with app.store.read() as session:
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        return list(session.execute(query).scalars())


def _session_count(app: App, account_id: int) -> int:
    with app.store.read() as session:
        return int(session.execute(select(func.count()).select_from(ConsoleSession)
                                   .where(ConsoleSession.account_id == account_id)).scalar_one())


def _set_cookies(answer: requests.Response) -> dict[str, str]:
    """Each Set-Cookie header of an answer by cookie name (the whole header, attributes too)."""
    headers = answer.raw.headers.getlist("Set-Cookie")
    return {header.split("=", 1)[0]: header for header in headers}


# --------------------------------------------------------------------------- signing in


def test_sign_in_sets_http_only_same_site_cookie_and_shows_the_user(console: Console) -> None:
    """The right password answers 303 to the asked page with an HttpOnly, SameSite=Lax session
    cookie (not Secure on loopback), and the page then shows the account's display name."""
    made = console.account("editor", name="li.wei", display_name="李伟")
    browser = console.browser()
    answer = console.sign_in("li.wei", browser=browser, next_path="/account")
    assert answer.status_code == 303 and answer.headers["Location"] == "/account"
    cookie = _set_cookies(answer)["pub_session"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie and "Max-Age" not in cookie
    page = browser.get("/account")
    assert page.status_code == 200 and "李伟" in page.text and made.name in page.text
    assert "编辑" in page.text  # the role, in Chinese by default
    events = _audit(console.app, "account.signed_in")
    assert [(e.actor, e.subject) for e in events] == [("console:li.wei", "account:li.wei")]


@pytest.mark.usefixtures("cheap_hashing")
def test_secure_cookies_config_marks_cookies_secure(app: App) -> None:
    """With web.secure_cookies the sign-in form's cookie and the session cookie carry Secure."""
    config = app.loaded.config
    app.loaded = dataclasses.replace(app.loaded, config=config.model_copy(
        update={"web": config.web.model_copy(update={"secure_cookies": True})}))
    accounts.create(app, "li.wei", PASSWORD, ["viewer"], actor="staff:test")
    server = serve(create_app(app), "127.0.0.1", 0)
    try:
        base = server.url.rstrip("/")
        form = requests.get(base + "/login", timeout=30)
        assert "Secure" in _set_cookies(form)["pub_login"]
        login_token = form.cookies["pub_login"]
        answer = requests.post(base + "/login", timeout=30, allow_redirects=False,
                               headers={"Cookie": f"pub_login={login_token}"},
                               data={"csrf_token": csrf_from(form.text), "name": "li.wei",
                                     "password": PASSWORD})
        assert answer.status_code == 303
        assert "Secure" in _set_cookies(answer)["pub_session"]
    finally:
        server.stop()


def test_wrong_password_is_refused_and_the_sixth_attempt_is_locked_out(
        console: Console, clock: ManualClock) -> None:
    """Five wrong passwords answer 401 and set no cookie; the sixth attempt is refused with 429
    even with the right password; the failures and the lock are audited without the passwords;
    after 15 minutes the right password signs in again."""
    console.account("viewer", name="li.wei")
    for n in range(5):
        answer = console.sign_in("li.wei", f"wrong password number {n}")
        assert answer.status_code == 401 and "pub_session" not in _set_cookies(answer)
        assert "账号或密码不正确" in answer.text
    locked = console.sign_in("li.wei", PASSWORD)
    assert locked.status_code == 429 and "登录失败次数过多" in locked.text
    assert "pub_session" not in _set_cookies(locked)
    failed = _audit(console.app, "account.sign_in_failed")
    assert [e.details["reason"] for e in failed] == ["wrong_password"] * 5
    assert len(_audit(console.app, "account.sign_in_locked")) == 1
    audit_text = json.dumps([e.details for e in _audit(console.app)], ensure_ascii=False)
    assert "wrong password" not in audit_text and PASSWORD not in audit_text
    clock.advance(minutes=15, seconds=1)
    assert console.sign_in("li.wei", PASSWORD).status_code == 303
    with console.app.store.read() as session:  # a success clears the name's failures
        assert session.execute(select(func.count()).select_from(SignInFailure)).scalar_one() == 0


def test_unknown_name_is_refused_like_a_wrong_password_and_not_recorded(console: Console) -> None:
    """An unknown name gets the same 401 page as a wrong password; the typed name (perhaps a
    mistyped password) is stored nowhere, only a hash of it for the lock-out."""
    typed = "MyOwnPassword-in-the-name-field"
    answer = console.sign_in(typed, "whatever it is")
    assert answer.status_code == 401 and "账号或密码不正确" in answer.text
    event = _audit(console.app, "account.sign_in_failed")[-1]
    assert event.subject == signin.UNKNOWN_SUBJECT and event.details["reason"] == "unknown_account"
    assert typed not in every_cell(console.app) and typed.lower() not in every_cell(console.app)


@pytest.mark.usefixtures("cheap_hashing")
def test_many_failures_from_one_client_lock_that_client(app: App) -> None:
    """Twenty failed sign-ins from one address, whatever the names, lock that address (even for a
    right password) while another address still signs in."""
    accounts.create(app, "li.wei", PASSWORD, ["viewer"], actor="staff:test")
    for n in range(signin.CLIENT_FAILURES):
        with pytest.raises(accounts.SignInRefused):
            signin.sign_in(app, f"guess-{n}", "not a password", client="10.0.0.9")
    with pytest.raises(signin.SignInLocked):
        signin.sign_in(app, "li.wei", PASSWORD, client="10.0.0.9")
    assert signin.sign_in(app, "li.wei", PASSWORD, client="10.0.0.10").account.name == "li.wei"


def test_disabled_account_cannot_sign_in_and_its_sessions_end(console: Console) -> None:
    """Disabling an account ends its open sessions at once (the next page goes to /login) and its
    right password no longer signs in."""
    browser = console.signed_in("editor", name="li.wei")
    assert browser.get("/").status_code == 200
    assert browser.account is not None and _session_count(console.app, browser.account.id) == 1
    accounts.disable(console.app, "li.wei", actor="staff:admin")
    assert _session_count(console.app, browser.account.id) == 0
    after = browser.get("/")
    assert after.status_code == 303 and after.headers["Location"].startswith("/login")
    again = console.sign_in("li.wei", PASSWORD)
    assert again.status_code == 401 and "pub_session" not in _set_cookies(again)
    assert _audit(console.app, "account.sign_in_failed")[-1].details["reason"] == "disabled"
    disabled = _audit(console.app, "account.disabled")[-1]
    assert disabled.actor == "staff:admin" and disabled.details["sessions_ended"] == 1


def test_sign_out_ends_the_session_for_good(console: Console) -> None:
    """Signing out (a CSRF-checked form) answers 303 to /login, clears the cookie, audits it, and
    the old cookie value no longer opens any page."""
    browser = console.signed_in("viewer", name="li.wei")
    token = browser.cookies["pub_session"]
    answer = browser.post_form("/logout")
    assert answer.status_code == 303 and answer.headers["Location"] == "/login?signed_out=1"
    assert "Max-Age=0" in _set_cookies(answer)["pub_session"]
    replay = console.browser()
    replay.cookies.set("pub_session", token)
    assert replay.get("/").status_code == 303
    assert [e.subject for e in _audit(console.app, "account.signed_out")] == ["account:li.wei"]
    assert "您已退出" in browser.get("/login?signed_out=1").text


def test_session_expires_after_idle_hours_and_slides_with_use(console: Console,
                                                             clock: ManualClock) -> None:
    """A session used every 11 hours lives on; one left idle past web.session_hours (12) sends
    the browser to /login and its row is gone."""
    browser = console.signed_in("viewer")
    for _ in range(3):
        clock.advance(hours=11)
        assert browser.get("/").status_code == 200
    clock.advance(hours=12, seconds=1)
    answer = browser.get("/account")
    assert answer.status_code == 303 and answer.headers["Location"] == "/login?next=/account"
    assert browser.account is not None and _session_count(console.app, browser.account.id) == 0


def test_after_sign_in_only_same_site_paths_are_followed(console: Console) -> None:
    """A ``next`` that leaves the site (//host, a scheme, a backslash) is replaced by /; a signed-in
    browser asking for /login goes straight to its ``next``."""
    console.account("viewer", name="li.wei")
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "/logout"):
        answer = console.sign_in("li.wei", next_path=target)
        assert answer.status_code == 303 and answer.headers["Location"] == "/", target
    browser = console.signed_in("viewer")
    assert browser.get("/login?next=/account").headers["Location"] == "/account"


# --------------------------------------------------------------------------- nothing without sign-in


def test_every_console_page_redirects_to_login_without_a_session(console: Console) -> None:
    """Every console route (GET and POST, including those added later) answers an unsigned
    browser with 303 to /login, keeping a GET's path as ``next``; none runs its handler."""
    routes = [(m, p) for m, p in api_routes(console.api)
              if is_console_path(console.api, p) and p != "/login" and m != "HEAD"]
    assert ("GET", "/") in routes and ("GET", "/account") in routes and ("POST", "/logout") in routes
    browser = console.browser()
    before = len(_audit(console.app))
    for method, path in routes:
        answer = browser.request(method, path, data={"csrf_token": "x"})
        assert answer.status_code == 303, (method, path, answer.status_code)
        location = answer.headers["Location"]
        assert location.startswith("/login"), (method, path, location)
        if method == "GET" and path != "/":
            assert location == f"/login?next={path}"
    assert len(_audit(console.app)) == before


def test_every_api_route_answers_401_without_a_token_even_with_a_session(console: Console) -> None:
    """Every /api route answers 401 without a bearer token, also to a signed-in admin's browser:
    the API never takes the session cookie."""
    routes = [(m, p) for m, p in api_routes(console.api) if p.startswith("/api/") and m != "HEAD"]
    assert ("POST", "/api/urgent") in routes
    admin = console.signed_in("admin")
    for browser in (console.browser(), admin):
        for method, path in routes:
            answer = browser.request(method, path, json={})
            assert answer.status_code == 401, (method, path, answer.status_code)
            assert answer.json()["error"] == "unauthorized"


# --------------------------------------------------------------------------- CSRF


def test_every_console_form_post_without_its_csrf_token_is_refused(console: Console) -> None:
    """Every console POST route (sign-out, password, and those added later) answers 403 to a
    signed-in admin whose form lacks the CSRF token or carries another session's, and the
    handler never runs: the session and the password stay as they were."""
    admin = console.signed_in("admin", name="boss")
    other = console.signed_in("viewer")
    foreign = other.csrf()
    routes = [p for m, p in api_routes(console.api)
              if m == "POST" and is_console_path(console.api, p) and p != "/login"]
    assert {"/logout", "/account"} <= set(routes)
    before = len(_audit(console.app))
    for path in routes:
        for token in ("", foreign, "x" * 64):
            answer = admin.post_form(path, {"current_password": PASSWORD,
                                            "new_password": NEW_PASSWORD,
                                            "repeat_password": NEW_PASSWORD}, csrf=token)
            assert answer.status_code == 403, (path, token, answer.status_code)
            assert "表单已失效" in answer.text
    assert admin.get("/").status_code == 200  # still signed in: /logout did not run
    accounts.verify_password(console.app, "boss", PASSWORD)  # unchanged
    assert len(_audit(console.app)) == before


def test_sign_in_form_without_its_csrf_token_is_refused(console: Console) -> None:
    """A sign-in post without the token of its form (the cross-site login trick) answers 403,
    starts no session and records nothing, even with the right password."""
    console.account("viewer", name="li.wei")
    before = len(_audit(console.app))
    browser = console.browser()
    browser.get("/login")  # has the cookie, but the post lacks the field
    for data in ({"name": "li.wei", "password": PASSWORD},
                 {"name": "li.wei", "password": PASSWORD, "csrf_token": "forged"}):
        answer = browser.post("/login", data=data)
        assert answer.status_code == 403 and "pub_session" not in _set_cookies(answer)
    stranger = console.browser()  # no cookie at all
    form = console.browser().get("/login")
    answer = stranger.post("/login", data={"csrf_token": csrf_from(form.text), "name": "li.wei",
                                           "password": PASSWORD})
    assert answer.status_code == 403
    assert len(_audit(console.app)) == before


# --------------------------------------------------------------------------- roles


# What each role may do, written out (not computed from role.PERMISSIONS, which it checks).
READ = {"log.read", "incident.read", "audit.read", "report.read", "data.read"}
EXPECTED_PERMISSIONS = {
    "supplier": {"data.read", "data.upload"},  # and only for the definitions named for it
    "viewer": READ,
    "editor": READ | {"release.preview", "release.trigger", "delivery.retry", "data.upload"},
    "approver": READ | {"release.approve"},
    "urgent": READ | {"urgent.post", "urgent.update", "urgent.cancel"},
    "admin": set(role.ALL_PERMISSIONS),
}

# What each role sees in the header navigation.
EXPECTED_NAV = {
    "supplier": ["data"],
    "viewer": ["overview", "deliveries", "incidents", "audit", "reports", "data"],
    "editor": ["overview", "deliveries", "incidents", "audit", "reports", "data"],
    "approver": ["overview", "deliveries", "incidents", "audit", "reports", "data"],
    "urgent": ["overview", "deliveries", "urgent", "incidents", "audit", "reports", "data"],
    "admin": ["overview", "deliveries", "urgent", "incidents", "audit", "reports", "data"],
}

STAFF = [name for name in role.ROLES if name != "supplier"]  # a supplier reads no staff page

# (role, method, path, status) of console pages: add a row for each page and each role.
# A POST row sends the form with the session's CSRF token and no fields. The test App's one
# definition that reads data is ``weekly`` (a supplier is named for it); W50 has no file.
PAGE_ROWS: list[tuple[str, str, str, int]] = [
    *[(name, "GET", "/", 200) for name in STAFF],
    ("supplier", "GET", "/", 303),  # to /data, its home
    *[(name, "GET", "/account", 200) for name in role.ROLES],
    *[(name, "POST", "/logout", 303) for name in role.ROLES],
    ("viewer", "POST", "/account", 422),  # signed in, token right, fields missing
    ("supplier", "POST", "/account", 422),
    # urgent posts (this App has no urgent section: the page says so, a post is refused)
    *[(name, "GET", "/urgent", 200 if name in ("urgent", "admin") else 403)
      for name in role.ROLES],
    *[(name, "POST", path, 422 if name in ("urgent", "admin") else 403) for name in role.ROLES
      for path in ("/urgent/preview", "/urgent/preview.json", "/urgent")],
    *[(name, "GET", "/incidents", 200 if name in STAFF else 403) for name in role.ROLES],
    *[(name, "GET", path, 404 if name in STAFF else 403) for name in role.ROLES
      for path in ("/incidents/1", "/incidents/1/status.json")],
    *[(name, "POST", f"/incidents/1/{step}", 404 if name in ("urgent", "admin") else 403)
      for name in role.ROLES for step in ("update/preview", "update", "cancel/preview", "cancel")],
    # the delivery log, deliveries, releases, the audit chain (this database is empty: an
    # allowed action on delivery or release 1 reaches "not found"; a refused one stops at 403)
    *[(name, "GET", path, 200 if name in STAFF else 403) for name in role.ROLES
      for path in ("/deliveries", "/deliveries.csv", "/audit")],
    *[(name, "GET", path, 404 if name in STAFF else 403) for name in role.ROLES
      for path in ("/deliveries/1", "/deliveries/1/preview", "/releases/1")],
    *[(name, "POST", "/deliveries/1/retry", 404 if name in ("editor", "admin") else 403)
      for name in role.ROLES],
    *[(name, "POST", "/deliveries/1/resolve", 404 if name == "admin" else 403)
      for name in role.ROLES],
    *[(name, "GET", "/releases/new", 200 if name in ("editor", "admin") else 403)
      for name in role.ROLES],
    *[(name, "POST", "/releases", 422 if name in ("editor", "admin") else 403)
      for name in role.ROLES],  # no definition chosen
    *[(name, "POST", f"/releases/1/{step}", 404 if name in ("approver", "admin") else 403)
      for name in role.ROLES for step in ("approve", "reject")],
    # the annual report (read by every staff role): the page, its downloads, one figure's rows
    # (a figure id it does not know answers 400 naming the parameter)
    *[(name, "GET", path, 200 if name in STAFF else 403) for name in role.ROLES
      for path in ("/reports", "/reports?year=2026", "/reports/annual.xlsx",
                   "/reports/annual.docx", "/reports/annual.csv", "/reports/annual.json",
                   "/reports/figure?year=2026&id=publications/totals/items/value")],
    *[(name, "GET", path, 400 if name in STAFF else 403) for name in role.ROLES
      for path in ("/reports/figure?year=2026&id=nothing", "/reports?year=20x6",
                   "/reports/annual.pdf")],
    # data pages: every role reads them (a supplier only its own definitions'); uploading and
    # removing need data.upload (a form without a file is refused 422, nothing to remove 404)
    *[(name, "GET", path, 200) for name in role.ROLES
      for path in ("/data", "/data/weekly/2026-W50", "/data/weekly/template.xlsx",
                   "/data/weekly/template/items.csv", "/data/weekly/template/items.xlsx")],
    *[(name, "GET", "/data/weekly", 303) for name in role.ROLES],  # to the current period
    *[(name, "GET", path, 404) for name in role.ROLES
      for path in ("/data/nothing", "/data/weekly/2026-13", "/data/weekly/template/none.csv",
                   "/data/weekly/2026-W50/preview/mem-a")],  # no file for W50: no preview
    *[(name, "GET", "/data/weekly/2026-W49/preview/mem-a", 404) for name in role.ROLES],
    *[(name, "POST", "/data/weekly/2026-W50/items",
       422 if name in ("supplier", "editor", "admin") else 403) for name in role.ROLES],
    *[(name, "POST", "/data/weekly/2026-W50/items/remove",
       404 if name in ("supplier", "editor", "admin") else 403) for name in role.ROLES],
]


def test_role_table_allows_exactly_what_each_role_may() -> None:
    """Every role allows exactly its listed permissions and none other; admin allows any name;
    an account holding several roles may do what any of them may; unknown roles may do nothing."""
    assert set(role.ROLES) == set(EXPECTED_PERMISSIONS)
    for name, expected in EXPECTED_PERMISSIONS.items():
        actual = {p for p in role.ALL_PERMISSIONS if role.allows(name, p)}
        assert actual == expected, name
    assert role.allows("admin", "anything.new")
    assert role.allows(("editor", "approver"), "release.approve")
    assert role.allows(("editor", "approver"), "release.trigger")
    assert not role.allows(("editor", "approver"), "urgent.post")
    assert not role.allows("owner", "log.read") and not role.allows((), "log.read")


@pytest.mark.parametrize(("who", "method", "path", "status"), PAGE_ROWS)
def test_each_role_gets_each_page_as_the_table_says(console: Console, who: str, method: str,
                                                    path: str, status: int) -> None:
    """A signed-in account of one role gets the status the page table lists for that page."""
    browser = console.signed_in(who)
    answer = browser.get(path) if method == "GET" else browser.post_form(path, {})
    assert answer.status_code == status, answer.text[:500]


@pytest.mark.parametrize("who", list(role.ROLES))
def test_each_role_sees_exactly_its_navigation(console: Console, who: str) -> None:
    """The header navigation of a page lists exactly the entries the role may open (a
    supplier's home is /data)."""
    page = console.signed_in(who).get("/", follow=True)
    assert nav_keys(page.text) == EXPECTED_NAV[who]


@pytest.mark.usefixtures("cheap_hashing")
def test_pages_refuse_roles_without_the_permission_with_a_403_page(app: App) -> None:
    """A page guarded by require_page(P) answers 200 to every role allowed P and a 403 page (zh,
    or en with ?lang=en) naming P to every other role, for every permission."""
    api = create_app(app)
    probe = page_router()
    for permission in role.ALL_PERMISSIONS:
        probe.add_api_route(f"/_probe/{permission}", lambda: {"ok": True}, methods=["GET"],
                            dependencies=[Depends(require_page(permission))])
    api.include_router(probe)
    server = serve(api, "127.0.0.1", 0)
    try:
        harness = Console(app, server, api)
        for who, allowed in EXPECTED_PERMISSIONS.items():
            browser = harness.signed_in(who)
            for permission in role.ALL_PERMISSIONS:
                answer = browser.get(f"/_probe/{permission}")
                expected = 200 if permission in allowed else 403
                assert answer.status_code == expected, (who, permission, answer.status_code)
                if expected == 403:
                    assert "无权访问" in answer.text and permission in answer.text
        english = harness.signed_in("viewer").get("/_probe/token.manage?lang=en")
        assert english.status_code == 403 and "Not allowed" in english.text
    finally:
        server.stop()


def test_an_account_with_several_roles_gets_the_union(console: Console) -> None:
    """An account holding editor and urgent sees the urgent entry and is listed with both roles."""
    browser = console.signed_in("editor", "urgent")
    page = browser.get("/")
    assert nav_keys(page.text) == EXPECTED_NAV["urgent"]
    assert 'data-role="editor"' in page.text and 'data-role="urgent"' in page.text
    assert 'data-permission="release.trigger"' in page.text
    assert 'data-permission="urgent.post"' in page.text
    assert 'data-permission="release.approve"' not in page.text


# --------------------------------------------------------------------------- pages


def test_console_pages_carry_security_headers_and_the_api_does_not(console: Console) -> None:
    """Console pages (and the sign-in page) send CSP default-src 'self', X-Frame-Options DENY,
    Referrer-Policy same-origin and no-store; /healthz and the API keep their own headers."""
    browser = console.signed_in("viewer")
    for path in ("/", "/login", "/account", "/nothing-here"):
        headers = (browser if path != "/login" else console.browser()).get(path).headers
        assert "default-src 'self'" in headers["Content-Security-Policy"], path
        assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "same-origin"
        assert headers["Cache-Control"] == "no-store"
    for path in ("/healthz", "/api/incidents/x"):
        assert "Content-Security-Policy" not in console.browser().get(path).headers
    css = console.browser().get("/static/console.css")
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")


def test_pages_are_chinese_by_default_and_english_when_switched(console: Console) -> None:
    """Pages speak Chinese; ?lang=en switches to English and a cookie keeps it on later pages,
    until ?lang=zh switches back; the sign-in page follows the same switch."""
    assert "登录" in console.browser().get("/login").text
    assert "Sign in" in console.browser().get("/login?lang=en").text
    browser = console.signed_in("viewer")
    assert "总览" in browser.get("/").text and 'lang="zh-CN"' in browser.get("/").text
    switched = browser.get("/?lang=en")
    assert "Overview" in switched.text and "lang=en" in _set_cookies(switched)["lang"]
    assert "My account" in browser.get("/account").text
    assert "我的账号" in browser.get("/account?lang=zh").text
    assert "我的账号" in browser.get("/account").text


def test_unknown_console_path_is_a_page_and_unknown_api_path_is_json(console: Console) -> None:
    """A wrong console address answers a 404 page; a wrong /api address keeps the JSON shape."""
    page = console.signed_in("viewer").get("/no/such/page")
    assert page.status_code == 404 and "没有这个页面" in page.text
    api = console.browser().get("/api/no/such/thing")
    assert api.status_code == 404 and api.json()["error"] == "not_found"


def test_changing_own_password_ends_other_sessions_only(console: Console) -> None:
    """The account page changes the password after checking the current one: the browser that
    changed it stays signed in, the account's other browsers are signed out, the old password
    stops working, and a wrong current password or a mismatch changes nothing."""
    here = console.signed_in("viewer", name="li.wei")
    elsewhere = Browser(console.base)
    assert console.sign_in("li.wei", browser=elsewhere).status_code == 303
    wrong = here.post_form("/account", {"current_password": "not my password",
                                        "new_password": NEW_PASSWORD,
                                        "repeat_password": NEW_PASSWORD})
    assert wrong.status_code == 422 and "当前密码不正确" in wrong.text
    mismatch = here.post_form("/account", {"current_password": PASSWORD,
                                           "new_password": NEW_PASSWORD,
                                           "repeat_password": NEW_PASSWORD + "!"})
    assert mismatch.status_code == 422 and "不一致" in mismatch.text
    short = here.post_form("/account", {"current_password": PASSWORD,
                                        "new_password": "short", "repeat_password": "short"})
    assert short.status_code == 422 and "至少 12 个字符" in short.text
    accounts.verify_password(console.app, "li.wei", PASSWORD)
    changed = here.post_form("/account", {"current_password": PASSWORD,
                                          "new_password": NEW_PASSWORD,
                                          "repeat_password": NEW_PASSWORD})
    assert changed.status_code == 303 and changed.headers["Location"] == "/account?changed=1"
    assert "密码已修改" in here.get("/account?changed=1").text
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 303
    assert console.sign_in("li.wei", PASSWORD).status_code == 401
    assert console.sign_in("li.wei", NEW_PASSWORD).status_code == 303
    event = _audit(console.app, "account.password_changed")[-1]
    assert event.actor == "console:li.wei" and event.details["sessions_ended"] == 1


# --------------------------------------------------------------------------- secrets


def test_password_is_argon2_and_no_secret_reaches_logs_rows_or_audit(
        console: Console, log_stream: io.StringIO) -> None:
    """The stored hash is argon2id; across sign-in, a failed sign-in, a password change and
    sign-out, no password, session token or CSRF token is in any log line, database row or audit
    event, while the logs still name the account."""
    browser = console.signed_in("editor", name="li.wei")
    with console.app.store.read() as session:
        stored = session.execute(select(AccountRow.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")
    token, csrf = browser.cookies["pub_session"], browser.csrf()
    console.sign_in("li.wei", "a wrong password 7")
    assert browser.post_form("/account", {"current_password": PASSWORD,
                                          "new_password": NEW_PASSWORD,
                                          "repeat_password": NEW_PASSWORD}).status_code == 303
    assert browser.post_form("/logout").status_code == 303
    time.sleep(0.2)  # let the server thread write its access lines
    output = log_stream.getvalue()
    assert "console.signed_in" in output and "li.wei" in output
    cells = every_cell(console.app)
    audit_text = "\n".join(json.dumps(e.details, ensure_ascii=False) + e.actor + e.subject
                           for e in _audit(console.app))
    for secret in (PASSWORD, NEW_PASSWORD, "a wrong password 7", token, csrf):
        assert secret not in output, secret
        assert secret not in cells, secret
        assert secret not in audit_text, secret
    assert sessions.session_id(token) not in output


def test_default_hasher_is_argon2id_with_the_rfc_9106_low_memory_parameters() -> None:
    """Production hashes are argon2id with 3 passes over 64 MiB (RFC 9106's low-memory profile)."""
    hasher = PasswordHasher()
    assert accounts.HASHER.time_cost == hasher.time_cost == 3
    assert accounts.HASHER.memory_cost == hasher.memory_cost == 64 * 1024
    assert accounts.HASHER.hash(PASSWORD).startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_hash_made_with_old_parameters_is_replaced_at_sign_in(console: Console) -> None:
    """An account whose hash was made with other argon2 parameters signs in with its password,
    and its hash is then remade with the current ones."""
    console.account("viewer", name="li.wei")
    weak = PasswordHasher(time_cost=2, memory_cost=2 * 1024, parallelism=1).hash(PASSWORD)
    with console.app.store.write() as session:
        session.execute(update(AccountRow).values(password_hash=weak))
    assert console.sign_in("li.wei").status_code == 303
    with console.app.store.read() as session:
        stored = session.execute(select(AccountRow.password_hash)).scalar_one()
    assert stored != weak and not accounts.HASHER.check_needs_rehash(stored)
    accounts.verify_password(console.app, "li.wei", PASSWORD)


@pytest.mark.usefixtures("cheap_hashing")
def test_account_rules_refuse_bad_names_roles_and_passwords(app: App) -> None:
    """A bad name, no role, an unknown role, a short password or the name as password is refused
    naming the problem, a taken name too, and nothing is stored."""
    cases = [("Li Wei", ["viewer"], PASSWORD, "invalid"), ("li", [], PASSWORD, "at least one"),
             ("li", ["owner"], PASSWORD, "unknown role"), ("li", ["viewer"], "short", "at least 12"),
             ("li.wei.zhang", ["viewer"], "LI.WEI.ZHANG", "must not be the account name")]
    for name, roles, password, message in cases:
        with pytest.raises(accounts.AccountError, match=message):
            accounts.create(app, name, password, roles, actor="staff:test")
    assert accounts.list_accounts(app) == []
    accounts.create(app, "li", PASSWORD, ["viewer"], actor="staff:test")
    with pytest.raises(accounts.AccountError, match="exists"):
        accounts.create(app, "LI", PASSWORD, ["admin"], actor="staff:test")


# --------------------------------------------------------------------------- schema


def test_migration_0006_adds_and_removes_the_console_tables(database_url: str) -> None:
    """Upgrading from 0005 creates accounts, sessions and sign_in_failures; downgrading to 0005
    drops them again and leaves the API tokens."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            cfg = AlembicConfig()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "0006")
            names = set(inspect(connection).get_table_names())
            assert {"accounts", "sessions", "sign_in_failures", "api_tokens"} <= names
            columns = {c["name"] for c in inspect(connection).get_columns("sessions")}
            assert columns == {"id", "account_id", "created_at", "expires_at", "last_seen_at",
                               "user_agent"}
            command.downgrade(cfg, "0005")
            names = set(inspect(connection).get_table_names())
            assert not {"accounts", "sessions", "sign_in_failures"} & names
            assert "api_tokens" in names
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- the CLI


def _users(config: Path, env: dict[str, str], *args: str, stdin: str | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PUBLISHER, "users", *args, "--config", str(config)], env=env,
                          input=stdin, text=True, capture_output=True, check=False, timeout=120,
                          cwd=config.parent)


@pytest.mark.slow
def test_users_cli_adds_changes_disables_and_lists(app: App, project: Path,
                                                   database_url: str) -> None:
    """`publisher users add` (password on stdin) stores an argon2 hash with the roles and refuses
    a short password (exit 2); `list` shows accounts but no secret;
    `passwd` changes the password and ends sessions; `disable` ends sessions and stops sign-in;
    `enable` lets it back; each is audited with the staff actor and no password."""
    env = {**os.environ, "PUBLISHER_DATABASE_URL": database_url, "PUBLISHER_ACTOR": "staff:wang"}
    env.pop("PUBLISHER_CONFIG", None)
    config = project / "schedules.yaml"
    added = _users(config, env, "add", "li.wei", "--role", "editor", "--role", "approver",
                   "--display-name", "李伟", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    made = accounts.get(app, "li.wei")
    assert made is not None and made.roles == ("editor", "approver") and made.display_name == "李伟"
    accounts.verify_password(app, "li.wei", PASSWORD)
    short = _users(config, env, "add", "zhang", "--role", "viewer", "--password-stdin",
                   stdin="tooshort\n")
    assert short.returncode == 2 and "至少 12" in short.stderr and "at least 12" in short.stderr
    assert [a.name for a in accounts.list_accounts(app)] == ["li.wei"]

    listed = _users(config, env, "list")
    assert listed.returncode == 0 and "li.wei  李伟  editor,approver" in listed.stdout
    assert "argon2" not in listed.stdout and PASSWORD not in listed.stdout

    sessions.start(app, made)
    changed = _users(config, env, "passwd", "li.wei", "--password-stdin",
                     stdin=NEW_PASSWORD + "\n")
    assert changed.returncode == 0, changed.stderr
    assert _session_count(app, made.id) == 0
    accounts.verify_password(app, "li.wei", NEW_PASSWORD)

    sessions.start(app, made)
    disabled = _users(config, env, "disable", "li.wei")
    assert disabled.returncode == 0, disabled.stderr
    assert _session_count(app, made.id) == 0
    with pytest.raises(accounts.SignInRefused, match="disabled"):
        accounts.verify_password(app, "li.wei", NEW_PASSWORD)
    assert _users(config, env, "enable", "li.wei").returncode == 0
    assert _users(config, env, "roles", "li.wei", "--role", "viewer").returncode == 0
    assert accounts.verify_password(app, "li.wei", NEW_PASSWORD).roles == ("viewer",)

    events = [e for e in _audit(app) if e.action.startswith("account.")]
    assert [e.action for e in events] == ["account.created", "account.password_changed",
                                          "account.disabled", "account.enabled",
                                          "account.roles_changed"]
    assert {e.actor for e in events} == {"staff:wang"}
    text_of_audit = json.dumps([e.details for e in events], ensure_ascii=False)
    assert PASSWORD not in text_of_audit and NEW_PASSWORD not in text_of_audit
    for result in (added, changed, disabled, listed):
        assert PASSWORD not in result.stdout + result.stderr
        assert NEW_PASSWORD not in result.stdout + result.stderr
