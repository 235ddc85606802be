"""The Weibo kind in the whole pipeline: config, release, dispatch and the emulator together."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from sqlalchemy import select, update

from channels.base import Payload
from publisher import config as config_module
from publisher import release
from publisher.app import App
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.store import Store
from publisher.store.models import Delivery
from tests.support.channel import SHANGHAI

ROOT = Path(__file__).resolve().parents[2]
DUE = datetime(2026, 12, 2, 10, 0, tzinfo=SHANGHAI)
FOOD = "food-safety-sampling"


def _project(root: Path, **weibo: Any) -> Path:
    """The shipped config with weibo-main enabled (and wechat, gazette off), templates, samples."""
    root.mkdir(parents=True)
    raw = yaml.safe_load((ROOT / "schedules.yaml").read_text(encoding="utf-8"))
    settings = {"access_token": "${WEIBO_ACCESS_TOKEN}", "link_base_url": "http://127.0.0.1:8180/",
                "rip": "127.0.0.1", **weibo}
    raw["channels"]["weibo-main"] = {"kind": "weibo", "enabled": True, "settings": settings}
    for channel in raw["channels"].values():
        if channel["kind"] not in ("portal", "weibo"):
            channel["enabled"] = False
    (root / "schedules.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    shutil.copytree(ROOT / "templates", root / "templates")
    shutil.copytree(ROOT / "samples", root / "samples")
    return root / "schedules.yaml"


@pytest.fixture
def app_for(tmp_path: Path) -> Iterator[Any]:
    made: list[tuple[App, Store]] = []

    def make(**weibo: Any) -> App:
        config = _project(tmp_path / f"p{len(made)}", **weibo)
        store = Store(f"sqlite:///{config.parent / 'publisher.db'}")
        app = App(loaded=config_module.load(config), store=store, clock=ManualClock(DUE),
                  sandbox=True)
        made.append((app, store))
        return app

    yield make
    for app, _ in made:
        app.close()


def _posts(app: App) -> list[dict[str, Any]]:
    base_url = app.channel("weibo-main").settings.base_url
    posts: list[dict[str, Any]] = requests.get(f"{base_url}/_sandbox/posts", timeout=5
                                               ).json()["posts"]
    return posts


@pytest.mark.parametrize("lookup", [True, False])
def test_crash_after_accept_ends_published_with_one_post(app_for: Any, lookup: bool) -> None:
    """Killed after Weibo took the post: recovery finds it by the delivery's mark and ends it
    published; with lookups turned off it goes to a person (unknown), never sent again. Weibo
    holds one post either way."""
    app = app_for(lookup_duplicates=lookup)
    samples = ROOT / "samples" / FOOD
    outcome = release.create(app, FOOD, DUE, actor="staff:test", origin="manual",
                             data={"unqualified": samples / "unqualified.csv",
                                   "qualified": samples / "qualified.csv"})
    with app.store.read() as session:
        delivery = session.execute(select(Delivery).where(
            Delivery.channel == "weibo-main")).scalar_one()
    dispatcher = Dispatcher(app)
    try:
        assert dispatcher.claim(delivery.id) is not None
        # the post lands, then the process dies before the receipt is stored
        app.channel("weibo-main").send(Payload.from_json(delivery.payload),
                                       delivery.idempotency_key)
        with app.store.write() as session:
            session.execute(update(Delivery).where(Delivery.id == delivery.id).values(
                claimed_by="elsewhere:1:dead", claimed_at=DUE - timedelta(hours=1)))
        assert dispatcher.recover() == 1
        dispatcher.drain(outcome.release_id, until=DUE + timedelta(minutes=5))
    finally:
        dispatcher.shutdown()
    with app.store.read() as session:
        row = session.get(Delivery, delivery.id)
    assert row is not None and row.state == ("published" if lookup else "unknown")
    posts = _posts(app)
    assert len(posts) == 1
    assert "抽检食品34批次" in posts[0]["text"] and "不合格4批次" in posts[0]["text"]
    if lookup:
        assert row.receipt is not None and row.receipt["remote_id"] == posts[0]["idstr"]
