"""Read models in Redis fed by compacted topics, rebuilt when Redis starts empty.

A service keeps what it needs of other services' state (tiers, device availability,
branch load) in Redis so that every instance sees the same. Kafka's compacted topics keep
the last event per key, so replaying one from the beginning rebuilds the model; a marker
key says the model was built, and its absence (Redis flushed or new) triggers the replay
at start-up. Ongoing updates arrive through the service's consumer group as usual.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import BaseModel
from redis.asyncio import Redis

from counterflow_shared.events.catalog import entry
from counterflow_shared.events.envelope import Envelope
from counterflow_shared.events.kafka import bounded
from counterflow_shared.events.payloads.scores import CustomerScored

log = structlog.get_logger(__name__)

Apply = Callable[[Envelope, BaseModel], Awaitable[None]]


async def replay_compacted(bootstrap_servers: str, topic: str, apply: Apply, *, timeout_s: float = 60.0) -> int:
    """Read ``topic`` (full name) from the beginning to its current end, calling ``apply``
    for each decodable event; returns how many were applied. Uses no consumer group.

    Raises:
        BrokerTimeout: the broker did not answer within ``timeout_s`` seconds.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None)
    await bounded(consumer.start(), timeout_s, "replay consumer start")
    applied = 0
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await bounded(consumer._client.force_metadata_update(), timeout_s, "metadata")  # noqa: SLF001 - no public refresh
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return 0
        consumer.assign(tps)
        await bounded(consumer.seek_to_beginning(*tps), timeout_s, "seek")
        end = await bounded(consumer.end_offsets(tps), timeout_s, "end offsets")
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining:
            batches = await bounded(consumer.getmany(timeout_ms=500, max_records=1000), timeout_s, "replay fetch")
            for tp, records in batches.items():
                for record in records:
                    if record.value is None:
                        continue
                    try:
                        envelope = Envelope.from_bytes(record.value)
                        payload = entry(envelope.type).payload.model_validate(envelope.data)
                    except Exception as exc:  # noqa: BLE001 - a bad record must not stop a rebuild
                        log.warning("readmodel.skip_record", topic=topic, offset=record.offset, error=repr(exc))
                        continue
                    await apply(envelope, payload)
                    applied += 1
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await bounded(consumer.stop(), timeout_s, "replay consumer stop")
    return applied


async def ensure_built(redis: Redis, marker: str, rebuild: Callable[[], Awaitable[int]]) -> bool:
    """Run ``rebuild`` when the ``marker`` key is missing, then set it.

    Returns:
        ``True`` when a rebuild ran.
    """
    if await redis.exists(marker):
        return False
    count = await rebuild()
    await redis.set(marker, str(count))
    log.info("readmodel.rebuilt", marker=marker, events=count)
    return True


class CustomerScores:
    """Read model of ``customer.scores.v1``: each customer's tier and propensity per
    channel, as the channel rules need them (ticketing and the mobile gateway).

    Key: ``<prefix>score:<customer_id>`` -> JSON ``{"tier", "propensity"}`` (last event
    wins: the topic is compacted and keyed by customer, so events of one customer arrive in
    order). ``prefix`` is the service's Redis prefix (tests use their own).
    """

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix

    def key(self, customer_id: str) -> str:
        """Redis key of ``customer_id``'s score."""
        return f"{self.prefix}score:{customer_id}"

    async def put(self, score: CustomerScored) -> None:
        """Store a customer's tier and propensity (probabilities in [0, 1] per channel)."""
        await self.redis.set(self.key(score.customer_id), json.dumps({"tier": score.tier.value, "propensity": score.propensity}))

    async def get(self, customer_id: str) -> tuple[str | None, dict[str, float]]:
        """``(tier, propensity)`` of a customer; ``(None, {})`` when unknown."""
        raw = await self.redis.get(self.key(customer_id))
        if not raw:
            return None, {}
        doc = json.loads(raw)
        return doc.get("tier"), doc.get("propensity") or {}

    async def ensure_built(self, bootstrap_servers: str, topic: str, *, timeout_s: float = 60.0) -> bool:
        """Replay ``topic`` (full name of ``customer.scores.v1``) when this model was never
        built in this Redis (marker ``<prefix>built:<topic>``); start-up hook."""

        async def apply(_envelope: Envelope, payload: BaseModel) -> None:
            if isinstance(payload, CustomerScored):
                await self.put(payload)

        return await ensure_built(self.redis, f"{self.prefix}built:{topic}", lambda: replay_compacted(bootstrap_servers, topic, apply, timeout_s=timeout_s))
