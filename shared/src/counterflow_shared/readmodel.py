"""Read models in Redis fed by compacted topics, rebuilt when Redis starts empty.

A service keeps what it needs of other services' state (tiers, device availability,
branch load) in Redis so that every instance sees the same. Kafka's compacted topics keep
the last event per key, so replaying one from the beginning rebuilds the model; a marker
key says the model was built, and its absence (Redis flushed or new) triggers the replay,
at start-up and, through :class:`ReadModelGuard`, whenever it goes missing while the
service runs. Ongoing updates arrive through the service's consumer group as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError

from counterflow_shared.events.catalog import entry
from counterflow_shared.events.envelope import Envelope
from counterflow_shared.events.kafka import bounded
from counterflow_shared.events.security import client_options
from counterflow_shared.events.payloads.scores import CustomerScored

log = structlog.get_logger(__name__)

Apply = Callable[[Envelope, BaseModel], Awaitable[None]]


async def replay_compacted(bootstrap_servers: str, topic: str, apply: Apply, *, timeout_s: float = 60.0, kafka: dict | None = None) -> int:
    """Read ``topic`` (full name) from the beginning to its current end, calling ``apply``
    for each decodable event; returns how many were applied. Uses no consumer group.
    ``kafka``: authentication options (:func:`~counterflow_shared.events.security.client_options`;
    ``None``: the platform's).

    Raises:
        BrokerTimeout: the broker did not answer within ``timeout_s`` seconds.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None, **(kafka if kafka is not None else client_options()))
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

    async def _apply(self, _envelope: Envelope, payload: BaseModel) -> None:
        if isinstance(payload, CustomerScored):
            await self.put(payload)

    async def ensure_built(self, bootstrap_servers: str, topic: str, *, timeout_s: float = 60.0, kafka: dict | None = None) -> bool:
        """Replay ``topic`` (full name of ``customer.scores.v1``) when this model was never
        built in this Redis (marker ``<prefix>built:<topic>``); start-up hook. ``kafka``:
        see :func:`replay_compacted`."""
        return await ensure_built(self.redis, f"{self.prefix}built:{topic}", lambda: replay_compacted(bootstrap_servers, topic, self._apply, timeout_s=timeout_s, kafka=kafka))

    def model(self, bootstrap_servers: str, topic: str, *, timeout_s: float = 60.0, kafka: dict | None = None) -> "Model":
        """This read model as a :class:`ReadModelGuard` sees it (same marker as :meth:`ensure_built`)."""
        return Model(topic, f"{self.prefix}built:{topic}", lambda: replay_compacted(bootstrap_servers, topic, self._apply, timeout_s=timeout_s, kafka=kafka))


@dataclass(frozen=True)
class Model:
    """One read model a guard watches: its ``name`` (for logs and readiness), the Redis
    ``marker`` key whose presence says the model was built, and ``rebuild``, which
    replays the model's compacted topic and returns how many events it applied."""

    name: str
    marker: str
    rebuild: Callable[[], Awaitable[int]]


class ReadModelGuard:
    """Notices that a service's Redis read models are gone (Redis flushed or restarted
    without persistence: the markers disappear with the data) and rebuilds them from the
    compacted topics while the service keeps serving.

    * :meth:`watch` checks every marker in one round trip every ``interval_s`` seconds
      and starts a rebuild of the missing ones (one at a time per process: a
      single-flight task); every instance that notices rebuilds, and the last event per
      key wins, so concurrent rebuilds converge on the same state.
    * :meth:`require` is for a request that decides on read-model state (the channel
      rules): with a marker missing it waits for the rebuild up to ``wait_s`` seconds and
      then raises a 503 ``read-model-rebuilding`` problem with ``Retry-After`` rather
      than decide silently on empty state.
    * :meth:`readiness` is the ``/readyz`` check (``ok`` stays true while rebuilding so
      the instance keeps serving what does not need the model; the detail says
      ``rebuilding``), and the log has ``readmodel.lost`` / ``readmodel.rebuilt``.

    Counters (``losses``, ``rebuilds``) are what a metrics exporter reads.
    """

    def __init__(self, redis: Redis, models: list[Model], *, wait_s: float = 0.8) -> None:
        self.redis = redis
        self.models = models
        self.wait_s = wait_s
        self.losses = 0
        self.rebuilds = 0
        self.rebuilding: set[str] = set()
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None

    async def missing(self) -> list[Model]:
        """The models whose marker is missing (one pipelined round trip)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for m in self.models:
                pipe.exists(m.marker)
            present = await pipe.execute()
        return [m for m, p in zip(self.models, present, strict=True) if not p]

    @property
    def markers(self) -> list[str]:
        """Marker keys in model order (for callers that read them in their own pipeline)."""
        return [m.marker for m in self.models]

    def start_rebuild(self, missing: list[Model], *, first_build: bool = False) -> asyncio.Task[None]:
        """Start (or join) the rebuild of ``missing``; returns the running task.
        ``first_build``: the start-up build of a new Redis, not a loss."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._rebuild(missing, first_build), name="readmodel-rebuild")
        return self._task

    async def _rebuild(self, missing: list[Model], first_build: bool = False) -> None:
        self.rebuilding = {m.name for m in missing}
        if first_build:
            log.info("readmodel.building", models=sorted(self.rebuilding))
        else:
            self.losses += 1
            log.warning("readmodel.lost", models=sorted(self.rebuilding), detail="marker missing: Redis flushed or restarted; rebuilding from the compacted topics while serving")
        started = time.monotonic()

        async def one(m: Model) -> None:
            count = await m.rebuild()
            await self.redis.set(m.marker, str(count))
            self.rebuilding.discard(m.name)
            log.info("readmodel.rebuilt", model=m.name, events=count, seconds=round(time.monotonic() - started, 3))

        try:
            await asyncio.gather(*(one(m) for m in missing))  # the topics replay side by side
            if not first_build:
                self.rebuilds += 1
            self.last_error = None
        except Exception as exc:  # noqa: BLE001 - the watcher retries on its next round
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("readmodel.rebuild_failed", models=sorted(self.rebuilding), error=self.last_error)

    async def ensure(self) -> bool:
        """Start-up: build missing models now and wait for it (a first build, not counted
        as a loss); returns whether any were missing."""
        missing = await self.missing()
        if missing:
            await self.start_rebuild(missing, first_build=True)
        return bool(missing)

    async def require(self) -> None:
        """Return once every model is present; wait for a running or new rebuild up to
        ``wait_s`` seconds.

        Raises:
            Problem: 503 ``read-model-rebuilding`` (``Retry-After: 1``) when the rebuild
                takes longer.
        """
        missing = await self.missing()
        if missing:
            await self.wait_rebuilt(missing)

    async def wait_rebuilt(self, missing: list[Model]) -> None:
        """Wait up to ``wait_s`` for the rebuild of ``missing`` (see :meth:`require`)."""
        from counterflow_shared.web.problems import Problem

        task = self.start_rebuild(missing)
        try:
            await asyncio.wait_for(asyncio.shield(task), self.wait_s)
        except TimeoutError:
            pass
        if task.done() and not self.rebuilding:
            return
        names = ", ".join(sorted(self.rebuilding or {m.name for m in missing}))
        raise Problem(503, "read-model-rebuilding", "Read models are being rebuilt", f"{names} lost from Redis; rebuilding from the compacted topics, retry shortly", retry_after_s=1)

    async def watch(self, interval_s: float) -> None:
        """Check the markers every ``interval_s`` seconds and rebuild what is gone; runs until cancelled."""
        while True:
            try:
                missing = await self.missing()
                if missing:
                    await self.start_rebuild(missing)
            except (OSError, RedisError) as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(interval_s)

    def readiness(self) -> tuple[bool, str]:
        """``(ok, detail)`` for ``/readyz``: ok while serving; the detail says ``rebuilding``."""
        if self.rebuilding:
            return True, f"rebuilding {', '.join(sorted(self.rebuilding))} from compacted topics (losses so far {self.losses})"
        if self.last_error:
            return True, f"last rebuild failed ({self.last_error}); retrying"
        return True, f"built ({self.losses} rebuild(s) after a loss)"

    async def close(self) -> None:
        """Cancel a running rebuild."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
