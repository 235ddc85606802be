"""Seeing the cluster: node rows on the console overview, in /metrics, and a silent node alerted."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from publisher import cluster
from publisher.clock import ManualClock
from publisher.metrics import registry
from publisher.scheduler import acquire_lease
from publisher.store.models import Node
from tests.support.console import Console
from tests.support.logs import Events, named


def _add_other(console: Console, clock: ManualClock, *, ago: float) -> None:
    with console.app.store.write() as session:
        session.add(Node(id="host-b:200:bbbb", host="host-b", pid=200, version="0.1.0",
                         started_at=clock.now() - timedelta(hours=1),
                         beat_at=clock.now() - timedelta(seconds=ago), role="standby"))


def test_overview_and_metrics_show_each_node_and_the_scheduler(console: Console,
                                                               clock: ManualClock) -> None:
    """The overview lists this node as scheduler and a node silent past its limit as not
    beating; /metrics exports publisher_node_up and publisher_scheduler for each."""
    app = console.app
    beat = cluster.Heartbeat(app, lambda: "scheduler")
    acquire_lease(app, beat.id)
    beat.beat()
    _add_other(console, clock, ago=app.loaded.config.cluster.silent_seconds + 5)
    page = console.signed_in("viewer").get("/").text
    assert f'data-node="{beat.id}" data-role="scheduler" data-up="yes"' in page
    assert 'data-node="host-b:200:bbbb" data-role="standby" data-up="no"' in page
    assert "集群节点" in page
    samples = {(s.name, s.labels.get("node")): s.value
               for family in text_string_to_metric_families(generate_latest(
                   registry(app)).decode()) for s in family.samples}
    assert samples[("publisher_node_up", beat.id)] == 1
    assert samples[("publisher_node_up", "host-b:200:bbbb")] == 0
    assert samples[("publisher_scheduler", beat.id)] == 1
    assert samples[("publisher_scheduler", "host-b:200:bbbb")] == 0


def test_a_node_that_stops_beating_is_alerted_once_and_its_claims_are_orphans(
        console: Console, clock: ManualClock, log_events: Events) -> None:
    """The scheduler's node watch marks a node silent past ``cluster.silent_seconds`` and
    alerts staff once; its id is among the silent nodes whose claims any node reconciles."""
    app = console.app
    _add_other(console, clock, ago=1)
    assert cluster.watch(app) == []
    assert "host-b:200:bbbb" not in cluster.silent_nodes(app)
    clock.advance(seconds=app.loaded.config.cluster.silent_seconds + 1)
    assert cluster.watch(app) == ["host-b:200:bbbb"]
    assert cluster.watch(app) == []  # alerted once
    assert "host-b:200:bbbb" in cluster.silent_nodes(app)
    alerts = [e for e in named(log_events, "alert") if e.get("alert") == "node.silent"]
    assert [e["node"] for e in alerts] == ["host-b:200:bbbb"]
