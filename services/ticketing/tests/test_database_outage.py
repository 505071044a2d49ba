"""PostgreSQL down: every request that needs the database answers 503 problem+json with
``Retry-After`` within a second, the outage is logged once (not a traceback per request),
and the service recovers by itself when the database is back. Runs against a private
PostgreSQL server that the test stops (the shared one is never stopped)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import structlog.testing

from counterflow_testkit import PrivatePostgres, delete_redis_prefix, eventually, running_app
from counterflow_ticketing.main import create_app

from .conftest import PACKAGE_DIR, Service, make_branch, take_ticket


@asynccontextmanager
async def _service_on(private_pg: PrivatePostgres, settings) -> AsyncIterator[Service]:  # noqa: ANN001
    """The app running in-process on a migrated database of ``private_pg``, with its own
    Redis prefix (deleted afterwards)."""
    url = private_pg.migrated_database(PACKAGE_DIR, "ticketing")
    own = settings.model_copy(update={"database_url": url, "redis_prefix": f"test:ticketing:pg:{uuid.uuid4().hex[:8]}:", "log_level": "INFO"})
    app = create_app(own, group_suffix=f"-{uuid.uuid4().hex[:6]}")
    try:
        async with running_app(app) as client:
            yield Service(client=client, app=app, settings=own)
    finally:
        await delete_redis_prefix(own.redis_url, own.redis_prefix)


async def test_a_database_outage_is_a_fast_503_logged_once_and_recovers(private_pg: PrivatePostgres, settings) -> None:  # noqa: ANN001
    async with _service_on(private_pg, settings) as service:
        branch = await make_branch(service)
        await take_ticket(service, branch)
        with structlog.testing.capture_logs() as during:
            await _outage_and_back(private_pg, service, branch)
        events = [e["event"] for e in during]
        assert events.count("database.outage") == 1, events
        assert events.count("database.recovered") == 1, events
        assert "http.unhandled_error" not in events and "background.failed" not in events and "outbox.round_failed" not in events


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


@pytest.mark.parametrize("first_answer", ["replay", "wrong secret"])
async def test_the_kiosk_path_reports_recovery_whatever_its_first_answer_after_the_outage(private_pg: PrivatePostgres, settings, first_answer: str) -> None:  # noqa: ANN001
    """The kiosk path answers some requests before its write statement (an idempotent
    replay, a 401): when such an answer is the first one after an outage, the outage
    still ends (``database.recovered`` once, the 503 state cleared)."""
    async with _service_on(private_pg, settings) as service:
        client = service.client
        branch = await make_branch(service)
        key = {"Idempotency-Key": str(uuid.uuid4())}
        first = await client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal"}, headers={**branch.kiosk, **key})
        assert first.status_code == 201, first.text
        if first_answer == "replay":
            headers, wanted = {**branch.kiosk, **key}, 201
        else:
            headers, wanted = {"Authorization": branch.kiosk["Authorization"] + "-wrong"}, 401
        with structlog.testing.capture_logs() as during:
            private_pg.stop()
            down = await client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal"}, headers=headers)
            assert down.status_code == 503, down.text
            assert service.runtime.outages.since is not None
            private_pg.start()
            after = await eventually(lambda: _answer_other_than_503(client, headers), timeout_s=20, what="an answer after the database came back")
        assert after.status_code == wanted, after.text
        if first_answer == "replay":
            assert after.headers.get("Idempotent-Replayed") == "true" and after.json() == first.json()
        events = [e["event"] for e in during]
        assert events.count("database.outage") == 1 and events.count("database.recovered") == 1, events
        assert service.runtime.outages.since is None


async def _answer_other_than_503(client, headers: dict[str, str]):  # noqa: ANN001, ANN202
    r = await client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal"}, headers=headers)
    return None if r.status_code == 503 else r
