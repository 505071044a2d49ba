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

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def lag(bootstrap: str, group: str, topic: str) -> tuple[int, int]:
    """``(behind, end)``: messages of ``topic`` the consumer group ``group`` has not
    committed yet, and the topic's total end offset (both summed over partitions)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
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
