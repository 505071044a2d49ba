"""Issue 15 figures of the ticketing benchmark that need the service in-process (driver
hooks) or a load shape of their own; called by :mod:`bench.ticketing`, not a benchmark
of its own (no ``run``).

- round trips per kiosk ticket, counted through the drivers (:mod:`counterflow_shared.roundtrips`)
  over 100 requests of an in-process API on the benchmark's database and Redis;
- an idle worker's PostgreSQL round trips per second (relay, consumers, load loop and
  retention loop of an in-process runtime, nothing to do, 10 s);
- the load loop's CPU share of one core with 1,000 branches receiving 1 arrival per
  branch per minute (arrivals inserted by a separate process, so this process's CPU is
  the loop's);
- answers under twice the measured capacity: latency of the 503 refusals and of the
  accepted requests, open loop.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from bench.common import percentile
from counterflow_shared.roundtrips import counting
from counterflow_testkit import running_app
from counterflow_ticketing.settings import TicketingSettings

BRANCHES_1000 = 1000
LOAD_LOOP_S = 60.0


async def round_trips_per_ticket(settings: TicketingSettings, kiosks: list[dict[str, str]], n: int = 100) -> dict[str, float]:
    """Mean PostgreSQL (and of them, statement preparations) and Redis round trips of ``n``
    walk-in requests, after 30 warm-up requests (statements prepared on the pooled
    connections, kiosk secrets verified)."""
    from counterflow_ticketing.main import create_app

    app = create_app(settings.model_copy(update={"embedded_workers": False}))
    body = {"service_type": "cash_withdrawal"}
    async with running_app(app) as client:
        for i in range(30):
            (await client.post("/v1/kiosk/service-requests", json=body, headers=kiosks[i % len(kiosks)])).raise_for_status()
        with counting(app.state.runtime.engine) as counts:
            for i in range(n):
                (await client.post("/v1/kiosk/service-requests", json=body, headers=kiosks[i % len(kiosks)])).raise_for_status()
    return {"postgres": counts.postgres / n, "postgres_prepares": counts.prepares / n, "redis": counts.redis / n}


async def idle_worker_round_trips(settings: TicketingSettings, seconds: float = 10.0) -> dict[str, Any]:
    """PostgreSQL round trips per second of an idle worker runtime (all its loops), counted
    once the outbox is drained: ``postgres_round_trips_per_s``, ``outbox_drained_after_s``
    (``None``: still not drained after :data:`DRAIN_TIMEOUT_S`) and ``seconds`` counted."""
    from counterflow_shared.runtime import ServiceRuntime
    from counterflow_ticketing.main import SPEC

    runtime = ServiceRuntime(SPEC, settings.model_copy(update={"embedded_workers": True}), group_suffix=f"-idle-{uuid.uuid4().hex[:6]}")
    runtime.start_workers()
    try:
        # idle means nothing to do: the earlier phases' events are published first (on the
        # shared machine the relays were still working through their backlog after them)
        drained_after_s = await _outbox_drained(settings.database_url, DRAIN_TIMEOUT_S)
        await asyncio.sleep(8.0)  # consumers joined, first passes of the loops done
        with counting(runtime.engine, this_context_only=False) as counts:
            await asyncio.sleep(seconds)
    finally:
        await runtime.aclose()
    return {"postgres_round_trips_per_s": counts.postgres / seconds, "outbox_drained_after_s": drained_after_s, "seconds": seconds}


#: longest wait for the outbox to be drained before the idle measurement (seconds)
DRAIN_TIMEOUT_S = 180.0


async def _outbox_drained(database_url: str, timeout_s: float) -> float | None:
    """Seconds until no outbox row is unsent (checked every 0.5 s on a connection of its
    own, not counted); ``None`` when rows were still unsent after ``timeout_s``."""
    import asyncpg

    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    t0 = time.perf_counter()
    try:
        while time.perf_counter() - t0 < timeout_s:
            if await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0:
                return time.perf_counter() - t0
            await asyncio.sleep(0.5)
        return None
    finally:
        await conn.close()


_ARRIVALS = """
import asyncio, random, sys, time, uuid
from datetime import datetime, timezone
import asyncpg

async def main(dsn, prefix, n, seconds):
    conn = await asyncpg.connect(dsn)
    rate = n / 60.0
    t0 = time.perf_counter()
    i = 0
    while time.perf_counter() - t0 < seconds:
        b = f"{prefix}{random.randrange(n):04d}"
        now = datetime.now(timezone.utc)
        i += 1
        await conn.execute(
            "INSERT INTO tickets (ticket_id, branch_id, business_date, prefix, sequence, number, service_type, skill, status, origin, priority, issued_at, queued_at, due_at) "
            "VALUES ($1, $2, $3, 'A', $4, $5, 'cash_withdrawal', 'cash', 'waiting', 'walk_in', 0, $6, $6, $6)",
            str(uuid.uuid4()), b, now.date(), i, f"A{i:03d}", now)
        await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
    await conn.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
"""


async def _make_branches(settings: TicketingSettings, prefix: str, n: int) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(settings.database_url)
    now = datetime.now(UTC)
    ids = [f"{prefix}{i:04d}" for i in range(n)]
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO branches (branch_id, name, time_zone, updated_at) VALUES (:b, :b, 'Europe/Prague', :t)"), [{"b": b, "t": now} for b in ids])
        await conn.execute(text("INSERT INTO branch_services (branch_id, service_type) VALUES (:b, 'cash_withdrawal')"), [{"b": b} for b in ids])
        await conn.execute(text("INSERT INTO counters (counter_id, branch_id, name, kind, zone, skills) VALUES (:c, :b, :c, 'cash', 'cash', CAST(CAST(:s AS text) AS json))"), [{"c": f"{b}-c", "b": b, "s": '["cash"]'} for b in ids])
        await conn.execute(
            text("INSERT INTO teller_sessions (session_id, branch_id, counter_id, teller_id, status, opened_at) VALUES (:s, :b, :c, :t, 'open', :o)"),
            [{"s": str(uuid.uuid4()), "b": b, "c": f"{b}-c", "t": f"t-{b}", "o": now} for b in ids],
        )
    await engine.dispose()


async def load_loop_cpu_share(settings: TicketingSettings) -> dict[str, float]:
    """CPU seconds per second (share of one core) of :func:`publish_snapshots_once` every
    ``load_check_interval_s`` over 1,000 branches at 1 arrival per branch per minute."""
    from counterflow_shared.runtime import ServiceRuntime
    from counterflow_ticketing.events.snapshots import publish_snapshots_once
    from counterflow_ticketing.main import SPEC

    prefix = f"L{uuid.uuid4().hex[:6]}-"
    await _make_branches(settings, prefix, BRANCHES_1000)
    runtime = ServiceRuntime(SPEC, settings)
    dsn = settings.database_url.replace("postgresql+asyncpg", "postgresql")
    arrivals = subprocess.Popen([sys.executable, "-c", _ARRIVALS, dsn, prefix, str(BRANCHES_1000), str(LOAD_LOOP_S + 40)])
    try:
        await publish_snapshots_once(runtime)  # the first pass snapshots every branch once
        interval = settings.load_check_interval_s
        cpu0, wall0, published, passes = time.process_time(), time.perf_counter(), 0, 0
        while time.perf_counter() - wall0 < LOAD_LOOP_S:
            published += await publish_snapshots_once(runtime)
            passes += 1
            await asyncio.sleep(interval)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        arrivals.terminate()
        arrivals.wait(10)
        await runtime.aclose()
    return {"cpu_share": cpu / wall, "snapshots_per_s": published / wall, "passes": passes, "wall_s": wall}


async def overload(base: str, headers: list[dict[str, str]], rate: float, seconds: float) -> dict[str, Any]:
    """Open loop at ``rate``/s for ``seconds``: latency (ms, from the scheduled send) of
    accepted (201) and refused (503) answers, and their counts."""
    from bench.ticketing import BODY, RawClient

    client = RawClient(base)
    accepted: list[float] = []
    rejected: list[float] = []
    by_type: dict[str, list[float]] = {}
    other = 0
    start = time.perf_counter() + 0.2

    async def one(i: int, scheduled: float) -> None:
        nonlocal other
        try:
            status, answer = await client.exchange("/v1/kiosk/service-requests", BODY, headers[i % len(headers)])
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            status, answer = 0, b""
        ms = (time.perf_counter() - scheduled) * 1000
        if status == 201:
            accepted.append(ms)
        elif status == 503:
            rejected.append(ms)
            # which refusal: the in-flight bound ("overloaded", before any work) or the pool
            # timeout ("service-busy", after waiting up to db_pool_timeout_s for a connection)
            kind = json.loads(answer or b"{}").get("type", "?").rsplit("/", 1)[-1]
            by_type.setdefault(kind, []).append(ms)
        else:
            other += 1

    tasks = []
    for i in range(int(rate * seconds)):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    await client.aclose()
    return {
        "rate": rate,
        "accepted": len(accepted),
        "rejected": len(rejected),
        "other": other,
        "accepted_p99_ms": percentile(accepted, 99),
        "rejected_p99_ms": percentile(rejected, 99),
        "accepted_p50_ms": percentile(accepted, 50),
        "rejected_p50_ms": percentile(rejected, 50),
        "rejected_by_type": {k: {"count": len(v), "p50_ms": percentile(v, 50), "p99_ms": percentile(v, 99)} for k, v in sorted(by_type.items())},
    }
