"""Kafka security of the local broker (ADR 0215), against a real broker started by
``infra.sh``: TLS + SCRAM-SHA-512 only, and each service's user limited by the catalog's
ACLs to the topics it produces and consumes and to its own consumer groups."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import GroupAuthorizationFailedError, KafkaError, TopicAuthorizationFailedError

from counterflow_shared.events.acl import consumed_by, produced_by, services
from counterflow_shared.events.catalog import all_topics, consumer_group
from counterflow_shared.events.kafka import ensure_topics, new_consumer, new_producer
from counterflow_shared.events.security import client_options

TOPICS = [t.name for t in all_topics()]


@pytest.fixture(scope="module")
async def topics(secured_broker) -> list[str]:  # noqa: ANN001
    """Every catalog topic on the secured broker, partition 0 of each holding a record (written by admin)."""
    admin = client_options(secured_broker.settings("admin"))
    await ensure_topics(secured_broker.bootstrap, kafka=admin)
    producer = AIOKafkaProducer(bootstrap_servers=secured_broker.bootstrap, acks="all", **admin)
    await producer.start()
    try:
        for name in TOPICS:
            await producer.send_and_wait(name, b"seed", key=b"k", partition=0)
    finally:
        await producer.stop()
    return TOPICS


async def _can_write(broker, user: str, topic: str) -> bool:  # noqa: ANN001
    """Send one record to ``topic`` as ``user``; False when the broker refuses the topic."""
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", request_timeout_ms=10_000, **client_options(broker.settings(user)))
    await producer.start()
    try:
        await asyncio.wait_for(producer.send_and_wait(topic, b"probe", key=b"k"), 20)
        return True
    except TopicAuthorizationFailedError:
        return False
    finally:
        await producer.stop()


async def _can_read(broker, user: str, topic: str) -> bool:  # noqa: ANN001
    """Fetch ``topic``'s partition 0 from the beginning as ``user`` (no group, as the read
    models replay); False when the broker refuses: the topic is missing from the metadata
    the user may see (no ``Describe``), or the fetch is answered ``TOPIC_AUTHORIZATION_FAILED``
    (``Describe`` but no ``Read``, e.g. a topic the service only writes)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None, enable_auto_commit=False, **client_options(broker.settings(user)))
    await consumer.start()
    try:
        if topic not in await asyncio.wait_for(consumer.topics(), 20):
            return False
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await asyncio.wait_for(consumer.seek_to_beginning(tp), 20)
        for _ in range(20):
            batch = await asyncio.wait_for(consumer.getmany(tp, timeout_ms=500), 20)
            if batch.get(tp):
                return True
        raise AssertionError(f"{user} could neither read nor was refused {topic}")
    except TopicAuthorizationFailedError:
        return False
    finally:
        await consumer.stop()


@pytest.mark.parametrize("service", services())
async def test_a_service_writes_exactly_the_topics_it_owns(secured_broker, topics, service) -> None:  # noqa: ANN001
    """Every catalog topic: the write succeeds for the service's own topics (its events and
    its dead-letter topic) and is refused for every other one."""
    allowed = {t: await _can_write(secured_broker, service, t) for t in topics}
    assert {t for t, ok in allowed.items() if ok} == set(produced_by(service))
    assert len(produced_by(service)) < len(topics)


@pytest.mark.parametrize("service", services())
async def test_a_service_reads_exactly_its_input_topics(secured_broker, topics, service) -> None:  # noqa: ANN001
    """Every catalog topic: the fetch succeeds for the topics its consumer group reads and
    is refused for every other one (another service's input topic among them)."""
    readable = {t: await _can_read(secured_broker, service, t) for t in topics}
    assert {t for t, ok in readable.items() if ok} == set(consumed_by(service))


async def test_ticketing_cannot_read_scorings_input_nor_write_scores(secured_broker, topics) -> None:  # noqa: ANN001
    """The issue's example, spelled out: ticketing's credentials cannot read
    ``selfservice.transactions.v1`` (scoring's input, not ticketing's) and cannot write
    ``customer.scores.v1`` (scoring's output), while scoring can do both."""
    assert "selfservice.transactions.v1" in {t.name for t in consumer_group("scoring").topics}
    assert not await _can_read(secured_broker, "ticketing", "selfservice.transactions.v1")
    assert await _can_read(secured_broker, "scoring", "selfservice.transactions.v1")
    assert not await _can_write(secured_broker, "ticketing", "customer.scores.v1")
    assert await _can_write(secured_broker, "scoring", "customer.scores.v1")


async def test_a_service_consumes_in_its_own_group_only(secured_broker, topics) -> None:  # noqa: ANN001
    """The services' own client construction (idempotent producer, group consumer): scoring
    reads ``branch.tickets.v1`` in group ``scoring-<suffix>`` what ticketing wrote; the same
    user is refused the ``ticketing`` group on the same topic."""
    ticketing, scoring = (client_options(secured_broker.settings(u)) for u in ("ticketing", "scoring"))
    marker = uuid.uuid4().hex.encode()
    producer = new_producer(secured_broker.bootstrap, client_id="ticketing-test", kafka=ticketing)
    await producer.start()
    try:
        await producer.send_and_wait("branch.tickets.v1", marker, key=b"B1")
    finally:
        await producer.stop()
    consumer = new_consumer(secured_broker.bootstrap, ["branch.tickets.v1"], group_id=f"scoring-{uuid.uuid4().hex[:6]}", client_id="scoring-test", kafka=scoring)
    await consumer.start()
    try:
        seen: list[bytes] = []
        for _ in range(60):
            batches = await consumer.getmany(timeout_ms=500)
            seen += [r.value for records in batches.values() for r in records]
            if marker in seen:
                break
        assert marker in seen
        await consumer.commit()
    finally:
        await consumer.stop()
    intruder = new_consumer(secured_broker.bootstrap, ["branch.tickets.v1"], group_id="ticketing", client_id="scoring-intruder", kafka=scoring)
    with pytest.raises(GroupAuthorizationFailedError):  # at the join (start), or at the first fetch
        try:
            await intruder.start()
            for _ in range(20):
                await intruder.getmany(timeout_ms=500)
        finally:
            await intruder.stop()


async def test_plaintext_and_a_wrong_password_are_refused(secured_broker, topics) -> None:  # noqa: ANN001
    """No way in without TLS and a valid SCRAM credential."""
    wrong = AIOKafkaProducer(bootstrap_servers=secured_broker.bootstrap, request_timeout_ms=5000, **client_options(secured_broker.settings("ticketing", password="not-the-password")))
    with pytest.raises(KafkaError):
        await asyncio.wait_for(wrong.start(), 30)
    await wrong.stop()
    plain = AIOKafkaProducer(bootstrap_servers=secured_broker.bootstrap, request_timeout_ms=5000, security_protocol="PLAINTEXT")
    with pytest.raises((KafkaError, asyncio.TimeoutError)):
        await asyncio.wait_for(plain.start(), 15)
    await plain.stop()
