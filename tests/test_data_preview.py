"""The data page's preview is what goes out: over the shipped project, each channel's payload
previewed from the inbox files equals the one the release records at its due time, and each
message body is served for a sandboxed frame."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from publisher import config as config_module
from publisher import release
from publisher.app import App
from publisher.clock import ManualClock
from publisher.intake import preview as period_preview
from publisher.intake import slot as slots
from publisher.intake import store as intake
from publisher.period import parse_key
from publisher.store import Store
from publisher.store.models import Delivery
from publisher.web.api import create_app
from publisher.web.server import serve
from tests.support.console import Console
from tests.support.project import DUE, FOOD, SAMPLES, SHANGHAI, copy_project


@pytest.fixture
def shipped(tmp_path: Path, cheap_hashing: None) -> Iterator[Console]:
    """The console over a copy of the shipped project (sandbox credentials), the clock on the
    Tuesday before the food-safety run, both tables of 2026-W49 uploaded from the samples."""
    config = copy_project(tmp_path / "shipped")
    app = App(loaded=config_module.load(config), store=Store(f"sqlite:///{tmp_path / 'db'}"),
              clock=ManualClock(datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)), sandbox=True)
    for table in ("qualified", "unqualified"):
        slot = slots.slot(app, FOOD, "2026-W49", table)
        intake.put(app, slot, (SAMPLES / f"{table}.csv").read_bytes(), "csv",
                   actor="api:bureau")
    api = create_app(app)
    server = serve(api, "127.0.0.1", 0)
    try:
        yield Console(app, server, api)
    finally:
        server.stop()
        app.close()


def test_the_preview_is_exactly_what_the_release_records(shipped: Console) -> None:
    """Every channel's payload previewed on Tuesday from the uploaded files is equal, field for
    field, to the payload of that channel's delivery when the release is created at its due
    time on Wednesday."""
    app = shipped.app
    shown = period_preview.prepare(app, FOOD, parse_key("week", "2026-W49"))
    assert shown.ready, shown.problems
    assert shown.due_at == DUE
    assert {"portal-main", "wechat-main", "weibo-main", "gazette-main"} <= set(shown.payloads)
    app.clock.set(DUE)  # type: ignore[attr-defined]
    outcome = release.create(app, FOOD, DUE, actor="scheduler", origin="scheduled")
    assert outcome.state == "active", outcome.problems
    with app.store.read() as session:
        recorded = {d.channel: d.payload for d in session.execute(select(Delivery).where(
            Delivery.release_id == outcome.release_id)).scalars()}
    assert recorded == {name: p.to_json() for name, p in shown.payloads.items()}


def test_each_message_body_is_served_for_a_sandboxed_frame(shipped: Console) -> None:
    """The data page frames the WeChat article, the portal page and the gazette item, and each
    frame's document comes with a policy that runs no script; a supplier of another definition
    gets none of them."""
    editor = shipped.signed_in("editor")
    page = editor.get("/data/food-safety-sampling/2026-W49")
    assert page.status_code == 200
    for channel in ("wechat-main", "portal-main", "gazette-main"):
        src = f"/data/food-safety-sampling/2026-W49/preview/{channel}"
        assert f'src="{src}"' in page.text
        framed = editor.get(src)
        assert framed.status_code == 200 and "<body" in framed.text
        policy = framed.headers["Content-Security-Policy"]
        assert "sandbox" in policy and "script-src" not in policy
    assert 'data-preview="weibo-main"' in page.text and "data-length=" in page.text
    other = shipped.signed_in("supplier", definitions=("air-quality-forecast",))
    assert other.get("/data/food-safety-sampling/2026-W49/preview/portal-main").status_code == 403
