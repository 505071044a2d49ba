"""Consumer runtime: at-least-once delivery made effectively-once.

For each record: open a database transaction, insert ``(group, event id)`` into
``processed_events`` (a conflict means the event already had its effect: skip), run the
handler in the same transaction, commit; only then commit the Kafka offset
(last processed + 1). A crash anywhere in between redelivers the record and the
processed-event row stops a second effect.

A failing handler is retried ``max_retries`` times with exponential backoff; then the
record goes to the group's dead-letter topic (``dlq.<group>``) with the error in headers
and the consumer moves on. An undecodable record (not a CloudEvent, unknown schema) goes
there at once. SIGTERM (:meth:`ConsumerRuntime.stop`) lets the in-flight record finish
and returns within ``shutdown_grace_s`` even when the broker is unreachable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind
from pydantic import BaseModel, ValidationError
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from counterflow_shared.events.catalog import ConsumerGroup, entry
from counterflow_shared.events.envelope import Envelope
from counterflow_shared.events.kafka import BrokerTimeout, bounded, new_consumer, new_producer
from counterflow_shared.events.tracing import context_from_kafka_headers
from counterflow_shared.metrics.backbone import LagMeter
from counterflow_shared.persistence.db import session_scope
from counterflow_shared.persistence.outage import OUTAGES, is_database_outage

log = structlog.get_logger(__name__)
tracer = trace.get_tracer("counterflow.consumer")

#: A handler gets the open session (same transaction as the dedup row), the envelope and
#: the validated payload. It may return a coroutine function to run after the commit
#: (for side effects outside the database, e.g. a Redis publish).
Handler = Callable[[AsyncSession, Envelope, BaseModel], Awaitable[Callable[[], Awaitable[None]] | None]]


class _StoppedDuringOutage(Exception):
    """Stop was requested while waiting for the database: leave the record uncommitted."""


class PoisonEvent(Exception):
    """The record can never be processed (retrying is pointless): straight to dead letters."""


@dataclass
class ConsumerStatus:
    """Counters for readiness and tests."""

    processed: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    retried: int = 0
    #: events of a type this group has no handler for: acknowledged and skipped
    #: (forward compatibility), counted per CloudEvents type
    skipped_unknown: dict[str, int] = field(default_factory=dict)
    #: handler attempts that failed because the database was out (waited, not dead-lettered)
    outage_waits: int = 0
    assigned: bool = False
    broker_ok: bool = False
    last_error: str | None = None


class ConsumerRuntime:

    """Runs one consumer group of one service.

    Args:
        group: the catalog consumer group (its topics and dead-letter topic).
        handlers: CloudEvents ``type`` -> :data:`Handler`; other types are acknowledged
            and ignored (forward compatibility).
        session_factory: sessions on the service's database.
        processed_events: the service's ``processed_events`` table.
        bootstrap_servers, topic_prefix: where and under which prefix.
        kafka: authentication options (:func:`~counterflow_shared.events.security.client_options`
            of the service's settings; ``None``: the platform's).
        group_suffix: appended to the group id (tests isolate runs with it).
        max_retries: handler attempts before dead-lettering.
        retry_backoff_s: first retry delay in seconds, doubled each time.
        request_timeout_s: bound on each broker call in seconds.
        shutdown_grace_s: the whole of :meth:`run`'s shutdown is bounded by this (seconds).
        batch_size: consecutive records of one partition applied in one transaction
            (1 = one transaction per event).
    """

    #: database outage log (the runtime sets its own)
    outages = OUTAGES

    def __init__(
        self,
        *,
        group: ConsumerGroup,
        handlers: Mapping[str, Handler],
        session_factory: async_sessionmaker[AsyncSession],
        processed_events: Table,
        bootstrap_servers: str,
        topic_prefix: str = "",
        kafka: dict | None = None,
        group_suffix: str = "",
        max_retries: int = 3,
        retry_backoff_s: float = 0.2,
        request_timeout_s: float = 5.0,
        shutdown_grace_s: float = 8.0,
        batch_size: int = 50,
    ) -> None:
        self.group = group
        self.group_id = f"{topic_prefix}{group.name}{group_suffix}"
        self._handlers = dict(handlers)
        self._factory = session_factory
        self._processed = processed_events
        self._bootstrap = bootstrap_servers
        self._kafka = kafka
        self._prefix = topic_prefix
        self.topic_prefix = topic_prefix
        #: records behind each assigned partition, measured at most once a second (metrics)
        self.lag = LagMeter()
        self._max_retries = max(1, max_retries)
        self._backoff = retry_backoff_s
        self._timeout = request_timeout_s
        self._grace = shutdown_grace_s
        self._batch_size = max(1, batch_size)
        self._stop = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._dlq: AIOKafkaProducer | None = None
        self.status = ConsumerStatus()

    @property
    def topics(self) -> list[str]:
        """Full names of the topics consumed."""
        return [f"{self._prefix}{t.name}" for t in self.group.topics]

    def stop(self) -> None:
        """Finish the in-flight record, then return from :meth:`run`."""
        self._stop.set()

    async def run(self) -> None:
        """Consume until :meth:`stop`; reconnects after broker outages."""
        try:
            while not self._stop.is_set():
                try:
                    await self._start()
                    await self._loop()
                except asyncio.CancelledError as exc:
                    me = asyncio.current_task()
                    if self._stop.is_set() or (me is not None and me.cancelling()):
                        raise  # a stop meant for us
                    # cancelled from inside the Kafka client (its tasks torn down during a
                    # broker outage): a broker failure like any other, never a silent end
                    await self._restart_after(exc)
                except (BrokerTimeout, OSError, Exception) as exc:  # noqa: BLE001 - keep consuming after any infrastructure fault
                    if self._stop.is_set():
                        break
                    await self._restart_after(exc)
        finally:
            await self._close()

    async def _restart_after(self, exc: BaseException) -> None:
        """Drop the clients after a failure and wait a second before starting again."""
        self.status.broker_ok = False
        self.status.last_error = f"{type(exc).__name__}: {exc}"
        log.warning("consumer.restart", group=self.group_id, error=self.status.last_error)
        await self._close()
        await self._sleep(1.0)

    async def _start(self) -> None:
        if self._consumer is not None:
            return
        # Subscribed after start(): with the topics given up front, aiokafka's start() also
        # waits for the group's first assignment, which can take a dead member's session
        # timeout (10 s) after a broker outage; bounded by the request timeout, each
        # abandoned join left one more stale member behind and the consumer never rejoined.
        consumer = new_consumer(self._bootstrap, (), group_id=self.group_id, client_id=self.group_id, kafka=self._kafka)
        self._consumer = consumer
        await bounded(consumer.start(), self._timeout, "consumer start")
        consumer.subscribe(self.topics)
        self.status.broker_ok = True
        log.info("consumer.started", group=self.group_id, topics=self.topics)

    async def _close(self) -> None:
        consumer, self._consumer = self._consumer, None
        dlq, self._dlq = self._dlq, None
        for what, client in (("consumer", consumer), ("dlq producer", dlq)):
            if client is None:
                continue
            try:
                await bounded(client.stop(), min(self._grace, self._timeout), f"{what} stop")
            except Exception as exc:  # noqa: BLE001 - shutdown must finish even with the broker gone
                log.warning("consumer.stop_timeout", group=self.group_id, what=what, error=repr(exc))

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            pass

    async def _loop(self) -> None:
        assert self._consumer is not None
        while not self._stop.is_set():
            batches = await self._consumer.getmany(timeout_ms=200, max_records=200)
            self.status.assigned = bool(self._consumer.assignment())
            self.status.broker_ok = True
            await self.lag.maybe_measure(self._consumer)
            offsets: dict[TopicPartition, OffsetAndMetadata] = {}
            for tp, records in batches.items():
                for start in range(0, len(records), self._batch_size):
                    if self._stop.is_set():
                        break
                    chunk = records[start : start + self._batch_size]
                    if not await self._process_together(chunk):
                        for record in chunk:
                            try:
                                await self._process(record)
                            except _StoppedDuringOutage:
                                # the record was not applied: commit only what was, and
                                # leave it for the next owner of the partition
                                if record.offset > chunk[0].offset:
                                    offsets[tp] = OffsetAndMetadata(record.offset, "")
                                if offsets:
                                    await bounded(self._consumer.commit(offsets), self._timeout, "offset commit")
                                return
                    offsets[tp] = OffsetAndMetadata(chunk[-1].offset + 1, "")
            if offsets:
                # one commit for every partition of the poll, after their transactions
                await bounded(self._consumer.commit(offsets), self._timeout, "offset commit")
            if self._stop.is_set():
                return

    def _span(self, record: ConsumerRecord) -> AbstractContextManager[Span]:
        """The processing span of ``record``, a child of the producer's trace context."""
        return tracer.start_as_current_span(
            f"{record.topic} process",
            context=context_from_kafka_headers(record.headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": record.topic,
                "messaging.consumer.group.name": self.group_id,
                "messaging.kafka.offset": record.offset,
                "messaging.destination.partition.id": str(record.partition),
            },
        )

    async def _process_together(self, records: list[ConsumerRecord]) -> bool:
        """Apply consecutive records of one partition in ONE database transaction (each
        still deduplicated by its event id, each handler in its own span): one commit
        instead of one per event. Returns ``False`` without any effect when a record is
        undecodable or any handler fails; the caller then processes the records one by
        one, with retries and dead letters, and the rolled-back attempt left nothing."""
        if len(records) < 2:
            return False
        decoded = []
        for record in records:
            try:
                envelope = Envelope.from_bytes(record.value)
                handler = self._handlers.get(envelope.type)
                payload = entry(envelope.type).payload.model_validate(envelope.data) if handler is not None else None
            except (ValidationError, ValueError, TypeError, KeyError):
                return False
            decoded.append((record, envelope, handler, payload))
        afters: list[tuple[Callable[[], Awaitable[None]], Envelope]] = []
        processed = duplicates = 0
        try:
            async with session_scope(self._factory) as session:
                for record, envelope, handler, payload in decoded:
                    if handler is None:
                        self._skip_unknown(envelope.type)
                        continue
                    assert payload is not None  # decoded above whenever there is a handler
                    with self._span(record) as span:
                        span.set_attribute("messaging.message.id", envelope.id)
                        span.set_attribute("cloudevents.event_type", envelope.type)
                        if not await self._mark_processed(session, envelope, record):
                            duplicates += 1
                            continue
                        after = await handler(session, envelope, payload)
                        processed += 1
                        if after is not None:
                            afters.append((after, envelope))
        except Exception as exc:  # noqa: BLE001 - fall back to one-by-one processing
            log.info("consumer.batch_fallback", group=self.group_id, records=len(records), error=f"{type(exc).__name__}: {exc}")
            return False
        self.status.processed += processed
        self.status.duplicates += duplicates
        for after, envelope in afters:
            await self._run_after_commit(after, envelope)
        return True

    async def _process(self, record: ConsumerRecord) -> None:
        with self._span(record) as span:
            try:
                envelope = Envelope.from_bytes(record.value)
            except (ValidationError, ValueError, TypeError) as exc:
                await self._dead_letter(record, f"undecodable record: {exc}", attempts=0)
                return
            span.set_attribute("messaging.message.id", envelope.id)
            span.set_attribute("cloudevents.event_type", envelope.type)
            handler = self._handlers.get(envelope.type)
            if handler is None:
                self._skip_unknown(envelope.type)
                return
            error: str | None = None
            attempt = 0
            while attempt < self._max_retries:
                attempt += 1
                try:
                    after = await self._apply(record, envelope, handler)
                except PoisonEvent as exc:
                    await self._dead_letter(record, f"poison: {exc}", attempts=attempt)
                    return
                except Exception as exc:  # noqa: BLE001 - any handler failure is retried, then dead-lettered
                    if is_database_outage(exc):
                        # Not the event's fault: wait for the database without using up
                        # attempts; an outage never sends good events to dead letters.
                        self.outages.failed(exc, f"consumer {self.group_id}")
                        self.status.outage_waits += 1
                        attempt -= 1
                        await self._sleep(min(5.0, self._backoff * 2 ** min(self.status.outage_waits, 5)))
                        if self._stop.is_set():
                            raise _StoppedDuringOutage from exc
                        continue
                    error = f"{type(exc).__name__}: {exc}"
                    self.status.last_error = error
                    log.warning("consumer.handler_failed", group=self.group_id, event_id=envelope.id, type=envelope.type, attempt=attempt, error=error)
                    if attempt < self._max_retries:
                        self.status.retried += 1
                        await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
                    continue
                if self.outages.since is not None:
                    self.outages.ok()
                if after is not None:
                    await self._run_after_commit(after, envelope)
                return
            span.record_exception(RuntimeError(error or "handler failed"))
            await self._dead_letter(record, error or "handler failed", attempts=self._max_retries)

    def _skip_unknown(self, event_type: str) -> None:
        """Acknowledge an event of a type without a handler (forward compatibility): counted
        in ``status.skipped_unknown`` and logged the first time per type."""
        seen = self.status.skipped_unknown.get(event_type, 0)
        self.status.skipped_unknown[event_type] = seen + 1
        if not seen:
            log.info("consumer.unknown_type_skipped", group=self.group_id, type=event_type)

    async def _run_after_commit(self, after: Callable[[], Awaitable[None]], envelope: Envelope) -> None:
        """Run a handler's after-commit side effect, retried on its own: the database
        effect is already committed, so the handler itself must not run again (a retry of
        the whole event would be skipped as a duplicate and drop the side effect)."""
        for attempt in range(1, self._max_retries + 1):
            try:
                await after()
                return
            except Exception as exc:  # noqa: BLE001 - a lost side effect is logged, never fatal
                log.warning("consumer.after_commit_failed", group=self.group_id, event_id=envelope.id, attempt=attempt, error=repr(exc))
                if attempt < self._max_retries:
                    await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
        log.error("consumer.after_commit_gave_up", group=self.group_id, event_id=envelope.id)

    async def _apply(self, record: ConsumerRecord, envelope: Envelope, handler: Handler) -> Any:
        try:
            payload = entry(envelope.type).payload.model_validate(envelope.data)
        except (KeyError, ValidationError) as exc:
            raise PoisonEvent(f"payload does not match {envelope.type}: {exc}") from exc
        async with session_scope(self._factory) as session:
            if not await self._mark_processed(session, envelope, record):
                self.status.duplicates += 1
                return None
            after = await handler(session, envelope, payload)
        self.status.processed += 1
        return after

    async def _mark_processed(self, session: AsyncSession, envelope: Envelope, record: ConsumerRecord) -> bool:
        values = {
            "consumer_group": self.group.name,
            "event_id": envelope.id,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "processed_at": datetime.now(UTC),
        }
        dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(self._processed).values(**values).on_conflict_do_nothing().returning(self._processed.c.event_id)
        return (await session.execute(stmt)).first() is not None

    async def _dead_letter(self, record: ConsumerRecord, error: str, *, attempts: int) -> None:
        """Publish ``record`` unchanged to the dead-letter topic, error in headers. Retries
        until the broker takes it or :meth:`stop` is called (then the offset is not
        committed and the record comes back after restart)."""
        topic = f"{self._prefix}{self.group.dead_letter_topic.name}"
        headers = list(record.headers or []) + [
            ("dlq_error", error[:2000].encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_attempts", str(attempts).encode()),
            ("dlq_at", datetime.now(UTC).isoformat().encode()),
        ]
        while True:
            try:
                if self._dlq is None:
                    producer = new_producer(self._bootstrap, client_id=f"{self.group_id}-dlq", request_timeout_s=self._timeout, kafka=self._kafka)
                    await bounded(producer.start(), self._timeout, "dlq producer start")
                    self._dlq = producer
                await bounded(self._dlq.send_and_wait(topic, value=record.value, key=record.key, headers=headers), self._timeout * 2, "dlq send")
                self.status.dead_lettered += 1
                log.error("consumer.dead_lettered", group=self.group_id, topic=record.topic, offset=record.offset, error=error)
                return
            except Exception as exc:  # noqa: BLE001 - keep trying until the broker takes it
                log.warning("consumer.dlq_failed", group=self.group_id, error=repr(exc))
                dlq, self._dlq = self._dlq, None
                if dlq is not None:
                    try:
                        await bounded(dlq.stop(), self._timeout, "dlq stop")
                    except Exception:  # noqa: BLE001
                        pass
                if self._stop.is_set():
                    raise
                await self._sleep(1.0)


async def run_until_stopped(runtimes: list[Any], stop: asyncio.Event, grace_s: float) -> None:
    """Run consumers/relays until ``stop`` is set, then stop them and wait at most
    ``grace_s`` seconds (the SIGTERM path of worker processes)."""
    tasks = [asyncio.create_task(r.run(), name=type(r).__name__) for r in runtimes]
    await stop.wait()
    for r in runtimes:
        r.stop()
    done, pending = await asyncio.wait(tasks, timeout=grace_s)
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.wait(pending, timeout=1.0)
