"""Self-service benchmark (issue 4), each figure with its baseline measured in the same run:

- heartbeat ingest throughput for 5,000 devices through the real HTTP stack (in-process
  ASGI, real PostgreSQL, relay publishing to the real broker), against the load the
  fleet generates (5,000 devices every 30 s = 166.7 heartbeats/s).

The cash forecast backtest moved to ``bench/models.py`` / ``bench/cash_backtest.py``
(issue 22). Writes ``bench/results/selfservice_heartbeats.json``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx

from fastapi import FastAPI

from bench.common import figure, percentile, write_result
from counterflow_selfservice.api.schemas import HeartbeatAck, HeartbeatIn

REPO = Path(__file__).resolve().parents[1]
DEVICES = int(os.environ.get("CF_BENCH_SELFSERVICE_DEVICES", "5000"))
#: requests in flight; below the service's connection pool (10 + 10 overflow) so that a
#: request never waits for a connection while holding none
CONCURRENCY = 16
REQUIRED_RATE = 5000 / 30.0


async def _seed_devices(sessions, secret_hash: str) -> list[str]:  # noqa: ANN001
    """Insert DEVICES recyclers (one CZK unit each) straight through the repository."""
    from counterflow_selfservice.domain.models import Capabilities, CashUnit, Device, DeviceKind, ReportedStatus
    from counterflow_selfservice.persistence import devices as repo

    ids = [f"BENCH-{i:05d}" for i in range(DEVICES)]
    now = datetime.now(UTC)
    for start in range(0, DEVICES, 500):
        async with sessions() as session, session.begin():
            for i, device_id in enumerate(ids[start : start + 500], start):
                device = Device(
                    device_id=device_id,
                    branch_id=f"BR-{i // 5:04d}",
                    zone="self_service",
                    kind=DeviceKind.CASH_RECYCLER,
                    accessible=True,
                    capabilities=Capabilities(service_types=["cash_withdrawal", "cash_deposit"], currencies=["CZK"]),
                    time_zone="Europe/Prague",
                    opening_hours=None,
                    reported_status=ReportedStatus.ONLINE,
                    offline=True,
                    retired=False,
                    last_heartbeat_at=None,
                    queue_length=0,
                    typical_withdrawal=None,
                    demand_model=None,
                    cash_units=[CashUnit("C1", "CZK", Decimal("100"), 2000, 100, 1900, 1000)],
                )
                await repo.insert_device(session, device, secret_hash=secret_hash, now=now)
    return ids


async def _round(client: httpx.AsyncClient, ids: list[str], secret: str, counts) -> tuple[float, list[float], int]:  # noqa: ANN001
    """One heartbeat from every device, CONCURRENCY in flight; (seconds, latencies ms, errors)."""
    sem = asyncio.Semaphore(CONCURRENCY)
    latencies: list[float] = []
    errors = 0

    async def beat(i: int, device_id: str) -> None:
        nonlocal errors
        async with sem:
            body = {"status": "online", "sent_at": datetime.now(UTC).isoformat(), "queue_length": 0, "cash_units": [{"unit_id": "C1", "count": counts(i)}]}
            t0 = time.perf_counter()
            try:
                r = await client.post("/v1/device/heartbeats", json=body, headers={"Authorization": f"Bearer {device_id}:{secret}"})
                ok = r.status_code == 200
            except Exception:  # noqa: BLE001 - the in-process transport re-raises server errors; count them
                ok = False
            latencies.append((time.perf_counter() - t0) * 1000)
            errors += not ok

    started = time.perf_counter()
    await asyncio.gather(*(beat(i, d) for i, d in enumerate(ids)))
    return time.perf_counter() - started, latencies, errors


def _bare_app():  # noqa: ANN202
    """Baseline: the same heartbeat body validated by FastAPI and answered, nothing else
    (no authentication, database or broker), reached through the same in-process client."""
    bare = FastAPI()

    @bare.post("/v1/device/heartbeats")
    async def heartbeat(body: HeartbeatIn) -> HeartbeatAck:
        return HeartbeatAck(device_id="x", status=body.status.value, available_service_types=[])

    return bare


async def _bare_rate(ids: list[str]) -> float:
    """Heartbeats/s of :func:`_bare_app` for the same devices, concurrency and bodies."""
    transport = httpx.ASGITransport(app=_bare_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://bare") as client:
        seconds, _, errors = await _round(client, ids, "x", lambda i: 1)
    assert errors == 0
    return len(ids) / seconds


async def _heartbeats() -> dict:
    from counterflow_shared.events.kafka import delete_topics, ensure_topics
    from counterflow_testkit import drop_database, migrated_database, platform, running_app
    from counterflow_shared.web.auth import hash_secret, verify_secret
    from counterflow_selfservice.main import PACKAGE_DIR, create_app
    from counterflow_selfservice.settings import SelfServiceSettings

    p = platform()
    prefix = f"b{uuid.uuid4().hex[:8]}."
    topics = await ensure_topics(p.kafka_bootstrap_servers, prefix=prefix)
    name, url = await asyncio.to_thread(migrated_database, PACKAGE_DIR, "bench_selfservice")
    secret = "bench-secret"
    secret_hash = hash_secret(secret)
    t0 = time.perf_counter()
    for _ in range(5):
        verify_secret(secret_hash, secret)
    argon2_ms = (time.perf_counter() - t0) / 5 * 1000
    try:
        settings = SelfServiceSettings(database_url=url, topic_prefix=prefix, heartbeat_timeout_s=3600, log_level="WARNING")
        app = create_app(settings, group_suffix="-bench")
        async with running_app(app) as client:
            runtime = app.state.runtime
            ids = await _seed_devices(runtime.sessions, secret_hash)
            # steady state: every device already authenticated once by this process
            digest = hashlib.sha256(secret.encode()).digest()
            runtime.state["device_secret_cache"] = {d: (secret_hash, digest) for d in ids}
            changing_s, changing_lat, changing_err = await _round(client, ids, secret, lambda i: 1000 - 1)
            steady_s, steady_lat, steady_err = await _round(client, ids, secret, lambda i: 1000 - 1)
            bare_rate = await _bare_rate(ids)
            drained_at = time.perf_counter()
            while await runtime.relay.backlog() > 0 and time.perf_counter() - drained_at < 120:
                await asyncio.sleep(0.2)
            relay_drain_s = time.perf_counter() - drained_at
    finally:
        await asyncio.to_thread(drop_database, name)
        await delete_topics(p.kafka_bootstrap_servers, topics)
    figures = {
        "ingest_with_state_change": figure(DEVICES / changing_s, "heartbeats/s", baseline=REQUIRED_RATE, baseline_name="fleet load: 5,000 devices every 30 s"),
        "ingest_steady": figure(DEVICES / steady_s, "heartbeats/s", baseline=REQUIRED_RATE, baseline_name="fleet load: 5,000 devices every 30 s"),
        "steady_vs_bare_framework": figure(DEVICES / steady_s, "heartbeats/s", baseline=bare_rate, baseline_name="bare FastAPI endpoint, same body validation, same client and concurrency, no auth/DB/broker"),
        "latency_p50_steady": figure(percentile(steady_lat, 50), "ms"),
        "latency_p99_steady": figure(percentile(steady_lat, 99), "ms"),
        "latency_p99_with_state_change": figure(percentile(changing_lat, 99), "ms"),
        "argon2id_verify": figure(argon2_ms, "ms per first contact of a device (not in the rounds above)"),
        "relay_drain_after_rounds": figure(relay_drain_s, "s"),
    }
    detail = {
        "devices": DEVICES,
        "concurrency": CONCURRENCY,
        "errors": {"with_state_change": changing_err, "steady": steady_err},
        "notes": "in-process ASGI client (no TCP), one process; first round turns every device offline->online and counts change (a state event per device), second round repeats the same heartbeat (no event). Machine shared with other work: load average at start in 'load_average'.",
        "load_average": os.getloadavg(),
    }
    write_result("selfservice_heartbeats", figures, detail=detail)
    return {"figures": figures, **detail}


def run() -> dict:
    """The heartbeat ingest benchmark; returns its result."""
    return {"heartbeats": asyncio.run(_heartbeats())}
