"""``/healthz`` (the process is alive) and ``/readyz`` (it can do its work: database
reachable, schema at or (compatibly) ahead of the code's migration head, Redis answering where the service needs it). Readiness
answers 503 with the failing checks named, so Kubernetes takes the pod out of the Service
until it recovers.

The broker is checked but not required: while Kafka is unreachable the outbox keeps every
event and the relay publishes them when it is back, so the API keeps serving. That state
is ``"status": "degraded"`` with ``"degraded": ["broker"]`` in the body (still 200) and
``counterflow_readiness_check_up{check="broker"} 0`` in the metrics (alongside the outbox
age, which grows)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client import Gauge
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from counterflow_shared.events.kafka import describe_cluster
from counterflow_shared.events.security import client_options
from counterflow_shared.persistence.migrations import schema_compatibility

Check = Callable[[Request], Awaitable[tuple[bool, str]]]

#: Checks whose failure degrades the service but keeps it ready (the outbox absorbs them).
ADVISORY_CHECKS = frozenset({"broker"})

CHECK_UP = Gauge("counterflow_readiness_check_up", "Last result of each readiness check (1 ok, 0 failing); an advisory check (broker) failing means degraded, not unready.", ["check"])


async def check_database(request: Request) -> tuple[bool, str]:
    """``SELECT 1`` and the Alembic revision against the service's scripts: ready at head or
    on a newer (expand/contract compatible) schema, not ready behind
    (:func:`~counterflow_shared.persistence.migrations.schema_compatibility`)."""
    runtime = request.app.state.runtime
    try:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            revisions = frozenset((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return False, f"database unreachable: {type(exc).__name__}"
    return schema_compatibility(revisions, runtime.migration_heads, runtime.known_revisions)


_broker_cache: dict[str, tuple[float, bool, str]] = {}


async def check_broker(request: Request) -> tuple[bool, str]:
    """Broker reachable (cached 2 s); with embedded workers also the relay's own view."""
    runtime = request.app.state.runtime
    servers = runtime.settings.kafka_bootstrap_servers
    now = time.monotonic()
    cached = _broker_cache.get(servers)
    if cached and now - cached[0] < 2.0:
        ok, detail = cached[1], cached[2]
    else:
        try:
            await describe_cluster(servers, timeout_s=2.0, kafka=client_options(runtime.settings))
            ok, detail = True, "reachable"
        except Exception as exc:  # noqa: BLE001
            ok, detail = False, f"unreachable: {type(exc).__name__}"
        _broker_cache[servers] = (now, ok, detail)
    relay = runtime.relay
    if ok and relay is not None and relay.status.producer_generations > 1:
        detail += f"; producer recreated {relay.status.producer_generations - 1}x, last error {relay.status.last_error}"
    return ok, detail


async def check_redis(request: Request) -> tuple[bool, str]:
    """``PING`` on the service's Redis (bounded by the pool timeout)."""
    runtime = request.app.state.runtime
    try:
        await asyncio.wait_for(runtime.redis.ping(), timeout=2.0)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return False, f"unreachable: {type(exc).__name__}"
    return True, "reachable"


class Liveness(BaseModel):
    """``/healthz`` body: the process answers."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})
    status: Literal["ok"]


class CheckResult(BaseModel):
    """One readiness check: ``ok``, what it saw, and whether readiness requires it."""

    ok: bool
    detail: str
    required: bool


class Readiness(BaseModel):
    """``/readyz`` body (200 when ``ready`` or ``degraded``, 503 when ``not-ready``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "degraded",
                    "checks": {
                        "database": {"ok": True, "detail": "revision 0007", "required": True},
                        "broker": {"ok": False, "detail": "unreachable: KafkaConnectionError", "required": False},
                    },
                    "degraded": ["broker"],
                }
            ]
        }
    )
    status: Literal["ready", "degraded", "not-ready"]
    checks: dict[str, CheckResult] = Field(description="check name -> result")
    degraded: list[str] = Field(description="advisory checks that fail (the service still serves)")


def health_router(extra_checks: dict[str, Check] | None = None) -> APIRouter:
    """Router with ``/healthz`` and ``/readyz`` (database, broker (advisory) and ``extra_checks``)."""
    router = APIRouter(tags=["health"])
    checks: dict[str, Check] = {"database": check_database, "broker": check_broker, **(extra_checks or {})}

    @router.get("/healthz", response_model=Liveness, summary="Liveness: the process answers")
    async def healthz() -> Liveness:
        return Liveness(status="ok")

    @router.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Not ready: a required check fails (named in ``checks``)"}},
        summary="Readiness: database at head (and Redis where needed); a broker outage only degrades",
    )
    async def readyz(request: Request) -> JSONResponse:
        results = await asyncio.gather(*(fn(request) for fn in checks.values()))
        body = {name: {"ok": ok, "detail": detail, "required": name not in ADVISORY_CHECKS} for name, (ok, detail) in zip(checks, results, strict=True)}
        for name, (ok, _) in zip(checks, results, strict=True):
            CHECK_UP.labels(name).set(1 if ok else 0)
        ready = all(ok for name, (ok, _) in zip(checks, results, strict=True) if name not in ADVISORY_CHECKS)
        degraded = [name for name, (ok, _) in zip(checks, results, strict=True) if not ok and name in ADVISORY_CHECKS]
        status = "not-ready" if not ready else ("degraded" if degraded else "ready")
        return JSONResponse({"status": status, "checks": body, "degraded": degraded}, status_code=200 if ready else 503)

    return router
