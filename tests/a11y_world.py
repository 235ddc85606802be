"""A portal and console with something on every page, for the accessibility browser tests.

One sandboxed copy of the shipped project (config, templates, samples) publishes every release
definition from its sample data, an urgent incident with an update, a withdrawn incident and
a gazette issue; the portal's site is then served on loopback beside the console.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from channels.memory.adapter import MemoryStore
from channels.portal.sandbox import ServerHandle
from channels.portal.sandbox import serve as serve_site
from publisher import config as config_module
from publisher import release, review
from publisher.app import App
from publisher.cli.run import sample_data
from publisher.dispatch import Dispatcher
from publisher.gazette import compile_next
from publisher.store import Store
from publisher.urgent import UrgentPost, open_incident
from publisher.urgent.post import UrgentCancel, UrgentUpdate
from publisher.urgent.step import cancel_incident, update_incident
from publisher.web import account as accounts
from publisher.web.api import create_app
from publisher.web.server import WebServer, serve
from tests.support.console import PASSWORD
from tests.support.urgent_site import urgent_project as copy_project

ACTOR = "staff:test"
FACTS = "今日9时40分，某区某高架桥一段桥面垮塌，现场已封闭，伤亡情况正在核实。"


@dataclass
class World:
    """The App, its console server, the portal's site server and the keys of what it holds."""

    app: App
    console: WebServer
    portal: ServerHandle
    site_dir: Path
    incident: str
    withdrawn: str
    account: str

    @property
    def base(self) -> str:
        return self.console.url.rstrip("/")


def _dispatch(app: App) -> None:
    dispatcher = Dispatcher(app)
    try:
        for _ in range(5):
            for future in dispatcher.run_once():
                future.result()
    finally:
        dispatcher.shutdown(wait=True)


def build(root: Path) -> Iterator[World]:
    """Publish everything, serve the site and the console; stop both afterwards."""
    config = copy_project(root)  # the shipped config, templates and samples
    MemoryStore.reset()
    app = App(loaded=config_module.load(config), store=Store(f"sqlite:///{root / 'bot.db'}"),
              sandbox=True)
    for definition in app.loaded.config.releases:
        release.create(app, definition, review.manual_due(app, definition, app.clock.now()),
                       actor=ACTOR, origin="manual", data=sample_data(app, definition))
    first = open_incident(app, UrgentPost(title="某高架桥发生垮塌", facts=FACTS, area="某区某高架桥",
                                          severity="较大", instruction="请绕行某路、某路。"),
                          actor=ACTOR)
    _dispatch(app)
    update_incident(app, first.incident_key, UrgentUpdate(facts="现场救援仍在进行，已有3人送医。"),
                    actor=ACTOR)
    other = open_incident(app, UrgentPost(status="Exercise", title="某小区燃气泄漏", facts="燃气泄漏。",
                                          area="某小区", severity="一般"), actor=ACTOR)
    _dispatch(app)
    cancel_incident(app, other.incident_key, UrgentCancel(reason="演练结束。"), actor=ACTOR)
    _dispatch(app)
    compile_next(app, "gazette-main", actor=ACTOR)
    accounts.create(app, "zhao.lei", PASSWORD, ["admin"], actor=ACTOR, display_name="赵磊")
    site_dir = app.loaded.resolve(app.channel("portal-main").settings.site_dir)
    portal = serve_site(site_dir, 0)
    console = serve(create_app(app), "127.0.0.1", 0)
    try:
        yield World(app, console, portal, site_dir, first.incident_key, other.incident_key,
                    "zhao.lei")
    finally:
        console.stop()
        portal.stop()
        app.close()
