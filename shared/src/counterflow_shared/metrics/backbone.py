"""Metrics of the event backbone: outbox backlog, relay, consumers, consumer lag.

Counters kept by the relay and the consumers themselves (:class:`RelayStatus`,
:class:`ConsumerStatus`) are read at scrape time by :class:`BackboneCollector`, so the hot
paths only increment integers. The outbox backlog is sampled from the database by
:func:`sample_outbox` (a periodic loop, :mod:`.sampling`), so it keeps growing while the
broker is down and nothing else moves.
"""

from __future__ import annotations

import asyncio

import time
import weakref
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select

if TYPE_CHECKING:
    from counterflow_shared.runtime import ServiceRuntime

OUTBOX_PENDING = Gauge("counterflow_outbox_pending_rows", "Outbox rows not yet acknowledged by the broker.", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "counterflow_outbox_oldest_pending_age_seconds",
    "Age of the oldest outbox row not yet acknowledged by the broker (0 when none); grows while the broker is unreachable.",
    ["service"],
)
RELAY_PUBLISH = Histogram(
    "messaging_client_operation_duration_seconds",
    "Duration of one relay round: hand-over of an outbox batch to the producer until every record is acknowledged (semconv messaging.client.operation.duration, operation send).",
    ["service", "messaging_system", "messaging_operation_name"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

_runtimes: weakref.WeakSet[ServiceRuntime] = weakref.WeakSet()


def track(runtime: ServiceRuntime) -> None:
    """Report ``runtime``'s relay and consumers in every scrape while it lives."""
    _runtimes.add(runtime)


def observe_publish(service: str, seconds: float) -> None:
    """One relay round that published at least one event took ``seconds``."""
    RELAY_PUBLISH.labels(service, "kafka", "send").observe(seconds)


async def sample_outbox(runtime: ServiceRuntime) -> None:
    """Set the outbox gauges of ``runtime``'s service from its database (one indexed query:
    ``ix_outbox_unsent`` covers ``sent_at IS NULL``)."""
    outbox = runtime.outbox
    async with runtime.sessions() as session:
        pending, oldest = (
            await session.execute(select(func.count(), func.min(outbox.c.created_at)).select_from(outbox).where(outbox.c.sent_at.is_(None)))
        ).one()
    age = 0.0
    if oldest is not None:
        if oldest.tzinfo is None:  # SQLite returns naive UTC
            oldest = oldest.replace(tzinfo=UTC)
        age = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
    OUTBOX_PENDING.labels(runtime.spec.name).set(pending)
    OUTBOX_OLDEST_AGE.labels(runtime.spec.name).set(age)


async def measure_lag(consumer: Any) -> dict[tuple[str, int], int]:
    """Records behind the end of each assigned partition: high watermark (from the last
    fetch) minus the consumer's position. Partitions whose watermark is not known yet are
    left out.

    Args:
        consumer: a started ``AIOKafkaConsumer``.
    Returns:
        ``{(topic, partition): lag}``.
    """
    lags: dict[tuple[str, int], int] = {}
    for tp in list(consumer.assignment()):
        try:
            high = consumer.highwater(tp)
            if high is None:
                continue
            # a rebalance may revoke the partition between assignment() and here; position()
            # must not wait for a fetch either: a metric never holds up or breaks the loop
            position = await asyncio.wait_for(consumer.position(tp), 0.5)
        except Exception:  # noqa: BLE001 - revoked partition, no position yet: skip this one
            continue
        lags[(tp.topic, tp.partition)] = max(0, high - position)
    return lags


class LagMeter:
    """Rate-limits :func:`measure_lag` (``every_s`` seconds) inside a consumer loop."""

    def __init__(self, every_s: float = 1.0) -> None:
        self.every_s = every_s
        self._next = 0.0
        self.lags: dict[tuple[str, int], int] = {}

    async def maybe_measure(self, consumer: Any) -> None:
        """Measure when due; keeps the previous figures otherwise."""
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.every_s
            self.lags = await measure_lag(consumer)


class BackboneCollector:
    """Scrape-time view of every tracked runtime's relay and consumers."""

    def collect(self) -> Iterator[Any]:  # noqa: C901 - one flat pass over the runtimes
        """Yield the metric families (see the module docstring of :mod:`counterflow_shared.metrics`)."""
        sent = CounterMetricFamily("messaging_client_sent_messages", "Events the relay published and the broker acknowledged (semconv messaging.client.sent.messages).", labels=["service", "messaging_system"])
        events = CounterMetricFamily(
            "counterflow_consumer_events",
            "Events by consumer group and outcome: handled, duplicate (already processed), retried (a failed attempt), dead_lettered, skipped_unknown (a type the group has no handler for: acknowledged and skipped).",
            labels=["service", "consumer_group", "outcome"],
        )
        lag = GaugeMetricFamily("counterflow_consumer_lag_records", "Records between a consumer group's position and the end of a partition.", labels=["service", "consumer_group", "topic", "partition"])
        broker = GaugeMetricFamily("counterflow_broker_up", "1 when the component's last broker call succeeded, 0 while the broker is unreachable (the outbox keeps the events).", labels=["service", "component"])
        producers = CounterMetricFamily("counterflow_relay_producer_restarts", "Producers the relay discarded and recreated (broker outage or fatal producer error).", labels=["service"])
        totals: dict[tuple, float] = defaultdict(float)
        lags: dict[tuple, float] = {}
        up: dict[tuple, float] = {}
        sent_totals: dict[tuple, float] = defaultdict(float)
        restarts: dict[tuple, float] = defaultdict(float)
        for runtime in list(_runtimes):
            service = runtime.spec.name
            relay = runtime.relay
            if relay is not None:
                sent_totals[(service, "kafka")] += relay.status.published
                restarts[(service,)] += max(0, relay.status.producer_generations - 1)
                # up: the last round reached the broker, or a producer is started and was not
                # discarded since (a relay with nothing to send never sets broker_ok)
                relay_up = relay.status.broker_ok or getattr(relay, "_producer", None) is not None
                up[(service, "relay")] = min(up.get((service, "relay"), 1.0), 1.0 if relay_up else 0.0)
            for consumer in runtime.consumers:
                group = consumer.group.name  # the catalog name: no test prefix or suffix
                status = consumer.status
                for outcome, count in (("handled", status.processed), ("duplicate", status.duplicates), ("retried", status.retried), ("dead_lettered", status.dead_lettered), ("skipped_unknown", sum(status.skipped_unknown.values()))):
                    totals[(service, group, outcome)] += count
                up[(service, group)] = min(up.get((service, group), 1.0), 1.0 if status.broker_ok else 0.0)
                prefix = consumer.topic_prefix
                for (topic, partition), records in consumer.lag.lags.items():
                    lags[(service, group, topic.removeprefix(prefix), str(partition))] = records
        for labels, value in sent_totals.items():
            sent.add_metric(list(labels), value)
        for labels, value in totals.items():
            events.add_metric(list(labels), value)
        for labels, value in lags.items():
            lag.add_metric(list(labels), value)
        for labels, value in up.items():
            broker.add_metric(list(labels), value)
        for labels, value in restarts.items():
            producers.add_metric(list(labels), value)
        yield from (sent, events, lag, broker, producers)


REGISTRY.register(BackboneCollector())
