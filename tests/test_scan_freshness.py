"""Freshness: each account's and column's time since its last publication against its limit, an
alert a few days before it would count as stale (僵尸号 after 14 days)."""

from __future__ import annotations

from pathlib import Path

from channels.memory.adapter import MemoryStore
from publisher import config as config_module
from publisher import release
from publisher.app import App
from publisher.clock import ManualClock
from publisher.dispatch import Dispatcher
from publisher.scan import freshness
from publisher.store import Store
from tests.support.logs import Events, named


def test_ages_and_alerts(project: Path, store: Store, clock: ManualClock,
                         log_events: Events) -> None:
    """An account given a 14-day limit and the release's column are fresh after a publication,
    alerted as stale soon after 12 days and as stale after 15; an account without a limit and
    not a new-media kind is not counted; a column never published to says so."""
    config = project / "schedules.yaml"
    text = config.read_text(encoding="utf-8").replace("  news: 新闻\n",
                                                       "  news: 新闻\n  policy: 政策文件\n")
    config.write_text(text + "checks:\n  freshness:\n    channels: {mem-a: 14}\n"
                      "    policy_columns: [policy]\n", encoding="utf-8")
    MemoryStore.reset()
    app = App(loaded=config_module.load(config), store=store, clock=clock)
    outcome = release.create(app, "weekly", clock.now(), actor="staff:wang", origin="manual")
    dispatcher = Dispatcher(app)
    try:
        dispatcher.drain(outcome.release_id)
    finally:
        dispatcher.shutdown()
    states = {(a.what, a.name): (a.state, a.limit_days) for a in freshness.ages(app)}
    assert states == {("channel", "mem-a"): ("ok", 14), ("column", "news"): ("ok", 14),
                      ("column", "policy"): ("never", 183)}
    clock.advance(days=12)
    assert {(a.what, a.name, a.state) for a in freshness.alert_stale(app)} == {
        ("channel", "mem-a", "soon"), ("column", "news", "soon")}
    clock.advance(days=3)
    assert {a.state for a in freshness.alert_stale(app)} == {"stale"}
    alerts = named(log_events, "alert")
    assert [a["alert"] for a in alerts] == ["channel.soon", "column.soon", "channel.stale",
                                            "column.stale"]
    assert "距上次发布 15.0 天（上限 14 天），已超期" in str(alerts[2]["text_zh"])
    MemoryStore.reset()
