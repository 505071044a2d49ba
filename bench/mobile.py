"""Mobile gateway notification fan-out benchmark (issue 5).

Question: with 1,000 customers connected to the live stream (``/v1/notifications/stream``,
server-sent events), how long from an event entering Kafka to the customer's SSE client
receiving the notification?

Set-up, all real: the gateway runs as its own process (``python -m
counterflow_mobile_gateway serve``, embedded relay + consumers) on PostgreSQL, Redis and
Kafka under a fresh topic prefix; 1,000 customers each follow one waiting ticket (rows
written straight into the gateway's database; tokens minted with the gateway's
configured development key); this process holds the 1,000 SSE connections. For each
customer one ``branch.ticket.called`` is produced to ``branch.tickets.v1``; latency is
"producer acknowledged -> ``called`` notification parsed by that customer's SSE client",
both read from this process's clock. The path measured: Kafka -> consumer transaction
(dedup row, ticket update, feed row, outbox row) -> commit -> Redis pub/sub -> the
instance's hub -> SSE.

Figures (each measured in this run):
The machine's load average is recorded with the result: other work on the same
machine (other services' tests and benchmarks) slows every figure here.

- ``steady_1000``: 1,000 events at ``RATE`` events/s, 1,000 clients connected: p50/p95/p99/max (ms).
- ``steady_10`` (baseline): the same rate and path with 10 clients connected.
- ``burst_1000``: 1,000 events produced at once (the consumer's backlog shows up here).
- ``redis_fanout_1000``: Redis publish -> SSE for 1,000 clients, without Kafka and the
  database (the fan-out alone).
- ``not_notified``: per phase, notifications that had not arrived ``COLLECT_TIMEOUT_S``
  after the last event was sent (percentiles are over the delivered ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis
from sqlalchemy import insert

from bench.common import figure, percentile, write_result
from counterflow_shared.events.security import client_options
from counterflow_shared.events.envelope import new_event
from counterflow_shared.events.kafka import delete_topics, ensure_topics
from counterflow_shared.events.payloads.tickets import TicketCalled, TicketOrigin, TicketStatus
from counterflow_shared.persistence.db import create_engine
from counterflow_testkit import ServiceProcess, drop_database, migrated_database, platform
from counterflow_shared.devidp import DevIdentityProvider
from counterflow_mobile_gateway.events.fanout import Push
from counterflow_mobile_gateway.main import PACKAGE_DIR
from counterflow_mobile_gateway.persistence.tables import customer_tickets

CLIENTS = int(os.environ.get("BENCH_MOBILE_CLIENTS", "1000"))
BASELINE_CLIENTS = 10
#: Events per second in the steady runs: below the consumer's capacity on a busy 2-core
#: machine, so that the steady figures measure the path, not a growing backlog (the
#: burst run measures the backlog).
RATE = float(os.environ.get("BENCH_MOBILE_RATE", "10"))


class Listener:
    """One SSE connection: records when each ``called`` notification arrived."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client, self.token = client, token
        self.ready = asyncio.Event()
        self.arrivals: dict[str, float] = {}
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.client.stream("GET", "/v1/notifications/stream", headers=headers, timeout=None) as response:
            event, data = "", ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data = line[5:].strip()
                elif line == "" and data:
                    if event == "ready":
                        self.ready.set()
                    elif event == "notification":
                        doc = json.loads(data)
                        key = doc["data"].get("ticket") or doc["data"].get("probe")
                        if key and doc["kind"] in ("called", "probe"):
                            self.arrivals.setdefault(key, time.time())
                    event, data = "", ""

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await self.task


def _called(ticket_id: str, customer_id: str, branch_id: str, now: datetime) -> TicketCalled:
    return TicketCalled(
        ticket_id=ticket_id, branch_id=branch_id, number="A001", service_type="cash_withdrawal", status=TicketStatus.CALLED, origin=TicketOrigin.REMOTE,
        customer_id=customer_id, business_date=now.date(), counter_id="C1", call_count=1, issued_at=now - timedelta(minutes=5), occurred_at=now,
    )


def _followed(ticket_id: str) -> str:
    """The gateway's id of the followed ticket seeded for ticketing's ``ticket_id``
    (what the ``called`` notification names in ``data.ticket``)."""
    return f"req-{ticket_id}"


async def _seed_tickets(url: str, customers: list[str], branch_id: str, tag: str) -> list[str]:
    """One waiting followed ticket per customer; returns the ticket ids (same order)."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    ids = [f"{tag}-{i}" for i in range(len(customers))]
    rows = [
        {"id": _followed(tid), "origin": "remote", "customer_id": cid, "branch_id": branch_id, "service_type": "cash_withdrawal", "status": "waiting",
         "ticket_id": tid, "number": "A001", "position": 9, "estimated_wait_s": 3000.0, "requested_at": now, "issued_at": now - timedelta(minutes=5), "updated_at": now,
         "turn_soon_notified": True, "leave_notified": True}
        for cid, tid in zip(customers, ids, strict=True)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(customer_tickets), rows)
    await engine.dispose()
    return ids


async def _steady(producer: AIOKafkaProducer, topic: str, listeners: list[Listener], customers: list[str], tickets: list[str], branch_id: str, rate: float | None, *, phase: str) -> list[float]:
    """Produce one ``called`` per listener (at ``rate``/s, or all at once) and return the
    latencies in milliseconds."""
    sent: dict[str, float] = {}
    interval = 1.0 / rate if rate else 0.0
    start = time.perf_counter()
    futures = []
    for i, (cid, tid) in enumerate(zip(customers, tickets, strict=True)):
        if rate:
            delay = start + i * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        env = new_event(_called(tid, cid, branch_id, datetime.now(UTC)), source="/bench/ticketing")
        if rate:
            await producer.send_and_wait(topic, env.to_bytes(), key=env.subject.encode())
            sent[_followed(tid)] = time.time()
        else:
            futures.append((tid, await producer.send(topic, env.to_bytes(), key=env.subject.encode())))
    if futures:
        for tid, fut in futures:
            await fut
            sent.setdefault(_followed(tid), time.time())
    return await _collect(listeners, [_followed(t) for t in tickets], sent, phase=phase)


#: Notifications not received this long after the last event was sent count as lost.
COLLECT_TIMEOUT_S = 300.0
LOST: dict[str, int] = {}


async def _collect(listeners: list[Listener], keys: list[str], sent: dict[str, float], *, phase: str = "", timeout_s: float = COLLECT_TIMEOUT_S) -> list[float]:
    """Wait for every listener's notification; returns the latencies (ms) of those that
    arrived and records the number that did not under ``LOST[phase]`` (the live stream
    is best-effort: Redis pub/sub keeps nothing for a subscriber that is not listening)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(k in listener.arrivals for listener, k in zip(listeners, keys, strict=True)):
            break
        await asyncio.sleep(0.05)
    pairs = list(zip(listeners, keys, strict=True))
    LOST[phase] = LOST.get(phase, 0) + sum(1 for listener, k in pairs if k not in listener.arrivals)
    return [(listener.arrivals[k] - sent[k]) * 1000.0 for listener, k in pairs if k in listener.arrivals]


def _summary(lat: list[float], *, baseline: list[float] | None = None, baseline_name: str | None = None, target: str | None = None) -> dict:
    if not lat:
        return {"events": figure(0, "events")}
    out = {}
    for q in (50, 95, 99):
        b = percentile(baseline, q) if baseline else None
        out[f"p{q}"] = figure(percentile(lat, q), "ms", baseline=b, baseline_name=baseline_name, target=target if q == 99 else None)
    out["max"] = figure(max(lat), "ms")
    out["events"] = figure(len(lat), "events")
    return out


async def _connect(base_url: str, idp: DevIdentityProvider, customers: list[str]) -> tuple[httpx.AsyncClient, list[Listener]]:
    client = httpx.AsyncClient(base_url=base_url, timeout=60.0, limits=httpx.Limits(max_connections=len(customers) + 50, max_keepalive_connections=len(customers) + 50))
    listeners = [Listener(client, idp.customer_token(customer_id=cid, ttl_s=3600)) for cid in customers]
    for i, listener in enumerate(listeners):
        listener.start()
        if i % 50 == 49:
            await asyncio.sleep(0.1)
    await asyncio.wait_for(asyncio.gather(*(listener.ready.wait() for listener in listeners)), 120)
    return client, listeners


async def _close(client: httpx.AsyncClient, listeners: list[Listener]) -> None:
    await asyncio.gather(*(listener.stop() for listener in listeners))
    await client.aclose()


async def _redis_fanout(redis: Redis, channel: str, listeners: list[Listener], customers: list[str]) -> list[float]:
    sent: dict[str, float] = {}
    keys = []
    for cid in customers:
        key = f"probe-{uuid.uuid4().hex[:8]}"
        keys.append(key)
        push = Push(cid, "notification", {"notification_id": key, "kind": "probe", "title": "", "body": "", "data": {"probe": key}, "created_at": ""})
        sent[key] = time.time()
        await redis.publish(channel, push.encode())
    return await _collect(listeners, keys, sent, phase="redis_fanout_1000")


async def _main() -> dict:
    p = platform()
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    redis_prefix = f"bench:mobile:{uuid.uuid4().hex[:8]}:"
    created = await ensure_topics(p.kafka_bootstrap_servers, prefix=prefix)
    name, url = await asyncio.to_thread(migrated_database, PACKAGE_DIR, "bench_mobile")
    workdir = Path(tempfile.mkdtemp(prefix="bench-mobile-"))
    idp = DevIdentityProvider(workdir / "idp").ensure()  # the bank's OpenID Connect provider, locally
    env = {
        "CF_MOBILE_DATABASE_URL": url,
        "CF_MOBILE_TOPIC_PREFIX": prefix,
        "CF_MOBILE_REDIS_PREFIX": redis_prefix,
        "CF_MOBILE_CUSTOMER_JWKS_URL": idp.jwks_url,
        "CF_MOBILE_LOG_LEVEL": os.environ.get("BENCH_MOBILE_LOG_LEVEL", "WARNING"),
        "CF_MOBILE_RATE_LIMIT_REQUESTS": "100000",
        "CF_MOBILE_SSE_QUEUE_SIZE": "1000",
    }
    proc = ServiceProcess("counterflow_mobile_gateway", env, port_env="CF_MOBILE_HTTP_PORT", log_path=workdir / "gateway.log")
    producer = AIOKafkaProducer(bootstrap_servers=p.kafka_bootstrap_servers, **client_options(), acks="all", linger_ms=0)
    redis = Redis.from_url(p.redis_url, decode_responses=True)
    topic = f"{prefix}branch.tickets.v1"
    branch_id = "b-bench"
    load_before = os.getloadavg()[0]
    try:
        await asyncio.to_thread(proc.start, 90)
        await producer.start()
        many = [f"bench-c{i}" for i in range(CLIENTS)]
        few = [f"bench-base{i}" for i in range(BASELINE_CLIENTS)]
        warm = ["bench-warm"]
        # Warm-up: the consumer group must be assigned before the clock matters.
        wclient, wl = await _connect(proc.url, idp, warm)
        wt = await _seed_tickets(url, warm, branch_id, "warm")
        await _steady(producer, topic, wl, warm, wt, branch_id, rate=None, phase="warm-up")
        await _close(wclient, wl)

        bclient, bl = await _connect(proc.url, idp, few)
        base_tickets = await _seed_tickets(url, few * 10, branch_id, "base")
        baseline: list[float] = []
        for r in range(10):  # 100 events over the 10 baseline clients, at RATE
            chunk = base_tickets[r * BASELINE_CLIENTS:(r + 1) * BASELINE_CLIENTS]
            baseline += await _steady(producer, topic, bl, few, chunk, branch_id, rate=RATE, phase=f"steady_{BASELINE_CLIENTS}")
        await _close(bclient, bl)

        mclient, ml = await _connect(proc.url, idp, many)
        steady_tickets = await _seed_tickets(url, many, branch_id, "steady")
        steady = await _steady(producer, topic, ml, many, steady_tickets, branch_id, rate=RATE, phase="steady_1000")
        burst_tickets = await _seed_tickets(url, many, branch_id, "burst")
        started = time.perf_counter()
        burst = await _steady(producer, topic, ml, many, burst_tickets, branch_id, rate=None, phase="burst_1000")
        burst_s = time.perf_counter() - started
        fanout = await _redis_fanout(redis, f"{redis_prefix}stream", ml, many)
        await _close(mclient, ml)

        if LOST.get("warm-up"):
            raise RuntimeError("the warm-up notification never arrived: the gateway does not consume")
        figures = {
            "steady_1000": _summary(steady, baseline=baseline, baseline_name=f"steady_{BASELINE_CLIENTS} (same rate, {BASELINE_CLIENTS} clients)", target="p99 <= 1000 ms"),
            f"steady_{BASELINE_CLIENTS}": _summary(baseline),
            "burst_1000": {**_summary(burst), "drain_time": figure(burst_s, "s"), "throughput": figure(len(burst) / burst_s, "events/s")},
            "redis_fanout_1000": _summary(fanout),
            "not_notified": {phase: figure(n, "notifications") for phase, n in LOST.items()},
        }
        path = write_result(
            "mobile_fanout",
            figures,
            load_average_1m={"before": load_before, "after": os.getloadavg()[0]},
            clients=CLIENTS,
            rate_events_per_s=RATE,
            path="Kafka branch.tickets.v1 -> gateway consumer transaction -> Redis pub/sub -> SSE client (separate processes, one machine)",
        )
        return {"result": str(path), "figures": figures}
    finally:
        await producer.stop()
        await asyncio.to_thread(proc.stop)
        keys = [k async for k in redis.scan_iter(match=f"{redis_prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        await asyncio.to_thread(drop_database, name)
        with contextlib.suppress(Exception):
            await delete_topics(p.kafka_bootstrap_servers, created)


def run() -> dict:
    """Run the benchmark; writes ``bench/results/mobile_fanout.json``."""
    return asyncio.run(_main())
