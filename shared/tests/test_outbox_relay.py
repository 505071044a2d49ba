"""The outbox relay against the real broker and PostgreSQL (in-process)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import OutOfOrderSequenceNumber
from sqlalchemy import func, select, text

from counterflow_shared.events.catalog import CUSTOMER_SCORES
from counterflow_shared.events.envelope import Envelope, new_event
from counterflow_shared.events.kafka import ensure_topics
from counterflow_shared.events.outbox import OutboxRelay, publish
from counterflow_shared.events.payloads.scores import CustomerScored
from counterflow_shared.persistence.db import session_scope
from counterflow_shared.testing import eventually


def _scored(i: int) -> Envelope:
    return new_event(
        CustomerScored(customer_id=f"C{i}", score=1.0, percentile=0.1, tier="mass", propensity={}, model_version="t", computed_at=datetime.now(UTC)),
        source="/test",
    )


async def _read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 30) -> list[Envelope]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None)
    await consumer.start()
    out: list[Envelope] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            out += [Envelope.from_bytes(r.value) for rs in batch.values() for r in rs]
            if len(out) >= expected:
                await asyncio.sleep(0.5)
                batch = await consumer.getmany(timeout_ms=300)
                out += [Envelope.from_bytes(r.value) for rs in batch.values() for r in rs]
                break
    finally:
        await consumer.stop()
    return out


async def test_rolled_back_transaction_publishes_nothing_and_committed_one_publishes_once(backbone_db, infrastructure):
    engine, sessions, tables = backbone_db
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await ensure_topics(infrastructure.kafka_bootstrap_servers, prefix=prefix, topics=[CUSTOMER_SCORES])
    committed, rolled_back = _scored(1), _scored(2)
    async with session_scope(sessions) as session:
        await session.execute(text("INSERT INTO things (name) VALUES ('kept')"))
        await publish(session, tables["outbox"], [committed], topic_prefix=prefix)
    try:
        async with session_scope(sessions) as session:
            await session.execute(text("INSERT INTO things (name) VALUES ('lost')"))
            await publish(session, tables["outbox"], [rolled_back], topic_prefix=prefix)
            raise RuntimeError("business rule failed after the event was written")
    except RuntimeError:
        pass
    relay = OutboxRelay(session_factory=sessions, outbox=tables["outbox"], bootstrap_servers=infrastructure.kafka_bootstrap_servers, client_id="t")
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: _zero_backlog(relay), timeout_s=30, what="outbox drained")
    finally:
        relay.stop()
        await task
    got = await _read_all(infrastructure.kafka_bootstrap_servers, f"{prefix}customer.scores.v1", 1)
    assert [e.id for e in got] == [committed.id]
    async with sessions() as session:
        assert (await session.execute(text("SELECT name FROM things"))).scalars().all() == ["kept"]


async def _zero_backlog(relay: OutboxRelay) -> bool:
    return await relay.backlog() == 0


async def test_fatal_producer_error_recreates_producer_and_publishes_each_event_once(backbone_db, infrastructure):
    engine, sessions, tables = backbone_db
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await ensure_topics(infrastructure.kafka_bootstrap_servers, prefix=prefix, topics=[CUSTOMER_SCORES])
    events = [_scored(i) for i in range(20)]
    async with session_scope(sessions) as session:
        await publish(session, tables["outbox"], events, topic_prefix=prefix)

    relay = OutboxRelay(session_factory=sessions, outbox=tables["outbox"], bootstrap_servers=infrastructure.kafka_bootstrap_servers, client_id="t")
    first = await relay._ensure_producer()  # noqa: SLF001 - inject the broker's fatal answer into the first producer
    original_send = first.send

    async def send_failing_once(*args, **kwargs):
        if not getattr(first, "_failed_once", False):
            first._failed_once = True
            raise OutOfOrderSequenceNumber("injected: broker lost the producer's sequence state")
        return await original_send(*args, **kwargs)

    first.send = send_failing_once
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: _zero_backlog(relay), timeout_s=30, what="outbox drained after the fatal error")
    finally:
        relay.stop()
        await task
    assert relay.status.producer_generations == 2
    assert "OutOfOrderSequenceNumber" in (relay.status.last_error or "")
    got = await _read_all(infrastructure.kafka_bootstrap_servers, f"{prefix}customer.scores.v1", 20)
    assert sorted(e.id for e in got) == sorted(e.id for e in events)
    async with sessions() as session:
        assert (await session.execute(select(func.count()).select_from(tables["outbox"]).where(tables["outbox"].c.sent_at.is_(None)))).scalar_one() == 0


async def test_two_relays_never_publish_the_same_row_concurrently(backbone_db, infrastructure):
    engine, sessions, tables = backbone_db
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await ensure_topics(infrastructure.kafka_bootstrap_servers, prefix=prefix, topics=[CUSTOMER_SCORES])
    events = [_scored(i) for i in range(300)]
    for chunk in range(0, 300, 30):
        async with session_scope(sessions) as session:
            await publish(session, tables["outbox"], events[chunk : chunk + 30], topic_prefix=prefix)
    relays = [
        OutboxRelay(session_factory=sessions, outbox=tables["outbox"], bootstrap_servers=infrastructure.kafka_bootstrap_servers, client_id=f"r{i}", batch_size=25)
        for i in range(2)
    ]
    tasks = [asyncio.create_task(r.run()) for r in relays]
    try:
        await eventually(lambda: _zero_backlog(relays[0]), timeout_s=60, what="outbox drained by two relays")
    finally:
        for r in relays:
            r.stop()
        await asyncio.gather(*tasks)
    got = await _read_all(infrastructure.kafka_bootstrap_servers, f"{prefix}customer.scores.v1", 300)
    assert len(got) == 300 and len({e.id for e in got}) == 300
    assert sum(r.status.published for r in relays) == 300
