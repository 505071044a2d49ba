"""Transactional outbox (Richardson, *Microservices Patterns*, 2018, ch. 3.3.7; the
"integration event log" of dotnet eShop; Apache Fineract's external events).

:func:`enqueue` writes an event into the ``outbox`` table with the caller's session, so it
commits or rolls back with the state change. :class:`OutboxRelay` publishes unsent rows in
id order with an idempotent producer and marks them sent only after the broker
acknowledged (``acks=all``). While the broker is down rows wait; nothing is lost. Rows are
claimed with ``FOR UPDATE SKIP LOCKED`` so several relay instances never publish the same
row concurrently. A redelivered row (relay crash after ack, before commit) has the same
event id, which consumers deduplicate.

Wake-up across processes (ADR 0151): a statement-level trigger on ``outbox``
(:func:`notify_trigger_ddl`, installed by each service's migration) sends
``NOTIFY counterflow_outbox`` with every inserting statement; PostgreSQL delivers it when
that transaction commits (one notification per transaction, whatever the number of rows).
Each relay keeps one ``LISTEN`` connection and polls only as a fallback
(``poll_interval_s``, at most 1 s) and while a backlog remains. An idle relay probes
with one autocommit ``SELECT`` per poll (one round trip), no transaction.
Sent rows are deleted in the round that marked them when ``sent_retention_s`` is 0,
otherwise marked ``sent_at`` and purged later by the retention loop
(:mod:`counterflow_shared.persistence.retention`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from typing import Any
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, OutOfOrderSequenceNumber, ProducerFenced, UnknownProducerId
from sqlalchemy import Table, delete, event, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from counterflow_shared.events.envelope import Envelope
from counterflow_shared.events.catalog import entry
from counterflow_shared.events.kafka import BrokerTimeout, bounded, new_producer
from counterflow_shared.events.tracing import current_trace_headers, to_kafka_headers
from counterflow_shared.persistence.outage import OUTAGES, raised_by_database
from counterflow_shared.metrics.backbone import observe_publish

log = structlog.get_logger(__name__)

#: Errors after which an idempotent producer's sequence state is unusable: the producer
#: is closed and a new one (new producer id) takes over. Source: KIP-98 / KIP-360.
FATAL_PRODUCER_ERRORS = (OutOfOrderSequenceNumber, UnknownProducerId, ProducerFenced)

_wakeups: set[asyncio.Event] = set()

#: PostgreSQL notification channel of outbox inserts (see :func:`notify_trigger_ddl`).
OUTBOX_CHANNEL = "counterflow_outbox"


def notify_trigger_ddl() -> list[str]:
    """DDL statements (PostgreSQL) of the statement-level trigger that notifies
    :data:`OUTBOX_CHANNEL` after every ``INSERT`` into ``outbox``; run them in a migration."""
    return [
        "CREATE OR REPLACE FUNCTION counterflow_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN PERFORM pg_notify('{OUTBOX_CHANNEL}', ''); RETURN NULL; END $$",
        "DROP TRIGGER IF EXISTS outbox_notify ON outbox",
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION counterflow_outbox_notify()",
    ]


def drop_notify_trigger_ddl() -> list[str]:
    """DDL that removes what :func:`notify_trigger_ddl` created (migration downgrade)."""
    return ["DROP TRIGGER IF EXISTS outbox_notify ON outbox", "DROP FUNCTION IF EXISTS counterflow_outbox_notify()"]


def _wake_relays(_session: Any) -> None:  # SQLAlchemy "after_commit" event signature
    for ev in list(_wakeups):
        ev.set()


def outbox_rows(events: Iterable[Envelope], *, topic_prefix: str = "") -> list[dict]:
    """The ``outbox`` rows (``event_id``, ``topic``, ``key``, ``value`` bytes, ``headers``
    dict with the current trace context) of ``events``, for callers that write them in a
    statement of their own (the one-statement kiosk path).

    Raises:
        KeyError: an event type not in the catalog.
    """
    headers = current_trace_headers()
    return [
        {
            "event_id": ev.id,
            "topic": f"{topic_prefix}{entry(ev.type).topic.name}",
            "key": ev.subject,
            "value": ev.to_bytes(),
            "headers": {**headers, "ce_type": ev.type, "ce_id": ev.id},
        }
        for ev in events
    ]


def wake_local_relays() -> None:
    """Wake the relays of this process now (after a commit made outside a session)."""
    _wake_relays(None)


def enqueue(session: AsyncSession, outbox: Table, events: Iterable[Envelope], *, topic_prefix: str = "") -> None:
    """Add ``events`` to the outbox within ``session``'s current transaction.

    The current trace context is stored with each row so consumers continue the trace.
    Relays in this process are woken right after the transaction commits.

    Raises:
        KeyError: an event type not in the catalog.
    """
    rows = outbox_rows(events, topic_prefix=topic_prefix)
    if not rows:
        return
    session.info.setdefault("outbox_rows", []).extend(rows)
    if not session.info.get("outbox_hooked"):
        session.info["outbox_hooked"] = True
        event.listen(session.sync_session, "after_commit", _wake_relays)


async def flush_outbox(session: AsyncSession, outbox: Table) -> None:
    """Write the rows :func:`enqueue` collected (call before commit; session_scope users
    normally use :func:`publish` which does both)."""
    rows = session.info.pop("outbox_rows", [])
    if rows:
        await session.execute(outbox.insert(), rows)


async def publish(session: AsyncSession, outbox: Table, events: Iterable[Envelope], *, topic_prefix: str = "") -> None:
    """Write ``events`` to the outbox in ``session``'s transaction (the usual entry point)."""
    enqueue(session, outbox, events, topic_prefix=topic_prefix)
    await flush_outbox(session, outbox)


class _DatabaseOut(Exception):
    """The relay's database statement failed because PostgreSQL is out."""


@dataclass
class RelayStatus:
    """What readiness and operators see of a relay.

    Attributes:
        broker_ok: the last publish round reached the broker (or nothing to send and the
            producer is started).
        published: events acknowledged since start.
        producer_generations: producers created (>1 after fatal errors or outages).
        last_error: text of the last error, if any.
    """

    broker_ok: bool = False
    published: int = 0
    producer_generations: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    extra: dict = field(default_factory=dict)


class OutboxRelay:

    """Publishes a service's outbox rows to Kafka; run one per process with :meth:`run`.

    Args:
        session_factory: sessions on the service's database.
        outbox: the service's ``outbox`` table (:func:`~counterflow_shared.persistence.tables.add_backbone_tables`).
        bootstrap_servers: Kafka bootstrap list.
        kafka: authentication options (:func:`~counterflow_shared.events.security.client_options`
            of the service's settings; ``None``: the platform's).
        client_id: producer client id (service name).
        poll_interval_s: fallback poll period in seconds when no notification arrives
            (services use ``relay_poll_interval_s``, at most 1 s; notifications and local
            commits wake the relay at once).
        batch_size: rows per round.
        request_timeout_s: bound on each broker call in seconds.
        service: the service name its metrics carry.
        listen_url: SQLAlchemy URL of the PostgreSQL database to ``LISTEN`` on
            (:data:`OUTBOX_CHANNEL`); ``None``: local wake-ups and polling only.
        sent_retention_s: 0 deletes rows once the broker acknowledged them; more keeps
            them (``sent_at`` set) for the retention loop to purge after that many seconds.
    """

    #: database outage log (the runtime sets its own)
    outages = OUTAGES

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        outbox: Table,
        bootstrap_servers: str,
        client_id: str,
        kafka: dict | None = None,
        poll_interval_s: float = 1.0,
        batch_size: int = 500,
        request_timeout_s: float = 5.0,
        service: str = "",
        listen_url: str | None = None,
        sent_retention_s: float = 3600.0,
    ) -> None:
        self.service = service
        self._factory = session_factory
        self._outbox = outbox
        self._bootstrap = bootstrap_servers
        self._kafka = kafka
        self._client_id = client_id
        self._poll = poll_interval_s
        self._batch = batch_size
        self._timeout = request_timeout_s
        self._listen_url = listen_url
        self._keep_sent = sent_retention_s > 0
        self._producer: AIOKafkaProducer | None = None
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._probe_sql = select(self._outbox.c.id).where(self._outbox.c.sent_at.is_(None)).limit(1)
        self.status = RelayStatus()
        #: notifications received on the LISTEN connection; fallback polls that found
        #: the relay idle (tests and benchmarks)
        self.notifications = 0
        self.polls = 0
        self.listening = asyncio.Event()

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = new_producer(self._bootstrap, client_id=self._client_id, request_timeout_s=self._timeout, kafka=self._kafka)
            try:
                await bounded(producer.start(), self._timeout, "producer start")
            except BaseException:
                await self._close(producer)
                raise
            self._producer = producer
            self.status.producer_generations += 1
            log.info("outbox.producer_started", generation=self.status.producer_generations)
        return self._producer

    async def _close(self, producer: AIOKafkaProducer | None) -> None:
        if producer is None:
            return
        try:
            await bounded(producer.stop(), self._timeout, "producer stop")
        except Exception as exc:  # noqa: BLE001 - a producer we are discarding may fail to stop
            log.warning("outbox.producer_stop_failed", error=repr(exc))

    async def recreate_producer(self, reason: str) -> None:
        """Discard the current producer (its idempotence state is unusable) so the next
        round starts a new one. Logged at error level and visible in :attr:`status`."""
        log.error("outbox.producer_recreated", reason=reason, generation=self.status.producer_generations)
        producer, self._producer = self._producer, None
        await self._close(producer)

    async def publish_once(self) -> int:
        """Publish one batch of unsent rows; returns how many were acknowledged.

        Raises:
            KafkaError, BrokerTimeout: the batch was not fully acknowledged; its rows
                stay unsent and will be published again (same event ids).
        """
        producer = await self._ensure_producer()
        async with self._factory() as session, session.begin():
            rows = (
                await session.execute(
                    select(self._outbox.c.id, self._outbox.c.topic, self._outbox.c.key, self._outbox.c.value, self._outbox.c.headers)
                    .where(self._outbox.c.sent_at.is_(None))
                    .order_by(self._outbox.c.id)
                    .limit(self._batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            # One bound around the whole hand-over: awaiting each send() in its own
            # task would let the sender flush after every record (tiny batches, and with
            # idempotence only one request in flight per broker).
            futures = await bounded(self._hand_over(producer, rows), self._timeout, "producer send")
            await bounded(asyncio.gather(*futures), self._timeout * 2, "broker acknowledgement")
            ids = [r.id for r in rows]
            if self._keep_sent:
                await session.execute(update(self._outbox).where(self._outbox.c.id.in_(ids)).values(sent_at=datetime.now(UTC)))
            else:
                await session.execute(delete(self._outbox).where(self._outbox.c.id.in_(ids)))
        self.status.published += len(rows)
        self.status.broker_ok = True
        return len(rows)

    @staticmethod
    async def _hand_over(producer: AIOKafkaProducer, rows: Sequence[Any]) -> list[asyncio.Future]:
        return [
            await producer.send(row.topic, value=row.value, key=row.key.encode(), headers=to_kafka_headers(row.headers or {}))
            for row in rows
        ]

    async def has_unsent(self) -> bool:
        """Whether any row waits (one autocommit round trip: no BEGIN/COMMIT)."""
        engine = self._factory.kw["bind"]
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            return (await conn.execute(self._probe_sql)).first() is not None

    async def run(self) -> None:
        """Publish until :meth:`stop`; survives broker outages and fatal producer errors.

        Rounds follow each other while a backlog remains; then the relay sleeps until a
        notification, a local commit or the fallback poll, which first probes for unsent
        rows with one round trip."""
        _wakeups.add(self._wake)
        listener = asyncio.create_task(self._listen()) if self._listen_url else None
        backoff = 0.1
        probe = False
        try:
            while not self._stop.is_set():
                try:
                    started = time.perf_counter()
                    try:
                        sent = 0 if probe and not await self.has_unsent() else await self.publish_once()
                    except Exception as exc:
                        if raised_by_database(exc):
                            raise _DatabaseOut from exc
                        raise
                    if self.outages.since is not None:
                        self.outages.ok()
                    backoff = 0.1
                    if sent:
                        observe_publish(self.service, time.perf_counter() - started)
                        probe = False
                        continue
                except _DatabaseOut as out:
                    # PostgreSQL is out, not the broker: keep the producer, wait, log once.
                    self.outages.failed(out.__cause__ or out, "outbox relay")
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                except FATAL_PRODUCER_ERRORS as exc:
                    self._record_error(exc)
                    await self.recreate_producer(type(exc).__name__)
                except (KafkaError, BrokerTimeout, OSError) as exc:
                    self._record_error(exc)
                    # Batches still queued in a producer that lost the broker may be
                    # retried in any order after it comes back; a fresh producer (new
                    # producer id) is the safe way to resume.
                    await self.recreate_producer(f"broker unavailable: {type(exc).__name__}")
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                except Exception as exc:  # noqa: BLE001 - the relay must outlive a bad row or a DB blip
                    self._record_error(exc)
                    log.exception("outbox.round_failed")
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                probe = not await self._sleep(self._poll)
                self.polls += probe
        finally:
            _wakeups.discard(self._wake)
            if listener is not None:
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)
            producer, self._producer = self._producer, None
            await self._close(producer)

    async def _listen(self) -> None:
        """Keep one ``LISTEN`` connection open (reconnecting after failures); every
        notification wakes the relay."""
        import asyncpg
        from sqlalchemy.engine import make_url

        assert self._listen_url is not None  # only started with a LISTEN url
        dsn = make_url(self._listen_url).set(drivername="postgresql").render_as_string(hide_password=False)

        def _notified(*_args: object) -> None:
            self.notifications += 1
            self._wake.set()

        while not self._stop.is_set():
            conn = None
            try:
                conn = await asyncpg.connect(dsn, timeout=self._timeout)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())  # this connection's event, not a later one's
                await conn.add_listener(OUTBOX_CHANNEL, _notified)
                self.listening.set()
                self._wake.set()  # rows committed while we were not listening
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - polling covers while LISTEN is down
                log.warning("outbox.listen_failed", error=repr(exc))
            finally:
                self.listening.clear()
                if conn is not None and not conn.is_closed():
                    await conn.close(timeout=1.0)
            await asyncio.sleep(1.0)

    def _record_error(self, exc: BaseException) -> None:
        self.status.broker_ok = False
        self.status.last_error = f"{type(exc).__name__}: {exc}"
        self.status.last_error_at = datetime.now(UTC)
        log.warning("outbox.publish_failed", error=self.status.last_error)

    async def _sleep(self, seconds: float) -> bool:
        """Sleep until woken (``True``) or ``seconds`` passed (``False``)."""
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
            return True
        except TimeoutError:
            return False

    def stop(self) -> None:
        """Ask :meth:`run` to return after the current round."""
        self._stop.set()
        self._wake.set()

    async def backlog(self) -> int:
        """Unsent rows (for readiness detail and benchmarks)."""
        from sqlalchemy import func

        async with self._factory() as session:
            return int((await session.execute(select(func.count()).select_from(self._outbox).where(self._outbox.c.sent_at.is_(None)))).scalar_one())


