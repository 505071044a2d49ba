"""How far a service's consumers are behind on a topic (Kafka consumer-group lag).

The replay waits on it twice: after the PKDD'99 import, until ticketing has taken in
every customer score (``customer.scores.v1``), and after each rule-set activation, until
ticketing holds the new rule set (``channel.rules.v1``). The services offer no API for
"has my read model caught up", and the group's committed offsets are exactly that (the
consumer commits after its handler's transaction).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from counterflow_shared.events.security import client_options
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def lag(bootstrap: str, group: str, topic: str) -> tuple[int, int]:
    """``(behind, end)``: messages of ``topic`` the consumer group ``group`` has not
    committed yet, and the topic's total end offset (both summed over partitions)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options())
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **client_options(), group_id=None, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or await _partitions(consumer, topic))]
        ends = await consumer.end_offsets(parts)
        committed = await admin.list_consumer_group_offsets(group, partitions=parts)
        done = {tp: (o.offset if o is not None and o.offset >= 0 else 0) for tp, o in committed.items()}
        return sum(max(0, ends[tp] - done.get(tp, 0)) for tp in parts), sum(ends.values())
    finally:
        await consumer.stop()
        await admin.close()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # noqa: SLF001 - aiokafka has no public refresh
    parts = consumer.partitions_for_topic(topic)
    if not parts:
        raise RuntimeError(f"topic {topic} does not exist")
    return parts


async def wait_caught_up(bootstrap: str, group: str, topic: str, *, timeout_s: float, on_progress: Callable[[int, int], None] | None = None, interval_s: float = 1.0) -> None:
    """Wait until ``group`` has committed everything on ``topic``.

    Raises:
        TimeoutError: still behind after ``timeout_s`` seconds (the message says how far).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        behind, end = await lag(bootstrap, group, topic)
        if on_progress:
            on_progress(end - behind, end)
        if behind == 0:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"consumer group {group} still {behind} of {end} events behind on {topic} after {timeout_s:.0f} s")
        await asyncio.sleep(interval_s)


#: (consumer group, topic) pairs whose state reaches a replay decision: device
#: availability, diversion closures and app activity in ticketing; expected diverted
#: customers in selfservice; hand-off drafts in the gateway; accept/decline history in
#: scoring and the propensities it sends back to ticketing.
DECISION_PAIRS: tuple[tuple[str, str], ...] = (
    ("ticketing", "selfservice.devices.v1"),
    ("ticketing", "channel.diversions.v1"),
    ("ticketing", "mobile.activity.v1"),
    ("ticketing", "customer.scores.v1"),
    ("selfservice", "channel.diversions.v1"),
    ("mobile-gateway", "channel.diversions.v1"),
    ("scoring", "channel.diversions.v1"),
    ("scoring", "selfservice.transactions.v1"),
)


class LagGate:
    """Holds the virtual clock until every consumer group of :data:`DECISION_PAIRS` has
    committed everything on its topics and no new event arrived since the previous look
    (two consecutive looks with the same end offsets and lag 0): Kafka timing then no
    longer decides what state a decision sees (issue 14, ADR 0140).

    One admin client and one consumer are kept open (a look is one ``end_offsets`` and
    one offsets fetch per group, concurrently). The gate looks only when :attr:`dirty`
    (the driver sets it after a request that publishes decision state); ``looks`` counts
    the looks, ``skipped`` the advances that needed none, ``waited_s`` the wall time spent.

    Events still in a service's outbox (not yet published) are invisible to the gate.
    """

    def __init__(self, bootstrap: str, prefix: str, pairs: tuple[tuple[str, str], ...] = DECISION_PAIRS, *, poll_s: float = 0.01, timeout_s: float = 120.0) -> None:
        self.bootstrap, self.prefix, self.poll_s, self.timeout_s = bootstrap, prefix, poll_s, timeout_s
        #: set by the driver after a request that publishes decision state (an offer, its
        #: answer, a device transaction, an app completion); the gate looks only then,
        #: since a look costs Kafka round trips (60-400 ms each on a loaded 2-core machine)
        self.dirty = False
        self.skipped = 0
        self.pairs = [(f"{prefix}{g}", f"{prefix}{t}") for g, t in pairs]
        self.looks, self.waited_s = 0, 0.0
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._parts: dict[str, list[TopicPartition]] = {}

    async def start(self) -> None:
        """Connect and resolve the topics' partitions.

        Raises:
            RuntimeError: a topic does not exist.
        """
        self._admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, **client_options())
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, **client_options(), group_id=None, enable_auto_commit=False)
        await self._admin.start()
        await self._consumer.start()
        for _, t in self.pairs:
            if t not in self._parts:
                self._parts[t] = [TopicPartition(t, p) for p in (self._consumer.partitions_for_topic(t) or await _partitions(self._consumer, t))]

    async def close(self) -> None:
        """Disconnect."""
        if self._consumer is not None:
            await self._consumer.stop()
        if self._admin is not None:
            await self._admin.close()

    async def _look(self) -> tuple[dict[TopicPartition, int], int]:
        assert self._consumer is not None and self._admin is not None
        self.looks += 1
        parts = [tp for ps in self._parts.values() for tp in ps]
        ends = await self._consumer.end_offsets(parts)
        behind = 0
        groups: dict[str, list[TopicPartition]] = {}
        for g, t in self.pairs:
            groups.setdefault(g, []).extend(self._parts[t])
        fetched = await asyncio.gather(*(self._admin.list_consumer_group_offsets(g, partitions=ps) for g, ps in groups.items()))
        for (g, ps), committed in zip(groups.items(), fetched):
            for tp in ps:
                o = committed.get(tp)
                behind += max(0, ends[tp] - (o.offset if o is not None and o.offset >= 0 else 0))
        return ends, behind

    async def __call__(self) -> None:
        """Return once caught up (see the class docstring).

        Raises:
            TimeoutError: still behind after ``timeout_s`` wall seconds.
        """
        if not self.dirty:
            self.skipped += 1
            return
        self.dirty = False
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        previous = None
        while True:
            ends, behind = await self._look()
            if behind == 0 and ends == previous:
                break
            previous = ends if behind == 0 else None
            if loop.time() - t0 > self.timeout_s:
                raise TimeoutError(f"consumers still {behind} events behind after {self.timeout_s:.0f} s")
            await asyncio.sleep(self.poll_s if behind == 0 else 5 * self.poll_s)
        self.waited_s += loop.time() - t0
