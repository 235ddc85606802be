"""Dead links: every link of a release on the allowed hosts is asked for once; a dead one holds
the release at its due time (``at_due: block``) naming the channel, field and URL, or is kept as
a warning; links to other hosts are never fetched."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from channels.memory.adapter import MemoryStore
from publisher import config as config_module
from publisher import release
from publisher.app import App
from publisher.clock import ManualClock
from publisher.store import Store


class _Site(BaseHTTPRequestHandler):
    """/ok answers 200 (HEAD refused with 405, as some servers do); anything else 404."""

    disable_nagle_algorithm = True
    asked: ClassVar[list[tuple[str, str]]] = []

    def do_HEAD(self) -> None:
        self.asked.append(("HEAD", self.path))
        self.send_response(405 if self.path == "/ok" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self.asked.append(("GET", self.path))
        self.send_response(200 if self.path == "/ok" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def site() -> Iterator[str]:
    """A loopback web server; its base URL."""
    _Site.asked = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _app(project: Path, store: Store, clock: ManualClock, site: str, at_due: str) -> App:
    template = project / "templates" / "weekly" / "memory.txt.j2"
    template.write_text(f"详见 {site}/ok 和 {site}/gone 以及 http://example.org/elsewhere\n"
                        + template.read_text(encoding="utf-8"), encoding="utf-8")
    config = project / "schedules.yaml"
    config.write_text(config.read_text(encoding="utf-8") + (
        "checks:\n  links:\n    enabled: true\n    timeout_seconds: 2\n"
        f"    allowed_hosts: [127.0.0.1]\n    at_due: {at_due}\n"), encoding="utf-8")
    MemoryStore.reset()
    return App(loaded=config_module.load(config), store=store, clock=clock)


def test_dead_link_holds_the_release_at_its_due_time(project: Path, store: Store,
                                                     clock: ManualClock, site: str) -> None:
    """With ``at_due: block`` a link answering 404 holds the release, naming channel, field and
    URL; the live link (HEAD refused, GET answered) passes; another host is never asked."""
    app = _app(project, store, clock, site, "block")
    outcome = release.create(app, "weekly", clock.now(), actor="staff:wang", origin="manual")
    assert outcome.state == "held"
    dead = [p for p in outcome.problems if f"{site}/gone" in p]
    assert len(dead) == 2 and all("HTTP 404" in p for p in dead)
    assert {("mem-a" in p, "字段 body" in p) for p in dead} == {(True, True), (False, True)}
    assert not any(f"{site}/ok" in p for p in outcome.problems)
    assert sorted(set(_Site.asked)) == [("GET", "/ok"), ("HEAD", "/gone"), ("HEAD", "/ok")]
    assert MemoryStore.published("mem-a") == []


def test_dead_link_as_a_warning_is_kept(project: Path, store: Store, clock: ManualClock,
                                        site: str) -> None:
    """With ``at_due: warn`` the release goes on, the dead link kept among its findings."""
    app = _app(project, store, clock, site, "warn")
    outcome = release.create(app, "weekly", clock.now(), actor="staff:wang", origin="manual")
    assert outcome.state == "active"
    from publisher.store.models import Release

    with store.read() as session:
        row = session.get(Release, outcome.release_id)
        assert row is not None
        assert {(f["kind"], f["found"], f["level"]) for f in row.details["findings"]} == {
            ("link", f"{site}/gone", "warn")}
