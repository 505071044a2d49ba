"""Fault-injection harness of the reliability suite (issue 16): a real ticketing process
(HTTP API with its embedded relay, consumers and loops) on its own database, topics and
Redis prefix; a steady stream of kiosk requests with idempotent retries; one fault in the
middle of the stream; and the counts afterwards.

Counted per fault (JSON keys of ``bench/results/reliability.json``):

* ``requests``: logical kiosk requests sent (each with its own ``Idempotency-Key``,
  retried on 503 / 429 / connection errors until ``give_up_s``);
* ``accepted``: requests that ended with a ticket (201);
* ``remote_requests`` / ``remote_tickets``: app requests published as events (faults
  that measure the consumers) and the tickets the consumers made of them;
* ``tickets_in_db``: tickets in the service's database;
* ``distinct_events_on_kafka``: distinct ``branch.ticket.issued`` event ids on the topic;
* ``lost``: accepted tickets missing from the database, plus database tickets without an
  issued event on Kafka, plus app requests without a ticket;
* ``duplicated``: database tickets beyond one per logical request (kiosk or app), plus tickets with more
  than one distinct issued event (the same event id delivered twice is not a duplicate
  effect: consumers drop it by id);
* ``refusals``: answers that were not a ticket, by status and problem type (and
  ``connection <httpx error>`` when no HTTP answer came: refused while the process was
  down, or a timeout);
* ``slowest_answer_s``: the slowest single HTTP answer (seconds);
* ``answers_over_1s``: HTTP answers (timeouts included) that took more than 1 s: the
  issue's "no request answered after more than 1 s" is ``answers_over_1s == 0``;
* ``first_ticket_after_fault_s``: seconds from the end of the fault to the first ticket
  issued after it (``None`` when the stream ended first);
* ``recovery_s``: seconds from the end of the fault until the service issues tickets and
  has published every event again (its outbox drained).

Nothing here stops the shared infrastructure: faults act on the harness's own process,
a private PostgreSQL (:class:`~counterflow_testkit.PrivatePostgres`) or a private
Kafka broker (:class:`~counterflow_testkit.KafkaBroker`), and on the harness's own
Redis prefix.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from counterflow_shared.devidp import issue_staff_token
from counterflow_shared.events.catalog import consumer_group, entry_for_payload
from counterflow_shared.events.envelope import Envelope, new_event
from counterflow_shared.events.kafka import ensure_topics, new_producer
from counterflow_shared.events.payloads import diversions as dv
from counterflow_shared.events.payloads.devices import DeviceState
from counterflow_shared.events.payloads.mobile import RemoteTicketRequested
from counterflow_shared.events.payloads.rules import RuleSetActivated
from counterflow_shared.events.payloads.scores import CustomerScored
from counterflow_shared.events.security import client_options
from counterflow_shared.settings import ServiceSettings
from counterflow_testkit import ServiceProcess, delete_redis_prefix, platform, running_app

KIOSK_SECRET = "reliability-kiosk-secret-0123456789"


@dataclass
class Outcomes:
    """What the request stream saw."""

    requests: int = 0
    accepted: dict[str, str] = field(default_factory=dict)  # idempotency key -> ticket id
    refusals: Counter = field(default_factory=Counter)
    slowest_answer_s: float = 0.0
    successes_at: list[float] = field(default_factory=list)  # monotonic instants of 201s
    gave_up: int = 0
    remote_sent: list[str] = field(default_factory=list)  # request ids of app requests sent as events
    answers_over_1s: int = 0  # HTTP answers (or timeouts) that took more than 1 s

    def answered(self, took_s: float) -> None:
        """Record one answer's time (seconds)."""
        self.slowest_answer_s = max(self.slowest_answer_s, took_s)
        if took_s > 1.0:
            self.answers_over_1s += 1


class Ticketing:
    """One ticketing API process under test (embedded workers), restartable."""

    def __init__(self, workdir: Path, *, database_url: str, bootstrap: str, redis_url: str | None = None) -> None:
        self.workdir = workdir
        self.database_url = database_url
        self.bootstrap = bootstrap
        self.prefix = f"r{uuid.uuid4().hex[:10]}."
        self.redis_prefix = f"test:reliability:{uuid.uuid4().hex[:8]}:"
        self.redis_url = redis_url or platform().redis_url
        self.proc: ServiceProcess | None = None
        self.port: int | None = None
        self.branch_id = f"rb-{uuid.uuid4().hex[:8]}"
        self.kiosk_id = f"{self.branch_id}-k1"
        self._starts = 0

    def env(self) -> dict[str, str]:
        """Environment of the process."""
        return {
            "CF_TICKETING_DATABASE_URL": self.database_url,
            "CF_TICKETING_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "CF_TICKETING_TOPIC_PREFIX": self.prefix,
            "CF_TICKETING_REDIS_URL": self.redis_url,
            "CF_TICKETING_REDIS_PREFIX": self.redis_prefix,
            "CF_TICKETING_KIOSK_REQUESTS_PER_MINUTE": "1000000",
            "CF_TICKETING_KAFKA_REQUEST_TIMEOUT_S": "3",
            "CF_TICKETING_LOG_JSON": "true",
            "CF_TICKETING_LOG_LEVEL": "INFO",
        }

    async def create_topics(self) -> None:
        """Every catalog topic under this run's prefix."""
        await ensure_topics(self.bootstrap, prefix=self.prefix)

    def start(self, timeout_s: float = 90.0) -> None:
        """Start (or restart, on the same port) the API process and wait for /readyz
        (at most ``timeout_s`` seconds)."""
        proc = ServiceProcess("counterflow_ticketing", self.env(), port_env="CF_TICKETING_HTTP_PORT", log_path=self.workdir / f"ticketing-{self._starts}.log")
        if self.port is not None:
            proc.port = self.port
            proc.env["CF_TICKETING_HTTP_PORT"] = str(self.port)
        self.port = proc.port
        self._starts += 1
        self.proc = proc.start(timeout_s=timeout_s)

    def settings(self) -> Any:
        """The process's settings, for a second instance of the same service run inside
        the test process (same database, topics, consumer group, Redis prefix)."""
        from counterflow_ticketing.settings import TicketingSettings

        return TicketingSettings(
            database_url=self.database_url,
            kafka_bootstrap_servers=self.bootstrap,
            topic_prefix=self.prefix,
            redis_url=self.redis_url,
            redis_prefix=self.redis_prefix,
            kiosk_requests_per_minute=1_000_000,
            kafka_request_timeout_s=3,
            log_json=False,
            log_level="WARNING",
        )

    def worker(self, log_name: str = "worker.log") -> subprocess.Popen:
        """Start ``python -m counterflow_ticketing worker`` (relay and consumers, no HTTP,
        as consumers run on Kubernetes) with this instance's environment; the caller waits
        for ``consumer.started`` in ``workdir/log_name`` and stops it."""
        log = open(self.workdir / log_name, "ab")  # noqa: SIM115 - closed with the process
        return subprocess.Popen([sys.executable, "-m", "counterflow_ticketing", "worker"], env={**os.environ, **self.env()}, stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        """SIGKILL the process (no shutdown at all)."""
        if self.proc is not None:
            self.proc.stop(sig=9, timeout_s=10)

    def stop(self) -> None:
        """SIGTERM the process."""
        if self.proc is not None:
            self.proc.stop(sig=15, timeout_s=20)

    @property
    def url(self) -> str:
        """Base URL of the API."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def kiosk(self) -> dict[str, str]:
        """Kiosk credentials."""
        return {"Authorization": f"Bearer {self.kiosk_id}:{KIOSK_SECRET}"}

    async def set_up_branch(self) -> None:
        """A branch open all week, two cash counters with open sessions and a kiosk."""
        s = ServiceSettings()
        token = issue_staff_token(issuer=s.jwt_issuer, subject="ops", role="operations", branches=[self.branch_id])
        ops = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as c:
            body = {
                "name": "Reliability branch",
                "time_zone": "Europe/Prague",
                "opening_hours": [{"weekday": d, "opens": "00:00", "closes": "23:59"} for d in range(7)],
                "zones": [{"zone": "cash", "name": "Cash"}],
                "services": ["cash_withdrawal", "cash_deposit"],
            }
            (await c.put(f"/v1/branches/{self.branch_id}", json=body, headers=ops)).raise_for_status()
            for i in (1, 2):
                cid = f"{self.branch_id}-c{i}"
                (await c.put(f"/v1/branches/{self.branch_id}/counters/{cid}", json={"name": f"Counter {i}", "kind": "cash", "zone": "cash", "skills": ["cash"]}, headers=ops)).raise_for_status()
                teller = issue_staff_token(issuer=s.jwt_issuer, subject=f"teller-{i}", role="teller", branches=[self.branch_id])
                (await c.post(f"/v1/counters/{cid}/session/open", headers={"Authorization": f"Bearer {teller}"})).raise_for_status()
            (await c.put(f"/v1/branches/{self.branch_id}/kiosks/{self.kiosk_id}", json={"secret": KIOSK_SECRET}, headers=ops)).raise_for_status()

    async def flush_redis(self) -> int:
        """Delete every key of this process's Redis prefix (its FLUSHALL)."""
        return await delete_redis_prefix(self.redis_url, self.redis_prefix)


async def _one_request(client: httpx.AsyncClient, t: Ticketing, out: Outcomes, give_up_at: float) -> None:
    key = str(uuid.uuid4())
    out.requests += 1
    while time.monotonic() < give_up_at:
        started = time.monotonic()
        try:
            r = await client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal"}, headers={**t.kiosk, "Idempotency-Key": key})
        except httpx.TransportError as exc:
            out.answered(time.monotonic() - started if not isinstance(exc, httpx.ConnectError) else 0.0)
            out.refusals[f"connection {type(exc).__name__}"] += 1
            await asyncio.sleep(0.2)
            continue
        out.answered(time.monotonic() - started)
        if r.status_code == 201 and r.json().get("kind") == "ticket":
            out.accepted[key] = r.json()["ticket"]["ticket_id"]
            out.successes_at.append(time.monotonic())
            return
        kind = r.json().get("type", "").rsplit("/", 1)[-1] if r.headers.get("content-type", "").startswith("application/problem+json") else ""
        out.refusals[f"{r.status_code} {kind}".strip()] += 1
        if r.status_code in (429, 503):
            await asyncio.sleep(min(float(r.headers.get("Retry-After", "1")), 1.0))
            continue
        return  # an answer that a retry cannot change
    out.gave_up += 1


async def stream(t: Ticketing, out: Outcomes, *, rate: float, seconds: float, give_up_s: float) -> None:
    """Send ``rate`` kiosk requests per second for ``seconds`` seconds; each request is
    retried until it gets a ticket or ``give_up_s`` seconds after it started."""
    async with httpx.AsyncClient(base_url=t.url, timeout=httpx.Timeout(10.0, connect=2.0)) as client:
        t0 = time.monotonic()
        tasks = []
        for i in range(int(rate * seconds)):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_one_request(client, t, out, time.monotonic() + give_up_s)))
        await asyncio.gather(*tasks)


def remote_request(t: Ticketing, request_id: str) -> RemoteTicketRequested:
    """An app's remote ticket request for ``t``'s branch (each its own customer, so the
    requests spread over the topic's partitions)."""
    return RemoteTicketRequested(request_id=request_id, customer_id=f"cust-{request_id[:12]}", branch_id=t.branch_id, service_type="cash_withdrawal", requested_at=datetime.now(UTC))


async def remote_stream(t: Ticketing, out: Outcomes, *, rate: float, seconds: float, fault_over: asyncio.Event | None = None, tail_s: float = 10.0) -> None:
    """Publish ``rate`` remote ticket requests per second for ``seconds`` seconds on the
    mobile activity topic, as the gateway would (ids recorded in ``out.remote_sent``);
    ticketing's consumers turn each into exactly one ticket. With ``fault_over``, it also
    goes on until ``tail_s`` seconds after that event is set (a fault whose length the
    machine decides, such as a process start, still happens mid-stream)."""
    producer = new_producer(t.bootstrap, client_id="reliability-app")
    await producer.start()
    over_at: list[float] = []

    def more(i: int) -> bool:
        if i < int(rate * seconds):
            return True
        if fault_over is None:
            return False
        if fault_over.is_set() and not over_at:
            over_at.append(time.monotonic())
        return not over_at or time.monotonic() - over_at[0] < tail_s

    try:
        t0 = time.monotonic()
        i = 0
        while more(i):
            i += 1
            delay = t0 + (i - 1) / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            env = new_event(remote_request(t, str(uuid.uuid4())), source="/counterflow/mobile-gateway")
            while True:  # as the gateway's relay does: the same event again until the broker has it
                try:
                    await producer.send_and_wait(f"{t.prefix}{entry_for_payload(RemoteTicketRequested).topic.name}", env.to_bytes(), key=env.subject.encode())
                    break
                except KafkaError:
                    await asyncio.sleep(0.5)
            out.remote_sent.append(env.data["request_id"])
    finally:
        await producer.stop()


async def wait_remote_handled(database_url: str, request_ids: list[str], timeout_s: float = 120.0) -> None:
    """Wait until every remote request in ``request_ids`` has its ticket (the consumers
    caught up); returns after ``timeout_s`` regardless (``count`` then reports them lost)."""
    if not request_ids:
        return
    engine = create_async_engine(database_url)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            async with engine.connect() as conn:
                done = (await conn.execute(text("SELECT count(*) FROM tickets WHERE remote_request_id = ANY(:ids)"), {"ids": request_ids})).scalar_one()
            if done >= len(request_ids):
                return
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()


async def wait_outbox_drained(database_url: str, timeout_s: float = 120.0) -> None:
    """Wait until every outbox row was published (the relay caught up)."""
    engine = create_async_engine(database_url)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                async with engine.connect() as conn:
                    if (await conn.execute(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))).scalar_one() == 0:
                        return
            except Exception:  # noqa: BLE001 - the database may be coming back
                pass
            await asyncio.sleep(0.5)
        raise AssertionError(f"outbox not drained within {timeout_s}s")
    finally:
        await engine.dispose()


async def records_of(bootstrap: str, topic: str) -> list[Any]:
    """Every record on ``topic`` (full name), from the beginning to its current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **client_options(), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()  # noqa: SLF001 - no public refresh
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        found: list[Any] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < end[tp] for tp in tps])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += records
        return found
    finally:
        await consumer.stop()


async def issued_events(bootstrap: str, topic: str) -> list[Envelope]:
    """Every ``branch.ticket.issued`` envelope on ``topic`` (full name)."""
    envelopes = [Envelope.from_bytes(r.value) for r in await records_of(bootstrap, topic)]
    return [e for e in envelopes if e.type == "branch.ticket.issued.v1"]


async def count(t: Ticketing, out: Outcomes, *, fault_end: float | None) -> dict[str, Any]:
    """The figures of one run (see the module docstring)."""
    await wait_remote_handled(t.database_url, out.remote_sent)
    await wait_outbox_drained(t.database_url)
    drained = time.monotonic()
    engine = create_async_engine(t.database_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT ticket_id, remote_request_id FROM tickets"))).all()
    finally:
        await engine.dispose()
    db_ids = {r.ticket_id for r in rows}
    kiosk_ids = {r.ticket_id for r in rows if r.remote_request_id is None}
    remote = Counter(r.remote_request_id for r in rows if r.remote_request_id is not None)
    events = await issued_events(t.bootstrap, f"{t.prefix}branch.tickets.v1")
    event_ids_by_ticket: dict[str, set[str]] = {}
    for e in events:
        event_ids_by_ticket.setdefault(e.data["ticket_id"], set()).add(e.id)
    accepted = set(out.accepted.values())
    lost = len(accepted - db_ids) + len(db_ids - event_ids_by_ticket.keys()) + len(set(out.remote_sent) - remote.keys())
    # Each logical request carries one Idempotency-Key (each app request one request id),
    # so more tickets than requests means a duplicate; a ticket whose request gave up
    # before seeing the answer is not one.
    duplicated = max(0, len(kiosk_ids) - out.requests) + sum(n - 1 for n in remote.values()) + sum(len(ids) - 1 for ids in event_ids_by_ticket.values() if len(ids) > 1)
    after = [s for s in out.successes_at if fault_end is not None and s >= fault_end]
    first_after = min(after) - fault_end if after and fault_end is not None else None
    return {
        "requests": out.requests,
        "accepted": len(accepted),
        "remote_requests": len(out.remote_sent),
        "remote_tickets": len(remote),
        "tickets_in_db": len(db_ids),
        "distinct_events_on_kafka": len({e.id for e in events}),
        "lost": lost,
        "duplicated": duplicated,
        "refusals": dict(out.refusals),
        "gave_up": out.gave_up,
        "slowest_answer_s": round(out.slowest_answer_s, 3),
        "answers_over_1s": out.answers_over_1s,
        "first_ticket_after_fault_s": round(first_after, 3) if first_after is not None else None,
        "recovery_s": round(max(first_after or 0.0, drained - fault_end), 3) if fault_end is not None else None,
    }


async def run_with_fault(t: Ticketing, *, rate: float, seconds: float, fault_at_s: float, fault: Callable[[], Awaitable[None]], give_up_s: float = 90.0, remote_rate: float = 0.0, out: Outcomes | None = None) -> dict[str, Any]:
    """Run the stream and, ``fault_at_s`` seconds in, the ``fault`` coroutine (which
    returns when the fault is over); with ``remote_rate`` > 0 app requests (events the
    consumers handle) flow beside the kiosk requests; ``out`` collects what was sent (a
    fresh one by default). Returns :func:`count`'s figures."""
    out = out if out is not None else Outcomes()
    fault_end: list[float] = []
    fault_over = asyncio.Event()

    async def inject() -> None:
        await asyncio.sleep(fault_at_s)
        await fault()
        fault_end.append(time.monotonic())
        fault_over.set()

    streams = [stream(t, out, rate=rate, seconds=seconds, give_up_s=give_up_s), inject()]
    if remote_rate > 0:
        streams.append(remote_stream(t, out, rate=remote_rate, seconds=seconds, fault_over=fault_over))
    await asyncio.gather(*streams)
    return await count(t, out, fault_end=fault_end[0] if fault_end else None)


# --- the faults ------------------------------------------------------------------------


def sigkill_and_restart(t: Ticketing) -> Callable[[], Awaitable[None]]:
    """Fault 2: SIGKILL the ticketing process (API, relay, consumers and loops in one) and
    start it again on the same port."""

    async def fault() -> None:
        t.kill()
        await asyncio.to_thread(t.start)

    return fault


def redis_flush(t: Ticketing) -> Callable[[], Awaitable[None]]:
    """Fault 5: the process's Redis state is gone (every key of its prefix)."""

    async def fault() -> None:
        assert await t.flush_redis() > 0

    return fault


def stop_for(stop: Callable[[], None], start: Callable[[], None], seconds: float) -> Callable[[], Awaitable[None]]:
    """Faults 1 and 6: ``stop()`` a server (private broker or private PostgreSQL), wait
    ``seconds``, ``start()`` it again."""

    async def fault() -> None:
        await asyncio.to_thread(stop)
        await asyncio.sleep(seconds)
        await asyncio.to_thread(start)

    return fault


def consumer_sigterm_with_broker_down(t: Ticketing, worker: subprocess.Popen, broker: Any, seen: dict[str, Any]) -> Callable[[], Awaitable[None]]:
    """Fault 3: stop the (private) broker, SIGTERM the ticketing ``worker`` process (its
    consumers and relay) a second later, and start the broker again. ``seen`` gets
    ``exit_s`` (seconds from SIGTERM to exit) and ``exit_code``."""

    async def fault() -> None:
        await asyncio.to_thread(broker.stop)
        try:
            await asyncio.sleep(1.0)
            started = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            try:
                seen["exit_code"] = await asyncio.to_thread(worker.wait, 30)
            except subprocess.TimeoutExpired:
                worker.kill()
                seen["exit_code"] = None
            seen["exit_s"] = round(time.monotonic() - started, 3)
        finally:
            await asyncio.to_thread(broker.start)

    return fault


def poison_records(t: Ticketing) -> tuple[list[tuple[str, bytes, bytes]], list[Envelope]]:
    """For every topic ticketing consumes: three poison records (not JSON; a valid
    envelope of a type nobody knows; a handled type whose payload is invalid), then one
    good event of a handled type on the same partition (same key). Returns the records
    ``(topic, key, value)`` in sending order and the good envelopes."""
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:8]
    goods = [
        CustomerScored(customer_id=f"pc-{tag}", score=0.5, percentile=0.5, tier="premium", propensity={}, model_version="reliability", computed_at=now),
        DeviceState(device_id=f"pd-{tag}", branch_id=t.branch_id, zone="cash", kind="atm", status="online", capabilities={"service_types": ["cash_withdrawal"], "max_amount": {"CZK": "20000"}}, available_service_types=["cash_withdrawal"], cash_available={"CZK": "100000"}, at=now),
        remote_request(t, f"poison-{tag}"),
        RuleSetActivated(scope=f"reliability-{tag}", rule_set_id=f"rs-{tag}", version=1, document={"schema_version": 1, "name": "reliability", "rules": [{"id": "plain", "then": {"type": "ticket"}}]}, proposed_by="m", approved_by="c", activated_at=now),
        dv.DiversionOffered(diversion_id=f"pv-{tag}", branch_id=t.branch_id, customer_id=f"pc-{tag}", service_type="cash_withdrawal", channel="atm", rule_set_version=1, rule_id="reliability", status="offered", occurred_at=now),
    ]
    by_topic = {entry_for_payload(type(g)).topic.name: g for g in goods}
    assert set(by_topic) == {tp.name for tp in consumer_group("ticketing").topics}, "a good event for every consumed topic"
    records: list[tuple[str, bytes, bytes]] = []
    envelopes: list[Envelope] = []
    for name, good in by_topic.items():
        env = new_event(good, source="/counterflow/reliability")
        key = env.subject.encode()
        unknown = env.model_copy(update={"id": str(uuid.uuid4()), "type": "counterflow.reliability.unknown.v1", "data": {"anything": 1}})
        invalid = env.model_copy(update={"id": str(uuid.uuid4()), "data": {"not": "the payload"}})
        topic = f"{t.prefix}{name}"
        records += [(topic, key, b"{this is not JSON"), (topic, key, unknown.to_bytes()), (topic, key, invalid.to_bytes()), (topic, key, env.to_bytes())]
        envelopes.append(env)
    return records, envelopes


def poison_every_topic(t: Ticketing, records: list[tuple[str, bytes, bytes]], goods: list[Envelope], out: Outcomes) -> Callable[[], Awaitable[None]]:
    """Fault 4: publish :func:`poison_records`' ``records`` (poison, then the ``goods``);
    the good app request among them is recorded in ``out.remote_sent`` (it must become
    exactly one ticket)."""

    async def fault() -> None:
        producer = new_producer(t.bootstrap, client_id="reliability-poison")
        await producer.start()
        try:
            for topic, key, value in records:
                await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()
        out.remote_sent += [g.data["request_id"] for g in goods if g.type == entry_for_payload(RemoteTicketRequested).type]

    return fault


def second_instance_joins(t: Ticketing, stack: AsyncExitStack, joined: dict[str, Any]) -> Callable[[], Awaitable[None]]:
    """Fault 7: a second instance of ticketing (API, relay, consumers) starts inside the
    test process on ``t``'s settings: its consumers join the group mid-stream and the
    partitions are rebalanced between the two instances. It runs until ``stack`` closes;
    ``joined["runtime"]`` is its runtime. (In-process because a cold process start has
    taken over two minutes on the loaded 2-core test machine, past the stream's end.)"""

    async def fault() -> None:
        from counterflow_ticketing.main import create_app

        app = create_app(t.settings())
        await stack.enter_async_context(running_app(app))
        joined["runtime"] = app.state.runtime

    return fault


async def processed_event_ids(database_url: str) -> set[str]:
    """Event ids the service's consumers recorded as processed."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            return {r for (r,) in (await conn.execute(text("SELECT event_id FROM processed_events"))).all()}
    finally:
        await engine.dispose()
