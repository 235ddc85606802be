"""Prometheus metrics: deliveries by state read from the database at each scrape, attempt
durations and urgent fan-out times observed by this process, and a database ping."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram, PlatformCollector, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from publisher.logs import get_logger
from publisher.store import Store
from publisher.store.models import Delivery

if TYPE_CHECKING:
    from publisher.app import App

log = get_logger("publisher.metrics")

# what this process observed since it started (Prometheus' rate() copes with restarts)
INSTRUMENTS = CollectorRegistry()
ProcessCollector(registry=INSTRUMENTS)
PlatformCollector(registry=INSTRUMENTS)

ATTEMPT_SECONDS = Histogram(
    "publisher_attempt_duration_seconds",
    "投递尝试耗时（含异步渠道的状态轮询）/ duration of one delivery attempt, polling included",
    ["channel", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
    registry=INSTRUMENTS,
)
URGENT_PUBLISH_SECONDS = Histogram(
    "publisher_urgent_publish_seconds",
    "紧急信息从记录到在渠道发布的时间 / urgent release recorded → published on a channel",
    ["channel", "drill"],
    buckets=(0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600),
    registry=INSTRUMENTS,
)
PUBLISHED_OUTCOMES = ("published", "already_published")


def observe_attempt(delivery: Delivery, outcome: str, duration_seconds: float,
                    finished_at: datetime) -> None:
    """Record one attempt (called by the dispatcher where it records the attempt row); an
    urgent delivery's first landing also records its time since the release was recorded."""
    try:
        ATTEMPT_SECONDS.labels(delivery.channel, outcome).observe(duration_seconds)
        if delivery.urgent and outcome in PUBLISHED_OUTCOMES:
            since = (finished_at - delivery.created_at).total_seconds()
            URGENT_PUBLISH_SECONDS.labels(delivery.channel, _flag(delivery.drill)).observe(since)
    except Exception:  # a metric must never break a delivery
        log.exception("metrics.observe_failed")


def _flag(value: bool) -> str:
    return "true" if value else "false"


def delivery_counts(store: Store) -> list[tuple[str, str, bool, int]]:
    """(channel, state, drill, count) of every delivery: one GROUP BY query."""
    query = (select(Delivery.channel, Delivery.state, Delivery.drill, func.count())
             .group_by(Delivery.channel, Delivery.state, Delivery.drill))
    with store.read() as session:
        return [(channel, state, bool(drill), count)
                for channel, state, drill, count in session.execute(query).all()]


def database_up(store: Store) -> bool:
    """Whether the database answers a trivial query."""
    try:
        with store.read() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.warning("database.unreachable", error_type=type(exc).__name__)
        return False
    return True


class DeliveryCollector(Collector):
    """Deliveries by channel and state, counted in the database at each scrape: right across
    processes and restarts. Every configured channel shows every state, zeros included."""

    def __init__(self, app: App) -> None:
        self.app = app

    def collect(self) -> Iterable[Metric]:
        from publisher.dispatch import STATES  # not at import: the dispatcher imports this module

        up = GaugeMetricFamily("publisher_database_up",
                               "数据库是否可用 / 1 if the database answered this scrape")
        try:
            counts = delivery_counts(self.app.store)
        except SQLAlchemyError as exc:
            log.warning("metrics.database_unreachable", error_type=type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        values = {(channel, state, "false"): 0 for channel in self.app.loaded.config.channels
                  for state in STATES}
        for channel, state, drill, count in counts:
            values[(channel, state, _flag(drill))] = count
        deliveries = GaugeMetricFamily(
            "publisher_deliveries", "各渠道各状态的投递数 / deliveries by channel and state",
            labels=["channel", "state", "drill"])
        for labels, count in sorted(values.items()):
            deliveries.add_metric(list(labels), count)
        yield deliveries
        yield from self._nodes()

    def _nodes(self) -> Iterable[Metric]:
        """Each cluster node (1 while it beats) and which one holds the scheduler role."""
        from publisher import cluster
        from publisher.scheduler import active_holder

        try:
            rows, holder = cluster.nodes(self.app), active_holder(self.app)
        except SQLAlchemyError:
            return
        now = self.app.clock.now()
        up = GaugeMetricFamily("publisher_node_up", "节点是否在心跳 / 1 while a node beats",
                               labels=["node", "host", "version"])
        role = GaugeMetricFamily("publisher_scheduler", "节点是否担任调度器 / 1 on the node "
                                 "holding the scheduler role", labels=["node"])
        for node in rows:
            up.add_metric([node.id, node.host, node.version], int(cluster.is_up(self.app, node,
                                                                                 now)))
            role.add_metric([node.id], int(node.id == holder))
        yield up
        yield role


class _Instruments(Collector):
    """The process-wide instruments, inside each app's registry."""

    def collect(self) -> Iterable[Metric]:
        return INSTRUMENTS.collect()


def registry(app: App) -> CollectorRegistry:
    """What ``/metrics`` shows for ``app``: its database's deliveries and this process's timings."""
    exposed = CollectorRegistry()
    exposed.register(DeliveryCollector(app))
    exposed.register(_Instruments())
    return exposed
