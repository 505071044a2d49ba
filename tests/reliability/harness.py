"""Fault-injection harness of the reliability suite (issue 16): a real ticketing process
(HTTP API with its embedded relay, consumers and loops) on its own database, topics and
Redis prefix; a steady stream of kiosk requests with idempotent retries; one fault in the
middle of the stream; and the counts afterwards.

Counted per fault (JSON keys of ``bench/results/reliability.json``):

* ``requests``: logical kiosk requests sent (each with its own ``Idempotency-Key``,
  retried on 503 / 429 / connection errors until ``give_up_s``);
* ``accepted``: requests that ended with a ticket (201);
* ``tickets_in_db``: tickets in the service's database;
* ``distinct_events_on_kafka``: distinct ``branch.ticket.issued`` event ids on the topic;
* ``lost``: accepted tickets missing from the database, plus database tickets without an
  issued event on Kafka;
* ``duplicated``: database tickets beyond one per logical request, plus tickets with more
  than one distinct issued event (the same event id delivered twice is not a duplicate
  effect: consumers drop it by id);
* ``refusals``: answers that were not a ticket, by status and problem type (and
  ``connection <httpx error>`` when no HTTP answer came: refused while the process was
  down, or a timeout);
* ``slowest_answer_s``: the slowest single HTTP answer (seconds);
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
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from counterflow_shared.events.security import client_options
from counterflow_shared.events.envelope import Envelope
from counterflow_shared.events.kafka import ensure_topics
from counterflow_shared.settings import ServiceSettings
from counterflow_testkit import ServiceProcess, delete_redis_prefix, platform
from counterflow_shared.devidp import issue_staff_token

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

    def start(self) -> None:
        """Start (or restart, on the same port) the API process and wait for /readyz."""
        proc = ServiceProcess("counterflow_ticketing", self.env(), port_env="CF_TICKETING_HTTP_PORT", log_path=self.workdir / f"ticketing-{self._starts}.log")
        if self.port is not None:
            proc.port = self.port
            proc.env["CF_TICKETING_HTTP_PORT"] = str(self.port)
        self.port = proc.port
        self._starts += 1
        self.proc = proc.start(timeout_s=90)

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
        token = issue_staff_token(issuer=s.jwt_issuer, audience=s.jwt_audience, subject="ops", role="operations", branches=[self.branch_id])
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
                teller = issue_staff_token(issuer=s.jwt_issuer, audience=s.jwt_audience, subject=f"teller-{i}", role="teller", branches=[self.branch_id])
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
            out.slowest_answer_s = max(out.slowest_answer_s, time.monotonic() - started if not isinstance(exc, httpx.ConnectError) else 0.0)
            out.refusals[f"connection {type(exc).__name__}"] += 1
            await asyncio.sleep(0.2)
            continue
        out.slowest_answer_s = max(out.slowest_answer_s, time.monotonic() - started)
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


async def issued_events(bootstrap: str, topic: str) -> list[Envelope]:
    """Every ``branch.ticket.issued`` envelope on ``topic`` (full name)."""
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
        found: list[Envelope] = []
        async def behind() -> bool:
            return any([await consumer.position(tp) < end[tp] for tp in tps])

        while await behind():
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for r in records:
                    env = Envelope.from_bytes(r.value)
                    if env.type == "branch.ticket.issued.v1":
                        found.append(env)
        return found
    finally:
        await consumer.stop()


async def count(t: Ticketing, out: Outcomes, *, fault_end: float | None) -> dict[str, Any]:
    """The figures of one run (see the module docstring)."""
    await wait_outbox_drained(t.database_url)
    drained = time.monotonic()
    engine = create_async_engine(t.database_url)
    try:
        async with engine.connect() as conn:
            db_ids = {r for (r,) in (await conn.execute(text("SELECT ticket_id FROM tickets"))).all()}
    finally:
        await engine.dispose()
    events = await issued_events(t.bootstrap, f"{t.prefix}branch.tickets.v1")
    event_ids_by_ticket: dict[str, set[str]] = {}
    for e in events:
        event_ids_by_ticket.setdefault(e.data["ticket_id"], set()).add(e.id)
    accepted = set(out.accepted.values())
    lost = len(accepted - db_ids) + len(db_ids - event_ids_by_ticket.keys())
    # Each logical request carries one Idempotency-Key, so more tickets than requests means
    # a duplicate; a ticket whose request gave up before seeing the answer is not one.
    duplicated = max(0, len(db_ids) - out.requests) + sum(len(ids) - 1 for ids in event_ids_by_ticket.values() if len(ids) > 1)
    after = [s for s in out.successes_at if fault_end is not None and s >= fault_end]
    first_after = min(after) - fault_end if after and fault_end is not None else None
    return {
        "requests": out.requests,
        "accepted": len(accepted),
        "tickets_in_db": len(db_ids),
        "distinct_events_on_kafka": len({e.id for e in events}),
        "lost": lost,
        "duplicated": duplicated,
        "refusals": dict(out.refusals),
        "gave_up": out.gave_up,
        "slowest_answer_s": round(out.slowest_answer_s, 3),
        "first_ticket_after_fault_s": round(first_after, 3) if first_after is not None else None,
        "recovery_s": round(max(first_after or 0.0, drained - fault_end), 3) if fault_end is not None else None,
    }


async def run_with_fault(t: Ticketing, *, rate: float, seconds: float, fault_at_s: float, fault: Callable[[], Awaitable[None]], give_up_s: float = 90.0) -> dict[str, Any]:
    """Run the stream and, ``fault_at_s`` seconds in, the ``fault`` coroutine (which
    returns when the fault is over); returns :func:`count`'s figures."""
    out = Outcomes()
    fault_end: list[float] = []

    async def inject() -> None:
        await asyncio.sleep(fault_at_s)
        await fault()
        fault_end.append(time.monotonic())

    await asyncio.gather(stream(t, out, rate=rate, seconds=seconds, give_up_s=give_up_s), inject())
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
