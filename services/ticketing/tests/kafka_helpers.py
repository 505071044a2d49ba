"""Produce catalog events to, and read them back from, the test session's topics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import BaseModel

from counterflow_shared.events.security import client_options
from counterflow_shared.events.catalog import entry_for_payload
from counterflow_shared.events.envelope import Envelope, new_event
from counterflow_shared.events.kafka import new_producer
from counterflow_ticketing.settings import TicketingSettings


async def send(settings: TicketingSettings, *payloads: BaseModel) -> None:
    """Publish ``payloads`` as another service would (CloudEvents envelope, catalog key)."""
    producer = new_producer(settings.kafka_bootstrap_servers, client_id="ticketing-tests")
    await producer.start()
    try:
        for p in payloads:
            env = new_event(p, source="/counterflow/tests")
            topic = settings.topic(entry_for_payload(type(p)).topic.name)
            await producer.send_and_wait(topic, env.to_bytes(), key=env.subject.encode())
    finally:
        await producer.stop()


async def find_events(settings: TicketingSettings, topic: str, match: Callable[[Envelope], bool], *, count: int = 1, timeout_s: float = 30.0) -> list[Envelope]:
    """Read ``topic`` (catalog name) from the beginning until ``count`` envelopes satisfy
    ``match``; returns them. Raises ``AssertionError`` after ``timeout_s`` seconds."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, **client_options(), group_id=None, enable_auto_commit=False)
    await consumer.start()
    found: list[Envelope] = []
    try:
        full = settings.topic(topic)
        parts = consumer.partitions_for_topic(full) or set()
        if not parts:
            await consumer._client.force_metadata_update()  # noqa: SLF001 - no public refresh
            parts = consumer.partitions_for_topic(full) or set()
        tps = [TopicPartition(full, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=300)
            for records in batches.values():
                for r in records:
                    env = Envelope.from_bytes(r.value)
                    if match(env):
                        found.append(env)
            if len(found) >= count:
                return found
            await asyncio.sleep(0)
    finally:
        await consumer.stop()
    raise AssertionError(f"only {len(found)} of {count} matching events on {topic} within {timeout_s}s")


def data_is(**expected: Any) -> Callable[[Envelope], bool]:
    """A matcher: every ``expected`` key equals the envelope data's value (``type`` = CloudEvents type)."""

    def match(env: Envelope) -> bool:
        if "type" in expected and env.type != expected["type"]:
            return False
        return all(env.data.get(k) == v for k, v in expected.items() if k != "type")

    return match
