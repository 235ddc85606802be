"""Administrators manage the content checks' lists in the console over real HTTP: add, import a
CSV, remove; each change is audited, refused with the line named when invalid, and used by the
very next check; other roles may not."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from publisher import config as config_module
from publisher import release, review
from publisher.app import App
from publisher.store.models import AuditEvent
from tests.support.console import Browser, Console


@pytest.fixture
def console_app(app: App, project: Path) -> App:
    """The small project with office lists named (the files do not exist yet)."""
    config = project / "schedules.yaml"
    config.write_text(config.read_text(encoding="utf-8") + (
        "checks:\n  wording: [lists/wording.csv]\n  sensitive: [lists/sensitive.csv]\n"),
        encoding="utf-8")
    app.loaded = config_module.load(config)
    return app


def _post(browser: Browser, path: str, data: dict[str, str]) -> requests.Response:
    return browser.post(path, data={**data, "csrf_token": browser.csrf()})


def test_admin_edits_the_lists_and_the_next_check_uses_them(console: Console, app: App,
                                                           project: Path) -> None:
    """An entry added and a CSV imported are written to the office's list files and audited; the
    next release is checked with them (a review word sends it to an approver); an invalid import
    is refused naming its line and changes nothing; a removal is audited too."""
    admin = console.signed_in("admin", name="wu")
    page = admin.get("/checks")
    assert page.status_code == 200 and 'data-list="names"' in page.text
    added = _post(admin, "/checks/wording/put", {"wrong": "某错词", "right": "某对词"})
    assert added.status_code == 200 and "data-done" in added.text
    assert "某错词,某对词" in (project / "lists" / "wording.csv").read_text(encoding="utf-8")

    bad = _post(admin, "/checks/sensitive/import", {"csv": "word,level\n据传,review\n据说,never\n"})
    assert bad.status_code == 422
    assert "import.csv:3" in html.unescape(bad.text)
    assert not (project / "lists" / "sensitive.csv").exists()
    imported = _post(admin, "/checks/sensitive/import", {"csv": "word,level\n据传,review\n"})
    assert imported.status_code == 200

    template = project / "templates" / "weekly" / "memory.txt.j2"
    template.write_text("据传\n" + template.read_text(encoding="utf-8"), encoding="utf-8")
    outcome = release.create(app, "weekly", app.clock.now(), actor="staff:wang", origin="manual")
    assert outcome.state == review.AWAITING

    removed = _post(admin, "/checks/wording/remove", {"key": "某错词"})
    assert removed.status_code == 200
    with app.store.read() as session:
        events = list(session.execute(select(AuditEvent).where(
            AuditEvent.action == "checks.list_changed").order_by(AuditEvent.seq)).scalars())
    assert [(e.actor, e.subject, sorted(set(e.details) & {"added", "imported", "removed"}))
            for e in events] == [("console:wu", "list:wording", ["added"]),
                                 ("console:wu", "list:sensitive", ["imported"]),
                                 ("console:wu", "list:wording", ["removed"])]
    assert console.signed_in("editor").get("/checks").status_code == 403
