"""The event backbone against a real broker, PostgreSQL and separate OS processes.

Each test runs a probe producer (HTTP + outbox relay) and a probe consumer (group
``probe``) as their own processes on their own databases, the way two services run.
Tests that stop the broker use a private broker (:class:`KafkaBroker`) so the shared one
keeps serving everything else.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import select

from counterflow_shared.events.security import client_options
from counterflow_shared.events.envelope import new_event
from counterflow_shared.events.kafka import ensure_topics
from counterflow_shared.persistence.db import create_engine, session_factory
from counterflow_testkit import eventually, sample_value, scrape
from probe.app import PROBE_GROUP, counts, received, scored

pytestmark = pytest.mark.slow


async def _consumer_counts(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            return await counts(session)
    finally:
        await engine.dispose()


async def _post_notes(base: str, n: int, prefix: str) -> list[str]:
    ids = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for i in range(n):
            r = await client.post("/v1/notes", json={"customer_id": f"{prefix}-{i}"})
            assert r.status_code == 201, r.text
            ids.append(r.json()["event_id"])
    return ids


async def _received_ids(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            return list((await session.execute(select(received.c.event_id))).scalars())
    finally:
        await engine.dispose()


async def _prepare_topics(bootstrap: str, prefix: str) -> None:
    from counterflow_shared.events.catalog import CUSTOMER_SCORES

    await ensure_topics(bootstrap, prefix=prefix, topics=[CUSTOMER_SCORES, PROBE_GROUP.dead_letter_topic])


async def test_event_written_with_state_arrives_exactly_once_in_another_process(infrastructure, probe_dbs, probe_process):
    prefix = f"t{uuid.uuid4().hex[:8]}."
    bootstrap = infrastructure.kafka_bootstrap_servers
    await _prepare_topics(bootstrap, prefix)
    consumer_db = probe_dbs.new("consumer")
    producer = probe_process(role="producer", database_url=probe_dbs.new("producer"), bootstrap=bootstrap, prefix=prefix)
    probe_process(role="consumer", database_url=consumer_db, bootstrap=bootstrap, prefix=prefix)

    sent = await _post_notes(producer.url, 60, "c")

    await eventually(lambda: _consumer_counts(consumer_db), timeout_s=60, what="60 events consumed")
    await eventually(lambda: _has(consumer_db, 60), timeout_s=60, what="all 60 events")
    await asyncio.sleep(1.0)  # anything extra would show up now
    assert sorted(await _received_ids(consumer_db)) == sorted(sent)
    assert await _consumer_counts(consumer_db) == (60, 60)


async def _has(url: str, n: int) -> bool:
    rows, _ = await _consumer_counts(url)
    return rows >= n


async def _outbox_age(base: str) -> tuple[float | None, float | None]:
    """``(oldest pending age in seconds, pending rows)`` from the probe's /metrics."""
    samples = await asyncio.to_thread(scrape, base)
    return sample_value(samples, "counterflow_outbox_oldest_pending_age_seconds", service="probe"), sample_value(samples, "counterflow_outbox_pending_rows", service="probe")


async def test_broker_outage_delays_events_and_loses_none(private_kafka, probe_dbs, probe_process):
    """A broker outage: the API stays ready (degraded, 200) because the outbox keeps the
    events, the outbox-age gauge grows, and after the restart every event arrives once."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await _prepare_topics(private_kafka.bootstrap, prefix)
    consumer_db = probe_dbs.new("consumer")
    fast_gauges = {"CF_PROBE_METRICS_SAMPLE_INTERVAL_S": "0.5"}
    producer = probe_process(role="producer", database_url=probe_dbs.new("producer"), bootstrap=private_kafka.bootstrap, prefix=prefix, extra=fast_gauges)
    probe_process(role="consumer", database_url=consumer_db, bootstrap=private_kafka.bootstrap, prefix=prefix)
    before = await _post_notes(producer.url, 20, "before")
    await eventually(lambda: _has(consumer_db, 20), timeout_s=60, what="events before the outage")
    async def drained() -> bool:
        return await _outbox_age(producer.url) == (0.0, 0.0)

    await eventually(drained, timeout_s=10, what="outbox gauges sampled: drained before the outage")

    await asyncio.to_thread(private_kafka.stop)
    try:
        during = await _outage_checks(producer, consumer_db)
    finally:
        await asyncio.to_thread(private_kafka.start)  # the session's broker is up again for the next tests, pass or fail
    after = await _post_notes(producer.url, 10, "after")
    await eventually(lambda: _has(consumer_db, 60), timeout_s=120, what="every event after the broker restart")
    await asyncio.sleep(2.0)
    assert sorted(await _received_ids(consumer_db)) == sorted(before + during + after)
    assert await _consumer_counts(consumer_db) == (60, 60), "no event had a second effect"
    await eventually(drained, timeout_s=10, what="the outbox gauges back to zero")


async def _outage_checks(producer, consumer_db: str) -> list[str]:  # noqa: ANN001
    """While the broker is down: writes are accepted, nothing arrives, /readyz stays 200
    (degraded), the outbox age grows and the gauges say the broker is down. Returns the ids
    of the notes written during the outage."""
    during = await _post_notes(producer.url, 30, "during")  # the service keeps accepting writes
    await asyncio.sleep(2.0)
    assert (await _consumer_counts(consumer_db))[0] == 20, "nothing can arrive while the broker is down"
    async with httpx.AsyncClient(base_url=producer.url) as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "degraded" and body["degraded"] == ["broker"] and not body["checks"]["broker"]["ok"] and body["checks"]["database"]["ok"]
    first_age, pending = await _outbox_age(producer.url)
    assert pending == 30 and first_age > 0
    await asyncio.sleep(2.0)
    async with httpx.AsyncClient(base_url=producer.url) as client:
        assert (await client.get("/readyz")).status_code == 200
    later_age, _ = await _outbox_age(producer.url)
    assert later_age >= first_age + 1.0, f"the outbox age did not grow: {first_age} -> {later_age}"
    samples = await asyncio.to_thread(scrape, producer.url)
    assert sample_value(samples, "counterflow_readiness_check_up", check="broker") == 0

    async def relay_sees_broker_down() -> bool:
        # the relay learns it at its next publish attempt (its backoff grows while the broker is down)
        samples = await asyncio.to_thread(scrape, producer.url)
        return sample_value(samples, "counterflow_broker_up", service="probe", component="relay") == 0

    await eventually(relay_sees_broker_down, timeout_s=30, what="the relay's broker_up gauge at 0")
    return during


async def test_consumer_killed_mid_batch_loses_nothing_and_applies_nothing_twice(infrastructure, probe_dbs, probe_process):
    prefix = f"t{uuid.uuid4().hex[:8]}."
    bootstrap = infrastructure.kafka_bootstrap_servers
    await _prepare_topics(bootstrap, prefix)
    consumer_db = probe_dbs.new("consumer")
    producer = probe_process(role="producer", database_url=probe_dbs.new("producer"), bootstrap=bootstrap, prefix=prefix)
    sent = await _post_notes(producer.url, 150, "k")
    slow = {"CF_PROBE_HANDLER_DELAY_S": "0.03"}
    consumer = probe_process(role="consumer", database_url=consumer_db, bootstrap=bootstrap, prefix=prefix, extra=slow)

    rows = await eventually(lambda: _between(consumer_db, 20, 140), timeout_s=60, interval_s=0.02, what="a batch half processed")
    consumer.stop(sig=signal.SIGKILL)
    assert rows < 150
    probe_process(role="consumer", database_url=consumer_db, bootstrap=bootstrap, prefix=prefix)
    await eventually(lambda: _has(consumer_db, 150), timeout_s=240, what="all events after the restart (a rejoin can wait out the killed member's session and a second rebalance)")
    await asyncio.sleep(2.0)
    assert sorted(await _received_ids(consumer_db)) == sorted(sent)
    assert await _consumer_counts(consumer_db) == (150, 150)


async def _between(url: str, low: int, high: int) -> int | None:
    rows, _ = await _consumer_counts(url)
    return rows if low <= rows <= high else None


async def test_poison_event_goes_to_dead_letter_topic_and_consumer_moves_on(infrastructure, probe_dbs, probe_process):
    prefix = f"t{uuid.uuid4().hex[:8]}."
    bootstrap = infrastructure.kafka_bootstrap_servers
    await _prepare_topics(bootstrap, prefix)
    consumer_db = probe_dbs.new("consumer")
    probe_process(role="consumer", database_url=consumer_db, bootstrap=bootstrap, prefix=prefix, extra={"CF_PROBE_CONSUMER_RETRY_BACKOFF_S": "0.05"})
    topic = f"{prefix}customer.scores.v1"
    failing = new_event(scored("poison-1"), source="/test")
    good = new_event(scored("good-1"), source="/test")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **client_options(), enable_idempotence=True)
    await producer.start()
    try:
        key = b"same-partition"
        await producer.send_and_wait(topic, b"this is not a CloudEvent", key=key)
        await producer.send_and_wait(topic, failing.to_bytes(), key=key)
        await producer.send_and_wait(topic, good.to_bytes(), key=key)
    finally:
        await producer.stop()

    await eventually(lambda: _has(consumer_db, 1), timeout_s=60, what="the good event after two poison ones")
    assert await _received_ids(consumer_db) == [good.id]

    dlq = AIOKafkaConsumer(f"{prefix}dlq.probe", bootstrap_servers=bootstrap, **client_options(), auto_offset_reset="earliest", enable_auto_commit=False, group_id=None)
    await dlq.start()
    try:
        records = []
        deadline = time.monotonic() + 30
        while len(records) < 2 and time.monotonic() < deadline:
            batch = await dlq.getmany(timeout_ms=500)
            records += [r for rs in batch.values() for r in rs]
    finally:
        await dlq.stop()
    assert len(records) == 2
    errors = [dict(r.headers)["dlq_error"].decode() for r in records]
    assert errors[0].startswith("undecodable record")
    assert "cannot handle poison-1" in errors[1]
    assert dict(records[1].headers)["dlq_attempts"] == b"3"
    assert records[1].value == failing.to_bytes()


async def test_consumer_shutdown_with_broker_down_exits_within_10_seconds(private_kafka, probe_dbs, probe_process):
    prefix = f"t{uuid.uuid4().hex[:8]}."
    await _prepare_topics(private_kafka.bootstrap, prefix)
    worker = probe_process(role="consumer", database_url=probe_dbs.new("consumer"), bootstrap=private_kafka.bootstrap, prefix=prefix, wait=False)
    # the worker entry point (no HTTP), as the consumers run on Kubernetes
    log = open(worker.log_path, "ab")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "probe", "worker"], env=worker.env, stdout=log, stderr=subprocess.STDOUT)
    try:
        await eventually(lambda: _log_says(worker.log_path, "consumer.started"), timeout_s=60, what="worker consuming")
        await asyncio.to_thread(private_kafka.stop)
        await asyncio.sleep(1.0)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 30)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
        await asyncio.to_thread(private_kafka.start)
    assert elapsed < 10.0, f"worker took {elapsed:.1f}s to exit"
    assert code == 0


async def _log_says(path, text: str) -> bool:  # noqa: ANN001
    return path.exists() and text in path.read_text(errors="replace")


async def test_one_trace_spans_http_request_and_handler_in_another_service(infrastructure, probe_dbs, probe_process, tmp_path):
    prefix = f"t{uuid.uuid4().hex[:8]}."
    bootstrap = infrastructure.kafka_bootstrap_servers
    await _prepare_topics(bootstrap, prefix)
    spans_file = tmp_path / "spans.jsonl"
    tracing = {"CF_PROBE_OTEL_EXPORTER": f"file:{spans_file}"}
    consumer_db = probe_dbs.new("consumer")
    producer = probe_process(role="producer", database_url=probe_dbs.new("producer"), bootstrap=bootstrap, prefix=prefix, extra=tracing)
    probe_process(role="consumer", database_url=consumer_db, bootstrap=bootstrap, prefix=prefix, extra=tracing)

    async with httpx.AsyncClient(base_url=producer.url) as client:
        r = await client.post("/v1/notes", json={"customer_id": "traced"}, headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    assert r.status_code == 201
    await eventually(lambda: _has(consumer_db, 1), timeout_s=60, what="traced event consumed")

    async def spans_of_trace() -> list[dict]:
        if not spans_file.exists():
            return []
        spans = [json.loads(line) for line in spans_file.read_text().splitlines() if line.strip()]
        mine = [s for s in spans if s["context"]["trace_id"] == "0x0af7651916cd43dd8448eb211c80319c"]
        return mine if {s["resource"]["attributes"]["service.name"] for s in mine} >= {"probe"} and any(s["kind"] == "SpanKind.CONSUMER" for s in mine) else []

    spans = await eventually(spans_of_trace, timeout_s=30, what="spans of the trace from both processes")
    server = [s for s in spans if s["kind"] == "SpanKind.SERVER"]
    consumer = [s for s in spans if s["kind"] == "SpanKind.CONSUMER"]
    assert server and consumer
    # the consumer's processing span is a descendant of the HTTP request's span tree
    span_ids = {s["context"]["span_id"] for s in spans}
    assert consumer[0]["parent_id"] in span_ids
    # and the handler's own database work ran inside the trace (trace id stored by the handler)
    rows = await _received_trace_ids(consumer_db)
    assert rows == ["0af7651916cd43dd8448eb211c80319c"]


async def _received_trace_ids(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            return list((await session.execute(select(received.c.trace_id))).scalars())
    finally:
        await engine.dispose()
