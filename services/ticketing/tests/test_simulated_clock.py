"""Ticketing obeys the simulated clock (``CF_CLOCK=redis``, ADR 0011): the issue time,
the business day and its numbering, and the envelope ``time`` of the events all come from
the instant in the Redis key, never from the machine's clock; without the key a request
is a 503 problem naming it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from counterflow_shared.clock import RedisClock, set_simulated_now
from counterflow_shared.events.envelope import Envelope
from counterflow_testkit import simulated_clock

from .conftest import Service, make_branch, take_ticket

ALL_DAY = [{"weekday": d, "opens": "00:00", "closes": "23:59"} for d in range(7)]


@pytest.fixture
async def simulated(service: Service) -> AsyncIterator[RedisClock]:
    """The service on a Redis clock of its own key for one test."""
    async with simulated_clock(service.runtime) as clock:
        yield clock


async def _issued_event_time(service: Service, ticket_id: str) -> datetime:
    outbox = service.runtime.outbox
    async with service.runtime.sessions() as s:
        rows = (await s.execute(select(outbox.c.value))).scalars().all()
    for raw in rows:
        e = Envelope.from_bytes(raw)
        if e.type == "branch.ticket.issued.v1" and e.data.get("ticket_id") == ticket_id:
            return e.time
    raise AssertionError(f"no issued event for {ticket_id}")


async def test_a_ticket_takes_its_issue_time_and_business_day_from_the_simulated_clock(service: Service, simulated: RedisClock) -> None:
    redis = service.runtime.redis
    await set_simulated_now(redis, simulated.key, datetime(2024, 3, 31, 6, 30, tzinfo=UTC))  # 08:30 CEST, the day DST starts
    branch = await make_branch(service, time_zone="Europe/Prague", hours=ALL_DAY)
    first = await take_ticket(service, branch)
    assert datetime.fromisoformat(first["issued_at"]) == datetime(2024, 3, 31, 6, 30, tzinfo=UTC)
    assert (first["business_date"], first["number"]) == ("2024-03-31", "A001")
    assert await _issued_event_time(service, first["ticket_id"]) == datetime(2024, 3, 31, 6, 30, tzinfo=UTC)

    await set_simulated_now(redis, simulated.key, datetime(2024, 3, 31, 21, 58, tzinfo=UTC))  # 23:58 local: same day
    second = await take_ticket(service, branch)
    await set_simulated_now(redis, simulated.key, datetime(2024, 3, 31, 22, 0, 30, tzinfo=UTC))  # 00:00:30 local, April 1st
    next_day = await take_ticket(service, branch)
    assert (second["business_date"], second["number"]) == ("2024-03-31", "A002")
    assert (next_day["business_date"], next_day["number"]) == ("2024-04-01", "A001")
    assert datetime.fromisoformat(next_day["issued_at"]) == datetime(2024, 3, 31, 22, 0, 30, tzinfo=UTC)


async def test_without_the_clock_key_a_request_is_a_503_problem_naming_it(service: Service, simulated: RedisClock) -> None:
    await set_simulated_now(service.runtime.redis, simulated.key, datetime(2024, 3, 31, 6, 30, tzinfo=UTC))
    branch = await make_branch(service, hours=ALL_DAY)
    await service.runtime.redis.delete(simulated.key)
    r = await service.client.post("/v1/kiosk/service-requests", json={"service_type": "cash_withdrawal"}, headers=branch.kiosk)
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/clock-not-set") and r.json()["key"] == simulated.key
