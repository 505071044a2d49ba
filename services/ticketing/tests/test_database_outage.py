"""PostgreSQL down: every request that needs the database answers 503 problem+json with
``Retry-After`` within a second, the outage is logged once (not a traceback per request),
and the service recovers by itself when the database is back. Runs against a private
PostgreSQL server that the test stops (the shared one is never stopped)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import structlog.testing

from counterflow_testkit import PrivatePostgres, delete_redis_prefix, eventually, running_app
from counterflow_ticketing.main import create_app

from .conftest import PACKAGE_DIR, Service, make_branch, take_ticket


@pytest.fixture
def private_pg(infrastructure) -> Iterator[PrivatePostgres]:  # noqa: ANN001
    pg = PrivatePostgres()
    pg.start()
    yield pg
    pg.destroy()


async def test_a_database_outage_is_a_fast_503_logged_once_and_recovers(private_pg: PrivatePostgres, settings) -> None:  # noqa: ANN001
    url = private_pg.migrated_database(PACKAGE_DIR, "ticketing")
    own = settings.model_copy(update={"database_url": url, "redis_prefix": f"test:ticketing:pg:{uuid.uuid4().hex[:8]}:", "log_level": "INFO"})
    app = create_app(own, group_suffix=f"-{uuid.uuid4().hex[:6]}")
    try:
        async with running_app(app) as client:
            service = Service(client=client, app=app, settings=own)
            branch = await make_branch(service)
            await take_ticket(service, branch)
            with structlog.testing.capture_logs() as during:
                await _outage_and_back(private_pg, service, branch)
            events = [e["event"] for e in during]
            assert events.count("database.outage") == 1, events
            assert events.count("database.recovered") == 1, events
            assert "http.unhandled_error" not in events and "background.failed" not in events and "outbox.round_failed" not in events
    finally:
        await delete_redis_prefix(own.redis_url, own.redis_prefix)


async def _outage_and_back(private_pg: PrivatePostgres, service: Service, branch) -> None:  # noqa: ANN001
    client = service.client

    private_pg.stop()
    slowest = 0.0
    for _ in range(10):
        t0 = time.monotonic()
        r = await client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal"}, headers=branch.kiosk)
        slowest = max(slowest, time.monotonic() - t0)
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"].endswith("/database-unavailable") and int(r.headers["Retry-After"]) >= 1
    assert slowest < 1.0, f"slowest refusal took {slowest:.3f} s"

    private_pg.start()
    ticket = await eventually(lambda: _ticket_or_none(service, branch), timeout_s=20, what="a ticket after the database came back")
    assert ticket["status"] == "waiting"


async def _ticket_or_none(service: Service, branch) -> dict | None:  # noqa: ANN001
    r = await service.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal"}, headers=branch.kiosk)
    return r.json()["ticket"] if r.status_code == 201 else None
