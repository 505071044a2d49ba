"""The outbox relay against the real broker and PostgreSQL (in-process)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import OutOfOrderSequenceNumber
from sqlalchemy import func, select, text

from counterflow_shared.events.security import client_options
from counterflow_shared.events.catalog import CUSTOMER_SCORES
from counterflow_shared.events.envelope import Envelope, new_event
from counterflow_shared.events.kafka import ensure_topics
from counterflow_shared.events.outbox import OutboxRelay, publish
from counterflow_shared.events.payloads.scores import CustomerScored
from counterflow_shared.persistence.db import session_scope
from counterflow_testkit import eventually


def _scored(i: int) -> Envelope:
    return new_event(
        CustomerScored(customer_id=f"C{i}", score=1.0, percentile=0.1, tier="mass", propensity={}, model_version="t", computed_at=datetime.now(UTC)),
        source="/test",
    )


async def _read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 30) -> list[Envelope]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, **client_options(), auto_offset_reset="earliest", enable_auto_commit=False, group_id=None)
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


async def test_a_relay_publishes_another_process_commit_on_its_notification_not_a_poll(backbone_db, infrastructure):
    """Issue 15: the commit of another process (here a separate Python process with its own
    connection) wakes this process's relay through LISTEN/NOTIFY. The relay's fallback poll
    is set to 60 s, so a publication within the test's time can only come from the
    notification; no poll round happens meanwhile."""
    import subprocess
    import sys

    from counterflow_shared.events.outbox import notify_trigger_ddl, outbox_rows

    engine, sessions, tables = backbone_db
    async with engine.begin() as conn:
        for statement in notify_trigger_ddl():
            await conn.execute(text(statement))
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await ensure_topics(infrastructure.kafka_bootstrap_servers, prefix=prefix, topics=[CUSTOMER_SCORES])
    relay = OutboxRelay(
        session_factory=sessions, outbox=tables["outbox"], bootstrap_servers=infrastructure.kafka_bootstrap_servers, client_id="t", poll_interval_s=60.0, listen_url=str(engine.url.render_as_string(hide_password=False))
    )
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(relay.listening.wait(), 10)
        await asyncio.sleep(0.3)  # the wake-up that follows LISTEN has found nothing
        polls, published = relay.polls, relay.status.published
        (row,) = outbox_rows([_scored(42)], topic_prefix=prefix)
        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        script = (
            "import asyncio, asyncpg, json, sys\n"
            "async def main():\n"
            "    c = await asyncpg.connect(sys.argv[1])\n"
            "    await c.execute('INSERT INTO outbox (event_id, topic, key, value, headers) VALUES ($1, $2, $3, $4, $5::json)', sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5].encode(), sys.argv[6])\n"
            "    await c.close()\n"
            "asyncio.run(main())\n"
        )
        args = [sys.executable, "-c", script, dsn, row["event_id"], row["topic"], row["key"], row["value"].decode(), json.dumps(row["headers"])]
        done = await asyncio.to_thread(subprocess.run, args, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr

        async def sent() -> bool:
            return relay.status.published > published

        await eventually(sent, timeout_s=20, what="the other process's row published")
        assert relay.notifications >= 1 and relay.polls == polls
        (got,) = [e for e in await _read_all(infrastructure.kafka_bootstrap_servers, f"{prefix}{CUSTOMER_SCORES.name}", 1) if e.id == row["event_id"]]
        assert got.data["customer_id"] == "C42"
    finally:
        relay.stop()
        await asyncio.wait_for(task, 15)


async def test_an_idle_relay_probes_once_per_poll_without_a_transaction(backbone_db, infrastructure):
    """An idle relay costs one autocommit round trip per fallback poll (no BEGIN/COMMIT)."""
    from sqlalchemy import event

    engine, sessions, tables = backbone_db
    statements: list[str] = []

    def on_execute(_c, _cur, statement, *_a):  # noqa: ANN001, ANN202
        statements.append(statement)

    relay = OutboxRelay(session_factory=sessions, outbox=tables["outbox"], bootstrap_servers=infrastructure.kafka_bootstrap_servers, client_id="t", poll_interval_s=0.2)
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: _true_after(relay, 1), timeout_s=10, what="first poll")
        event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
        polls = relay.polls
        await asyncio.sleep(1.5)
        event.remove(engine.sync_engine, "before_cursor_execute", on_execute)
        rounds = relay.polls - polls
    finally:
        relay.stop()
        await asyncio.wait_for(task, 15)
    # one probe statement per poll, never the claiming SELECT .. FOR UPDATE (which needs a transaction)
    assert rounds >= 3 and len(statements) == rounds and all("outbox" in s and "FOR UPDATE" not in s for s in statements)


async def _true_after(relay: OutboxRelay, polls: int) -> bool:
    return relay.polls >= polls
